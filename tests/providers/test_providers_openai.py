"""The OpenAI-compatible adapter: requests, responses, streams, errors."""

from __future__ import annotations

import json

import pytest

from apiany.providers import OpenAIAdapter, ProviderError, UpstreamRequest, Usage
from apiany.providers.base import ChannelConfig

A = OpenAIAdapter()
CHANNEL = ChannelConfig(name="main", protocol="openai", base_url="https://api.example.com/v1/",
                        api_key="sk-up", extra_headers={"openai-organization": "org-1"},
                        timeout=30.0)


def test_build_chat_stream_forces_usage_and_remembers_the_client_choice():
    body = {"model": "public-chat", "messages": [{"role": "user", "content": "hi"}],
            "stream": True, "temperature": 0.2}
    req = A.build_request(CHANNEL, "chat", body, "gpt-4o-mini")
    assert req == UpstreamRequest(
        method="POST", url="https://api.example.com/v1/chat/completions",
        headers={"content-type": "application/json", "accept": "text/event-stream",
                 "openai-organization": "org-1", "authorization": "Bearer sk-up"},
        json_body={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}],
                   "stream": True, "temperature": 0.2,
                   "stream_options": {"include_usage": True}},
        stream=True, timeout=30.0, client_wants_usage=False)
    assert body["model"] == "public-chat" and "stream_options" not in body  # not mutated
    asked = A.build_request(CHANNEL, "chat", {**body, "stream_options": {
        "include_usage": True, "include_obfuscation": False}}, "gpt-4o-mini")
    assert asked.client_wants_usage is True
    assert asked.json_body["stream_options"] == {"include_usage": True,
                                                 "include_obfuscation": False}


def test_build_non_stream_embedding_and_responses():
    keyless = ChannelConfig("local", "openai", "http://127.0.0.1:9100/v1")
    chat = A.build_request(keyless, "chat", {"model": "x", "messages": []}, "sandbox-chat")
    assert chat.stream is False and "stream_options" not in chat.json_body
    assert chat.headers == {"content-type": "application/json"}
    emb = A.build_request(CHANNEL, "embedding", {"model": "x", "input": "a", "dimensions": 8},
                          "text-embedding-3-small")
    assert emb.url == "https://api.example.com/v1/embeddings" and emb.stream is False
    assert emb.json_body == {"model": "text-embedding-3-small", "input": "a", "dimensions": 8}
    resp = A.build_request(CHANNEL, "responses", {"model": "x", "input": "a", "stream": True},
                           "gpt-4.1")
    assert resp.url == "https://api.example.com/v1/responses"
    assert resp.stream is True and "stream_options" not in resp.json_body
    with pytest.raises(ProviderError) as info:
        A.build_request(CHANNEL, "image", {}, "dall-e-3")
    assert (info.value.kind, info.value.status) == ("unsupported", 400)


def test_parse_chat_fixture(fixture_bytes):
    body, usage = A.parse_response("chat", 200, fixture_bytes("openai_chat.json"),
                                   model="public-chat")
    assert usage == Usage(prompt_tokens=1117, cached_tokens=1024, completion_tokens=46,
                          reasoning_tokens=12)
    assert body["model"] == "public-chat"
    assert body["choices"][0]["message"]["content"] == "The image shows a wooden boardwalk."


def test_parse_embedding_and_responses_fixtures(fixture_bytes):
    body, usage = A.parse_response("embedding", 200, fixture_bytes("openai_embedding.json"))
    assert usage == Usage(prompt_tokens=8) and len(body["data"]) == 1
    body, usage = A.parse_response("responses", 200, fixture_bytes("openai_responses.json"))
    assert usage == Usage(prompt_tokens=328, cached_tokens=256, completion_tokens=52,
                          reasoning_tokens=8)
    assert body["model"] == "gpt-4o-2024-08-06"


def test_missing_usage_is_an_estimate(fixture_bytes):
    chat = json.loads(fixture_bytes("openai_chat.json"))
    del chat["usage"]
    _, usage = A.parse_response("chat", 200, json.dumps(chat).encode())
    assert usage == Usage(completion_tokens=6, estimated=True)  # six words of content
    resp = json.loads(fixture_bytes("openai_responses.json"))
    del resp["usage"]
    _, usage = A.parse_response("responses", 200, json.dumps(resp).encode())
    assert usage == Usage(completion_tokens=6, estimated=True)


@pytest.mark.parametrize("status,data,kind,code", [
    (429, b'{"error": {"message": "Rate limit", "type": "requests", "code": "rate_limit_exceeded"}}',
     "http_status", "rate_limit_exceeded"),
    (500, b"Internal Server Error", "http_status", None),
    (200, b'{"id": "chatcmpl-1", "choices": [', "malformed", None),
    (200, b'[1, 2]', "malformed", None),
    (200, b'{"error": {"message": "quota", "type": "insufficient_quota"}}', "http_status", None),
])
def test_parse_errors(status, data, kind, code):
    with pytest.raises(ProviderError) as info:
        A.parse_response("chat", status, data, {"retry-after": "3"})
    err = info.value
    assert (err.kind, err.code) == (kind, code)
    if kind == "http_status":
        assert err.status == (429 if status == 200 else status) and err.retry_after == 3.0


def test_responses_failed_status_raises(fixture_bytes):
    resp = json.loads(fixture_bytes("openai_responses.json"))
    resp.update(status="failed", error={"code": "server_error", "message": "boom"})
    with pytest.raises(ProviderError, match="boom") as info:
        A.parse_response("responses", 200, json.dumps(resp).encode())
    assert info.value.status == 500


EXPECTED_USAGE = Usage(prompt_tokens=19, cached_tokens=3, completion_tokens=7, reasoning_tokens=2)


