"""Routing: fallback on the configured failures, one charge by the channel
that served, a hard cap on attempts, disabled channels never called,
weights honoured, unhealthy channels skipped until their cool-down."""

from __future__ import annotations

import collections

import openai
import pytest
from sqlmodel import select

from apiany.core.db import session_scope
from apiany.models import ApiModel, Channel
from tests.factories import add_channel, make_key, make_user
from tests.gateway.helpers import set_channels, attempts, balance, consumption, ledger_ok, usage_row
from tests.servers import free_port

MSG = [{"role": "user", "content": "hello there sandbox friend"}]


def tags(stats: dict) -> collections.Counter:
    """Calls per channel, told apart by the `tag=` each channel sends."""
    counts: collections.Counter = collections.Counter()
    for req in stats["requests"]:
        for item in req["headers"].get("x-sandbox", "").split(","):
            if item.startswith("tag="):
                counts[item[4:]] += 1
    return counts


@pytest.mark.parametrize("directive, attempt_status", [
    ("status=429", 429), ("status=500", 500), ("status=503", 503), ("latency=3000", None),
])
def test_primary_fails_secondary_serves_one_charge(client_for, sandbox_stats, directive, attempt_status):
    extra = {"timeout_seconds": 1.0} if "latency" in directive else {}
    set_channels(("primary", 10, directive, extra), ("secondary", 0, None, {}))
    user = make_user(credits=10)
    before = balance(user)
    raw = client_for(make_key(user)).chat.completions.with_raw_response.create(
        model="sandbox-chat", messages=MSG, max_tokens=5)
    request_id = raw.headers["x-request-id"]
    row = usage_row(request_id)
    assert (row.status, row.channel_name, row.attempt_count, row.credits_charged) == ("success", "secondary", 2, 14)
    tried = attempts(request_id)
    assert [(a.channel_name, a.status, a.http_status) for a in tried] == [
        ("primary", "error", attempt_status), ("secondary", "ok", 200)]
    assert balance(user) == before - 14
    assert len(consumption(request_id)) == 1
    assert ledger_ok() == []


def test_connection_refused_falls_back(client_for):
    dead = f"http://127.0.0.1:{free_port()}/v1"
    set_channels(("secondary", 0, None, {}))
    with session_scope() as s:
        add_channel(s, "dead", base_url=dead, priority=10)
    user = make_user(credits=10)
    raw = client_for(make_key(user)).chat.completions.with_raw_response.create(model="sandbox-chat", messages=MSG)
    tried = attempts(raw.headers["x-request-id"])
    assert [a.channel_name for a in tried] == ["dead", "secondary"]
    assert tried[0].error.startswith("connect_error")


def test_all_channels_failing_gives_one_error_after_the_cap(client_for, sandbox_stats):
    set_channels(*[(f"bad{i}", 10 - i, "status=500", {}) for i in range(5)])
    user = make_user(credits=10)
    before = balance(user)
    with pytest.raises(openai.InternalServerError) as info:
        client_for(make_key(user)).chat.completions.create(model="sandbox-chat", messages=MSG)
    assert info.value.status_code == 502
    request_id = info.value.response.headers["x-request-id"]
    row = usage_row(request_id)
    assert (row.status, row.http_status, row.attempt_count, row.credits_charged) == ("error", 502, 3, 0)
    assert [a.channel_name for a in attempts(request_id)] == ["bad0", "bad1", "bad2"]  # max_attempts=3
    assert sum(tags(sandbox_stats()).values()) == 3
    assert balance(user) == before
    assert ledger_ok() == []


def test_client_errors_are_not_retried(client_for, sandbox_stats):
    set_channels(("primary", 10, "status=400", {}), ("secondary", 0, None, {}))
    user = make_user(credits=10)
    with pytest.raises(openai.BadRequestError):
        client_for(make_key(user)).chat.completions.create(model="sandbox-chat", messages=MSG)
    assert tags(sandbox_stats()) == {"primary": 1}


def test_disabled_channel_is_never_called(client_for, sandbox_stats):
    set_channels(("off", 10, None, {"enabled": False}), ("on", 0, None, {}))
    user = make_user(credits=10)
    client = client_for(make_key(user))
    for _ in range(5):
        client.chat.completions.create(model="sandbox-chat", messages=MSG, max_tokens=1)
    assert tags(sandbox_stats()) == {"on": 5}


def test_channel_without_its_secret_is_skipped(client_for, sandbox_stats, monkeypatch):
    monkeypatch.delenv("VENDOR_KEY_FOR_TEST", raising=False)
    set_channels(("needs-secret", 10, None, {"secret_ref": "VENDOR_KEY_FOR_TEST"}), ("plain", 0, None, {}))
    client_for(make_key(make_user(credits=1))).chat.completions.create(model="sandbox-chat", messages=MSG)
    assert tags(sandbox_stats()) == {"plain": 1}


def test_failing_channel_goes_unhealthy_and_is_skipped(client_for, sandbox_stats):
    set_channels(("flaky", 10, "status=500", {}), ("steady", 0, None, {}))
    client = client_for(make_key(make_user(credits=10)))
    for _ in range(6):
        client.chat.completions.create(model="sandbox-chat", messages=MSG, max_tokens=1)
    # threshold 3: after three failures flaky is skipped (cool-down 1 s in these tests)
    assert tags(sandbox_stats()) == {"flaky": 3, "steady": 6}
    with session_scope() as s:
        flaky = s.exec(select(Channel).where(Channel.name == "flaky")).one()
        assert flaky.healthy is False and flaky.last_error


def test_fallback_model_serves_when_the_primary_has_no_channel(client_for):
    set_channels(("sandbox", 0, None, {"groups": ["other"]}))
    with session_scope() as s:
        s.exec(select(ApiModel).where(ApiModel.public_id == "sandbox-chat")).one()
        alt = ApiModel(public_id="sandbox-chat-alt", request_type="chat", channel_groups=["other"],
                       price_per_request=7)
        s.add(alt)
        primary = s.exec(select(ApiModel).where(ApiModel.public_id == "sandbox-chat")).one()
        primary.fallback_models = ["sandbox-chat-alt"]
        s.add(primary)
    user = make_user(credits=1)
    raw = client_for(make_key(user)).chat.completions.with_raw_response.create(model="sandbox-chat", messages=MSG)
    row = usage_row(raw.headers["x-request-id"])
    assert (row.public_model, row.credits_charged) == ("sandbox-chat-alt", 7)
