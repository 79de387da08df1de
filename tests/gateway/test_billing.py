"""Billing rules on the real pipeline: rounding adds up, streams cut by
the client or the upstream are billed for what was delivered, failures
before content cost nothing, parallel spends never overdraw."""

from __future__ import annotations

import concurrent.futures
import time

import httpx
import openai
import pytest

from apiany.gateway import dbpool
from tests.factories import make_key, make_user
from tests.gateway.conftest import CREDIT
from tests.gateway.helpers import balance, consumption, ledger_ok, set_channels, usage_rows

MSG = [{"role": "user", "content": "hello there sandbox friend"}]


def test_fractional_costs_add_up_exactly(client_for):
    user = make_user(credits=1)
    client = client_for(make_key(user))
    before = balance(user)
    for _ in range(100):
        client.embeddings.create(model="sandbox-embed", input="one two three")  # 0.3 unit each
    rows = usage_rows(user)
    assert len(rows) == 100
    assert all(r.credits_charged == 1 for r in rows)  # one rounding rule: up, once per request
    assert before - balance(user) == sum(r.credits_charged for r in rows) == 100
    assert ledger_ok() == []


def _stream_lines(api, key, body):
    return httpx.stream("POST", f"{api.url}/v1/chat/completions", json=body, timeout=30,
                        headers={"authorization": f"Bearer {key}"})


def test_stream_abandoned_by_the_client_bills_what_was_delivered(api):
    set_channels(("slow", 0, "chunk_delay=100,words=50", {}))
    user = make_user(credits=10)
    key = make_key(user)
    before = balance(user)
    body = {"model": "sandbox-chat", "messages": MSG, "stream": True, "stream_options": {"include_usage": True}}
    received = 0
    with _stream_lines(api, key, body) as response:
        request_id = response.headers["x-request-id"]
        for line in response.iter_lines():
            if line.startswith("data: ") and '"content"' in line:
                received += 1
            if received >= 3:
                break
    started = time.monotonic()
    while time.monotonic() - started < 5:
        dbpool.drain(1)
        rows = usage_rows(user)
        if rows:
            break
        time.sleep(0.05)
    (row,) = rows
    assert row.request_id == request_id and row.status == "client_closed"
    assert 3 <= row.completion_tokens < 50  # what was delivered, not the whole answer, not zero
    assert row.credits_charged == row.prompt_tokens * 1 + row.completion_tokens * 2 > 0
    assert balance(user) == before - row.credits_charged
    assert ledger_ok() == []


def test_upstream_failure_before_content_costs_nothing(client_for):
    set_channels(("broken", 0, "fail_after=0", {}))
    user = make_user(credits=10)
    before = balance(user)
    with pytest.raises(openai.APIStatusError):
        list(client_for(make_key(user)).chat.completions.create(model="sandbox-chat", messages=MSG, stream=True))
    dbpool.drain()
    (row,) = usage_rows(user)
    assert (row.status, row.credits_charged) == ("error", 0)
    assert balance(user) == before and consumption(row.request_id) == []


def test_upstream_failure_midway_sends_an_error_event_and_bills_the_delivered_part(api):
    set_channels(("midway", 0, "fail_after=3,words=20", {}))
    user = make_user(credits=10)
    key = make_key(user)
    before = balance(user)
    body = {"model": "sandbox-chat", "messages": MSG, "stream": True}
    with _stream_lines(api, key, body) as response:
        lines = [ln for ln in response.iter_lines() if ln.startswith("data: ")]
    assert '"error"' in lines[-1] and "data: [DONE]" not in lines
    dbpool.drain()
    (row,) = usage_rows(user)
    assert row.status == "incomplete" and row.completion_tokens == 3
    assert row.credits_charged == row.prompt_tokens + 3 * 2
    assert balance(user) == before - row.credits_charged


def test_cut_connection_is_not_a_clean_answer(api):
    set_channels(("cutter", 0, "cut_after=2,words=20", {}))
    user = make_user(credits=10)
    with _stream_lines(api, make_key(user), {"model": "sandbox-chat", "messages": MSG, "stream": True}) as r:
        lines = [ln for ln in r.iter_lines() if ln.startswith("data: ")]
    assert '"error"' in lines[-1] and "data: [DONE]" not in lines
    dbpool.drain()
    (row,) = usage_rows(user)
    assert row.status == "incomplete" and row.completion_tokens == 2


def test_429_before_content_in_a_stream_is_never_an_empty_success(client_for):
    set_channels(("limited", 0, "status=429", {}))
    user = make_user(credits=10)
    with pytest.raises(openai.APIStatusError) as info:
        list(client_for(make_key(user)).chat.completions.create(model="sandbox-chat", messages=MSG, stream=True))
    assert info.value.status_code == 503
    assert usage_rows(user)[0].credits_charged == 0


def test_missing_usage_is_billed_from_our_estimate(client_for):
    set_channels(("no-usage", 0, "no_usage=1", {}))
    user = make_user(credits=10)
    before = balance(user)
    client_for(make_key(user)).chat.completions.create(model="sandbox-chat", messages=MSG, max_tokens=5)
    (row,) = usage_rows(user)
    assert row.completion_tokens == 5 and row.prompt_tokens > 0 and row.credits_charged > 0
    assert balance(user) == before - row.credits_charged


def test_parallel_requests_never_overdraw(any_api):
    api = any_api
    from apiany.core.db import session_scope
    from apiany.models import ApiModel
    from sqlmodel import select

    with session_scope() as s:
        m = s.exec(select(ApiModel).where(ApiModel.public_id == "sandbox-chat")).one()
        m.price_input_per_m = m.price_output_per_m = m.price_cached_input_per_m = 0
        m.price_per_request = CREDIT  # 1 credit per request, exactly the hold
        s.add(m)
    user = make_user(credits=5)
    key = make_key(user)

    def call(_):
        return httpx.post(f"{api.url}/v1/chat/completions", timeout=30,
                          json={"model": "sandbox-chat", "messages": MSG, "max_tokens": 1},
                          headers={"authorization": f"Bearer {key}"}).status_code

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        statuses = sorted(pool.map(call, range(20)))
    assert statuses.count(200) == 5 and statuses.count(402) == 15
    assert balance(user) == 0
    assert ledger_ok() == []
