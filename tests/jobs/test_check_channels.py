"""check_channels against the sandbox upstream: a channel that cannot be
reached is marked unhealthy (with its error and latency), then recovered
when it answers again; disabled channels and channels whose secret is not
set are not probed; the secret never appears in the stored error."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import select

from apiany.core.db import session_scope, utcnow
from apiany.core.settings import reset_settings
from apiany.jobs import clock
from apiany.jobs.registry import run_job_now
from apiany.models import Channel, JobRun
from tests.factories import add_channel
from tests.servers import free_port


@pytest.fixture
def channels(db_url, sandbox, monkeypatch):
    monkeypatch.setenv("APIANY_SANDBOX_BASE_URL", sandbox.url)
    monkeypatch.setenv("APIANY_CHANNEL_PROBE_TIMEOUT_SECONDS", "2")
    monkeypatch.setenv("PROBE_SECRET", "sk-probe-secret-123")
    reset_settings()
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with session_scope() as s:
        add_channel(s, "good", secret_ref="PROBE_SECRET")
        add_channel(s, "flaky", base_url=dead, secret_ref="PROBE_SECRET")
        add_channel(s, "off", base_url=dead, enabled=False)
        add_channel(s, "nosecret", secret_ref="PROBE_MISSING_SECRET")
    return dead


def _state() -> dict[str, tuple]:
    with session_scope() as s:
        return {c.name: (c.healthy, c.consecutive_failures, c.last_error, c.last_checked_at,
                         c.last_latency_ms) for c in s.exec(select(Channel))}


def test_channels_marked_unhealthy_then_recovered(channels, sandbox):
    t0 = utcnow()
    with clock.frozen(t0):
        result = run_job_now("check_channels", trigger="test")
    assert (result.status, result.items) == ("success", 2)
    state = _state()
    assert state["good"][:3] == (True, 0, "")
    assert state["good"][4] is not None
    healthy, failures, error, checked, _ = state["flaky"]
    assert (healthy, failures) == (False, 1)
    assert "ConnectError" in error and "sk-probe-secret-123" not in error
    assert checked is not None
    assert state["off"][3] is None and state["nosecret"][3] is None  # never probed
    with session_scope() as s:
        flaky = s.exec(select(Channel).where(Channel.name == "flaky")).one()
        assert clock.as_utc(flaky.unhealthy_until) > t0  # the gateway skips it for the cool-down

    with clock.frozen(t0 + timedelta(minutes=1)):
        run_job_now("check_channels", trigger="test")
    assert _state()["flaky"][:2] == (False, 2)

    with session_scope() as s:  # the upstream comes back
        s.execute(update(Channel).where(Channel.name == "flaky").values(base_url="{sandbox}/v1"))
    with clock.frozen(t0 + timedelta(minutes=2)):
        assert run_job_now("check_channels", trigger="test").items == 2
    healthy, failures, error, _, latency = _state()["flaky"]
    assert (healthy, failures, error) == (True, 0, "")
    assert latency is not None
    with session_scope() as s:
        assert s.exec(select(Channel.unhealthy_until).where(Channel.name == "flaky")).one() is None
        assert len(s.exec(select(JobRun).where(JobRun.job == "check_channels")).all()) == 3


def test_http_error_marks_unhealthy(channels, sandbox):
    with session_scope() as s:  # a wrong path: the sandbox answers 404
        s.execute(update(Channel).where(Channel.name == "flaky")
                  .values(base_url="{sandbox}/nowhere"))
    run_job_now("check_channels", trigger="test")
    healthy, _, error, _, _ = _state()["flaky"]
    assert not healthy and error.startswith("HTTP 404")
