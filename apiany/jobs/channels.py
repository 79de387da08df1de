"""`check_channels`: probe every enabled channel with one cheap request
(GET {base_url}/models with the channel's secret: listing models costs
nothing at every vendor we speak to), then mark it unhealthy (a cool-down
during which the gateway skips it) or recovered, and record the latency
and the error. A channel whose secret variable is not set is not usable,
so it is not probed. The error text never contains the secret."""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import update
from sqlmodel import select

from apiany.core.db import session_scope
from apiany.core.settings import Settings, get_settings
from apiany.models.catalog import Channel

log = logging.getLogger("apiany.jobs")
ANTHROPIC_VERSION = "2023-06-01"
PROBE_CONCURRENCY = 8  # a dead channel costs one timeout, not one per channel after it


@dataclass(slots=True)
class Probe:
    channel_id: int
    name: str
    ok: bool
    latency_ms: int
    error: str = ""


def probe_request(channel: Channel, secret: str | None, settings: Settings) -> tuple[str, dict]:
    base = channel.base_url.replace("{sandbox}", settings.sandbox_url).rstrip("/")
    headers = dict(channel.extra_headers or {})
    if channel.protocol == "anthropic":
        url = f"{base}/models" if base.endswith("/v1") else f"{base}/v1/models"
        headers["anthropic-version"] = ANTHROPIC_VERSION
        if secret:
            headers["x-api-key"] = secret
    else:
        url = f"{base}/models"
        if secret:
            headers["authorization"] = f"Bearer {secret}"
    return url, headers


def probe(client: httpx.Client, channel: Channel, settings: Settings) -> Probe | None:
    secret = os.environ.get(channel.secret_ref) if channel.secret_ref else None
    if channel.secret_ref and not secret:
        return None
    url, headers = probe_request(channel, secret, settings)
    started = time.perf_counter()
    try:
        resp = client.get(url, headers=headers)
        error = "" if resp.is_success else f"HTTP {resp.status_code}: {resp.text[:200]}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"
    latency = int((time.perf_counter() - started) * 1000)
    if secret:
        error = error.replace(secret, "[redacted]")
    return Probe(channel.id, channel.name, not error, latency, error[:500])


def _record(result: Probe, now: datetime, cooldown: int) -> dict:
    values: dict = {"last_checked_at": now, "last_latency_ms": result.latency_ms}
    if result.ok:
        values.update(healthy=True, consecutive_failures=0, unhealthy_until=None, last_error="")
    else:
        values.update(healthy=False, consecutive_failures=Channel.consecutive_failures + 1,
                      unhealthy_until=now + timedelta(seconds=cooldown), last_error=result.error)
    return values


def check_channels(now: datetime) -> int:
    """Probe enabled channels; returns how many were probed."""
    settings = get_settings()
    with session_scope(readonly=True) as session:
        channels = list(session.exec(select(Channel).where(Channel.enabled.is_(True))
                                     .order_by(Channel.id)))
        before = {c.id: c.healthy for c in channels}
    timeout = httpx.Timeout(settings.channel_probe_timeout_seconds)
    with httpx.Client(timeout=timeout, follow_redirects=False) as client, \
            ThreadPoolExecutor(max_workers=PROBE_CONCURRENCY) as pool:
        probes = pool.map(lambda channel: probe(client, channel, settings), channels)
        results = [r for r in probes if r is not None]
    with session_scope() as session:
        for result in results:
            session.execute(update(Channel).where(Channel.id == result.channel_id)
                            .values(**_record(result, now, settings.channel_cooldown_seconds)))
    for result in results:
        if result.ok and not before[result.channel_id]:
            log.warning("channel %s recovered (%d ms)", result.name, result.latency_ms)
        elif not result.ok and before[result.channel_id]:
            log.error("channel %s is unhealthy: %s", result.name, result.error)
    return len(results)
