"""`python -m apiany` end to end in a temporary database."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, text

from apiany.core.security import hash_token

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def cli(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("APIANY_") or k.startswith("APIANY_TEST")}
    env.update(APIANY_DATABASE_URL=url, APIANY_JOBS="0")

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", "apiany", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
        if ok:
            assert proc.returncode == 0, proc.stderr
        return proc

    run.url = url
    run("migrate")
    return run


def test_operator_workflow(cli):
    assert "created" in cli("seed").stdout
    second = cli("seed").stdout
    assert "created 0" in second or "unchanged" in second
    assert cli("users", "create", "--email", "Dev@Example.com", "--password", "long password 1").returncode == 0
    assert cli("balance", "--email", "dev@example.com").stdout.strip() == "100"
    granted = cli("credits", "grant", "--email", "dev@example.com", "--credits", "25.5", "--reason", "promo")
    assert "granted 25.5 credits" in granted.stdout
    assert cli("balance", "--email", "dev@example.com").stdout.strip() == "125.5"
    cli("credits", "grant", "--email", "dev@example.com", "--credits", "-0.5", "--reason", "fix")
    assert cli("balance", "--email", "dev@example.com").stdout.strip() == "125"
    key = cli("keys", "create", "--email", "dev@example.com", "--name", "ci", "--rpm", "60",
              "--budget", "10", "--models", "sandbox-chat,sandbox-embed", "--log-content").stdout
    assert key.count("\n") == 1 and key.startswith("sk-")
    engine = create_engine(cli.url)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT rpm_limit, budget, log_content, key_hash FROM api_keys")).one()
    assert tuple(row) == (60, 10_000_000, 1, hash_token(key.strip()))
    assert cli("ledger", "verify").returncode == 0


def test_ledger_verify_fails_after_a_hand_edit(cli):
    cli("users", "create", "--email", "a@example.com", "--password", "long password 1")
    engine = create_engine(cli.url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE ledger_entries SET amount = amount + 1 WHERE id = (SELECT max(id) FROM ledger_entries)"))
    proc = cli("ledger", "verify", ok=False)
    assert proc.returncode == 1 and "problem" in proc.stderr


@pytest.mark.parametrize("args, message", [
    (("balance", "--email", "nobody@example.com"), "no user with email"),
    (("credits", "grant", "--email", "a@example.com", "--credits", "ten", "--reason", "x"), "--credits"),
    (("credits", "grant", "--email", "a@example.com", "--credits", "0.0000001", "--reason", "x"), "--credits"),
    (("credits", "grant", "--email", "a@example.com", "--credits", "5", "--reason", " "), "--reason"),
    (("keys", "create", "--email", "a@example.com", "--name", "k", "--models", "nope"), "unknown model"),
    (("seed", "/does/not/exist.yaml"), "not found"),
    (("keys", "create", "--email", "a@example.com", "--name", "k", "--rpm", "0"), "--rpm"),
    (("keys", "create", "--email", "a@example.com", "--name", "k", "--budget", "-1"), "--budget"),
    (("keys", "create", "--email", "a@example.com", "--name", ""), "--name"),
])
def test_clear_errors(cli, args, message):
    cli("users", "create", "--email", "a@example.com", "--password", "long password 1")
    proc = cli(*args, ok=False)
    assert proc.returncode == 2
    assert message in proc.stderr


def test_every_command_has_help(cli):
    for args in (("migrate",), ("seed",), ("users", "create"), ("credits", "grant"), ("balance",),
                 ("keys", "create"), ("ledger", "verify"), ("sandbox",)):
        assert "usage:" in cli(*args, "--help").stdout


def test_serve_api_serves_the_sandbox_on_its_own_port(cli, tmp_path):
    """`serve-api` alone, as a new user would start it: the sandbox mounted
    in it answers on the port given (not APIANY_PORT's default)."""
    import httpx

    from tests.servers import free_port, wait_for

    cli("seed")
    cli("users", "create", "--email", "api@example.com", "--password", "long password 1")
    key = cli("keys", "create", "--email", "api@example.com", "--name", "api").stdout.strip()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("APIANY_") or k.startswith("APIANY_TEST")}
    env.update(APIANY_DATABASE_URL=cli.url, APIANY_JOBS="0", APIANY_SANDBOX="1")
    proc = subprocess.Popen([sys.executable, "-m", "apiany", "serve-api", "--host", "127.0.0.1",
                             "--port", str(port)], cwd=ROOT, env=env)
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz")
        r = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", timeout=30,
                       headers={"authorization": f"Bearer {key}"},
                       json={"model": "sandbox-chat", "messages": [{"role": "user", "content": "hi"}]})
    finally:
        proc.terminate()
        proc.wait(15)
    assert r.status_code == 200, r.text
    assert r.json()["object"] == "chat.completion"
    assert float(cli("balance", "--email", "api@example.com").stdout) < 100
