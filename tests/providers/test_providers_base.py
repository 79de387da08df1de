"""The shared pieces of the adapter interface: SSE decoding, errors, registry."""

from __future__ import annotations

import pytest

from apiany.providers import REGISTRY, get_adapter
from apiany.providers.base import (
    ChannelConfig, ProviderError, SSEDecoder, UpstreamRequest, Usage, error_event, http_error,
    retry_after,
)


def decode_all(data: bytes, cuts=()) -> list:
    decoder, out, last = SSEDecoder(), [], 0
    for cut in cuts:
        out += decoder.feed(data[last:cut])
        last = cut
    return out + decoder.feed(data[last:]) + decoder.flush()


def test_sse_decoder_same_events_at_every_split(fixture_bytes):
    data = fixture_bytes("anthropic_stream.sse")
    whole = decode_all(data)
    assert len(whole) == 9 and whole[0][0] == "message_start"
    for cut in range(1, len(data)):
        assert decode_all(data, [cut]) == whole, cut
    assert decode_all(data, range(1, len(data))) == whole  # byte by byte


def test_sse_decoder_line_endings_comments_and_multiline():
    data = (b": keep-alive\r\n\r\nevent: a\r\ndata: one\r\ndata:two\r\n\r\n"
            b"data: {\"x\": 1}\n\ndata: last-without-blank-line")
    expected = [("a", b"one\ntwo"), (None, b'{"x": 1}'), (None, b"last-without-blank-line")]
    assert decode_all(data) == expected
    for cut in range(1, len(data)):  # CRLF split between feeds included
        assert decode_all(data, [cut]) == expected, cut
    assert decode_all(b"data: a\rdata: b\r\r") == [(None, b"a\nb")]  # bare CR endings


def test_usage_totals_and_openai_shape():
    usage = Usage(prompt_tokens=10, cached_tokens=4, completion_tokens=7, reasoning_tokens=2)
    assert usage.total_tokens == 17
    assert usage.to_openai_chat() == {
        "prompt_tokens": 10, "completion_tokens": 7, "total_tokens": 17,
        "prompt_tokens_details": {"cached_tokens": 4},
        "completion_tokens_details": {"reasoning_tokens": 2}}


def test_secrets_stay_out_of_reprs():
    channel = ChannelConfig("c", "openai", "http://x/v1", api_key="sk-secret")
    assert "sk-secret" not in repr(channel)
    req = UpstreamRequest("POST", "http://x", {"authorization": "Bearer sk-secret"}, {}, False)
    assert "sk-secret" not in repr(req)


def test_http_error_mapping():
    err = http_error(429, b'{"error": {"message": "slow down", "type": "requests", '
                          b'"code": "rate_limit_exceeded"}}', {"retry-after": "20"})
    assert (err.kind, err.status, err.retry_after, err.code, err.message) == (
        "http_status", 429, 20.0, "rate_limit_exceeded", "slow down")
    html = http_error(502, b"<html>Bad Gateway</html>", None)
    assert html.status == 502 and html.message == "upstream returned HTTP 502: <html>Bad Gateway</html>"
    assert http_error(503, b"", None).message == "upstream returned HTTP 503"
    assert retry_after({"retry-after-ms": "1500"}) == 1.5
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) is None


def test_error_event_is_openai_shaped():
    err = ProviderError("stream_cut", "upstream stream ended before completion", code="stream_cut")
    assert error_event(err) == (b'data: {"error":{"message":"upstream stream ended before '
                                b'completion","type":"upstream_error","param":null,'
                                b'"code":"stream_cut"}}\n\n')


def test_registry():
    assert set(REGISTRY) == {"openai", "anthropic"}
    assert get_adapter("openai").protocol == "openai"
    assert get_adapter("anthropic").request_types == frozenset({"chat"})
    with pytest.raises(ProviderError) as info:
        get_adapter("smoke-signals")
    assert info.value.kind == "unsupported"
