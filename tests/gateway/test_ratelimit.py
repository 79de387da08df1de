"""RPM limits: exact in one process, and across workers sharing Redis."""

from __future__ import annotations

import asyncio
import concurrent.futures
import uuid

import httpx
import pytest

from apiany.gateway.ratelimit import MemoryRateLimiter, RedisRateLimiter
from tests.factories import make_key, make_user
from tests.servers import AppProcesses

MSG = [{"role": "user", "content": "hi"}]


def test_memory_limiter_window():
    limiter = MemoryRateLimiter()

    async def run():
        return [(await limiter.hit("k1", 3)).allowed for _ in range(5)]

    assert asyncio.run(run()) == [True, True, True, False, False]


def test_redis_limiter_is_exact_under_concurrency(redis_url):
    async def run():
        limiter = RedisRateLimiter(redis_url)
        key_id = uuid.uuid4().hex
        results = await asyncio.gather(*[limiter.hit(key_id, 10) for _ in range(30)])
        return sum(r.allowed for r in results)

    assert asyncio.run(run()) == 10


def test_rpm_holds_across_two_worker_processes_sharing_redis(gateway_db, redis_url):
    """Two app processes (each its own gateway and limiter), one Redis."""
    user = make_user(credits=10)
    key = make_key(user, rpm_limit=10)
    with AppProcesses(2, {"APIANY_REDIS_URL": redis_url}) as apps:
        def call(url):
            return httpx.post(f"{url}/v1/chat/completions", timeout=30,
                              json={"model": "sandbox-chat", "messages": MSG, "max_tokens": 1},
                              headers={"authorization": f"Bearer {key}"}).status_code

        with concurrent.futures.ThreadPoolExecutor(10) as pool:
            statuses = list(pool.map(call, apps.urls * 15))
    assert statuses.count(200) == 10 and statuses.count(429) == 20


@pytest.mark.parametrize("limit", [1, 4])
def test_memory_limit_through_the_api(api, limit):
    user = make_user(credits=10)
    key = make_key(user, rpm_limit=limit)
    statuses = [httpx.post(f"{api.url}/v1/chat/completions", timeout=30,
                           json={"model": "sandbox-chat", "messages": MSG, "max_tokens": 1},
                           headers={"authorization": f"Bearer {key}"}).status_code for _ in range(limit + 2)]
    assert statuses == [200] * limit + [429, 429]
