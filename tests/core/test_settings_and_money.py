from __future__ import annotations

import pytest

from apiany.core.money import ceil_div, cost_units, credits_to_units, format_credits
from apiany.core.settings import SettingsError, load_settings


def test_defaults(monkeypatch):
    monkeypatch.delenv("APIANY_DATABASE_URL", raising=False)
    s = load_settings()
    assert (s.port, s.free_credits, s.free_credits_expiry_days) == (3000, 100, 30)
    assert s.database_url.startswith("sqlite:///") and s.database_url.endswith("data/apiany.db")
    assert s.base_url == "http://localhost:3000"
    assert s.sandbox_url == "http://127.0.0.1:3000/sandbox"


@pytest.mark.parametrize("name, value", [
    ("APIANY_DATABASE_URL", "not a url"),
    ("APIANY_DATABASE_URL", "mysql://x@y/z"),
    ("APIANY_FREE_CREDITS", "-5"),
    ("APIANY_PORT", "70000"),
    ("APIANY_REDIS_URL", "localhost:6379"),
    ("APIANY_JOBS", "maybe"),
])
def test_bad_values_name_the_variable(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert name in str(info.value)


def test_cli_refuses_to_start_with_bad_settings(monkeypatch, capsys):
    from apiany.cli import main

    monkeypatch.setenv("APIANY_FREE_CREDITS", "-1")
    from apiany.core.settings import reset_settings

    reset_settings()
    assert main(["balance", "--email", "x@example.com"]) == 2
    assert "APIANY_FREE_CREDITS" in capsys.readouterr().err


def test_money_rules():
    assert credits_to_units("0.5") == 500_000 and credits_to_units(2) == 2_000_000
    with pytest.raises(ValueError):
        credits_to_units("0.0000001")
    with pytest.raises(ValueError):
        credits_to_units("nan")
    assert ceil_div(3, 10) == 1 and ceil_div(10, 10) == 1 and ceil_div(0, 10) == 0
    # 3 tokens at 0.1 credit / 1M = 0.3 unit -> 1 unit, rounded up once
    assert cost_units([(3, 100_000)]) == 1
    assert cost_units([(1_000_000, 1_000_000), (1, 1)]) == 1_000_001
    assert format_credits(125_500_000) == "125.5" and format_credits(1_234_000_000) == "1,234"
    assert format_credits(0) == "0" and format_credits(-500_000) == "-0.5"
