"""Added latency of the gateway over calling the sandbox upstream directly.

Starts the sandbox and the API app (uvicorn, one worker, full accounting:
key auth, hold, settle, usage row, attempts) on a fresh SQLite database,
then sends N sequential non-streaming chat requests to each and prints the
median and p99. Usage: python -m bench.gateway_latency [N]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
BODY = {"model": "sandbox-chat", "messages": [{"role": "user", "content": "hello there"}], "max_tokens": 8}


def _port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str) -> None:
    for _ in range(200):
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def _measure(client: httpx.Client, url: str, headers: dict, n: int) -> list[float]:
    for _ in range(50):  # warm-up
        client.post(url, json=BODY, headers=headers).raise_for_status()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        client.post(url, json=BODY, headers=headers).raise_for_status()
        out.append((time.perf_counter() - t) * 1000)
    return out


def _stats(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"p50_ms": round(statistics.median(ordered), 3),
            "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1], 3)}


def main(n: int = 1000) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="apiany-bench-"))
    sandbox_port, api_port = _port(), _port()
    env = {**os.environ, "APIANY_DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}", "APIANY_JOBS": "0",
           "APIANY_SANDBOX_BASE_URL": f"http://127.0.0.1:{sandbox_port}", "APIANY_PORT": str(api_port)}
    py = [sys.executable, "-m", "apiany"]
    for args in (["migrate"], ["seed"], ["users", "create", "--email", "bench@example.com", "--password", "benchmark!"],
                 ["credits", "grant", "--email", "bench@example.com", "--credits", "100000", "--reason", "bench"]):
        subprocess.run(py + args, env=env, cwd=ROOT, check=True, capture_output=True)
    key = subprocess.run(py + ["keys", "create", "--email", "bench@example.com", "--name", "bench"], env=env,
                         cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()
    procs = [subprocess.Popen(py + ["sandbox", "--port", str(sandbox_port)], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
             subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "apiany.api.app:create_api",
                               "--port", str(api_port), "--log-level", "warning", "--no-access-log"],
                              env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        _wait(f"http://127.0.0.1:{sandbox_port}/v1/models")
        _wait(f"http://127.0.0.1:{api_port}/healthz")
        with httpx.Client(timeout=30) as client:
            direct = _measure(client, f"http://127.0.0.1:{sandbox_port}/v1/chat/completions", {}, n)
            gateway = _measure(client, f"http://127.0.0.1:{api_port}/v1/chat/completions",
                               {"authorization": f"Bearer {key}"}, n)
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)
    result = {"requests": n, "direct": _stats(direct), "gateway": _stats(gateway)}
    result["added_p50_ms"] = round(result["gateway"]["p50_ms"] - result["direct"]["p50_ms"], 3)
    result["added_p99_ms"] = round(result["gateway"]["p99_ms"] - result["direct"]["p99_ms"], 3)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