def test_chat_stream_passthrough_at_every_split(fixture_bytes, feeder):
    data = fixture_bytes("openai_chat_stream.sse")
    reference = feeder(A.stream_parser("chat", client_wants_usage=True), data)
    assert b"".join(reference) == data  # byte-identical passthrough
    for cut in range(1, len(data)):
        parser = A.stream_parser("chat", client_wants_usage=True)
        assert feeder(parser, data, [cut]) == reference, cut
        assert parser.usage == EXPECTED_USAGE and parser.done and parser.error is None
        assert parser.delivered_text_tokens == 5  # Hello | wörld, how | are you?


def test_chat_stream_drops_usage_chunk_when_not_asked(fixture_bytes, feeder, decode):
    parser = A.stream_parser("chat", client_wants_usage=False)
    events = decode(feeder(parser, fixture_bytes("openai_chat_stream.sse"), range(7, 2000, 97)))
    assert events[-1] == "[DONE]" and len(events) == 6
    assert all(e == "[DONE]" or e["choices"] for e in events)
    assert parser.usage == EXPECTED_USAGE  # still known to the gateway


def test_chat_stream_error_event_is_not_output(feeder, decode):
    chunk = {"id": "c", "object": "chat.completion.chunk", "model": "m",
             "choices": [{"index": 0, "delta": {"content": "two words"}, "finish_reason": None}]}
    data = (f"data: {json.dumps(chunk)}\n\n"
            'data: {"error": {"message": "Rate limit reached during stream", '
            '"type": "rate_limit_error", "code": "rate_limit_exceeded"}}\n\n'
            f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n").encode()
    parser = A.stream_parser("chat")
    events = decode(feeder(parser, data, [len(data) // 2]))
    assert len(events) == 1 and events[0]["choices"][0]["delta"]["content"] == "two words"
    assert parser.delivered_text_tokens == 2  # the error text is not counted
    err = parser.error
    assert (err.kind, err.status, err.code) == ("stream_error", 429, "rate_limit_exceeded")
    assert err.message == "Rate limit reached during stream"
    assert not parser.done and parser.usage is None
    assert parser.billable_usage(11) == Usage(prompt_tokens=11, completion_tokens=2,
                                              estimated=True)


def test_chat_stream_cut_and_missing_done(fixture_bytes, feeder, decode):
    data = fixture_bytes("openai_chat_stream.sse")
    lines = data.split(b"\n\n")
    cut = A.stream_parser("chat")
    feeder(cut, b"\n\n".join(lines[:3]) + b"\n\n")  # two deltas, no finish
    assert cut.error.kind == "stream_cut" and not cut.done and cut.usage is None
    assert cut.delivered_text_tokens == 3
    finished = A.stream_parser("chat", client_wants_usage=True)
    events = decode(feeder(finished, b"\n\n".join(lines[:6]) + b"\n\n"))  # all but [DONE]
    assert events[-1] == "[DONE]" and finished.done and finished.error is None
    assert finished.usage == EXPECTED_USAGE


def test_chat_stream_malformed_line_stops_the_stream(feeder, decode):
    data = (b'data: {"choices": [{"index": 0, "delta": {"content": "ok"}}]}\n\n'
            b'data: {"id": "chatcmpl-broken", "choices": [\n\n'
            b'data: {"choices": [{"index": 0, "delta": {"content": "late"}}]}\n\ndata: [DONE]\n\n')
    parser = A.stream_parser("chat")
    events = decode(feeder(parser, data))
    assert len(events) == 1 and parser.error.kind == "malformed"
    assert parser.delivered_text_tokens == 1


def test_chat_stream_rewrites_model(fixture_bytes, feeder, decode):
    parser = A.stream_parser("chat", model="public-chat")
    events = decode(feeder(parser, fixture_bytes("openai_chat_stream.sse")))
    assert {e["model"] for e in events if e != "[DONE]"} == {"public-chat"}


def test_responses_stream(fixture_bytes, feeder, decode):
    data = fixture_bytes("openai_responses_stream.sse")
    for cuts in ([], [100], range(3, len(data), 41)):
        parser = A.stream_parser("responses")
        out = feeder(parser, data, cuts)
        assert b"".join(out) == data
        assert parser.usage == Usage(prompt_tokens=37, completion_tokens=11)
        assert parser.done and parser.error is None
        assert parser.delivered_text_tokens == 6
    renamed = A.stream_parser("responses", model="public")
    events = decode(feeder(renamed, data))
    assert events[0]["response"]["model"] == "public" and events[-1]["response"]["model"] == "public"


def test_responses_stream_errors(feeder):
    delta = (b'event: response.output_text.delta\ndata: {"type": "response.output_text.delta", '
             b'"delta": "some words here"}\n\n')
    error = (b'event: error\ndata: {"type": "error", "code": "rate_limit_exceeded", '
             b'"message": "Slow down", "param": null, "sequence_number": 3}\n\n')
    parser = A.stream_parser("responses")
    assert len(feeder(parser, delta + error)) == 1
    assert (parser.error.kind, parser.error.status, parser.error.message) == (
        "stream_error", 429, "Slow down")
    assert parser.delivered_text_tokens == 3
    failed = (b'event: response.failed\ndata: {"type": "response.failed", "response": '
              b'{"status": "failed", "error": {"code": "server_error", "message": "x"}}}\n\n')
    parser = A.stream_parser("responses")
    assert feeder(parser, delta + failed) != [] and parser.error.status == 500
    cut = A.stream_parser("responses")
    feeder(cut, delta)
    assert cut.error.kind == "stream_cut"


def test_embeddings_are_not_streamed():
    with pytest.raises(ProviderError):
        A.stream_parser("embedding")
