"""The official openai client against /v1: chat (stream and not),
embeddings, responses; exact usage rows and balance changes."""

from __future__ import annotations

from apiany.gateway import dbpool
from tests.factories import make_key, make_user
from tests.gateway.conftest import CREDIT
from tests.gateway.helpers import attempts, balance, consumption, ledger_ok, usage_row, usage_rows

MSG = [{"role": "user", "content": "hello there sandbox friend"}]  # 4 words -> 4 prompt tokens


def test_chat_completion_bills_exactly_the_reported_usage(client_for):
    user = make_user(credits=10)
    client = client_for(make_key(user))
    before = balance(user)
    raw = client.chat.completions.with_raw_response.create(model="sandbox-chat", messages=MSG, max_tokens=5)
    completion = raw.parse()
    request_id = raw.headers["x-request-id"]
    assert completion.usage.prompt_tokens == 4 and completion.usage.completion_tokens == 5
    assert completion.model == "sandbox-chat"
    row = usage_row(request_id)
    # 4 input tokens at 1 credit/1M + 5 output tokens at 2 credits/1M = 14 units
    assert (row.status, row.http_status, row.prompt_tokens, row.completion_tokens) == ("success", 200, 4, 5)
    assert row.credits_charged == 14
    assert row.upstream_cost == 4 * 500_000 // 1_000_000 + (5 * 1_000_000) // 1_000_000  # 2 + 5 micro-USD
    assert row.channel_name == "sandbox" and row.attempt_count == 1
    assert balance(user) == before - 14
    assert [tx.kind for tx in consumption(request_id)] == ["consumption"]
    assert [a.status for a in attempts(request_id)] == ["ok"]
    assert ledger_ok() == []


def test_chat_stream_with_usage(client_for):
    user = make_user(credits=10)
    client = client_for(make_key(user))
    before = balance(user)
    with client.chat.completions.with_streaming_response.create(
            model="sandbox-chat", messages=MSG, max_tokens=6, stream=True,
            stream_options={"include_usage": True}) as response:
        request_id = response.headers["x-request-id"]
        chunks = list(response.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(text.split()) == 6
    assert chunks[-1].usage.completion_tokens == 6 and chunks[-1].usage.prompt_tokens == 4
    dbpool.drain()
    row = usage_row(request_id)
    assert (row.status, row.stream, row.completion_tokens) == ("success", True, 6)
    assert row.credits_charged == 4 * 1 + 6 * 2
    assert balance(user) == before - 16
    assert ledger_ok() == []


def test_stream_without_usage_option_has_no_usage_chunk_but_is_billed(client_for):
    user = make_user(credits=10)
    client = client_for(make_key(user))
    stream = client.chat.completions.create(model="sandbox-chat", messages=MSG, max_tokens=3, stream=True)
    chunks = list(stream)
    assert all(c.usage is None for c in chunks)
    dbpool.drain()
    (row,) = usage_rows(user)
    assert row.completion_tokens == 3 and row.credits_charged == 4 + 6


def test_embeddings(client_for):
    user = make_user(credits=10)
    client = client_for(make_key(user))
    before = balance(user)
    result = client.embeddings.create(model="sandbox-embed", input=["one two three", "four five"])
    assert len(result.data) == 2 and len(result.data[0].embedding) > 0
    assert result.usage.prompt_tokens == 5
    (row,) = usage_rows(user)
    # 5 tokens at 0.1 credit/1M = 0.5 unit, rounded up once to 1 unit
    assert (row.request_type, row.prompt_tokens, row.credits_charged) == ("embedding", 5, 1)
    assert balance(user) == before - 1


def test_responses_api_stream_and_not(client_for):
    user = make_user(credits=10)
    client = client_for(make_key(user))
    before = balance(user)
    response = client.responses.create(model="sandbox-chat", input="say something nice", max_output_tokens=4)
    assert response.usage.input_tokens == 3 and response.usage.output_tokens == 4
    assert len(response.output_text.split()) == 4
    events = list(client.responses.create(model="sandbox-chat", input="say something nice",
                                          max_output_tokens=4, stream=True))
    # max_output_tokens cut the answer short, so the final event says so
    assert events[-1].type == "response.incomplete"
    assert events[-1].response.usage.output_tokens == 4
    dbpool.drain()
    rows = usage_rows(user)
    assert [(r.request_type, r.stream, r.credits_charged) for r in rows] == [
        ("responses", False, 3 + 8), ("responses", True, 3 + 8)]
    assert balance(user) == before - 22
    assert ledger_ok() == []


def test_models_list_respects_key_scope(client_for):
    user = make_user(credits=1)
    everything = sorted(m.id for m in client_for(make_key(user)).models.list())
    assert everything == ["sandbox-chat", "sandbox-embed"]
    scoped = client_for(make_key(user, model_scope=["sandbox-embed"]))
    assert [m.id for m in scoped.models.list()] == ["sandbox-embed"]


def test_content_logging_only_when_the_key_asks(client_for):
    from apiany.core.db import session_scope
    from apiany.models import RequestBody

    user = make_user(credits=10)
    quiet = client_for(make_key(user))
    loud = client_for(make_key(user, log_content=True))
    r1 = quiet.chat.completions.with_raw_response.create(model="sandbox-chat", messages=MSG)
    r2 = loud.chat.completions.with_raw_response.create(model="sandbox-chat", messages=MSG)
    with session_scope() as s:
        assert s.get(RequestBody, r1.headers["x-request-id"]) is None
        body = s.get(RequestBody, r2.headers["x-request-id"])
        assert "hello there sandbox friend" in body.request_body
        assert "chat.completion" in body.response_body
