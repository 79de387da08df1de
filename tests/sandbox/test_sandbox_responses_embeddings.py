"""Responses API and embeddings of the sandbox; directive parsing."""

from __future__ import annotations

import base64
import json
import math
import struct

import pytest

from apiany.sandbox.directives import DirectiveError, Directives, parse


def resp(model="sandbox-chat", **extra):
    return {"model": model, "instructions": "Be brief.",
            "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi there"}]}],
            **extra}


async def test_responses_non_stream(client):
    r = await client.post("/v1/responses", json=resp("sandbox-chat@words=4,cached=1"))
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "response" and body["id"].startswith("resp_")
    assert body["status"] == "completed" and body["incomplete_details"] is None
    [item] = body["output"]
    assert item["type"] == "message" and item["role"] == "assistant"
    assert item["content"][0]["text"] == "Sandbox reply to: hi"
    assert body["usage"] == {"input_tokens": 4, "input_tokens_details": {"cached_tokens": 1},
                             "output_tokens": 4, "output_tokens_details": {"reasoning_tokens": 0},
                             "total_tokens": 8}
    plain = (await client.post("/v1/responses", json={"model": "m", "input": "one two"})).json()
    assert plain["usage"]["input_tokens"] == 2 and plain["usage"]["output_tokens"] == 16


async def test_responses_max_output_tokens_is_incomplete(client):
    body = (await client.post("/v1/responses", json=resp(max_output_tokens=3))).json()
    assert body["status"] == "incomplete"
    assert body["incomplete_details"] == {"reason": "max_output_tokens"}
    assert body["usage"]["output_tokens"] == 3


async def test_responses_stream_event_shapes(client, sse):
    r = await client.post("/v1/responses", json=resp("sandbox-chat@words=3", stream=True))
    assert r.headers["content-type"].startswith("text/event-stream")
    assert "event: response.created\n" in r.text
    events, raw = sse(r.text)
    assert "[DONE]" not in raw
    types = [e["type"] for e in events]
    assert types == ["response.created", "response.in_progress", "response.output_item.added",
                     "response.content_part.added", "response.output_text.delta",
                     "response.output_text.delta", "response.output_text.delta",
                     "response.output_text.done", "response.content_part.done",
                     "response.output_item.done", "response.completed"]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert "".join(e["delta"] for e in events if e["type"].endswith(".delta")) == \
        "Sandbox reply to:"
    assert events[0]["response"]["status"] == "in_progress"
    done = events[-1]["response"]
    assert done["status"] == "completed"
    assert done["usage"]["input_tokens"] == 4 and done["usage"]["output_tokens"] == 3


async def test_responses_stream_incomplete_and_no_usage(client, sse):
    r = await client.post("/v1/responses", json=resp("sandbox-chat@no_usage=1", stream=True,
                                                     max_output_tokens=2))
    events, _ = sse(r.text)
    assert events[-1]["type"] == "response.incomplete"
    assert events[-1]["response"]["usage"] is None
    assert sum(e["type"] == "response.output_text.delta" for e in events) == 2


async def test_responses_stream_fail_after(client, sse):
    r = await client.post("/v1/responses", json=resp("sandbox-chat@fail_after=2", stream=True))
    events, _ = sse(r.text)
    assert sum(e["type"] == "response.output_text.delta" for e in events) == 2
    assert events[-1]["type"] == "error"
    assert events[-1]["message"] == "Sandbox stream failed after 2 chunks"
    assert "event: error\n" in r.text


async def test_responses_errors(client):
    assert (await client.post("/v1/responses", json=resp("m@status=502"))).status_code == 502
    assert (await client.post("/v1/responses", json={"model": "m"})).json()["error"][
        "param"] == "input"
    r = await client.post("/v1/responses", json=resp("m@malformed=1"))
    with pytest.raises(ValueError):
        json.loads(r.text)


def norm(v):
    return math.sqrt(sum(x * x for x in v))


async def test_embeddings_float_deterministic_unit_vectors(client):
    r = await client.post("/v1/embeddings", json={"model": "sandbox-embed",
                                                  "input": ["hello world", "other text here"]})
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "list" and body["model"] == "sandbox-embed"
    assert [d["index"] for d in body["data"]] == [0, 1]
    a, b = (d["embedding"] for d in body["data"])
    assert len(a) == 256 and abs(norm(a) - 1) < 1e-9 and a != b
    assert body["usage"] == {"prompt_tokens": 5, "total_tokens": 5}
    again = (await client.post("/v1/embeddings", json={"model": "x", "input": "hello world"})
             ).json()
    assert again["data"][0]["embedding"] == a
    assert again["usage"]["prompt_tokens"] == 2


async def test_embeddings_dimensions_and_base64(client):
    floats = (await client.post("/v1/embeddings", json={
        "model": "sandbox-embed", "input": "abc", "dimensions": 8})).json()["data"][0]["embedding"]
    assert len(floats) == 8
    b64 = (await client.post("/v1/embeddings", json={
        "model": "sandbox-embed", "input": "abc", "dimensions": 8,
        "encoding_format": "base64"})).json()["data"][0]["embedding"]
    decoded = struct.unpack("<8f", base64.b64decode(b64))
    assert decoded == pytest.approx(floats, abs=1e-6)


async def test_embeddings_token_arrays_and_errors(client):
    body = (await client.post("/v1/embeddings", json={
        "model": "e", "input": [[1, 2, 3], [4, 5]]})).json()
    assert len(body["data"]) == 2 and body["usage"]["prompt_tokens"] == 5
    for bad in ({"input": ""}, {"input": []}, {"input": 5}, {"input": "x", "dimensions": 0},
                {"input": "x", "encoding_format": "hex"}):
        r = await client.post("/v1/embeddings", json={"model": "e", **bad})
        assert r.status_code == 400, bad
    assert "usage" not in (await client.post("/v1/embeddings", json={
        "model": "e@no_usage=1", "input": "x"})).json()
    assert (await client.post("/v1/embeddings", json={
        "model": "e@status=429", "input": "x"})).status_code == 429


def test_directive_parsing():
    d = parse("sandbox-chat@latency=200,status=500,fail_after=3,malformed,no_usage=true,tag=a", {})
    assert d == Directives(latency=200, status=500, fail_after=3, malformed=True, no_usage=True,
                           tag="a")
    d = parse("m@status=500", {"x-sandbox": "status=429, status_times=1",
                               "X-Sandbox-Chunk-Delay": "50", "x-sandbox-no_usage": "0"})
    assert (d.status, d.status_times, d.chunk_delay, d.no_usage) == (429, 1, 50, False)
    assert parse("plain-model", {}) == Directives()
    for bad in ("m@nope=1", "m@latency=-1", "m@words=x", "m@malformed=2", "m@status=42"):
        with pytest.raises(DirectiveError):
            parse(bad, {})
