"""The OpenAI adapter against the sandbox upstream: what the gateway will do,
minus the gateway (httpx over ASGI instead of aiohttp over TCP)."""

from __future__ import annotations

import httpx
import pytest

from apiany.providers import ChannelConfig, ProviderError, Usage, get_adapter
from apiany.sandbox import create_sandbox_app

A = get_adapter("openai")
CHANNEL = ChannelConfig("sandbox", "openai", "http://sandbox/v1", api_key="sk-sandbox")
MESSAGES = [{"role": "user", "content": "count these four words"}]


@pytest.fixture
async def http():
    transport = httpx.ASGITransport(app=create_sandbox_app())
    async with httpx.AsyncClient(transport=transport) as client:
        yield client


async def call(http, request_type, body, model):
    req = A.build_request(CHANNEL, request_type, body, model)
    r = await http.request(req.method, req.url, headers=req.headers, json=req.json_body)
    return req, r


async def test_chat_and_embedding_usage_round_trip(http):
    _, r = await call(http, "chat", {"model": "pub", "messages": MESSAGES}, "sandbox-chat@cached=2")
    body, usage = A.parse_response("chat", r.status_code, r.content, r.headers, model="pub")
    assert usage == Usage(prompt_tokens=4, cached_tokens=2, completion_tokens=16)
    assert body["model"] == "pub"
    _, r = await call(http, "embedding", {"model": "pub", "input": ["a b", "c"]}, "sandbox-embed")
    assert A.parse_response("embedding", r.status_code, r.content)[1] == Usage(prompt_tokens=3)
    _, r = await call(http, "responses", {"model": "pub", "input": "x y"},
                      "sandbox-chat@words=5,reasoning=1")
    assert A.parse_response("responses", r.status_code, r.content)[1] == Usage(
        prompt_tokens=2, completion_tokens=6, reasoning_tokens=1)


async def test_chat_stream_usage_forced_but_hidden(http, decode):
    req, r = await call(http, "chat", {"model": "pub", "messages": MESSAGES, "stream": True},
                        "sandbox-chat@words=7")
    parser = A.stream_parser("chat", client_wants_usage=req.client_wants_usage)
    events = decode(parser.feed(r.content) + parser.close())
    assert events[-1] == "[DONE]" and all("usage" not in e or e["usage"] is None
                                          for e in events[:-1])
    assert parser.usage == Usage(prompt_tokens=4, completion_tokens=7)
    assert parser.delivered_text_tokens == 7 and parser.done


async def test_sandbox_failures_classified(http):
    _, r = await call(http, "chat", {"model": "p", "messages": MESSAGES, "stream": True},
                      "sandbox-chat@fail_after=3")
    parser = A.stream_parser("chat")
    assert len(parser.feed(r.content) + parser.close()) == 3
    assert parser.error.kind == "stream_error" and parser.delivered_text_tokens == 3
    _, r = await call(http, "chat", {"model": "p", "messages": MESSAGES, "stream": True},
                      "sandbox-chat@no_usage=1,no_done=1,words=2")
    parser = A.stream_parser("chat")
    parser.feed(r.content)
    assert parser.close()[-1] == b"data: [DONE]\n\n" and parser.usage is None
    assert parser.billable_usage(4) == Usage(prompt_tokens=4, completion_tokens=2, estimated=True)
    _, r = await call(http, "chat", {"model": "p", "messages": MESSAGES, "stream": True},
                      "sandbox-chat@malformed=1")
    parser = A.stream_parser("chat")
    parser.feed(r.content)
    assert parser.error.kind == "malformed" and parser.delivered_text_tokens == 1
    _, r = await call(http, "chat", {"model": "p", "messages": MESSAGES},
                      "sandbox-chat@status=429,retry_after=4")
    with pytest.raises(ProviderError) as info:
        A.parse_response("chat", r.status_code, r.content, r.headers)
    assert (info.value.status, info.value.retry_after, info.value.code) == (
        429, 4.0, "rate_limit_exceeded")
    _, r = await call(http, "responses", {"model": "p", "input": "x", "stream": True},
                      "sandbox-chat@fail_after=1")
    parser = A.stream_parser("responses")
    parser.feed(r.content)
    assert parser.error.kind == "stream_error" and parser.delivered_text_tokens == 1
