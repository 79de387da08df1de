"""Requests-per-minute limits per API key, over a sliding 60 s window.

In one process an in-memory window is exact. With several workers or
instances the window lives in Redis (a sorted set per key, checked and
updated by one Lua script so concurrent workers cannot both take the last
slot)."""

from __future__ import annotations

import math
import time
import uuid
from collections import deque
from dataclasses import dataclass

WINDOW_SECONDS = 60.0

_LUA = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if count < limit then
  redis.call('ZADD', key, now, ARGV[4])
  redis.call('PEXPIRE', key, math.ceil(window * 1000))
  return {1, count + 1, 0}
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return {0, count, tostring(oldest[2])}
"""


@dataclass(slots=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: float

    def headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit-requests": str(self.limit),
            "x-ratelimit-remaining-requests": str(max(0, self.remaining)),
            "x-ratelimit-reset-requests": f"{max(0.0, self.reset_seconds):.3f}s",
        }


# Limiters are keyed by the API key's hash (a prefix of it), not its row id:
# ids repeat across databases sharing one Redis (tests, staging), hashes do not.


class MemoryRateLimiter:
    def __init__(self) -> None:
        self._windows: dict[str, deque[float]] = {}

    async def hit(self, key_id: str, limit: int) -> RateDecision:
        now = time.monotonic()
        window = self._windows.setdefault(key_id, deque())
        while window and window[0] <= now - WINDOW_SECONDS:
            window.popleft()
        if len(window) < limit:
            window.append(now)
            reset = window[0] + WINDOW_SECONDS - now
            return RateDecision(True, limit, limit - len(window), reset)
        return RateDecision(False, limit, 0, window[0] + WINDOW_SECONDS - now)


class RedisRateLimiter:
    def __init__(self, url: str) -> None:
        import redis.asyncio as aioredis

        self._redis = aioredis.from_url(url)
        self._script = self._redis.register_script(_LUA)

    async def hit(self, key_id: str, limit: int) -> RateDecision:
        now = time.time()
        allowed, count, oldest = await self._script(
            keys=[f"apiany:rpm:{key_id}"], args=[now, WINDOW_SECONDS, limit, f"{now}:{uuid.uuid4().hex}"])
        if int(allowed):
            return RateDecision(True, limit, limit - int(count), WINDOW_SECONDS)
        reset = float(oldest) + WINDOW_SECONDS - now
        return RateDecision(False, limit, 0, reset)


def retry_after_seconds(decision: RateDecision) -> str:
    return str(max(1, math.ceil(decision.reset_seconds)))


def make_rate_limiter(redis_url: str | None):
    return RedisRateLimiter(redis_url) if redis_url else MemoryRateLimiter()
