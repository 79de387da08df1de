"""Media fixtures: the sandbox upstream and our API app on loopback ports,
with the media catalog (prices below, in credits) on the test's database."""

from __future__ import annotations

import openai
import pytest

from apiany.core.db import session_scope
from apiany.core.settings import reset_settings
from tests.factories import add_channel, add_cost, add_model
from tests.gateway.conftest import CREDIT, _serve_api, sandbox, sandbox_stats  # noqa: F401

IMAGE_PRICES = {"image:256x256:standard": 1 * CREDIT, "image:512x512:standard": 2 * CREDIT,
                "image:1024x1024:standard": 4 * CREDIT, "image:1024x1024:hd": 8 * CREDIT}
TTS_PER_M = 1500 * CREDIT            # per 1M characters: 1,500 units per character
STT_PER_SECOND = CREDIT // 100       # 0.01 credit per second of audio
VIDEO_PER_SECOND = 10 * CREDIT
MAX_TASK_AGE = 1800


@pytest.fixture(autouse=True)
def _fast_passwords(monkeypatch):
    """These tests never sign in with a password: skip argon2's cost per user."""
    monkeypatch.setattr("apiany.services.accounts.hash_password", lambda password: "test$" + password)


def _prepare(sandbox, monkeypatch) -> None:
    monkeypatch.setenv("APIANY_SANDBOX_BASE_URL", sandbox.url)
    reset_settings()
    with session_scope() as s:
        add_model(s, "sandbox-image", "image", unit_prices=IMAGE_PRICES)
        add_model(s, "sandbox-tts", "speech", price_input_per_m=TTS_PER_M)
        add_model(s, "sandbox-stt", "transcription", unit_prices={"audio:second": STT_PER_SECOND})
        add_model(s, "sandbox-video", "video", unit_prices={"video:second": VIDEO_PER_SECOND},
                  max_task_age_seconds=MAX_TASK_AGE, max_attempts=2)
        add_channel(s, "sandbox", groups=["default"])
        add_cost(s, "sandbox", "sandbox-image", unit_costs={"image:256x256:standard": 5_000,
                                                             "image:1024x1024:hd": 40_000})
        add_cost(s, "sandbox", "sandbox-tts", cost_input_per_m=7_500_000)
        add_cost(s, "sandbox", "sandbox-stt", unit_costs={"audio:second": 50})
        add_cost(s, "sandbox", "sandbox-video", unit_costs={"video:second": 50_000})


@pytest.fixture
def media_db(db_url, sandbox, monkeypatch):
    _prepare(sandbox, monkeypatch)
    return db_url


@pytest.fixture(params=["sqlite", "postgres"])
def any_media_db(request, sandbox, monkeypatch):
    url = request.getfixturevalue("db_url" if request.param == "sqlite" else "pg_url")
    _prepare(sandbox, monkeypatch)
    return url


@pytest.fixture
def api(media_db):
    yield from _serve_api()


@pytest.fixture
def any_api(any_media_db):
    yield from _serve_api()


def _client_factory(server):
    def make(key: str, **kw) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=30, **kw)

    return make


@pytest.fixture
def client_for(api):
    return _client_factory(api)


@pytest.fixture
def any_client_for(any_api):
    return _client_factory(any_api)
