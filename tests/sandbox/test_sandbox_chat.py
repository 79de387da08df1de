"""Chat completions of the sandbox, and every directive asserted exactly."""

from __future__ import annotations

import json
import time

import pytest

MESSAGES = [
    {"role": "system", "content": "You are terse."},                       # 3 words
    {"role": "user", "content": [{"type": "text", "text": "tell me a joke"}]},  # 4 words
]
PROMPT_WORDS = 7
FULL_TEXT = ("Sandbox reply to: tell me a joke Sandbox reply to: tell me a joke Sandbox "
             "reply")  # 16 words


def chat(model="sandbox-chat", **extra):
    return {"model": model, "messages": MESSAGES, **extra}


async def test_models_list(client):
    r = await client.get("/v1/models")
    assert r.status_code == 200
    ids = [m["id"] for m in r.json()["data"]]
    assert ids == ["sandbox-chat", "sandbox-embed", "sandbox-image", "sandbox-tts",
                   "sandbox-stt", "sandbox-video"]
    assert (await client.get("/v1/models/sandbox-chat@latency=1")).status_code == 200
    missing = await client.get("/v1/models/gpt-9")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"


async def test_chat_non_stream_is_deterministic_with_exact_usage(client):
    r = await client.post("/v1/chat/completions", json=chat())
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert body["model"] == "sandbox-chat"
    choice = body["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": FULL_TEXT, "refusal": None,
                                 "annotations": []}
    assert choice["finish_reason"] == "stop"
    usage = body["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (
        PROMPT_WORDS, 16, PROMPT_WORDS + 16)
    assert usage["prompt_tokens_details"]["cached_tokens"] == 0
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 0
    again = (await client.post("/v1/chat/completions", json=chat())).json()
    assert again["choices"][0]["message"]["content"] == FULL_TEXT


async def test_max_tokens_truncates_with_length(client):
    for key in ("max_tokens", "max_completion_tokens"):
        body = (await client.post("/v1/chat/completions", json=chat(**{key: 5}))).json()
        assert body["choices"][0]["message"]["content"] == "Sandbox reply to: tell me"
        assert body["choices"][0]["finish_reason"] == "length"
        assert body["usage"]["completion_tokens"] == 5
    # a cap above the natural length changes nothing
    body = (await client.post("/v1/chat/completions", json=chat(max_tokens=100))).json()
    assert body["usage"]["completion_tokens"] == 16
    assert body["choices"][0]["finish_reason"] == "stop"


async def test_stream_one_word_per_chunk_ends_with_done(client, sse):
    r = await client.post("/v1/chat/completions", json=chat("sandbox-chat@words=5", stream=True))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.headers["cache-control"] == "no-cache"
    events, raw = sse(r.text)
    assert raw[-1] == "[DONE]"
    content = [e for e in events if e["choices"] and "content" in e["choices"][0]["delta"]]
    assert [e["choices"][0]["delta"]["content"] for e in content] == [
        "Sandbox ", "reply ", "to: ", "tell ", "me"]
    assert content[0]["choices"][0]["delta"]["role"] == "assistant"
    assert events[-1]["choices"][0]["finish_reason"] == "stop"
    assert all("usage" not in e for e in events)  # the client did not ask
    assert len(events) == 6  # 5 words + the finish chunk


async def test_stream_include_usage(client, sse):
    r = await client.post("/v1/chat/completions", json=chat(
        "sandbox-chat@words=3", stream=True, stream_options={"include_usage": True}))
    events, raw = sse(r.text)
    assert raw[-1] == "[DONE]"
    assert all(e["usage"] is None for e in events[:-1])
    final = events[-1]
    assert final["choices"] == []
    assert final["usage"]["prompt_tokens"] == PROMPT_WORDS
    assert final["usage"]["completion_tokens"] == 3
    assert final["usage"]["total_tokens"] == PROMPT_WORDS + 3


async def test_stream_text_equals_non_stream_text(client, sse):
    events, _ = sse((await client.post("/v1/chat/completions", json=chat(stream=True))).text)
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in events if e["choices"])
    assert text == FULL_TEXT


@pytest.mark.parametrize("status,etype", [(500, "server_error"), (503, "server_error"),
                                          (400, "invalid_request_error"),
                                          (401, "invalid_request_error"),
                                          (429, "rate_limit_error")])
async def test_status_directive(client, status, etype):
    for stream in (False, True):
        r = await client.post("/v1/chat/completions",
                              json=chat(f"sandbox-chat@status={status}", stream=stream))
        assert r.status_code == status
        assert set(r.json()["error"]) == {"message", "type", "param", "code"}
        assert r.json()["error"]["type"] == etype
        assert ("retry-after" in r.headers) == (status == 429)


async def test_status_429_retry_after_and_status_times(client):
    model = "sandbox-chat@status=429,retry_after=7,status_times=2"
    first = await client.post("/v1/chat/completions", json=chat(model))
    assert first.status_code == 429 and first.headers["retry-after"] == "7"
    assert (await client.post("/v1/chat/completions", json=chat(model))).status_code == 429
    assert (await client.post("/v1/chat/completions", json=chat(model))).status_code == 200
    # the counter belongs to the model string: another string starts over
    other = await client.post("/v1/chat/completions", json=chat(model + ",tag=b"))
    assert other.status_code == 429


async def test_latency_delays_the_first_byte(client):
    start = time.monotonic()
    r = await client.post("/v1/chat/completions", json=chat("sandbox-chat@latency=150"))
    assert r.status_code == 200 and time.monotonic() - start >= 0.15


