"""Gateway fixtures: the sandbox upstream and our API app, each served by
uvicorn on a loopback port, against the test's own database."""

from __future__ import annotations

import httpx
import openai
import pytest

from apiany.core.db import session_scope
from apiany.core.money import UNITS_PER_CREDIT
from apiany.core.settings import reset_settings
from apiany.sandbox import create_sandbox_app
from tests.factories import add_channel, add_cost, add_model
from tests.servers import ServerThread

CREDIT = UNITS_PER_CREDIT


@pytest.fixture(scope="session")
def sandbox():
    with ServerThread(create_sandbox_app()) as server:
        yield server


@pytest.fixture
def sandbox_stats(sandbox):
    httpx.delete(f"{sandbox.url}/sandbox/stats")

    def read() -> dict:
        return httpx.get(f"{sandbox.url}/sandbox/stats").json()

    return read


def _prepare(url: str, sandbox, monkeypatch) -> str:
    """Point at the sandbox and write the default catalog: sandbox-chat
    (1 credit / 1M input, 2 / 1M output), sandbox-embed (0.1 / 1M input),
    channel `sandbox` (priority 0) and its cost rules."""
    monkeypatch.setenv("APIANY_SANDBOX_BASE_URL", sandbox.url)
    monkeypatch.setenv("APIANY_CHANNEL_COOLDOWN_SECONDS", "1")
    reset_settings()
    with session_scope() as session:
        add_model(session, "sandbox-chat", "chat", price_input_per_m=1 * CREDIT,
                  parameters={"max_output_tokens": 4096},
                  price_output_per_m=2 * CREDIT, price_cached_input_per_m=CREDIT // 2)
        add_model(session, "sandbox-embed", "embedding", price_input_per_m=CREDIT // 10)
        add_channel(session, "sandbox", groups=["default"])
        add_cost(session, "sandbox", "sandbox-chat", cost_input_per_m=500_000, cost_output_per_m=1_000_000)
        add_cost(session, "sandbox", "sandbox-embed", cost_input_per_m=20_000)
    return url


@pytest.fixture
def gateway_db(db_url, sandbox, monkeypatch):
    return _prepare(db_url, sandbox, monkeypatch)


@pytest.fixture(params=["sqlite", "postgres"])
def any_gateway_db(request, sandbox, monkeypatch):
    url = request.getfixturevalue("db_url" if request.param == "sqlite" else "pg_url")
    return _prepare(url, sandbox, monkeypatch)


def _serve_api():
    from apiany.api.app import create_api
    from apiany.gateway import dbpool

    with ServerThread(create_api()) as server:
        yield server
    dbpool.drain()


@pytest.fixture
def api(gateway_db):
    yield from _serve_api()


@pytest.fixture
def any_api(any_gateway_db):
    """The API on SQLite and, when configured, on PostgreSQL."""
    yield from _serve_api()


@pytest.fixture
def client_for(api):
    def make(key: str, **kw) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{api.url}/v1", api_key=key, max_retries=0, timeout=30, **kw)

    return make
