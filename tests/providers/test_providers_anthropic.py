"""The Anthropic Messages adapter, both ways, stream and not, against
recorded fixtures in Anthropic's documented formats."""

from __future__ import annotations

import json

import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from apiany.providers import AnthropicAdapter, ProviderError, Usage
from apiany.providers.base import ChannelConfig

A = AnthropicAdapter()
CHANNEL = ChannelConfig(name="claude", protocol="anthropic", base_url="https://api.anthropic.com",
                        api_key="sk-ant-1", extra_headers={"anthropic-beta": "x"}, timeout=60.0)


def test_build_request_translates_openai_chat():
    body = {"model": "public-claude", "stream": True, "stream_options": {"include_usage": True},
            "temperature": 1.6, "top_p": 0.9, "stop": "END", "user": "u-42",
            "messages": [{"role": "system", "content": "Be terse."},
                         {"role": "developer", "content": [{"type": "text", "text": "No emoji."}]},
                         {"role": "user", "content": "Hi"}]}
    req = A.build_request(CHANNEL, "chat", body, "claude-sonnet-4-5")
    assert req.method == "POST" and req.url == "https://api.anthropic.com/v1/messages"
    assert req.headers == {"content-type": "application/json", "anthropic-version": "2023-06-01",
                           "accept": "text/event-stream", "anthropic-beta": "x",
                           "x-api-key": "sk-ant-1"}
    assert req.json_body == {
        "model": "claude-sonnet-4-5", "max_tokens": 4096,
        "messages": [{"role": "user", "content": "Hi"}],
        "system": "Be terse.\n\nNo emoji.", "temperature": 1.0, "top_p": 0.9,
        "stop_sequences": ["END"], "stream": True, "metadata": {"user_id": "u-42"}}
    assert (req.stream, req.timeout, req.client_wants_usage) == (True, 60.0, True)
    v1 = ChannelConfig("c", "anthropic", "https://proxy.example/v1/")
    plain = A.build_request(v1, "chat", {"messages": [{"role": "user", "content": "x"}],
                                         "max_completion_tokens": 50, "stop": ["a", "b"]}, "m")
    assert plain.url == "https://proxy.example/v1/messages"
    assert plain.json_body == {"model": "m", "max_tokens": 50, "stop_sequences": ["a", "b"],
                               "messages": [{"role": "user", "content": "x"}]}
    assert plain.stream is False and "x-api-key" not in plain.headers


def test_build_request_tools_images_and_tool_results():
    body = {"max_tokens": 100, "tool_choice": "required", "tools": [{"type": "function", "function": {
        "name": "get_weather", "description": "Weather", "parameters": {
            "type": "object", "properties": {"city": {"type": "string"}}}}}],
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}}]},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
                {"id": "call_2", "type": "function",
                 "function": {"name": "get_weather", "arguments": "{\"city\": \"Rome\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
            {"role": "tool", "tool_call_id": "call_2", "content": "25C"}]}
    out = A.build_request(CHANNEL, "chat", body, "m").json_body
    assert out["tools"] == [{"name": "get_weather", "description": "Weather", "input_schema": {
        "type": "object", "properties": {"city": {"type": "string"}}}}]
    assert out["tool_choice"] == {"type": "any"}
    user, assistant, results = out["messages"]
    assert user["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                     "data": "iVBORw0KGgo="}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}}]
    assert assistant["content"] == [
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"city": "Rome"}}]
    assert results == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
        {"type": "tool_result", "tool_use_id": "call_2", "content": "25C"}]}


def test_unsupported_requests_are_clear_errors():
    for request_type in ("embedding", "responses"):
        with pytest.raises(ProviderError) as info:
            A.build_request(CHANNEL, request_type, {"input": "x"}, "m")
        assert (info.value.kind, info.value.status) == ("unsupported", 400)
        assert "anthropic" in info.value.message
    with pytest.raises(ProviderError, match="input_audio"):
        A.build_request(CHANNEL, "chat", {"messages": [{"role": "user", "content": [
            {"type": "input_audio", "input_audio": {"data": "", "format": "wav"}}]}]}, "m")


def test_parse_message_fixture(fixture_bytes):
    body, usage = A.parse_response("chat", 200, fixture_bytes("anthropic_message.json"),
                                   model="public-claude")
    assert usage == Usage(prompt_tokens=2060, cached_tokens=2048, completion_tokens=10)
    ChatCompletion.model_validate(body)
    assert body["object"] == "chat.completion" and body["model"] == "public-claude"
    assert body["choices"][0]["message"] == {"role": "assistant",
                                             "content": "Hello! How can I help you today?"}
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"] == usage.to_openai_chat()
    assert body["usage"]["prompt_tokens_details"]["cached_tokens"] == 2048


def test_parse_tool_use_fixture(fixture_bytes):
    body, usage = A.parse_response("chat", 200, fixture_bytes("anthropic_message_tool_use.json"))
    assert usage == Usage(prompt_tokens=572, cache_write_tokens=100, completion_tokens=91)
    ChatCompletion.model_validate(body)
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    [call] = choice["message"]["tool_calls"]
    assert call["id"] == "toolu_01A09q90qw90lq917835lq9"
    assert json.loads(call["function"]["arguments"]) == {"location": "San Francisco, CA",
                                                         "unit": "celsius"}


