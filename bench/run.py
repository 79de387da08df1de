"""`make bench`: APIAny (the full app in production mode, and the API-only
gateway server `python -m apiany serve-api`) side by side with calling the
upstream directly, a bare aiohttp pass-through and the LiteLLM proxy, under
the same wrk load:
non-streaming and streaming, concurrency 1 / 32 / 128, BENCH_SECONDS (20)
per point after a BENCH_WARMUP (3) second warm-up. Then checks correctness:
every APIAny request has its usage row, `ledger verify` passes, the balance
dropped by exactly the credits charged. Writes bench/results/latest.json and
the table in docs/benchmarks.md.

Environment: BENCH_SECONDS, BENCH_WARMUP, BENCH_CONCURRENCY (1,32,128),
BENCH_APP (reflex | uvicorn), BENCH_DB (sqlite | postgres: a fresh database
`apiany_bench` on BENCH_PG_URL, default the local test server),
BENCH_LITELLM=0 to skip LiteLLM, BENCH_API_ONLY=0 to skip the API-only server,
BENCH_DOCS=0 to leave docs/benchmarks.md alone.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import litellm_env, load, report, servers
from bench.servers import ROOT

CHAT = {"model": "sandbox-chat", "messages": [{"role": "user", "content": "hello there"}],
        "max_tokens": 16}
STREAM = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
EMAIL = "bench@example.com"


def _env_list(name: str, default: str) -> list[int]:
    return [int(x) for x in os.environ.get(name, default).split(",") if x.strip()]


def _database(workdir: Path) -> str:
    if os.environ.get("BENCH_DB", "sqlite") != "postgres":
        return f"sqlite:///{workdir / 'bench.db'}"
    import psycopg

    base = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS apiany_bench WITH (FORCE)")
        conn.execute("CREATE DATABASE apiany_bench")
    return "postgresql+psycopg://" + base.split("://", 1)[1].rsplit("/", 1)[0] + "/apiany_bench"


def _cli(env: dict, *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "apiany", *args], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise RuntimeError(f"apiany {' '.join(args)} failed: {out.stdout}{out.stderr}")
    return out.stdout.strip()


def _prepare(env: dict) -> str:
    _cli(env, "migrate")
    _cli(env, "seed")
    _cli(env, "users", "create", "--email", EMAIL, "--password", "benchmark-password!")
    _cli(env, "credits", "grant", "--email", EMAIL, "--credits", "1000000", "--reason", "bench")
    return _cli(env, "keys", "create", "--email", EMAIL, "--name", "bench", "--rpm", "1000000")


def _ledger_state(db_url: str) -> dict:
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    with engine.connect() as conn:
        balance, held = conn.execute(text(
            "SELECT a.balance, a.held FROM ledger_accounts a JOIN users u ON u.id = a.user_id "
            "WHERE u.email = :e"), {"e": EMAIL}).one()
        charged, rows = conn.execute(text(
            "SELECT COALESCE(SUM(credits_charged), 0), COUNT(*) FROM usage_records")).one()
        ids = {rid: (status, credits) for rid, status, credits in conn.execute(text(
            "SELECT request_id, status, credits_charged FROM usage_records"))}
    engine.dispose()
    return {"balance": balance, "held": held, "charged": charged, "usage_rows": rows, "ids": ids}


def _check(env: dict, db_url: str, before: dict, ids_dir: Path, errors: int) -> dict:
    after = _ledger_state(db_url)
    seen = load.read_ids(ids_dir)
    ok_ids = [rid for rid, status in seen.items() if status == 200]
    missing = [rid for rid in ok_ids if rid not in after["ids"]]
    unbilled = [rid for rid in ok_ids if rid in after["ids"]
                and (after["ids"][rid][0] != "success" or after["ids"][rid][1] <= 0)]
    verify = subprocess.run([sys.executable, "-m", "apiany", "ledger", "verify"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=600)
    drop = before["balance"] - after["balance"]
    charged = after["charged"] - before["charged"]
    result = {
        "responses_logged": len(seen), "responses_200": len(ok_ids),
        "usage_rows": after["usage_rows"] - before["usage_rows"],
        "responses_without_usage_row": len(missing), "ok_responses_not_billed": len(unbilled),
        "ledger_verify_ok": verify.returncode == 0,
        "ledger_verify_output": (verify.stdout + verify.stderr).strip()[-500:],
        "balance_drop_units": drop, "charged_units": charged, "held_left_units": after["held"],
        "non_200_responses": len(seen) - len(ok_ids), "request_errors": errors,
    }
    result["passed"] = (not missing and not unbilled and result["ledger_verify_ok"]
                        and drop == charged and after["held"] == 0 and errors == 0
                        and result["non_200_responses"] == 0)
    return result


def _targets(sandbox, apiany, api_only, key, passthrough, litellm) -> list[tuple[str, str, str, object]]:
    out = [("direct", sandbox.base_url + "/v1/chat/completions", "", sandbox),
           ("apiany", apiany.base_url + "/v1/chat/completions", key, apiany)]
    if api_only is not None:
        out.append(("apiany_api", api_only.base_url + "/v1/chat/completions", key, api_only))
    out.append(("passthrough", passthrough.base_url + "/v1/chat/completions", "", passthrough))
    if litellm is not None:
        out.append(("litellm", litellm.base_url + "/v1/chat/completions", servers.LITELLM_KEY,
                    litellm))
    return out


def main() -> int:
    began = time.monotonic()
    seconds = float(os.environ.get("BENCH_SECONDS", "20"))
    warmup = float(os.environ.get("BENCH_WARMUP", "3"))
    levels = _env_list("BENCH_CONCURRENCY", "1,32,128")
    if load.wrk_path() is None:
        print("wrk is not installed (apt-get install wrk)")
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="apiany-bench-"))
    ids_dir = workdir / "ids"
    ids_dir.mkdir()
    litellm_py, litellm_note = (None, "skipped (BENCH_LITELLM=0)")
    if os.environ.get("BENCH_LITELLM", "1") != "0":
        print("LiteLLM: checking bench/.venv-litellm (installs on first run) ...", flush=True)
        litellm_py, why = litellm_env.ensure()
        litellm_note = f"litellm[proxy]=={litellm_env.VERSION}" if litellm_py else why
    db_url = _database(workdir)
    procs: list[servers.Server] = []
    results: dict = {"points": [], "ttfb": {}}
    try:
        sandbox = servers.start_sandbox(workdir)
        procs.append(sandbox)
        env = servers.app_env(db_url, servers.free_port(), sandbox.base_url, workdir)
        key = _prepare(env)
        apiany, app_mode = servers.start_apiany(env, workdir, os.environ.get("BENCH_APP", "reflex"))
        procs.append(apiany)
        api_only = None
        if os.environ.get("BENCH_API_ONLY", "1") != "0":
            api_only = servers.start_api_only(env, workdir)
            procs.append(api_only)
        passthrough = servers.start_passthrough(sandbox.base_url, workdir)
        procs.append(passthrough)
        litellm = None
        if litellm_py is not None:
            try:
                litellm = servers.start_litellm(litellm_py, sandbox.base_url, workdir)
                procs.append(litellm)
            except RuntimeError as exc:
                litellm_note = f"LiteLLM did not start: {str(exc)[:400]}"
        print(f"servers up in {time.monotonic() - began:.0f}s; APIAny: {app_mode}", flush=True)
        before = _ledger_state(db_url)
        errors = 0
        targets = _targets(sandbox, apiany, api_only, key, passthrough, litellm)
        for mode, body in (("unary", CHAT), ("stream", STREAM)):
            for conns in levels:
                for name, url, auth, server in targets:
                    ids = ids_dir / f"{name}-{mode}-{conns}.ids" if name.startswith("apiany") else None
                    if warmup > 0:
                        load.run_wrk(url, body, auth=auth, connections=conns, seconds=warmup,
                                     workdir=workdir, ids_path=ids and ids.with_suffix(".warm.ids"))
                    cpu = server.cpu_seconds()
                    point = load.run_wrk(url, body, auth=auth, connections=conns, seconds=seconds,
                                         workdir=workdir, ids_path=ids)
                    cpu = server.cpu_seconds() - cpu
                    point["cpu_ms_per_request"] = round(1000 * cpu / max(point["ok"], 1), 3)
                    server.sample_rss()
                    point.update(target=name, mode=mode, concurrency=conns)
                    results["points"].append(point)
                    errors += point["errors"] if name.startswith("apiany") else 0
                    print(f"{mode:6} c={conns:<4} {name:12} {point['rps']:>8} req/s  "
                          f"p50 {point['p50_ms']:7.2f} ms  p99 {point['p99_ms']:7.2f} ms  "
                          f"cpu {point['cpu_ms_per_request']:6.2f} ms/req  errors {point['errors']}", flush=True)
        for name, url, auth, server in targets:
            results["ttfb"][name] = load.ttfb_probe(url, STREAM, auth=auth,
                                                    n=int(os.environ.get("BENCH_TTFB_N", "300")))
            server.sample_rss()
        results["peak_rss_mb"] = {s.name: s.peak_worker_mb() for s in procs}
        time.sleep(1)  # streams cut by wrk's stop finish their billing
        results["correctness"] = _check(env, db_url, before, ids_dir, errors)
    finally:
        for server in reversed(procs):
            server.stop()
    results["meta"] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "seconds_per_point": seconds,
        "warmup_seconds": warmup, "concurrency": levels, "apiany": app_mode,
        "database": db_url.split(":", 1)[0], "litellm": litellm_note,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} "
                   f"{platform.python_version()}, {platform.platform(terse=True)}",
        "wall_seconds": round(time.monotonic() - began),
    }
    report.finish(results, write_docs=os.environ.get("BENCH_DOCS", "1") != "0")
    return 0 if results["correctness"]["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
