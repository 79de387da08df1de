"""In-memory views of keys, models, channels and cost rules for the hot
path. Entries are reloaded after `ttl` seconds and dropped at once when this
process changes them (core.events); other processes see changes within
`ttl` (or at once through Redis, when configured)."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, select

from apiany.core.db import get_engine
from apiany.core.events import on_config_changed
from apiany.gateway.dbpool import run_db
from apiany.models import ApiKey, ApiModel, Channel, CostRule, User
from apiany.services.pricing import TokenPrices


@dataclass(frozen=True, slots=True)
class KeyInfo:
    id: int
    user_id: int
    key_hash: str
    status: str
    model_scope: frozenset[str]
    rpm_limit: int | None
    log_content: bool
    expires_at: datetime | None
    user_active: bool


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: int
    public_id: str
    request_type: str
    status: str
    is_public: bool
    prices: TokenPrices
    unit_prices: dict[str, int]
    channel_groups: tuple[str, ...]
    max_attempts: int
    retry_on: frozenset[str]
    fallback_models: tuple[str, ...]
    max_task_age_seconds: int
    parameters: dict
    capabilities: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    id: int
    name: str
    protocol: str
    base_url: str
    secret_ref: str | None
    enabled: bool
    healthy: bool
    unhealthy_until: datetime | None
    priority: int
    weight: int
    groups: frozenset[str]
    request_types: frozenset[str]
    model_map: dict[str, str]
    extra_headers: dict[str, str]
    timeout_seconds: float | None

    def secret(self) -> str | None:
        return os.environ.get(self.secret_ref) if self.secret_ref else None

    def usable(self) -> bool:
        """Enabled, and its secret is present when it names one."""
        return self.enabled and (not self.secret_ref or bool(self.secret()))


@dataclass(slots=True)
class Catalog:
    models: dict[str, ModelInfo] = field(default_factory=dict)
    channels: list[ChannelInfo] = field(default_factory=list)
    costs: dict[tuple[str, str], TokenPrices] = field(default_factory=dict)
    unit_costs: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)


def load_catalog() -> Catalog:
    with Session(get_engine(readonly=True)) as session:
        cat = Catalog()
        for m in session.exec(select(ApiModel)):
            cat.models[m.public_id] = ModelInfo(
                id=m.id, public_id=m.public_id, request_type=m.request_type, status=m.status,
                is_public=m.is_public,
                prices=TokenPrices(m.price_input_per_m, m.price_cached_input_per_m,
                                   m.price_output_per_m, m.price_per_request),
                unit_prices=dict(m.unit_prices or {}), channel_groups=tuple(m.channel_groups or ()),
                max_attempts=max(1, m.max_attempts), retry_on=frozenset(m.retry_on or ()),
                fallback_models=tuple(m.fallback_models or ()),
                max_task_age_seconds=m.max_task_age_seconds, parameters=dict(m.parameters or {}),
                capabilities=tuple(m.capabilities or ()), created_at=m.created_at)
        for c in session.exec(select(Channel).order_by(Channel.id)):
            cat.channels.append(ChannelInfo(
                id=c.id, name=c.name, protocol=c.protocol, base_url=c.base_url,
                secret_ref=c.secret_ref, enabled=c.enabled, healthy=c.healthy,
                unhealthy_until=c.unhealthy_until, priority=c.priority, weight=max(0, c.weight),
                groups=frozenset(c.groups or ()), request_types=frozenset(c.request_types or ()),
                model_map=dict(c.model_map or {}), extra_headers=dict(c.extra_headers or {}),
                timeout_seconds=c.timeout_seconds))
        for r in session.exec(select(CostRule)):
            key = (r.channel_name, r.upstream_model)
            cat.costs[key] = TokenPrices(r.cost_input_per_m, r.cost_cached_input_per_m,
                                         r.cost_output_per_m, r.cost_per_request)
            cat.unit_costs[key] = dict(r.unit_costs or {})
        return cat


def _load_key(key_hash: str) -> KeyInfo | None:
    with Session(get_engine(readonly=True)) as session:
        row = session.exec(select(ApiKey, User.is_active).join(User, User.id == ApiKey.user_id)
                           .where(ApiKey.key_hash == key_hash)).first()
        if row is None:
            return None
        k, user_active = row
        return KeyInfo(user_active=user_active, id=k.id, user_id=k.user_id, key_hash=k.key_hash, status=k.status,
                       model_scope=frozenset(k.model_scope or ()), rpm_limit=k.rpm_limit,
                       log_content=k.log_content, expires_at=k.expires_at)


class GatewayCache:
    def __init__(self, ttl: float = 1.0, max_keys: int = 100_000):
        self.ttl = ttl
        self.max_keys = max_keys
        self._catalog: Catalog | None = None
        self._catalog_at = 0.0
        self._catalog_lock = asyncio.Lock()
        self._keys: dict[str, tuple[float, KeyInfo | None]] = {}
        self._generation = 0  # bumped on every change; a load that raced one is not trusted
        on_config_changed(self._on_change)

    def _on_change(self, kind: str, ident: str | None) -> None:
        self._generation += 1
        if kind == "key":
            if ident is None:
                self._keys.clear()
            else:
                self._keys.pop(ident, None)
        else:
            self._catalog_at = 0.0

    def invalidate_all(self) -> None:
        self._keys.clear()
        self._catalog_at = 0.0

    async def catalog(self) -> Catalog:
        now = time.monotonic()
        if self._catalog is not None and now - self._catalog_at < self.ttl:
            return self._catalog
        async with self._catalog_lock:
            if self._catalog is None or time.monotonic() - self._catalog_at >= self.ttl:
                loaded_at, generation = time.monotonic(), self._generation
                self._catalog = await run_db(load_catalog)
                self._catalog_at = loaded_at if generation == self._generation else 0.0
        return self._catalog

    async def key(self, key_hash: str) -> KeyInfo | None:
        now = time.monotonic()
        hit = self._keys.get(key_hash)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        generation = self._generation
        info = await run_db(_load_key, key_hash)
        if len(self._keys) >= self.max_keys:
            self._keys.clear()
        if generation == self._generation:
            self._keys[key_hash] = (now, info)
        return info


async def follow_remote_changes(redis_url: str) -> None:
    """Subscribe to other processes' config changes (runs for the worker's life)."""
    import redis.asyncio as aioredis

    from apiany.core.events import REDIS_CHANNEL, receive_remote

    while True:
        try:
            client = aioredis.from_url(redis_url)
            async with client.pubsub() as pubsub:
                await pubsub.subscribe(REDIS_CHANNEL)
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        receive_remote(message["data"])
        except asyncio.CancelledError:
            raise
        except Exception:  # reconnect; TTL expiry covers the gap
            await asyncio.sleep(1)
