"""Text endpoints of the sandbox: chat completions, responses, embeddings."""

from __future__ import annotations

import base64
import hashlib
import itertools
import math
import struct

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from apiany.sandbox.common import (
    ApiError, Call, Plan, begin, drive, int_param, make_plan, malformed_json, sse,
    stream_response, text_of, words_in,
)

DEFAULT_DIMENSIONS = 256
MAX_DIMENSIONS = 4096


# --- chat completions ----------------------------------------------------------------

def chat_usage(plan: Plan) -> dict:
    return {
        "prompt_tokens": plan.prompt_tokens,
        "completion_tokens": plan.completion_tokens,
        "total_tokens": plan.prompt_tokens + plan.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": plan.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": plan.reasoning_tokens, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0,
                                      "rejected_prediction_tokens": 0},
    }


async def chat_completions(request: Request) -> Response:
    call = await begin(request)
    messages = call.body.get("messages")
    if not isinstance(messages, list) or not messages or not all(
            isinstance(m, dict) for m in messages):
        raise ApiError(400, "messages must be a non-empty array of message objects",
                       param="messages")
    texts = [text_of(m.get("content")) for m in messages]
    last_user = next((text_of(m.get("content")) for m in reversed(messages)
                      if m.get("role") == "user"), texts[-1])
    plan = make_plan(call.d, sum(words_in(t) for t in texts), last_user,
                     int_param(call.body, "max_completion_tokens", "max_tokens"))
    finish = "length" if plan.truncated else "stop"
    if call.body.get("stream"):
        options = call.body.get("stream_options")
        include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        return stream_response(_chat_stream(call, plan, finish, include_usage))
    if call.d.malformed:
        return malformed_json()
    body = {
        "id": call.make_id("chatcmpl-"), "object": "chat.completion", "created": call.created,
        "model": call.model, "system_fingerprint": "fp_sandbox", "service_tier": "default",
        "choices": [{"index": 0, "logprobs": None, "finish_reason": finish,
                     "message": {"role": "assistant", "content": plan.text, "refusal": None,
                                 "annotations": []}}],
    }
    if not call.d.no_usage:
        body["usage"] = chat_usage(plan)
    return JSONResponse(body)


def _chat_stream(call: Call, plan: Plan, finish: str, include_usage: bool):
    base = {"id": call.make_id("chatcmpl-"), "object": "chat.completion.chunk",
            "created": call.created, "model": call.model, "system_fingerprint": "fp_sandbox"}

    def chunk(delta: dict, finish_reason: str | None = None) -> bytes:
        body = {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                     "finish_reason": finish_reason}]}
        if include_usage:
            body["usage"] = None
        return sse(body)

    def piece(i: int) -> bytes:
        delta = {"role": "assistant", "content": plan.piece(i)} if i == 0 else {
            "content": plan.piece(i)}
        return chunk(delta)

    def error(i: int) -> bytes:
        return sse({"error": {"message": f"Sandbox stream failed after {i} chunks",
                              "type": "server_error", "param": None,
                              "code": "sandbox_stream_error"}})

    def tail() -> list[bytes]:
        events = [chunk({}, finish)]
        if include_usage and not call.d.no_usage:
            events.append(sse({**base, "choices": [], "usage": chat_usage(plan)}))
        if not call.d.no_done:
            events.append(b"data: [DONE]\n\n")
        return events

    return drive(call.d, len(plan.words), head=lambda: [], piece=piece, error=error, tail=tail,
                 malformed=b'data: {"id": "chatcmpl-broken", "choices": [\n\n')


# --- responses -----------------------------------------------------------------------

def _input_texts(body: dict) -> tuple[list[str], str]:
    """All prompt texts (instructions included) and the last user text."""
    texts = [body["instructions"]] if isinstance(body.get("instructions"), str) else []
    items = body.get("input")
    if isinstance(items, str):
        return texts + [items], items
    if not isinstance(items, list) or not items:
        raise ApiError(400, "input must be a string or a non-empty array", param="input")
    last_user = ""
    for item in items:
        text = text_of(item.get("content")) if isinstance(item, dict) else ""
        texts.append(text)
        if isinstance(item, dict) and item.get("role", "user") == "user":
            last_user = text
    return texts, last_user or texts[-1]


def responses_usage(plan: Plan) -> dict:
    return {"input_tokens": plan.prompt_tokens,
            "input_tokens_details": {"cached_tokens": plan.cached_tokens},
            "output_tokens": plan.completion_tokens,
            "output_tokens_details": {"reasoning_tokens": plan.reasoning_tokens},
            "total_tokens": plan.prompt_tokens + plan.completion_tokens}


