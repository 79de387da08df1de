"""The OpenAI-compatible protocol (OpenAI itself and every vendor that copies
it, the sandbox included). Bodies pass through unchanged except `model`; the
channel's `base_url` includes the version path (e.g. `https://api.openai.com/v1`)."""

from __future__ import annotations

from typing import Mapping

from apiany.providers.base import (
    DONE, BaseAdapter, ChannelConfig, ProviderError, StreamParser, UpstreamRequest, Usage,
    count_words, error_from_body, join_url, sse_event, status_for,
)

PATHS = {"chat": "/chat/completions", "embedding": "/embeddings", "responses": "/responses"}


def _int(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _detail(usage: dict, section: str, key: str) -> int:
    details = usage.get(section)
    return _int(details.get(key)) if isinstance(details, dict) else 0


def chat_usage(usage: dict) -> Usage:
    """From a chat.completion(.chunk) or embeddings `usage` object."""
    prompt = _int(usage.get("prompt_tokens"))
    completion = _int(usage.get("completion_tokens"))
    if not prompt and not completion:
        prompt = _int(usage.get("total_tokens"))  # embeddings report total only at times
    return Usage(prompt_tokens=prompt, completion_tokens=completion,
                 cached_tokens=_detail(usage, "prompt_tokens_details", "cached_tokens"),
                 reasoning_tokens=_detail(usage, "completion_tokens_details", "reasoning_tokens"))


def responses_usage(usage: dict) -> Usage:
    """From a Responses API `usage` object."""
    return Usage(prompt_tokens=_int(usage.get("input_tokens")),
                 completion_tokens=_int(usage.get("output_tokens")),
                 cached_tokens=_detail(usage, "input_tokens_details", "cached_tokens"),
                 reasoning_tokens=_detail(usage, "output_tokens_details", "reasoning_tokens"))


def _chat_text_tokens(body: dict) -> int:
    total = 0
    for choice in body.get("choices") or ():
        message = choice.get("message") if isinstance(choice, dict) else None
        if isinstance(message, dict):
            total += count_words(message.get("content"))
            for call in message.get("tool_calls") or ():
                fn = call.get("function") if isinstance(call, dict) else None
                total += count_words(fn.get("arguments")) if isinstance(fn, dict) else 0
    return total


def _responses_text_tokens(body: dict) -> int:
    total = 0
    for item in body.get("output") or ():
        if not isinstance(item, dict):
            continue
        total += count_words(item.get("arguments"))
        for part in item.get("content") or ():
            if isinstance(part, dict):
                total += count_words(part.get("text")) + count_words(part.get("refusal"))
    return total


class OpenAIAdapter(BaseAdapter):
    protocol = "openai"
    request_types = frozenset(PATHS)

    def build_request(self, channel: ChannelConfig, request_type: str, body: dict,
                      upstream_model: str) -> UpstreamRequest:
        self.check_type(request_type)
        out = dict(body)
        out["model"] = upstream_model
        stream = request_type != "embedding" and bool(out.get("stream"))
        wants_usage = False
        if request_type == "chat" and stream:
            options = out.get("stream_options")
            options = dict(options) if isinstance(options, dict) else {}
            wants_usage = bool(options.get("include_usage"))
            options["include_usage"] = True
            out["stream_options"] = options
        headers = {"content-type": "application/json"}
        if stream:
            headers["accept"] = "text/event-stream"
        headers.update(channel.extra_headers)
        if channel.api_key:
            headers["authorization"] = f"Bearer {channel.api_key}"
        return UpstreamRequest("POST", join_url(channel.base_url, PATHS[request_type]), headers,
                               out, stream, channel.timeout, wants_usage)

    def parse_response(self, request_type: str, status: int, data: bytes,
                       headers: Mapping[str, str] | None = None, *,
                       model: str | None = None) -> tuple[dict, Usage]:
        self.check_type(request_type)
        body = self.parse_body(status, data, headers)
        if isinstance(body.get("error"), dict):  # an error dressed as a 2xx
            raise error_from_body(None, body["error"], headers)
        if request_type == "responses":
            if body.get("status") == "failed":
                raise error_from_body(None, body.get("error") or "upstream response failed", headers)
            raw, to_usage, estimate = body.get("usage"), responses_usage, _responses_text_tokens
        elif request_type == "chat":
            raw, to_usage, estimate = body.get("usage"), chat_usage, _chat_text_tokens
        else:
            raw, to_usage, estimate = body.get("usage"), chat_usage, lambda _b: 0
        if isinstance(raw, dict):
            usage = to_usage(raw)
        else:
            usage = Usage(completion_tokens=estimate(body), estimated=True)
        if model is not None:
            body["model"] = model
        return body, usage

    def stream_parser(self, request_type: str, *, client_wants_usage: bool = True,
                      model: str | None = None) -> StreamParser:
        self.check_type(request_type)
        if request_type == "chat":
            return ChatStreamParser(client_wants_usage=client_wants_usage, model=model)
        if request_type == "responses":
            return ResponsesStreamParser(client_wants_usage=client_wants_usage, model=model)
        raise ProviderError("unsupported", f"{request_type} responses are not streamed",
                            status=400, code="unsupported_request_type")


class ChatStreamParser(StreamParser):
    """chat.completion.chunk events pass through byte for byte, except the
    usage-only final chunk, dropped when the client did not ask for usage."""

    def on_event(self, event: str | None, obj: dict, raw: bytes) -> list[bytes]:
        if event == "error" or obj.get("error") is not None:
            return self._fail(obj.get("error", obj))
        usage = obj.get("usage")
        if isinstance(usage, dict):
            self.usage = chat_usage(usage)
        choices = obj.get("choices") or []
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta") or {}
            if isinstance(delta, dict):
                self.delivered_text_tokens += (count_words(delta.get("content"))
                                               + count_words(delta.get("reasoning_content"))
                                               + count_words(delta.get("refusal")))
                for call in delta.get("tool_calls") or ():
                    fn = call.get("function") if isinstance(call, dict) else None
                    if isinstance(fn, dict):
                        self.delivered_text_tokens += count_words(fn.get("arguments"))
            if choice.get("finish_reason"):
                self.finished = True
        if not choices and isinstance(usage, dict) and not self.client_wants_usage:
            return []
        if self.model is not None and "model" in obj:
            obj["model"] = self.model
            return [sse_event(obj)]
        return [sse_event(raw)]


_TEXT_DELTAS = ("response.output_text.delta", "response.refusal.delta",
                "response.function_call_arguments.delta")
_FINAL = ("response.completed", "response.incomplete")


class ResponsesStreamParser(StreamParser):
    """Responses API events (`event: <type>` + data) pass through; the stream
    ends at response.completed / response.incomplete (no [DONE] upstream)."""

    def on_event(self, event: str | None, obj: dict, raw: bytes) -> list[bytes]:
        kind = obj.get("type") or event
        if kind == "error":
            return self._fail(obj.get("error") if isinstance(obj.get("error"), dict) else obj)
        response = obj.get("response") if isinstance(obj.get("response"), dict) else None
        if kind == "response.failed":
            err = (response or {}).get("error") or "upstream response failed"
            return self._fail(err, status_for(err.get("code")) if isinstance(err, dict) else None)
        if kind in _TEXT_DELTAS:
            self.delivered_text_tokens += count_words(obj.get("delta"))
        if kind in _FINAL:
            self.finished = self.done = True
            if response is not None and isinstance(response.get("usage"), dict):
                self.usage = responses_usage(response["usage"])
        if self.model is not None and response is not None and "model" in response:
            response["model"] = self.model
            return [sse_event(obj, kind)]
        return [sse_event(raw, kind)]

    def _on_done(self) -> list[bytes]:
        return [DONE]  # a vendor that adds [DONE] anyway: forward it

    def _synthetic_end(self) -> list[bytes]:
        return []
