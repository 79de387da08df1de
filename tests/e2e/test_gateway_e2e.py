"""The product's main path against the real app in production mode: a new
user signs up, creates a key through the management API and calls /v1 with
the official openai client (the mounted sandbox upstream serves it)."""

from __future__ import annotations

import time
import uuid

import httpx
import openai
import pytest

pytestmark = pytest.mark.e2e
MSG = [{"role": "user", "content": "hello from the end to end test"}]


@pytest.fixture
def account(live_app):
    client = httpx.Client(base_url=live_app.base_url, timeout=30)
    email = f"e2e-{uuid.uuid4().hex[:8]}@example.com"
    r = client.post("/api/auth/signup", json={"email": email, "password": "a long password"})
    assert r.status_code in (200, 201), r.text
    yield client
    client.close()


def new_key(account, **fields) -> str:
    r = account.post("/api/keys", json={"name": "e2e", **fields})
    assert r.status_code == 201, r.text
    return r.json()["key"]


def balance(account) -> int:
    return account.get("/api/balance").json()["balance"]


def usage(account, request_id: str) -> dict:
    for _ in range(50):
        r = account.get(f"/api/usage/{request_id}")
        if r.status_code == 200:
            return r.json()
        time.sleep(0.1)
    raise AssertionError(f"no usage row for {request_id}")


def test_openai_client_chat_stream_embeddings_responses(live_app, account):
    assert balance(account) == 100_000_000
    client = openai.OpenAI(base_url=live_app.url("/v1"), api_key=new_key(account), max_retries=0)
    assert "sandbox-chat" in {m.id for m in client.models.list()}

    raw = client.chat.completions.with_raw_response.create(model="sandbox-chat", messages=MSG, max_tokens=8)
    completion = raw.parse()
    story = usage(account, raw.headers["x-request-id"])
    assert story["usage"]["completion_tokens"] == completion.usage.completion_tokens == 8
    charged = story["usage"]["credits_charged"]
    assert charged > 0
    assert [m["amount"] for m in story["ledger"] if m["kind"] == "consumption"] == [-charged]
    assert balance(account) == 100_000_000 - charged

    before = balance(account)
    with client.chat.completions.with_streaming_response.create(
            model="sandbox-chat", messages=MSG, stream=True, stream_options={"include_usage": True}) as resp:
        request_id = resp.headers["x-request-id"]
        chunks = list(resp.parse())
    assert chunks[-1].usage is not None
    streamed = usage(account, request_id)["usage"]
    assert streamed["stream"] is True and streamed["status"] == "success"
    assert balance(account) == before - streamed["credits_charged"]

    vectors = client.embeddings.create(model="sandbox-embed", input=["a b c"])
    assert len(vectors.data[0].embedding) > 0
    reply = client.responses.create(model="sandbox-chat", input="hello", max_output_tokens=3)
    assert len(reply.output_text.split()) == 3


def test_error_contract(live_app, account):
    base = live_app.url("/v1")
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=base, api_key="sk-wrong", max_retries=0).models.list()
    scoped = openai.OpenAI(base_url=base, api_key=new_key(account, model_scope=["sandbox-embed"]), max_retries=0)
    with pytest.raises(openai.PermissionDeniedError):
        scoped.chat.completions.create(model="sandbox-chat", messages=MSG)
    client = openai.OpenAI(base_url=base, api_key=new_key(account, rpm_limit=1), max_retries=0)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="no-such-model", messages=MSG)
    client.chat.completions.create(model="sandbox-chat", messages=MSG, max_tokens=1)
    before = balance(account)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="sandbox-chat", messages=MSG, max_tokens=1)
    assert balance(account) == before


def test_no_credits_is_402(live_app):
    broke = httpx.Client(base_url=live_app.base_url, timeout=30)
    email = f"broke-{uuid.uuid4().hex[:8]}@example.com"
    broke.post("/api/auth/signup", json={"email": email, "password": "a long password"})
    live_app.cli("credits", "grant", "--email", email, "--credits", "-100", "--reason", "e2e: empty the account")
    client = openai.OpenAI(base_url=live_app.url("/v1"), api_key=new_key(broke), max_retries=0)
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="sandbox-chat", messages=MSG)
    assert info.value.status_code == 402
    assert balance(broke) == 0
