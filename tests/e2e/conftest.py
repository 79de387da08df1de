"""End-to-end fixtures: the real app in production mode, and Chromium.

`live_app` (session scope) migrates and seeds a fresh SQLite file, starts
`reflex run --env prod` on one free port (pages, /api and /v1 together) in its
own process group, waits for `/healthz` and the frontend, and kills the whole
group at the end. The Reflex build goes to a private web directory
(REFLEX_WEB_WORKDIR; bun installs it from its cache and reflex.lock/) so a run
never overwrites the `.web/` of a developer's `make run` or of another run.

`browser_page` is a Playwright page in Debian's Chromium; on a failed test a
full-page screenshot is saved under test-output/.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
BUN_BIN = ROOT / ".tools" / "node_modules" / ".bin"
CHROMIUM = os.environ.get("APIANY_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
OUTPUT = ROOT / "test-output"
START_TIMEOUT = float(os.environ.get("APIANY_TEST_START_TIMEOUT", "240"))


@dataclass(frozen=True)
class LiveApp:
    base_url: str
    db_url: str
    log_path: Path
    env: dict[str, str]

    def url(self, path: str) -> str:
        return self.base_url + path

    def cli(self, *args: str) -> None:
        """`python -m apiany ARGS` against the live app's database."""
        _cli(self.env, *args)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _app_env(db_url: str, port: int, workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("APIANY_", "STRIPE_", "REFLEX_")) or k.startswith("APIANY_TEST_")}
    env.update({
        "APIANY_DATABASE_URL": db_url, "APIANY_PORT": str(port), "APIANY_SANDBOX": "1",
        "APIANY_JOBS": "0",
        "PATH": f"{BUN_BIN}{os.pathsep}{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        "REFLEX_USE_SYSTEM_BUN": "1", "REFLEX_CHECK_LATEST_VERSION": "0", "PYTHONUNBUFFERED": "1",
        "REFLEX_WEB_WORKDIR": str(workdir / "web"), "REFLEX_STATES_WORKDIR": str(workdir / "states"),
        "REFLEX_UPLOADED_FILES_DIR": str(workdir / "uploads"),
    })
    return env


def _cli(env: dict[str, str], *args: str) -> None:
    result = subprocess.run([sys.executable, "-m", "apiany", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=180)
    if result.returncode != 0:
        raise RuntimeError(f"`python -m apiany {' '.join(args)}` failed:\n{result.stdout}\n{result.stderr}")


def _wait_until_up(proc: subprocess.Popen, base_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    pending = ["/healthz", "/"]
    with httpx.Client(timeout=5, follow_redirects=True) as client:
        while pending:
            if proc.poll() is not None:
                raise RuntimeError(f"the app exited with {proc.returncode}:\n{_tail(log_path)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the app did not answer {pending[0]} in {START_TIMEOUT:.0f}s:\n"
                                   f"{_tail(log_path)}")
            try:
                if client.get(base_url + pending[0]).status_code == 200:
                    pending.pop(0)
                    continue
            except httpx.HTTPError:
                pass
            time.sleep(0.5)


def _tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop(proc: subprocess.Popen) -> None:
    """Terminate reflex and every child it spawned (granian workers, bun)."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            if sig == signal.SIGTERM:
                # the leader is gone; make sure no straggler of the group stays
                os.killpg(proc.pid, signal.SIGKILL)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


STRIPE_E2E_WEBHOOK_SECRET = "whsec_e2e_test"


@pytest.fixture(scope="session")
def fake_stripe():
    """A fake Stripe API (tests/payments/fake_stripe.py) in this process; the
    live app's STRIPE_* point at it, so billing can be tested end to end."""
    from tests.payments.fake_stripe import FakeStripe
    from tests.servers import ServerThread

    fake = FakeStripe()
    with ServerThread(fake.app) as server:
        fake.base_url = server.url
        yield fake


@pytest.fixture(scope="session")
def live_app(tmp_path_factory, fake_stripe) -> Iterator[LiveApp]:
    began = time.monotonic()
    workdir = tmp_path_factory.mktemp("live_app")
    port = _free_port()
    db_url = f"sqlite:///{workdir / 'live.db'}"
    env = _app_env(db_url, port, workdir)
    env.update({"STRIPE_SECRET_KEY": "sk_test_e2e", "STRIPE_API_BASE": fake_stripe.base_url,
                "STRIPE_WEBHOOK_SECRET": STRIPE_E2E_WEBHOOK_SECRET})
    _cli(env, "migrate")
    _cli(env, "seed")

    log_path = workdir / "reflex.log"
    started = time.monotonic()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(VENV_BIN / "reflex"), "run", "--env", "prod", "--frontend-port", str(port),
             "--backend-port", str(port)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(proc, base_url, log_path)
        print(f"\nlive_app up on {base_url}: reflex {time.monotonic() - started:.1f}s, "
              f"with migrate and seed {time.monotonic() - began:.1f}s", file=sys.stderr)
        yield LiveApp(base_url=base_url, db_url=db_url, log_path=log_path, env=env)
    finally:
        _stop(proc)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="session")
def _browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def browser_page(request, _browser):
    """A fresh context (no cookies) per test, 1280x800."""
    context = _browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        OUTPUT.mkdir(exist_ok=True)
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in request.node.nodeid)
        try:
            page.screenshot(path=str(OUTPUT / f"{safe}.png"), full_page=True)
        except Exception:  # a crashed page must not hide the test's own failure
            pass
    context.close()
