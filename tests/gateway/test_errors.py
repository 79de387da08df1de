"""The HTTP error contract: status, OpenAI error body, headers, nothing
charged, a usage row for every authenticated request."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.factories import make_key, make_user
from tests.gateway.helpers import balance, ledger_ok, usage_rows

MSG = [{"role": "user", "content": "hi"}]


def test_bad_key_is_401_and_never_echoed(client_for, api):
    with pytest.raises(openai.AuthenticationError) as info:
        client_for("sk-not-a-real-key-000000000000000000").chat.completions.create(
            model="sandbox-chat", messages=MSG)
    assert info.value.status_code == 401
    assert "sk-not-a-real" not in info.value.response.text
    assert info.value.response.headers["x-request-id"].startswith("req_")
    r = httpx.post(f"{api.url}/v1/chat/completions", json={"model": "sandbox-chat", "messages": MSG})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"


def test_key_in_query_string_is_not_accepted(api):
    user = make_user(credits=1)
    key = make_key(user)
    r = httpx.post(f"{api.url}/v1/chat/completions?api_key={key}", json={"model": "sandbox-chat", "messages": MSG})
    assert r.status_code == 401


def test_model_out_of_scope_is_403_and_logged(client_for):
    user = make_user(credits=1)
    client = client_for(make_key(user, model_scope=["sandbox-embed"]))
    before = balance(user)
    with pytest.raises(openai.PermissionDeniedError) as info:
        client.chat.completions.create(model="sandbox-chat", messages=MSG)
    assert info.value.body["code"] == "model_not_allowed"
    (row,) = usage_rows(user)
    assert (row.status, row.http_status, row.credits_charged) == ("error", 403, 0)
    assert balance(user) == before


def test_unknown_model_is_404(client_for):
    user = make_user(credits=1)
    with pytest.raises(openai.NotFoundError) as info:
        client_for(make_key(user)).chat.completions.create(model="no-such-model", messages=MSG)
    assert info.value.body["param"] == "model"
    assert usage_rows(user)[0].http_status == 404


def test_rpm_limit_is_429_with_headers(client_for):
    user = make_user(credits=1)
    client = client_for(make_key(user, rpm_limit=2))
    ok = client.chat.completions.with_raw_response.create(model="sandbox-chat", messages=MSG)
    assert ok.headers["x-ratelimit-limit-requests"] == "2"
    assert ok.headers["x-ratelimit-remaining-requests"] == "1"
    client.chat.completions.create(model="sandbox-chat", messages=MSG)
    before = balance(user)
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="sandbox-chat", messages=MSG)
    headers = info.value.response.headers
    assert int(headers["retry-after"]) >= 1 and headers["x-ratelimit-remaining-requests"] == "0"
    assert balance(user) == before
    assert [r.http_status for r in usage_rows(user)] == [200, 200, 429]


def test_no_credits_is_402_and_not_retried(client_for):
    user = make_user(credits=0)
    with pytest.raises(openai.APIStatusError) as info:
        client_for(make_key(user)).chat.completions.create(model="sandbox-chat", messages=MSG)
    assert info.value.status_code == 402
    assert info.value.response.headers["x-should-retry"] == "false"
    assert balance(user) == 0
    assert usage_rows(user)[0].http_status == 402


def test_key_budget_exhausted_is_402(client_for):
    user = make_user(credits=10)
    # a budget of 100 units cannot hold the default estimate (4096 output tokens * 2 credits/1M)
    client = client_for(make_key(user, budget=100))
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="sandbox-chat", messages=MSG)
    assert info.value.status_code == 402 and "budget" in info.value.message.lower()


def test_disabled_key_is_403(client_for, api):
    from apiany.core.db import session_scope
    from apiany.services.keys import KeyUpdate, list_keys, update_key

    user = make_user(credits=1)
    client = client_for(make_key(user))
    client.chat.completions.create(model="sandbox-chat", messages=MSG)
    with session_scope() as s:
        (key,) = list_keys(s, user_id=user.id)
        update_key(s, user_id=user.id, key_id=key.id, data=KeyUpdate(status="disabled"), actor="test")
    with pytest.raises(openai.PermissionDeniedError) as info:
        client.chat.completions.create(model="sandbox-chat", messages=MSG)
    assert info.value.body["code"] == "key_disabled"


@pytest.mark.parametrize("body, status, param", [
    (b"{not json", 400, None),
    (b'{"messages": []}', 400, "model"),
    (b'{"model": 5, "messages": []}', 400, "model"),
    (b'{"model": "sandbox-chat"}', 400, "messages"),
    (b'{"model": "sandbox-chat", "messages": "hi"}', 400, "messages"),
    (b'{"model": "sandbox-chat", "messages": [{"role":"user","content":"x"}], "stream": "yes"}', 400, "stream"),
    (b'{"model": "sandbox-chat", "messages": [{"role":"user","content":"x"}], "max_tokens": -1}', 400, "max_tokens"),
    (b'{"model": "sandbox-chat", "messages": [{"role":"user","content":"x"}], "max_tokens": 100000000000000000000}',
     400, "max_tokens"),
    (b'{"model": "sandbox-embed", "messages": [{"role":"user","content":"x"}]}', 400, "model"),
    (b'{"model": "sandbox-chat", "messages": [{"role":"user","content":"x"}], "x": '
     + b"[" * 5000 + b"]" * 5000 + b"}", 400, None),  # nested deeper than any parser allows
    (b'{"model": "sandbox-chat", "messages": [{"role":"user","content":"x"}], "temperature": NaN}',
     400, None),
    (b'{"model": "sandbox-chat", "messages": [{"role":"user","content":"x"}], "max_tokens": 5000}',
     400, "max_tokens"),  # above the model's max_output_tokens (4,096)
])
def test_bad_input_names_the_field_and_charges_nothing(api, body, status, param):
    user = make_user(credits=1)
    key = make_key(user)
    before = balance(user)
    r = httpx.post(f"{api.url}/v1/chat/completions", content=body,
                   headers={"authorization": f"Bearer {key}", "content-type": "application/json"})
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["param"] == param and error["message"]
    assert balance(user) == before
    (row,) = usage_rows(user)
    assert (row.status, row.http_status, row.credits_charged) == ("error", status, 0)
    assert ledger_ok() == []


def test_oversized_body_is_413(api, monkeypatch):
    user = make_user(credits=1)
    key = make_key(user)
    big = b'{"model": "sandbox-chat", "messages": [{"role": "user", "content": "' + b"x" * 11_000_000 + b'"}]}'
    r = httpx.post(f"{api.url}/v1/chat/completions", content=big,
                   headers={"authorization": f"Bearer {key}", "content-type": "application/json"})
    assert r.status_code == 413
    assert "limit" in r.json()["error"]["message"]
    assert usage_rows(user)[0].http_status == 413


async def test_a_client_gone_while_sending_its_body_is_logged_not_an_error(gateway_db):
    """The body never fully arrives: usage row `client_closed` (499), no hold
    left, nothing charged, nothing logged as a server error."""
    from starlette.requests import Request

    from apiany.gateway import dbpool
    from apiany.gateway.pipeline import Gateway

    user = make_user(credits=1)
    key = make_key(user)
    messages = [{"type": "http.request", "body": b'{"model": "sandbox-chat", ', "more_body": True},
                {"type": "http.disconnect"}]

    async def receive():
        return messages.pop(0)

    scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions", "query_string": b"",
             "headers": [(b"authorization", f"Bearer {key}".encode()), (b"content-type", b"application/json")]}
    response = await Gateway().handle(Request(scope, receive), "chat")
    dbpool.drain()
    assert response.status_code == 499
    (row,) = usage_rows(user)
    assert (row.status, row.http_status, row.credits_charged, row.error_type) == (
        "client_closed", 499, 0, "client_closed")
    assert balance(user) == 1_000_000
    assert ledger_ok() == []


async def test_connect_errors_do_not_show_the_upstream_address():
    from apiany.gateway.upstream import close_sessions, open_upstream
    from apiany.providers.base import ProviderError, UpstreamRequest
    from tests.servers import free_port

    port = free_port()  # nothing listens there
    req = UpstreamRequest("POST", f"http://127.0.0.1:{port}/v1/chat/completions", {}, {"a": 1}, False, 5.0, False)
    with pytest.raises(ProviderError) as info:
        await open_upstream(req, connect_timeout=2)
    await close_sessions()
    assert info.value.kind == "connect_error"
    assert info.value.message == "cannot connect to upstream (ECONNREFUSED)"


async def test_a_stream_whose_client_left_before_the_first_chunk_is_settled(gateway_db):
    """The response could not even start (the client was gone): the relay
    never ran, yet the hold is released and the usage row written."""
    from starlette.requests import ClientDisconnect, Request

    from apiany.gateway import dbpool
    from apiany.gateway.pipeline import Gateway
    from apiany.gateway.upstream import close_sessions

    user = make_user(credits=1)
    key = make_key(user)
    body = b'{"model": "sandbox-chat", "stream": true, "messages": [{"role": "user", "content": "hi"}]}'
    sent = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive():
        return sent.pop(0) if sent else {"type": "http.disconnect"}

    scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions", "query_string": b"",
             "asgi": {"version": "3.0", "spec_version": "2.4"},
             "headers": [(b"authorization", f"Bearer {key}".encode()), (b"content-type", b"application/json")]}
    response = await Gateway().handle(Request(scope, receive), "chat")

    async def gone(message):
        raise OSError("connection reset by peer")

    with pytest.raises(ClientDisconnect):
        await response(scope, receive, gone)
    await close_sessions()  # this test's event loop owns an upstream session
    dbpool.drain()
    (row,) = usage_rows(user)
    assert (row.status, row.credits_charged, row.stream) == ("client_closed", 0, True)
    assert balance(user) == 1_000_000
    assert ledger_ok() == []  # the hold was released, not left to expire
