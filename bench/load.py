"""Load generation: wrk (compiled, so the load generator does not eat the
gateways' CPU) with a Lua script for POST bodies that counts statuses and,
for APIAny, logs every response's x-request-id so the run can prove each
request has its usage row. Plus a sequential time-to-first-byte probe for
streams (wrk times whole responses)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import time
from pathlib import Path

import aiohttp

LUA = r"""
local threads, counter = {}, 0
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/json"
local auth = os.getenv("BENCH_AUTH") or ""
if auth ~= "" then wrk.headers["Authorization"] = "Bearer " .. auth end

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  ok, bad, n = 0, 0, 0
  local path = os.getenv("BENCH_IDS") or ""
  if path ~= "" then ids = io.open(path .. "." .. tid, "w") end
end

function response(status, headers, body)
  if status == 200 then ok = ok + 1 else bad = bad + 1 end
  if ids then
    ids:write((headers["x-request-id"] or "-") .. " " .. status .. "\n")
    n = n + 1
    if n % 64 == 0 then ids:flush() end
  end
end

function done(summary, latency, requests)
  local good, errs = 0, 0
  for _, t in ipairs(threads) do good = good + t:get("ok"); errs = errs + t:get("bad") end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "ok": %d, "bad_status": %d, ' ..
    '"socket_errors": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, good, errs, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def wrk_path() -> str | None:
    return shutil.which("wrk")


def run_wrk(url: str, body: dict, *, auth: str = "", connections: int, seconds: float,
            workdir: Path, ids_path: Path | None = None) -> dict:
    script = workdir / "post.lua"
    if not script.exists():
        script.write_text(LUA)
    threads = 1 if connections < 8 else 2
    env = {**os.environ, "BENCH_BODY": json.dumps(body), "BENCH_AUTH": auth,
           "BENCH_IDS": str(ids_path) if ids_path else ""}
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(seconds, 1):.0f}s",
           "--timeout", "10s", "-s", str(script), url]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60)
    match = re.search(r"^BENCH (\{.*\})$", out.stdout, re.M)
    if not match:
        raise RuntimeError(f"wrk gave no result: {out.stdout[-500:]} {out.stderr[-500:]}")
    raw = json.loads(match.group(1))
    secs = raw["duration_us"] / 1e6
    return {"requests": raw["requests"], "rps": round(raw["ok"] / secs, 1), "ok": raw["ok"],
            "errors": raw["bad_status"] + raw["socket_errors"],
            "p50_ms": raw["p50_us"] / 1000, "p90_ms": raw["p90_us"] / 1000,
            "p99_ms": raw["p99_us"] / 1000, "max_ms": raw["max_us"] / 1000}


async def _ttfb(url: str, body: dict, auth: str, n: int) -> list[float]:
    headers = {"content-type": "application/json"}
    if auth:
        headers["authorization"] = f"Bearer {auth}"
    data = json.dumps(body).encode()
    samples, failures = [], []
    async with aiohttp.ClientSession() as client:
        for i in range(n + 20):
            t = time.perf_counter()
            async with client.post(url, data=data, headers=headers) as resp:
                await resp.content.readany()
                first = time.perf_counter() - t
                rest = await resp.read()
            if resp.status != 200:
                failures.append(f"{resp.status} {rest[:200]!r}")
            elif i >= 20:  # warm-up
                samples.append(first * 1000)
    return samples, failures


def ttfb_probe(url: str, body: dict, *, auth: str = "", n: int = 300) -> dict:
    """Sequential streams: median and p99 time to the first body chunk."""
    samples, failures = asyncio.run(_ttfb(url, body, auth, n))
    samples.sort()
    if not samples:
        return {"requests": n, "ttfb_p50_ms": None, "ttfb_p99_ms": None, "errors": len(failures),
                "first_error": failures[0] if failures else ""}
    return {"requests": n, "ttfb_p50_ms": round(statistics.median(samples), 3),
            "ttfb_p99_ms": round(samples[max(int(len(samples) * 0.99) - 1, 0)], 3),
            "errors": len(failures), "first_error": failures[0] if failures else ""}


def read_ids(ids_dir: Path) -> dict[str, int]:
    """request id -> HTTP status, from every file wrk's threads wrote."""
    out: dict[str, int] = {}
    for path in ids_dir.iterdir():
        for line in path.read_text().splitlines():
            rid, _, status = line.partition(" ")
            if rid and status:
                out[rid] = int(status)
    return out
