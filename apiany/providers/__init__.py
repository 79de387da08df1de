"""Upstream provider protocols behind one adapter interface (see base.py).

    adapter = get_adapter(channel.protocol)
    req = adapter.build_request(channel, "chat", body, upstream_model)
    ... the gateway sends `req` with its own HTTP client ...
    body, usage = adapter.parse_response("chat", status, data, headers)
    parser = adapter.stream_parser("chat", client_wants_usage=req.client_wants_usage)
"""

from __future__ import annotations

from apiany.providers.anthropic import AnthropicAdapter
from apiany.providers.base import (
    DONE, Adapter, ChannelConfig, ProviderError, StreamParser, UpstreamRequest, Usage,
    error_event,
)
from apiany.providers.openai_compat import OpenAIAdapter

REGISTRY: dict[str, Adapter] = {"openai": OpenAIAdapter(), "anthropic": AnthropicAdapter()}


def get_adapter(protocol: str) -> Adapter:
    try:
        return REGISTRY[protocol]
    except KeyError:
        raise ProviderError("unsupported", f"unknown provider protocol {protocol!r}") from None


__all__ = ["DONE", "REGISTRY", "Adapter", "AnthropicAdapter", "ChannelConfig", "OpenAIAdapter",
           "ProviderError", "StreamParser", "UpstreamRequest", "Usage", "error_event",
           "get_adapter"]
