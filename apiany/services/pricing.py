"""Prices and costs. One rule (core.money): the exact cost is an integer
numerator over 1,000,000 and is rounded up once per request."""

from __future__ import annotations

from dataclasses import dataclass

from apiany.core.money import PER_MILLION, cost_units


@dataclass(frozen=True, slots=True)
class TokenPrices:
    """Units (1e-6 credit) — or micro-currency for cost rules — per 1M tokens,
    plus a flat amount per request."""

    input_per_m: int = 0
    cached_input_per_m: int = 0
    output_per_m: int = 0
    per_request: int = 0


@dataclass(slots=True)
class TokenUsage:
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0


def token_cost(prices: TokenPrices, usage: TokenUsage) -> int:
    cached = min(max(usage.cached_tokens, 0), max(usage.prompt_tokens, 0))
    return cost_units([
        (max(usage.prompt_tokens, 0) - cached, prices.input_per_m),
        (cached, prices.cached_input_per_m),
        (max(usage.completion_tokens, 0), prices.output_per_m),
        (PER_MILLION, prices.per_request),
    ])


def estimate_tokens(text_chars: int) -> int:
    """A generous estimate of tokens in text: one per 3 characters, min 1."""
    return max(1, -(-text_chars // 3))
