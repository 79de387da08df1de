"""The Anthropic Messages protocol, spoken to clients as OpenAI chat.

An OpenAI chat completion request becomes `POST {base}/v1/messages` (the
channel's `base_url` may or may not end in `/v1`), and the Messages response
or SSE stream comes back as an OpenAI chat.completion / chat.completion.chunk
stream. Only the `chat` request type exists for this protocol.
"""

from __future__ import annotations

import json
import time
from typing import Any, Mapping

from apiany.providers.base import (
    DONE, BaseAdapter, ChannelConfig, ProviderError, StreamParser, UpstreamRequest, Usage,
    count_words, error_from_body, join_url, sse_event,
)

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096
FINISH_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
                  "tool_use": "tool_calls", "pause_turn": "stop", "refusal": "content_filter"}


def _unsupported(message: str) -> ProviderError:
    return ProviderError("unsupported", message, status=400, error_type="invalid_request_error",
                         code="unsupported_parameter")


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content
                       if isinstance(p, dict) and p.get("type") in ("text", "input_text"))
    return ""


def _image_block(part: dict) -> dict:
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str) or not url:
        raise _unsupported("image_url part without a url")
    if url.startswith("data:"):
        header, _, data = url[5:].partition(",")
        media_type, _, encoding = header.partition(";")
        if encoding != "base64":
            raise _unsupported("image data URLs must be base64")
        return {"type": "image", "source": {"type": "base64", "media_type": media_type,
                                            "data": data}}
    return {"type": "image", "source": {"type": "url", "url": url}}


def _blocks(content: Any) -> list[dict]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks = []
    for part in content or ():
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("text", "input_text"):
            blocks.append({"type": "text", "text": part.get("text", "")})
        elif kind == "image_url":
            blocks.append(_image_block(part))
        else:
            raise _unsupported(f"content part {kind!r} is not supported by this channel")
    return blocks


def _assistant_content(message: dict) -> str | list[dict]:
    calls = message.get("tool_calls") or []
    if not calls and isinstance(message.get("content"), str):
        return message["content"]
    blocks = _blocks(message.get("content"))
    for call in calls:
        fn = call.get("function") or {}
        try:
            arguments = json.loads(fn.get("arguments") or "{}")
        except ValueError:
            raise _unsupported("tool call arguments are not valid JSON") from None
        blocks.append({"type": "tool_use", "id": call.get("id"), "name": fn.get("name"),
                       "input": arguments})
    return blocks


def _tool_choice(choice: Any) -> dict | None:
    if choice in ("auto", "none"):
        return {"type": choice}
    if choice == "required":
        return {"type": "any"}
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        return {"type": "tool", "name": choice["function"].get("name")}
    return None


def to_messages_request(body: dict, upstream_model: str) -> dict:
    """OpenAI chat completion request body -> Anthropic Messages request body."""
    system: list[str] = []
    messages: list[dict] = []
    for message in body.get("messages") or ():
        role = message.get("role")
        content = message.get("content")
        if role in ("system", "developer"):
            system.append(_text_of(content))
        elif role == "tool":
            result = {"type": "tool_result", "tool_use_id": message.get("tool_call_id"),
                      "content": _text_of(content)}
            last = messages[-1] if messages else None
            if last and last["role"] == "user" and isinstance(last["content"], list) and all(
                    b.get("type") == "tool_result" for b in last["content"]):
                last["content"].append(result)
            else:
                messages.append({"role": "user", "content": [result]})
        elif role == "assistant":
            messages.append({"role": "assistant", "content": _assistant_content(message)})
        else:
            messages.append({"role": "user",
                             "content": content if isinstance(content, str) else _blocks(content)})
    out: dict[str, Any] = {
        "model": upstream_model,
        "max_tokens": body.get("max_completion_tokens") or body.get("max_tokens")
        or DEFAULT_MAX_TOKENS,
        "messages": messages,
    }
    if system:
        out["system"] = "\n\n".join(system)
    if body.get("temperature") is not None:
        out["temperature"] = min(float(body["temperature"]), 1.0)  # Anthropic's range is 0..1
    if body.get("top_p") is not None:
        out["top_p"] = body["top_p"]
    stop = body.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if body.get("stream"):
        out["stream"] = True
    if body.get("tools"):
        out["tools"] = [{"name": t["function"].get("name"),
                         "description": t["function"].get("description", ""),
                         "input_schema": t["function"].get("parameters")
                         or {"type": "object", "properties": {}}}
                        for t in body["tools"] if isinstance(t, dict) and "function" in t]
    choice = _tool_choice(body.get("tool_choice"))
    if choice is not None:
        out["tool_choice"] = choice
    if isinstance(body.get("user"), str):
        out["metadata"] = {"user_id": body["user"]}
    return out


def anthropic_usage(usage: dict) -> Usage:
    def n(key: str) -> int:
        value = usage.get(key)
        return value if isinstance(value, int) and value > 0 else 0
    read, write = n("cache_read_input_tokens"), n("cache_creation_input_tokens")
    return Usage(prompt_tokens=n("input_tokens") + read + write, cached_tokens=read,
                 cache_write_tokens=write, completion_tokens=n("output_tokens"))


