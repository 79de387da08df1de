"""`python -m apiany jobs list | jobs run NAME`, `finance rollup --month`
and `worker`, as an operator runs them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import create_engine, text

from apiany.core.db import dispose_engines, utcnow
from apiany.jobs.registry import JOBS
from apiany.services.migrations import upgrade_to_head

from tests.cli.test_cli import ROOT


class Operator:
    """Runs `python -m apiany ...` against a migrated temporary database."""

    def __init__(self, url: str):
        self.url = url
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("APIANY_") or k.startswith("APIANY_TEST")}
        self.env.update(APIANY_DATABASE_URL=url, APIANY_JOBS="0")

    def __call__(self, *args: str, code: int = 0) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", "apiany", *args], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == code, proc.stdout + proc.stderr
        return proc


@pytest.fixture
def cli(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade_to_head(url)  # in-process: one subprocess less
    dispose_engines()
    return Operator(url)


def test_jobs_list_run_and_finance_rollup(cli):
    listing = cli("jobs", "list").stdout
    for name in JOBS:
        assert name in listing
    assert "never" in listing
    ran = cli("jobs", "run", "expire_holds").stdout
    assert ran.startswith("expire_holds: success, 0 item(s) (run #1)")
    line = next(x for x in cli("jobs", "list").stdout.splitlines() if x.startswith("expire_holds"))
    assert "success" in line and utcnow().strftime("%Y-%m-%d") in line
    assert "no job named" in cli("jobs", "run", "nope", code=2).stderr
    engine = create_engine(cli.url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT job, trigger, status FROM job_runs")).all() == [
            ("expire_holds", "cli", "success")]
    engine.dispose()

    month = utcnow().strftime("%Y-%m")
    out = cli("finance", "rollup", "--month", month).stdout
    assert f"Finance summary {month} (UTC)" in out and "gross margin" in out


def test_worker_runs_jobs_and_stops_on_sigterm(cli):
    env = dict(cli.env, APIANY_JOB_INTERVALS='{"expire_holds": 1}',
               APIANY_JOB_START_DELAY_SECONDS="0.1")
    proc = subprocess.Popen([sys.executable, "-m", "apiany", "worker"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    engine = create_engine(cli.url)
    try:
        deadline = time.monotonic() + 30
        count = 0
        while time.monotonic() < deadline and count < 2:
            time.sleep(0.5)
            with engine.connect() as conn:
                count = conn.execute(text(
                    "SELECT count(*) FROM job_runs WHERE job = 'expire_holds'")).scalar()
        assert count >= 2
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0]
        engine.dispose()
    assert proc.returncode == 0, output
    assert "running internal jobs" in output
