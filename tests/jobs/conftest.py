"""Job tests: real time is put back after each test that moves the clock."""

from __future__ import annotations

import pytest

from apiany.jobs import clock


@pytest.fixture(autouse=True)
def _real_clock():
    yield
    clock.set(None)


@pytest.fixture(scope="session")
def sandbox():
    """The sandbox upstream on a loopback port."""
    from apiany.sandbox import create_sandbox_app
    from tests.servers import ServerThread

    with ServerThread(create_sandbox_app()) as server:
        yield server
