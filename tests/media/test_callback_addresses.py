"""Callback addresses are checked again at delivery, after DNS."""

from __future__ import annotations

import pytest

from apiany.services.tasks import resolved_refusal


@pytest.mark.parametrize("url", ["https://2130706433/", "https://0x7f.1/", "https://127.1/", "https://0/",
                                 "https://10.0.0.8/", "https://localhost/"])
def test_odd_spellings_of_internal_addresses_are_refused_in_production(url):
    assert resolved_refusal(url, production=True) is not None


def test_loopback_is_allowed_in_development():
    assert resolved_refusal("http://127.0.0.1:9/", production=False) is None