def to_chat_completion(msg: dict, created: int, model: str | None = None) -> tuple[dict, Usage]:
    """Anthropic Message -> OpenAI chat.completion body and usage."""
    text, calls = [], []
    for block in msg.get("content") or ():
        if block.get("type") == "text":
            text.append(block.get("text", ""))
        elif block.get("type") == "tool_use":
            calls.append({"id": block.get("id"), "type": "function",
                          "function": {"name": block.get("name"),
                                       "arguments": json.dumps(block.get("input") or {})}})
    message: dict[str, Any] = {"role": "assistant",
                               "content": "".join(text) if text or not calls else None}
    if calls:
        message["tool_calls"] = calls
    if isinstance(msg.get("usage"), dict):
        usage = anthropic_usage(msg["usage"])
    else:
        usage = Usage(completion_tokens=count_words(message["content"]), estimated=True)
    body = {
        "id": msg.get("id"), "object": "chat.completion", "created": created,
        "model": model or msg.get("model"),
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": FINISH_REASONS.get(msg.get("stop_reason"), "stop")}],
        "usage": usage.to_openai_chat(),
    }
    return body, usage


class AnthropicAdapter(BaseAdapter):
    protocol = "anthropic"
    request_types = frozenset({"chat"})

    def build_request(self, channel: ChannelConfig, request_type: str, body: dict,
                      upstream_model: str) -> UpstreamRequest:
        self.check_type(request_type)
        out = to_messages_request(body, upstream_model)
        headers = {"content-type": "application/json", "anthropic-version": API_VERSION}
        if out.get("stream"):
            headers["accept"] = "text/event-stream"
        headers.update(channel.extra_headers)
        if channel.api_key:
            headers["x-api-key"] = channel.api_key
        base = channel.base_url.rstrip("/")
        url = join_url(base, "/messages" if base.endswith("/v1") else "/v1/messages")
        options = body.get("stream_options")
        wants = bool(out.get("stream") and isinstance(options, dict) and options.get("include_usage"))
        return UpstreamRequest("POST", url, headers, out, bool(out.get("stream")),
                               channel.timeout, wants)

    def parse_response(self, request_type: str, status: int, data: bytes,
                       headers: Mapping[str, str] | None = None, *,
                       model: str | None = None) -> tuple[dict, Usage]:
        self.check_type(request_type)
        msg = self.parse_body(status, data, headers)
        if msg.get("type") == "error":  # an error dressed as a 2xx
            raise error_from_body(None, msg.get("error"), headers)
        if not isinstance(msg.get("content"), list):
            raise ProviderError("malformed", "Anthropic response has no content list",
                                status=status)
        return to_chat_completion(msg, int(time.time()), model)

    def stream_parser(self, request_type: str, *, client_wants_usage: bool = True,
                      model: str | None = None) -> StreamParser:
        self.check_type(request_type)
        return AnthropicStreamParser(client_wants_usage=client_wants_usage, model=model)


class AnthropicStreamParser(StreamParser):
    """Anthropic SSE events -> OpenAI chat.completion.chunk events + [DONE]."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self._id = "chatcmpl-anthropic"
        self._upstream_model = ""
        self._start_usage: dict = {}
        self._tools: dict[int, int] = {}  # content block index -> tool_calls index

    def _chunk(self, delta: dict, finish_reason: str | None = None) -> bytes:
        return sse_event({
            "id": self._id, "object": "chat.completion.chunk", "created": self.created,
            "model": self.model or self._upstream_model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None,
                         "finish_reason": finish_reason}],
        })

    def on_event(self, event: str | None, obj: dict, raw: bytes) -> list[bytes]:
        kind = obj.get("type") or event
        if kind == "error":
            return self._fail(obj.get("error", obj))
        if kind == "message_start":
            msg = obj.get("message") or {}
            self._id = msg.get("id") or self._id
            self._upstream_model = msg.get("model") or ""
            self._start_usage = msg.get("usage") or {}
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "content_block_start":
            block = obj.get("content_block") or {}
            if block.get("type") == "tool_use":
                index = self._tools.setdefault(obj.get("index", 0), len(self._tools))
                return [self._chunk({"tool_calls": [{
                    "index": index, "id": block.get("id"), "type": "function",
                    "function": {"name": block.get("name"), "arguments": ""}}]})]
            if block.get("type") == "text" and block.get("text"):
                return self._text(block["text"])
            return []
        if kind == "content_block_delta":
            delta = obj.get("delta") or {}
            if delta.get("type") == "text_delta":
                return self._text(delta.get("text", ""))
            if delta.get("type") == "input_json_delta":
                piece = delta.get("partial_json", "")
                self.delivered_text_tokens += count_words(piece)
                index = self._tools.get(obj.get("index", 0), 0)
                return [self._chunk({"tool_calls": [{"index": index,
                                                     "function": {"arguments": piece}}]})]
            return []  # thinking / signature deltas are not forwarded
        if kind == "message_delta":
            usage = obj.get("usage")
            if isinstance(usage, dict):  # cumulative; may omit the input side
                merged = dict(self._start_usage)
                merged.update({k: v for k, v in usage.items() if v is not None})
                self.usage = anthropic_usage(merged)
            reason = (obj.get("delta") or {}).get("stop_reason")
            self.finished = True
            return [self._chunk({}, FINISH_REASONS.get(reason, "stop"))]
        if kind == "message_stop":
            self.done = True
            return self._end()
        return []  # ping and future event types

    def _text(self, text: str) -> list[bytes]:
        if not text:
            return []
        self.delivered_text_tokens += count_words(text)
        return [self._chunk({"content": text})]

    def _end(self) -> list[bytes]:
        out = []
        if self.client_wants_usage and self.usage is not None:
            out.append(sse_event({
                "id": self._id, "object": "chat.completion.chunk", "created": self.created,
                "model": self.model or self._upstream_model, "choices": [],
                "usage": self.usage.to_openai_chat()}))
        out.append(DONE)
        return out

    _synthetic_end = _end
