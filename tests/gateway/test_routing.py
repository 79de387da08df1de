"""Candidate planning, without I/O."""

from __future__ import annotations

import collections
import random
from datetime import timedelta

import pytest

from apiany.core.db import utcnow
from apiany.gateway.cache import Catalog, ChannelInfo, ModelInfo
from apiany.gateway.routing import ChannelHealth, plan_candidates
from apiany.services.pricing import TokenPrices


def channel(cid, name, priority=0, weight=1, **kw) -> ChannelInfo:
    base = dict(id=cid, name=name, protocol="openai", base_url="http://x", secret_ref=None, enabled=True,
                healthy=True, unhealthy_until=None, priority=priority, weight=weight,
                groups=frozenset({"default"}), request_types=frozenset({"chat", "embedding"}),
                model_map={}, extra_headers={}, timeout_seconds=None)
    base.update(kw)
    return ChannelInfo(**base)


def model(public_id="m", **kw) -> ModelInfo:
    base = dict(id=1, public_id=public_id, request_type="chat", status="active", is_public=True,
                prices=TokenPrices(), unit_prices={}, channel_groups=("default",), max_attempts=3,
                retry_on=frozenset({"5xx"}), fallback_models=(), max_task_age_seconds=60, parameters={},
                capabilities=(), created_at=utcnow())
    base.update(kw)
    return ModelInfo(**base)


def health() -> ChannelHealth:
    return ChannelHealth(threshold=3, cooldown_seconds=30)


@pytest.mark.parametrize("order", [("light", "heavy"), ("heavy", "light")])
def test_weights_give_the_configured_share_of_1000_requests(order):
    chans = {"light": channel(1, "light", weight=1), "heavy": channel(2, "heavy", weight=3)}
    cat = Catalog(models={"m": model()}, channels=[chans[n] for n in order])
    rng = random.Random(7)
    firsts = collections.Counter(plan_candidates(cat, cat.models["m"], "chat", health(), rng)[0].channel.name
                                 for _ in range(1000))
    assert 700 <= firsts["heavy"] <= 800  # 75% configured


def test_priority_first_no_duplicates_and_capped():
    chans = [channel(i, f"c{i}", priority=i % 2) for i in range(1, 7)]
    cat = Catalog(models={"m": model(max_attempts=4, fallback_models=("m",))}, channels=chans)
    plan = plan_candidates(cat, cat.models["m"], "chat", health(), random.Random(1))
    assert len(plan) == 4
    assert len({c.channel.id for c in plan}) == 4
    assert [c.channel.priority for c in plan[:3]] == [1, 1, 1]


def test_excluded_channels():
    chans = [channel(1, "disabled", enabled=False), channel(2, "wrong-type", request_types=frozenset({"embedding"})),
             channel(3, "other-group", groups=frozenset({"x"})), channel(4, "no-secret", secret_ref="NOPE_NOT_SET"),
             channel(5, "down", healthy=False, unhealthy_until=utcnow() + timedelta(seconds=60)),
             channel(6, "recovering", healthy=False, unhealthy_until=utcnow() - timedelta(seconds=1)),
             channel(7, "fine")]
    cat = Catalog(models={"m": model()}, channels=chans)
    names = {c.channel.name for c in plan_candidates(cat, cat.models["m"], "chat", health(), random.Random(1))}
    assert names == {"recovering", "fine"}


def test_health_threshold_and_recovery():
    h = health()
    ch = channel(1, "c")
    assert [h.record_failure(1) for _ in range(3)] == [False, False, True]
    assert h.available(ch) is False
    assert h.record_success(1) is True and h.available(ch) is True
