"""The adapter interface every upstream *protocol* implements.

Adapters are pure: they build the upstream request, parse a response body or
an SSE byte stream, extract usage and map errors. They never do I/O, never
touch credits and never see the database; the gateway owns the HTTP client
and the billing. A same-protocol vendor is a `ChannelConfig`, not a module.

Usage convention (whatever the protocol): `prompt_tokens` counts *all* input
tokens, cached ones included (`cached_tokens` and `cache_write_tokens` are
parts of it); `completion_tokens` counts all output, reasoning included
(`reasoning_tokens` is a part of it).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Mapping, Protocol

from apiany.core import fastjson

RequestType = Literal["chat", "embedding", "responses"]
ErrorKind = Literal["connect_error", "timeout", "http_status", "malformed",
                    "stream_error", "stream_cut", "unsupported"]

DONE = b"data: [DONE]\n\n"


@dataclass
class ChannelConfig:
    name: str
    protocol: str
    base_url: str
    api_key: str | None = field(default=None, repr=False)  # resolved secret; never logged
    extra_headers: dict[str, str] = field(default_factory=dict)
    timeout: float = 120.0


@dataclass
class Usage:
    prompt_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    # True when the upstream reported no usage and these numbers are our
    # estimate (then prompt_tokens is 0: the gateway fills in its own estimate).
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_openai_chat(self) -> dict:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens},
            "completion_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
        }


@dataclass
class UpstreamRequest:
    method: str
    url: str
    headers: dict[str, str] = field(repr=False)  # carries the channel secret
    json_body: dict | None
    stream: bool
    timeout: float = 120.0
    # Whether the *client* asked for a usage chunk (chat streams); pass it to
    # `adapter.stream_parser(..., client_wants_usage=...)`.
    client_wants_usage: bool = False


class ProviderError(Exception):
    """An upstream failure, classified. `status` is the upstream HTTP status
    (or the status an in-stream error stands for, e.g. 429), None when no
    response arrived."""

    def __init__(self, kind: ErrorKind, message: str, *, status: int | None = None,
                 retry_after: float | None = None, error_type: str | None = None,
                 code: str | None = None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.error_type = error_type
        self.code = code

    def __repr__(self) -> str:
        return (f"ProviderError(kind={self.kind!r}, status={self.status!r}, "
                f"message={self.message!r})")

    def to_openai(self) -> dict:
        return {"error": {"message": self.message, "type": self.error_type or "upstream_error",
                          "param": None, "code": self.code or self.kind}}


# --- small helpers shared by the adapters -------------------------------------------

_STATUS_BY_TYPE = {
    "invalid_request_error": 400, "authentication_error": 401, "permission_error": 403,
    "permission_denied": 403, "not_found_error": 404, "request_too_large": 413,
    "rate_limit_error": 429, "rate_limit_exceeded": 429, "insufficient_quota": 429,
    "server_error": 500, "api_error": 500, "overloaded_error": 529, "timeout": 504,
}


def status_for(*names: Any) -> int | None:
    """The HTTP status an error type/code name stands for, if known."""
    for name in names:
        if isinstance(name, str) and name in _STATUS_BY_TYPE:
            return _STATUS_BY_TYPE[name]
    return None


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    if not headers:
        return None
    for name in ("retry-after", "Retry-After", "retry-after-ms"):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value)
        except ValueError:
            return None
        return seconds / 1000 if name == "retry-after-ms" else seconds
    return None


def load_json(data: bytes, status: int | None = None) -> dict:
    """Decode a JSON object body or raise ProviderError(kind='malformed')."""
    try:
        obj = fastjson.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise ProviderError("malformed", "upstream returned invalid JSON", status=status) from None
    if not isinstance(obj, dict):
        raise ProviderError("malformed", "upstream returned a non-object JSON body", status=status)
    return obj


def error_from_body(status: int | None, err: Any, headers: Mapping[str, str] | None = None,
                    kind: ErrorKind = "http_status") -> ProviderError:
    """Build a ProviderError from an `{"message", "type", "code"}` object (OpenAI
    and Anthropic both use that shape for the inner error)."""
    if not isinstance(err, dict):
        err = {"message": err if isinstance(err, str) and err else None}
    etype = err.get("type") if isinstance(err.get("type"), str) else None
    code = err.get("code") if isinstance(err.get("code"), str) else None
    message = err.get("message") if isinstance(err.get("message"), str) else None
    if status is None:
        status = status_for(code, etype)
    return ProviderError(kind, message or f"upstream error (status {status})", status=status,
                         retry_after=retry_after(headers), error_type=etype, code=code)


def http_error(status: int, data: bytes, headers: Mapping[str, str] | None) -> ProviderError:
    """Map a non-2xx response whose body is `{"error": {...}}` (or anything)."""
    try:
        body = json.loads(data) if data else None
    except (ValueError, UnicodeDecodeError):
        body = None
    err = body.get("error") if isinstance(body, dict) else None
    if err is None:
        snippet = data[:200].decode("utf-8", "replace").strip() if data else ""
        err = {"message": f"upstream returned HTTP {status}" + (f": {snippet}" if snippet else "")}
    return error_from_body(status, err, headers)


def join_url(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + path


def count_words(text: Any) -> int:
    """Token estimate for one delivered piece of text: its whitespace-separated
    words, at least 1 for any non-empty piece."""
    if not isinstance(text, str) or not text:
        return 0
    return max(1, len(text.split()))


def sse_event(payload: dict | bytes, event: str | None = None) -> bytes:
    data = payload if isinstance(payload, bytes) else fastjson.dumps(payload)
    head = b"event: " + event.encode() + b"\n" if event else b""
    return head + b"data: " + data + b"\n\n"


def error_event(err: ProviderError) -> bytes:
    """The SSE event the gateway sends a client when a stream fails."""
    return sse_event(err.to_openai())


# --- SSE decoding --------------------------------------------------------------------

_EOL = re.compile(rb"\r\n|\r|\n")


class SSEDecoder:
    """Incremental server-sent-events decoder: bytes in (split anywhere),
    complete `(event name | None, data bytes)` pairs out."""

    def __init__(self) -> None:
        self._buf = b""
        self._event: str | None = None
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> list[tuple[str | None, bytes]]:
        self._buf += chunk
        out: list[tuple[str | None, bytes]] = []
        pos = 0
        for m in _EOL.finditer(self._buf):
            if m.group() == b"\r" and m.end() == len(self._buf):
                break  # may be the first half of a CRLF split across feeds
            self._line(self._buf[pos:m.start()], out)
            pos = m.end()
        self._buf = self._buf[pos:]
        return out

    def flush(self) -> list[tuple[str | None, bytes]]:
        """At end of input: a last event with no blank line after it still counts."""
        out: list[tuple[str | None, bytes]] = []
        if self._buf:
            self._line(self._buf.rstrip(b"\r"), out)
            self._buf = b""
        self._line(b"", out)
        return out

    def _line(self, line: bytes, out: list) -> None:
        if not line:
            if self._data:
                out.append((self._event, b"\n".join(self._data)))
            self._event, self._data = None, []
            return
        if line.startswith(b":"):
            return
        name, _, value = line.partition(b":")
        if value.startswith(b" "):
            value = value[1:]
        if name == b"data":
            self._data.append(value)
        elif name == b"event":
            self._event = value.decode("utf-8", "replace")


class StreamParser:
    """Turns an upstream SSE byte stream into client-ready OpenAI SSE events.

    `feed(bytes)` returns the events to forward now (each a complete
    `b"data: ...\\n\\n"`, with an `event:` line for Responses streams).
    `close()` must be called at end of input: it flushes and, when the stream
    neither finished nor failed, sets `error` to kind 'stream_cut'.

    Tracked: `usage` (Usage reported by the upstream, else None),
    `delivered_text_tokens` (estimate of output forwarded so far), `done`
    (a clean end was seen), `error` (ProviderError: the upstream's in-stream
    error, malformed data, or a cut). Error events are never forwarded nor
    counted; after `done` or `error` further input is ignored. The gateway
    writes its own `error_event(parser.error)` to the client.
    """

    def __init__(self, *, client_wants_usage: bool = True, model: str | None = None):
        self.client_wants_usage = client_wants_usage
        self.model = model  # when set, rewrite the `model` field of forwarded events
        self.usage: Usage | None = None
        self.delivered_text_tokens = 0
        self.done = False
        self.error: ProviderError | None = None
        self.finished = False  # the upstream gave a finish/stop reason
        self.created = int(time.time())
        self._decoder = SSEDecoder()

    def feed(self, data: bytes) -> list[bytes]:
        return self._run(self._decoder.feed(data))

    def close(self) -> list[bytes]:
        out = self._run(self._decoder.flush())
        if not self.done and self.error is None:
            if self.finished:  # complete answer, only the terminator is missing
                self.done = True
                out.extend(self._synthetic_end())
            else:
                self.error = ProviderError("stream_cut", "upstream stream ended before completion",
                                           code="stream_cut")
        return out

    def billable_usage(self, prompt_estimate: int = 0) -> Usage:
        """Upstream usage when reported, else what was delivered (estimated)."""
        if self.usage is not None:
            return self.usage
        return Usage(prompt_tokens=prompt_estimate, completion_tokens=self.delivered_text_tokens,
                     estimated=True)

    def _run(self, events: list[tuple[str | None, bytes]]) -> list[bytes]:
        out: list[bytes] = []
        for event, data in events:
            if self.done or self.error is not None:
                break
            if data.strip() == b"[DONE]":
                self.done = True
                out.extend(self._on_done())
                continue
            try:
                obj = fastjson.loads(data)
            except (ValueError, UnicodeDecodeError):
                obj = None
            if not isinstance(obj, dict):
                self.error = ProviderError("malformed", "upstream sent a malformed stream event",
                                           code="malformed_stream")
                break
            out.extend(self.on_event(event, obj, data))
        return out

    def on_event(self, event: str | None, obj: dict, raw: bytes) -> list[bytes]:
        raise NotImplementedError

    def _on_done(self) -> list[bytes]:
        return [DONE]

    def _synthetic_end(self) -> list[bytes]:
        return [DONE]

    def _fail(self, err: Any, status: int | None = None) -> list[bytes]:
        self.error = error_from_body(status, err, kind="stream_error")
        return []


class Adapter(Protocol):
    protocol: str
    request_types: frozenset[str]

    def build_request(self, channel: ChannelConfig, request_type: str, body: dict,
                      upstream_model: str) -> UpstreamRequest: ...

    def parse_response(self, request_type: str, status: int, data: bytes,
                       headers: Mapping[str, str] | None = None, *,
                       model: str | None = None) -> tuple[dict, Usage]: ...

    def stream_parser(self, request_type: str, *, client_wants_usage: bool = True,
                      model: str | None = None) -> StreamParser: ...

    def map_error(self, status: int, data: bytes,
                  headers: Mapping[str, str] | None = None) -> ProviderError: ...


class BaseAdapter:
    """Shared plumbing: the request-type check and default error mapping."""

    protocol: ClassVar[str] = ""
    request_types: ClassVar[frozenset[str]] = frozenset()

    def check_type(self, request_type: str) -> None:
        if request_type not in self.request_types:
            raise ProviderError("unsupported",
                                f"the {self.protocol} protocol does not support "
                                f"request type {request_type!r}", status=400,
                                error_type="invalid_request_error", code="unsupported_request_type")

    def map_error(self, status: int, data: bytes,
                  headers: Mapping[str, str] | None = None) -> ProviderError:
        return http_error(status, data, headers)

    def parse_body(self, status: int, data: bytes, headers: Mapping[str, str] | None) -> dict:
        """Raise for non-2xx or malformed, else the decoded object."""
        if not 200 <= status < 300:
            raise self.map_error(status, data, headers)
        return load_json(data, status)