def _response(call: Call, plan: Plan, status: str, output: list, usage: dict | None) -> dict:
    return {
        "id": call.make_id("resp_"), "object": "response", "created_at": call.created,
        "status": status, "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
        "instructions": call.body.get("instructions"),
        "max_output_tokens": call.body.get("max_output_tokens"), "model": call.model,
        "output": output, "parallel_tool_calls": True, "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None}, "store": False, "temperature": 1.0,
        "text": {"format": {"type": "text"}}, "tool_choice": "auto", "tools": [], "top_p": 1.0,
        "truncation": "disabled", "usage": usage, "user": None, "metadata": {},
    }


def _message(call: Call, status: str, text: str | None) -> dict:
    content = [] if text is None else [_part(text)]
    return {"id": call.make_id("msg_"), "type": "message", "status": status,
            "role": "assistant", "content": content}


def _part(text: str) -> dict:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


async def responses(request: Request) -> Response:
    call = await begin(request)
    texts, last_user = _input_texts(call.body)
    plan = make_plan(call.d, sum(words_in(t) for t in texts), last_user,
                     int_param(call.body, "max_output_tokens"))
    status = "incomplete" if plan.truncated else "completed"
    usage = None if call.d.no_usage else responses_usage(plan)
    if call.body.get("stream"):
        return stream_response(_responses_stream(call, plan, status, usage))
    if call.d.malformed:
        return malformed_json()
    return JSONResponse(_response(call, plan, status, [_message(call, status, plan.text)], usage))


def _responses_stream(call: Call, plan: Plan, status: str, usage: dict | None):
    seq = itertools.count()
    item_id = call.make_id("msg_")
    where = {"item_id": item_id, "output_index": 0, "content_index": 0}

    def event(kind: str, **fields) -> bytes:
        return sse({"type": kind, "sequence_number": next(seq), **fields}, kind)

    def head() -> list[bytes]:
        started = _response(call, plan, "in_progress", [], None)
        return [event("response.created", response=started),
                event("response.in_progress", response=started),
                event("response.output_item.added", output_index=0,
                      item=_message(call, "in_progress", None)),
                event("response.content_part.added", **where, part=_part(""))]

    def piece(i: int) -> bytes:
        return event("response.output_text.delta", **where, delta=plan.piece(i), logprobs=[])

    def error(i: int) -> bytes:
        return event("error", code="server_error", param=None,
                     message=f"Sandbox stream failed after {i} chunks")

    def tail() -> list[bytes]:
        item = _message(call, status, plan.text)
        return [event("response.output_text.done", **where, text=plan.text, logprobs=[]),
                event("response.content_part.done", **where, part=_part(plan.text)),
                event("response.output_item.done", output_index=0, item=item),
                event(f"response.{status}", response=_response(call, plan, status, [item], usage))]

    return drive(call.d, len(plan.words), head=head, piece=piece, error=error, tail=tail,
                 malformed=b'event: response.output_text.delta\ndata: {"type": broken\n\n')


# --- embeddings ----------------------------------------------------------------------

def embed(item: str | list[int], dimensions: int) -> list[float]:
    """A unit vector from a hash of the input; a prefix of a longer one
    (renormalised), so `dimensions` behaves like a real shortened embedding."""
    key = item if isinstance(item, str) else ",".join(map(str, item))
    raw = hashlib.shake_256(key.encode()).digest(2 * dimensions)
    values = [v / 32767.5 - 1.0 for v in struct.unpack(f"<{dimensions}H", raw)]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def _embedding_inputs(value) -> list[str | list[int]]:
    def is_tokens(x) -> bool:
        return isinstance(x, list) and bool(x) and all(
            isinstance(t, int) and not isinstance(t, bool) for t in x)
    if isinstance(value, str):
        items = [value]
    elif is_tokens(value):
        items = [value]
    elif isinstance(value, list) and value and all(isinstance(x, str) or is_tokens(x)
                                                   for x in value):
        items = value
    else:
        raise ApiError(400, "input must be a string, an array of strings, or token arrays",
                       param="input")
    if any(isinstance(x, str) and not x for x in items):
        raise ApiError(400, "input must not contain empty strings", param="input")
    return items


async def embeddings(request: Request) -> Response:
    call = await begin(request)
    items = _embedding_inputs(call.body.get("input"))
    dimensions = int_param(call.body, "dimensions")
    dimensions = DEFAULT_DIMENSIONS if dimensions is None else dimensions
    if not 1 <= dimensions <= MAX_DIMENSIONS:
        raise ApiError(400, f"dimensions must be between 1 and {MAX_DIMENSIONS}",
                       param="dimensions")
    encoding = call.body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise ApiError(400, "encoding_format must be 'float' or 'base64'",
                       param="encoding_format")
    if call.d.malformed:
        return malformed_json()
    data = []
    for index, item in enumerate(items):
        vector = embed(item, dimensions)
        if encoding == "base64":
            vector = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": vector})
    body: dict = {"object": "list", "data": data, "model": call.model}
    if not call.d.no_usage:
        tokens = max(1, sum(words_in(x) if isinstance(x, str) else len(x) for x in items))
        body["usage"] = {"prompt_tokens": tokens, "total_tokens": tokens}
    return JSONResponse(body)
