"""Reading and checking a /v1 request body before anything is charged:
size, JSON, the fields each endpoint needs, and the cost estimate held."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import ClientDisconnect, Request

from apiany.core import fastjson
from apiany.core.errors import ClientClosed, InvalidRequest, TooLarge
from apiany.gateway.cache import ModelInfo
from apiany.services.pricing import TokenUsage, estimate_tokens, token_cost

# Which public model request types may serve which endpoint.
SERVES = {
    "chat": {"chat", "responses"},
    "responses": {"chat", "responses"},
    "embedding": {"embedding"},
    "image": {"image"},
    "speech": {"speech"},
    "transcription": {"transcription"},
    "video": {"video"},
}
REQUIRED = {"chat": ("messages", list), "responses": ("input", (str, list)),
            "embedding": ("input", (str, list))}


@dataclass(slots=True)
class ParsedBody:
    raw: bytes
    body: dict
    model: str
    stream: bool
    max_output_tokens: int | None
    input_chars: int


async def read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"request body is {int(declared):,} bytes; the limit is {limit:,} bytes")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"request body exceeds the limit of {limit:,} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        raise ClientClosed("the client closed the connection while sending the request body") from None
    return b"".join(chunks)


def _text_chars(value) -> int:
    """Characters of text anywhere in a messages/input structure."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        return sum(_text_chars(v) for v in value)
    if isinstance(value, dict):
        return sum(_text_chars(v) for k, v in value.items() if k not in ("role", "type", "name"))
    return 0


MAX_OUTPUT_TOKENS = 10_000_000  # far above any model's limit; keeps holds in range


def _positive_int(body: dict, name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_OUTPUT_TOKENS:
        raise InvalidRequest(f"'{name}' must be an integer from 1 to {MAX_OUTPUT_TOKENS:,}", param=name)
    return value


def parse_json_object(raw: bytes) -> dict:
    if not raw.strip():
        raise InvalidRequest("the request body is empty; send a JSON object")
    try:
        body = fastjson.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    return body


def parse_body(raw: bytes, request_type: str) -> ParsedBody:
    body = parse_json_object(raw)
    model = body.get("model")
    if model is None:
        raise InvalidRequest("you must provide a model parameter", param="model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest("'model' must be a non-empty string", param="model")
    field, types = REQUIRED[request_type]
    if field not in body:
        raise InvalidRequest(f"missing required parameter: '{field}'", param=field)
    if not isinstance(body[field], types) or (isinstance(body[field], list) and not body[field]):
        kind = "a non-empty array" if types is list else "a string or a non-empty array"
        raise InvalidRequest(f"'{field}' must be {kind}", param=field)
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise InvalidRequest("'stream' must be a boolean", param="stream")
    if request_type == "embedding" and stream:
        raise InvalidRequest("embeddings cannot be streamed", param="stream")
    max_out = None
    for name in ("max_completion_tokens", "max_tokens", "max_output_tokens"):
        max_out = _positive_int(body, name) or max_out
    return ParsedBody(raw=raw, body=body, model=model, stream=stream, max_output_tokens=max_out,
                      input_chars=_text_chars(body[field]) + _text_chars(body.get("instructions")))


def check_serves(model: ModelInfo, request_type: str) -> None:
    if model.request_type not in SERVES[request_type]:
        raise InvalidRequest(
            f"model '{model.public_id}' serves {model.request_type} requests, not this endpoint",
            param="model", code="model_not_supported")


def model_output_limit(model: ModelInfo) -> int | None:
    """The model's own cap on output tokens (its `max_output_tokens` parameter)."""
    cap = model.parameters.get("max_output_tokens") if isinstance(model.parameters, dict) else None
    return cap if isinstance(cap, int) and not isinstance(cap, bool) and cap > 0 else None


def check_output_limit(model: ModelInfo, parsed: ParsedBody) -> None:
    """Asking for more output than the model can give is the caller's error
    (400), not a reason to hold credits for it."""
    cap = model_output_limit(model)
    if cap is None or parsed.max_output_tokens is None or parsed.max_output_tokens <= cap:
        return
    name = next(n for n in ("max_completion_tokens", "max_tokens", "max_output_tokens") if n in parsed.body)
    raise InvalidRequest(f"'{name}' is {parsed.max_output_tokens:,}, but model '{model.public_id}' "
                         f"returns at most {cap:,} output tokens", param=name)


def estimate_usage(parsed: ParsedBody, request_type: str, default_max_output: int) -> TokenUsage:
    prompt = estimate_tokens(parsed.input_chars)
    if request_type == "embedding":
        return TokenUsage(prompt_tokens=prompt)
    return TokenUsage(prompt_tokens=prompt, completion_tokens=parsed.max_output_tokens or default_max_output)


def estimate_cost(model: ModelInfo, parsed: ParsedBody, request_type: str, default_max_output: int) -> int:
    cap = model_output_limit(model)
    default = min(default_max_output, cap) if cap else default_max_output
    return token_cost(model.prices, estimate_usage(parsed, request_type, default))
