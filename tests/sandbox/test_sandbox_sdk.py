"""The sandbox over real TCP (uvicorn), driven by the official OpenAI SDK."""

from __future__ import annotations

import httpx
import openai
import pytest


@pytest.fixture
def sdk(sandbox_server):
    url, _ = sandbox_server
    with openai.OpenAI(base_url=f"{url}/v1", api_key="sk-test", max_retries=0) as client:
        yield client


def test_sdk_models_and_chat(sdk):
    assert "sandbox-chat" in [m.id for m in sdk.models.list()]
    out = sdk.chat.completions.create(model="sandbox-chat@words=4", max_tokens=50,
                                      messages=[{"role": "user", "content": "Say hello"}])
    assert out.choices[0].message.content == "Sandbox reply to: Say"
    assert out.choices[0].finish_reason == "stop"
    assert (out.usage.prompt_tokens, out.usage.completion_tokens) == (2, 4)


def test_sdk_stream_with_usage(sdk):
    chunks = list(sdk.chat.completions.create(
        model="sandbox-chat@words=6", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "one two three"}]))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Sandbox reply to: one two three"
    assert chunks[-1].choices == []
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (3, 6)
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) == 6


def test_sdk_embeddings_default_base64(sdk):
    # the SDK asks for base64 and decodes it itself
    out = sdk.embeddings.create(model="sandbox-embed", input=["a b", "c"], dimensions=16)
    assert [len(d.embedding) for d in out.data] == [16, 16]
    assert out.usage.prompt_tokens == 3
    floats = sdk.embeddings.create(model="sandbox-embed", input="a b", dimensions=16,
                                   encoding_format="float")
    assert floats.data[0].embedding == pytest.approx(out.data[0].embedding, abs=1e-6)


def test_sdk_responses_both_ways(sdk):
    out = sdk.responses.create(model="sandbox-chat@words=3", input="What is up")
    assert out.output_text == "Sandbox reply to:"
    assert (out.usage.input_tokens, out.usage.output_tokens) == (3, 3)
    events = list(sdk.responses.create(model="sandbox-chat@words=2", input="x", stream=True))
    assert events[-1].type == "response.completed"
    assert events[-1].response.usage.output_tokens == 2
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == \
        "Sandbox reply"


def test_sdk_sees_status_and_stream_errors(sdk):
    with pytest.raises(openai.RateLimitError) as info:
        sdk.chat.completions.create(model="sandbox-chat@status=429",
                                    messages=[{"role": "user", "content": "x"}])
    assert info.value.response.headers["retry-after"] == "1"
    with pytest.raises(openai.InternalServerError):
        sdk.embeddings.create(model="e@status=500", input="x")
    stream = sdk.chat.completions.create(model="sandbox-chat@fail_after=2", stream=True,
                                         messages=[{"role": "user", "content": "x"}])
    got = []
    with pytest.raises(openai.APIError, match="failed after 2 chunks"):
        for chunk in stream:
            got.append(chunk.choices[0].delta.content)
    assert got == ["Sandbox ", "reply "]


def test_cut_after_drops_the_connection(sandbox_server):
    url, _ = sandbox_server
    received = b""
    with httpx.Client(base_url=url) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            with client.stream("POST", "/v1/chat/completions", json={
                    "model": "sandbox-chat@cut_after=2", "stream": True,
                    "messages": [{"role": "user", "content": "x"}]}) as r:
                assert r.status_code == 200
                for part in r.iter_bytes():
                    received += part
    events = [e for e in received.split(b"\n\n") if e.startswith(b"data: ")]
    assert len(events) == 2 and b"[DONE]" not in received


def test_chunks_arrive_as_produced(sandbox_server):
    """Streaming is real: the first chunk arrives long before the last."""
    import time

    url, _ = sandbox_server
    stamps = []
    with httpx.Client(base_url=url) as client:
        with client.stream("POST", "/v1/chat/completions", json={
                "model": "sandbox-chat@words=3,chunk_delay=150", "stream": True,
                "messages": [{"role": "user", "content": "x"}]}) as r:
            for line in r.iter_lines():
                if line.startswith("data: "):
                    stamps.append(time.monotonic())
    assert len(stamps) == 5  # 3 words, finish, [DONE]
    assert stamps[-1] - stamps[0] >= 0.4
