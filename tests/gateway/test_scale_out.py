"""Several app processes on one database (and Redis): config changes made
anywhere reach every worker at once; spends never overdraw."""

from __future__ import annotations

import concurrent.futures
import time

import httpx
from sqlmodel import select

from apiany.core.db import session_scope
from apiany.core.events import config_changed
from apiany.core.settings import reset_settings
from apiany.models import Channel
from tests.factories import make_key, make_user
from tests.gateway.helpers import set_channels, usage_rows
from tests.servers import AppProcesses

MSG = [{"role": "user", "content": "hi"}]


def _call(url: str, key: str) -> httpx.Response:
    return httpx.post(f"{url}/v1/chat/completions", timeout=30,
                      json={"model": "sandbox-chat", "messages": MSG, "max_tokens": 1},
                      headers={"authorization": f"Bearer {key}"})


def test_disabling_a_channel_reaches_other_workers_within_a_second(gateway_db, redis_url, monkeypatch):
    set_channels(("first", 10, None, {}), ("second", 0, None, {}))
    user = make_user(credits=10)
    key = make_key(user)
    with AppProcesses(2, {"APIANY_REDIS_URL": redis_url}) as apps:
        for url in apps.urls:  # warm both caches
            assert _call(url, key).json()["model"] == "sandbox-chat"
        monkeypatch.setenv("APIANY_REDIS_URL", redis_url)
        reset_settings()
        with session_scope() as s:
            channel = s.exec(select(Channel).where(Channel.name == "first")).one()
            channel.enabled = False
            s.add(channel)
            config_changed("catalog", str(channel.id), s)
        time.sleep(0.3)  # pub/sub delivery; the caches' own TTL is 1 s
        for url in apps.urls:
            r = _call(url, key)
            assert r.status_code == 200
    served_by = [row.channel_name for row in usage_rows(user)]
    assert served_by == ["first", "first", "second", "second"]


def test_parallel_spends_across_processes_never_overdraw(any_gateway_db):
    from apiany.models import ApiModel

    with session_scope() as s:
        m = s.exec(select(ApiModel).where(ApiModel.public_id == "sandbox-chat")).one()
        m.price_input_per_m = m.price_output_per_m = 0
        m.price_per_request = 1_000_000
        s.add(m)
    user = make_user(credits=50)
    key = make_key(user)
    with AppProcesses(2, {}) as apps:
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(lambda url: _call(url, key).status_code, apps.urls * 100))
    assert statuses.count(200) == 50 and statuses.count(402) == 150
    from tests.gateway.helpers import balance, ledger_ok

    assert balance(user) == 0 and ledger_ok() == []
