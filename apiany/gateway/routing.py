"""Which channels may serve a request, in which order, and channel health.

Candidates: usable (enabled, secret present) channels in the model's groups
that support the request type and are healthy (or whose cool-down has
passed: one probe request is let through), highest priority first, weighted
random inside a priority, each channel at most once. Fallback models append
their own candidates after the primary's. The attempt cap is the model's
`max_attempts`."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from apiany.core.db import utcnow
from apiany.gateway.cache import Catalog, ChannelInfo, ModelInfo


@dataclass(frozen=True, slots=True)
class Candidate:
    channel: ChannelInfo
    model: ModelInfo

    @property
    def upstream_model(self) -> str:
        return self.channel.model_map.get(self.model.public_id, self.model.public_id)


class ChannelHealth:
    """Per-process view of consecutive failures; transitions are persisted by
    the caller (pipeline) so other workers and the admin pages see them."""

    def __init__(self, threshold: int, cooldown_seconds: float):
        self.threshold = threshold
        self.cooldown = cooldown_seconds
        self._failures: dict[int, int] = {}
        self._down_until: dict[int, float] = {}

    def available(self, channel: ChannelInfo) -> bool:
        local = self._down_until.get(channel.id)
        now = time.monotonic()
        if local is not None and now < local:
            return False
        if not channel.healthy and channel.unhealthy_until is not None and utcnow() < channel.unhealthy_until:
            return local is not None  # our own cool-down passed: let a probe through
        return True

    def record_success(self, channel_id: int) -> bool:
        """True when this success recovers a channel we had marked down."""
        recovered = channel_id in self._down_until or self._failures.get(channel_id, 0) >= self.threshold
        self._failures.pop(channel_id, None)
        self._down_until.pop(channel_id, None)
        return recovered

    def record_failure(self, channel_id: int) -> bool:
        """True when the channel is (still) down after this failure: the
        threshold was reached, or a probe after the cool-down failed."""
        count = self._failures.get(channel_id, 0) + 1
        self._failures[channel_id] = count
        if count >= self.threshold:
            self._down_until[channel_id] = time.monotonic() + self.cooldown
            return True
        return False


def _weighted_order(channels: list[ChannelInfo], rng: random.Random) -> list[ChannelInfo]:
    pool = [c for c in channels if c.weight > 0]
    zero = [c for c in channels if c.weight <= 0]
    ordered: list[ChannelInfo] = []
    while pool:
        total = sum(c.weight for c in pool)
        pick = rng.uniform(0, total)
        acc = 0.0
        for i, c in enumerate(pool):
            acc += c.weight
            if pick <= acc:
                ordered.append(pool.pop(i))
                break
        else:  # float edge: take the last
            ordered.append(pool.pop())
    return ordered + zero


def channels_for(catalog: Catalog, model: ModelInfo, request_type: str, health: ChannelHealth,
                 rng: random.Random) -> list[ChannelInfo]:
    groups = set(model.channel_groups)
    eligible = [c for c in catalog.channels
                if c.usable() and request_type in c.request_types and groups & c.groups
                and health.available(c)]
    by_priority: dict[int, list[ChannelInfo]] = {}
    for c in eligible:
        by_priority.setdefault(c.priority, []).append(c)
    ordered: list[ChannelInfo] = []
    for priority in sorted(by_priority, reverse=True):
        ordered.extend(_weighted_order(by_priority[priority], rng))
    return ordered


def plan_candidates(catalog: Catalog, model: ModelInfo, request_type: str, health: ChannelHealth,
                    rng: random.Random | None = None) -> list[Candidate]:
    rng = rng or random.Random()
    seen: set[int] = set()
    plan: list[Candidate] = []
    for m in (model, *[catalog.models[f] for f in model.fallback_models if f in catalog.models]):
        if m is not model and (m.request_type != model.request_type or m.status == "unavailable"):
            continue
        for channel in channels_for(catalog, m, request_type, health, rng):
            if channel.id not in seen:
                seen.add(channel.id)
                plan.append(Candidate(channel, m))
    return plan[: model.max_attempts]


def has_route(catalog: Catalog, model: ModelInfo) -> bool:
    """Some usable channel (of the model or a fallback) can serve it."""
    for m in (model, *[catalog.models[f] for f in model.fallback_models if f in catalog.models]):
        groups = set(m.channel_groups)
        if any(c.usable() and m.request_type in c.request_types and groups & c.groups
               for c in catalog.channels):
            return True
    return False