async def test_chunk_delay_spaces_chunks(client):
    start = time.monotonic()
    r = await client.post("/v1/chat/completions",
                          json=chat("sandbox-chat@chunk_delay=40,words=4", stream=True))
    assert r.status_code == 200 and time.monotonic() - start >= 0.16  # 3 gaps + before finish


async def test_fail_after_sends_error_event_and_no_done(client, sse):
    r = await client.post("/v1/chat/completions",
                          json=chat("sandbox-chat@fail_after=3", stream=True))
    assert r.status_code == 200
    events, raw = sse(r.text)
    assert "[DONE]" not in raw
    assert len(events) == 4
    assert [e["choices"][0]["delta"]["content"] for e in events[:3]] == [
        "Sandbox ", "reply ", "to: "]
    assert events[3] == {"error": {"message": "Sandbox stream failed after 3 chunks",
                                   "type": "server_error", "param": None,
                                   "code": "sandbox_stream_error"}}


async def test_malformed(client, sse):
    r = await client.post("/v1/chat/completions", json=chat("sandbox-chat@malformed=1"))
    assert r.status_code == 200
    with pytest.raises(ValueError):
        json.loads(r.text)
    r = await client.post("/v1/chat/completions",
                          json=chat("sandbox-chat@malformed,words=3", stream=True))
    events, raw = sse(r.text)
    assert raw[1] == '{"id": "chatcmpl-broken", "choices": ['
    assert len(events) == 4 and raw[-1] == "[DONE]"  # 3 words + finish, one bad line between


async def test_no_usage(client, sse):
    body = (await client.post("/v1/chat/completions", json=chat("sandbox-chat@no_usage=1"))).json()
    assert "usage" not in body
    r = await client.post("/v1/chat/completions", json=chat(
        "sandbox-chat@no_usage=1", stream=True, stream_options={"include_usage": True}))
    events, raw = sse(r.text)
    assert raw[-1] == "[DONE]" and all(e["choices"] for e in events)


async def test_no_done(client, sse):
    r = await client.post("/v1/chat/completions",
                          json=chat("sandbox-chat@no_done=1,words=2", stream=True))
    events, raw = sse(r.text)
    assert "[DONE]" not in raw and events[-1]["choices"][0]["finish_reason"] == "stop"


async def test_cached_and_reasoning_tokens(client):
    body = (await client.post("/v1/chat/completions",
                              json=chat("sandbox-chat@cached=5,reasoning=4,words=2"))).json()
    usage = body["usage"]
    assert usage["prompt_tokens_details"]["cached_tokens"] == 5
    assert usage["completion_tokens"] == 6
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 4
    capped = (await client.post("/v1/chat/completions",
                                json=chat("sandbox-chat@cached=500"))).json()["usage"]
    assert capped["prompt_tokens_details"]["cached_tokens"] == PROMPT_WORDS


async def test_words_zero_streams_no_content(client, sse):
    r = await client.post("/v1/chat/completions", json=chat(
        "sandbox-chat@words=0", stream=True, stream_options={"include_usage": True}))
    events, raw = sse(r.text)
    assert raw[-1] == "[DONE]" and len(events) == 2
    assert events[0]["choices"][0]["delta"] == {}
    assert events[1]["usage"]["completion_tokens"] == 0


async def test_header_directives_override_model_suffix(client, sse):
    r = await client.post("/v1/chat/completions", json=chat("sandbox-chat@status=500"),
                          headers={"x-sandbox": "status=503"})
    assert r.status_code == 503
    r = await client.post("/v1/chat/completions", json=chat(stream=True),
                          headers={"x-sandbox-fail-after": "1"})
    events, raw = sse(r.text)
    assert len(events) == 2 and "error" in events[1]


async def test_bad_requests_are_openai_errors(client):
    bad = await client.post("/v1/chat/completions", json=chat("sandbox-chat@colour=blue"))
    assert bad.status_code == 400
    assert bad.json()["error"]["message"] == "unknown sandbox directive 'colour'"
    assert (await client.post("/v1/chat/completions",
                              json=chat("sandbox-chat@latency=soon"))).status_code == 400
    assert (await client.post("/v1/chat/completions", json={"model": "sandbox-chat"})
            ).json()["error"]["param"] == "messages"
    assert (await client.post("/v1/chat/completions", json={"messages": MESSAGES})
            ).json()["error"]["param"] == "model"
    assert (await client.post("/v1/chat/completions", content=b"{nope")).status_code == 400


async def test_stats_count_calls_per_model_and_reset(client):
    await client.post("/v1/chat/completions", json=chat(), headers={"authorization": "Bearer sk-1"})
    await client.post("/v1/chat/completions", json=chat("sandbox-chat@tag=b"))
    await client.post("/v1/chat/completions", json=chat("sandbox-chat@status=500"))
    stats = (await client.get("/sandbox/stats")).json()
    assert stats["total"] == 3
    assert stats["models"] == {"sandbox-chat": 1, "sandbox-chat@tag=b": 1,
                               "sandbox-chat@status=500": 1}
    assert stats["endpoints"] == {"/v1/chat/completions": 3}
    first = stats["requests"][0]
    assert first["body"]["messages"] == MESSAGES
    assert first["headers"]["authorization"].startswith("sha256:")
    assert "sk-1" not in json.dumps(stats)
    cleared = (await client.delete("/sandbox/stats")).json()
    assert cleared == {"total": 0, "models": {}, "endpoints": {}, "requests": []}
