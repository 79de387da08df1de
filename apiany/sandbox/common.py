"""What every sandbox endpoint shares: call accounting, the request preamble
(parse body and directives, latency, forced status), OpenAI error bodies,
deterministic reply text, and the chunk loop behind every stream."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import Counter, deque
from dataclasses import dataclass
from typing import AsyncIterator, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from apiany.sandbox.directives import DirectiveError, Directives, parse

DEFAULT_WORDS = 16
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
_SECRET_HEADERS = {"authorization", "x-api-key", "api-key"}

_ERROR_TYPES = {400: ("invalid_request_error", None), 401: ("invalid_request_error", "invalid_api_key"),
                403: ("permission_error", "permission_denied"), 404: ("invalid_request_error", "model_not_found"),
                408: ("timeout", "timeout"), 409: ("invalid_request_error", "conflict"),
                429: ("rate_limit_error", "rate_limit_exceeded")}


class ApiError(Exception):
    """Answered as `{"error": {...}}` with this status."""

    def __init__(self, status: int, message: str, *, param: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.param = status, message, param
        self.headers = headers or {}

    def body(self) -> dict:
        etype, code = _ERROR_TYPES.get(self.status, ("server_error" if self.status >= 500
                                                     else "invalid_request_error", None))
        return {"error": {"message": self.message, "type": etype, "param": self.param, "code": code}}


async def api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


class SandboxCut(Exception):
    """Raised inside a stream to drop the connection mid-response."""


def fingerprint(secret: str) -> str:
    """How the sandbox shows a credential in /sandbox/stats: sha256, 16 hex digits."""
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()[:16]


class SandboxState:
    """Per-app call accounting, read by GET /sandbox/stats, reset by DELETE."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.total = 0
        self.models: Counter[str] = Counter()
        self.endpoints: Counter[str] = Counter()
        self.status_hits: Counter[str] = Counter()
        self.requests: deque[dict] = deque(maxlen=100)

    def record(self, request: Request, model: str, body: dict) -> int:
        self.total += 1
        self.models[model] += 1
        self.endpoints[request.url.path] += 1
        headers = {k: (fingerprint(v) if k in _SECRET_HEADERS else v)
                   for k, v in request.headers.items()}
        self.requests.append({"seq": self.total, "path": request.url.path, "model": model,
                              "headers": headers, "body": body})
        return self.total

    def snapshot(self) -> dict:
        return {"total": self.total, "models": dict(self.models),
                "endpoints": dict(self.endpoints), "requests": list(self.requests)}


@dataclass
class Call:
    """One accepted request: its body, the model string as sent, directives."""
    body: dict
    model: str
    d: Directives
    seq: int
    created: int

    def make_id(self, prefix: str) -> str:
        digest = hashlib.sha256(f"{self.seq}:{self.model}".encode()).hexdigest()[:24]
        return f"{prefix}{digest}"


async def begin(request: Request) -> Call:
    """Parse, record, apply latency and a forced status. Raises ApiError."""
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise ApiError(400, "We could not parse the JSON body of your request.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return await start(request, body)


async def start(request: Request, body: dict) -> Call:
    """The preamble after the body is read (JSON or a form): model,
    directives, call accounting, latency, forced status."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "you must provide a model parameter", param="model")
    try:
        d = parse(model, request.headers)
    except DirectiveError as exc:
        raise ApiError(400, str(exc), param="model") from None
    state: SandboxState = request.app.state.sandbox
    seq = state.record(request, model, body)
    if d.latency:
        await asyncio.sleep(d.latency / 1000)
    if d.status is not None and d.status >= 400:
        key = f"{request.url.path}|{model}|{request.headers.get('x-sandbox', '')}"
        state.status_hits[key] += 1
        if d.status_times is None or state.status_hits[key] <= d.status_times:
            headers = {"retry-after": str(d.retry_after)} if d.status == 429 else {}
            raise ApiError(d.status, f"Sandbox forced status {d.status}", headers=headers)
    return Call(body, model, d, seq, int(time.time()))


def malformed_json() -> Response:
    return Response(b'{"id": "sandbox-malformed", "choices": [', media_type="application/json")


def words_in(text: str) -> int:
    return len(text.split())


def int_param(body: dict, *names: str) -> int | None:
    for name in names:
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ApiError(400, f"{name} must be a non-negative integer", param=name)
        return value
    return None


@dataclass
class Plan:
    """The reply: its words and exact usage numbers."""
    words: list[str]
    prompt_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    truncated: bool  # cut short by max_tokens

    @property
    def completion_tokens(self) -> int:
        return len(self.words) + self.reasoning_tokens

    @property
    def text(self) -> str:
        return " ".join(self.words)

    def piece(self, i: int) -> str:
        """Stream piece i: a word and a space (the last word has none), so the
        pieces join to exactly `text`."""
        return self.words[i] + (" " if i < len(self.words) - 1 else "")


def make_plan(d: Directives, prompt_tokens: int, last_text: str, cap: int | None) -> Plan:
    natural = DEFAULT_WORDS if d.words is None else d.words
    n = natural if cap is None else min(natural, cap)
    seed = ["Sandbox", "reply", "to:"] + (last_text.split()[:6] or ["nothing"])
    prompt_tokens = max(1, prompt_tokens)
    return Plan(words=[seed[i % len(seed)] for i in range(n)], prompt_tokens=prompt_tokens,
                cached_tokens=min(d.cached, prompt_tokens), reasoning_tokens=d.reasoning,
                truncated=cap is not None and cap < natural)


async def drive(d: Directives, n: int, *, head: Callable[[], list[bytes]],
                piece: Callable[[int], bytes], error: Callable[[int], bytes],
                tail: Callable[[], list[bytes]], malformed: bytes) -> AsyncIterator[bytes]:
    """The chunk loop of every stream: head events, n pieces (with the
    fail/cut/malformed/delay directives applied), then the tail events."""
    for event in head():
        yield event
    for i in range(n + 1):
        if d.fail_after == i:
            yield error(i)
            return
        if d.cut_after == i:
            raise SandboxCut(f"cut after {i} chunks")
        if i == n:
            break
        if i and d.chunk_delay:
            await asyncio.sleep(d.chunk_delay / 1000)
        yield piece(i)
        if d.malformed and i == 0:
            yield malformed
    if d.chunk_delay and n:
        await asyncio.sleep(d.chunk_delay / 1000)
    for event in tail():
        yield event


def sse(payload: dict, event: str | None = None) -> bytes:
    data = json.dumps(payload, separators=(",", ":")).encode()
    return (b"event: " + event.encode() + b"\n" if event else b"") + b"data: " + data + b"\n\n"


def stream_response(chunks: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(chunks, media_type="text/event-stream", headers=SSE_HEADERS)


def text_of(content) -> str:
    """Text of a message content: a string or a list of text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content
                        if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


class CutMiddleware:
    """Turns SandboxCut into a response that is never completed: the ASGI
    server then drops the connection (no terminating chunk, no [DONE])."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        try:
            await self.app(scope, receive, send)
        except SandboxCut:
            return
        except BaseExceptionGroup as group:  # anyio task groups wrap it
            cut, rest = group.split(SandboxCut)
            if cut is None or rest is not None:
                raise