def test_parse_errors(fixture_bytes):
    with pytest.raises(ProviderError) as info:
        A.parse_response("chat", 529, fixture_bytes("anthropic_error_overloaded.json"))
    err = info.value
    assert (err.kind, err.status, err.error_type, err.message) == (
        "http_status", 529, "overloaded_error", "Overloaded")
    with pytest.raises(ProviderError) as info:  # the same error body behind a 200
        A.parse_response("chat", 200, fixture_bytes("anthropic_error_overloaded.json"))
    assert info.value.status == 529
    with pytest.raises(ProviderError) as info:
        A.parse_response("chat", 429, b'{"type": "error", "error": {"type": "rate_limit_error", '
                                      b'"message": "Number of requests exceeded"}}',
                         {"retry-after": "12"})
    assert (info.value.status, info.value.retry_after) == (429, 12.0)
    with pytest.raises(ProviderError) as info:
        A.parse_response("chat", 200, b'{"type": "message", "content": ')
    assert info.value.kind == "malformed"


def _split_points(data: bytes):
    yield []
    yield [data.index(b"content_block_delta") + 7]  # inside an event name
    yield [data.index(b"text_delta") + 3, data.index(b"message_delta") + 40]
    yield range(5, len(data), 13)


def test_stream_translation(fixture_bytes, feeder, decode):
    data = fixture_bytes("anthropic_stream.sse")
    for cuts in _split_points(data):
        parser = A.stream_parser("chat", client_wants_usage=True, model="public-claude")
        events = decode(feeder(parser, data, cuts))
        assert events[-1] == "[DONE]"
        chunks = events[:-1]
        for chunk in chunks:
            ChatCompletionChunk.model_validate(chunk)
        assert {c["id"] for c in chunks} == {"msg_014p7gG3wDgGV9EUtLvnow3U"}
        assert {c["model"] for c in chunks} == {"public-claude"}
        assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
        text = [c["choices"][0]["delta"].get("content") for c in chunks[1:4]]
        assert text == ["Hello", " there, friend", "!"]
        assert chunks[4]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None,
                                           "finish_reason": "stop"}
        assert chunks[5]["choices"] == [] and chunks[5]["usage"]["prompt_tokens"] == 600
        assert len(chunks) == 6
        assert parser.usage == Usage(prompt_tokens=600, cached_tokens=128, completion_tokens=15)
        assert parser.done and parser.error is None and parser.delivered_text_tokens == 4


def test_stream_without_usage_chunk(fixture_bytes, feeder, decode):
    parser = A.stream_parser("chat", client_wants_usage=False)
    events = decode(feeder(parser, fixture_bytes("anthropic_stream.sse")))
    assert events[-1] == "[DONE]" and all("usage" not in e for e in events[:-1])
    assert events[0]["model"] == "claude-sonnet-4-5-20250929"
    assert parser.usage.completion_tokens == 15


def test_stream_tool_use(fixture_bytes, feeder, decode):
    parser = A.stream_parser("chat", client_wants_usage=False)
    events = decode(feeder(parser, fixture_bytes("anthropic_stream_tool_use.sse"), [333, 901]))
    calls = [e["choices"][0]["delta"]["tool_calls"][0] for e in events[:-1]
             if "tool_calls" in e["choices"][0]["delta"]]
    assert calls[0] == {"index": 0, "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "type": "function",
                        "function": {"name": "get_weather", "arguments": ""}}
    args = "".join(c["function"]["arguments"] for c in calls)
    assert json.loads(args) == {"location": "San Francisco, CA"}
    assert events[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert parser.usage == Usage(prompt_tokens=472, completion_tokens=89)


def test_stream_error_event_is_not_output(fixture_bytes, feeder, decode):
    parser = A.stream_parser("chat")
    events = decode(feeder(parser, fixture_bytes("anthropic_stream_error.sse"), [400]))
    assert [e["choices"][0]["delta"].get("content") for e in events] == ["", "Partial answer"]
    err = parser.error
    assert (err.kind, err.status, err.error_type, err.message) == (
        "stream_error", 529, "overloaded_error", "Overloaded")
    assert parser.usage is None and not parser.done
    assert parser.delivered_text_tokens == 2
    assert parser.billable_usage(20) == Usage(prompt_tokens=20, completion_tokens=2,
                                              estimated=True)


def test_stream_cut_before_message_delta(fixture_bytes, feeder):
    data = fixture_bytes("anthropic_stream.sse")
    parser = A.stream_parser("chat")
    feeder(parser, data[:data.index(b"event: message_delta")])
    assert parser.error.kind == "stream_cut" and parser.usage is None
    assert parser.delivered_text_tokens == 4
    late = A.stream_parser("chat")  # message_delta arrived, only message_stop lost
    events = feeder(late, data[:data.index(b"event: message_stop")])
    assert late.done and late.error is None and events[-1] == b"data: [DONE]\n\n"
    assert late.usage.completion_tokens == 15
