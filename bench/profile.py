"""Profile APIAny's hot path: the sandbox, APIAny on uvicorn or, with BENCH_APP=reflex, in production mode (fresh SQLite,
or BENCH_DB=postgres), wrk at one concurrency, py-spy sampling every thread
of the app (PROFILE_GIL=1: only the thread holding the GIL). Usage: python -m bench.profile [CONCURRENCY] [SECONDS] [stream]
Writes bench/results/profile-*.txt (py-spy's top functions, `--format raw`
collapsed stacks) for flame graphs or a quick look."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from bench import load, servers
from bench.run import CHAT, STREAM, _database, _prepare

OUT = Path(__file__).resolve().parent / "results"


def main() -> int:
    conns = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 15
    body = STREAM if "stream" in sys.argv[3:] else CHAT
    workdir = Path(tempfile.mkdtemp(prefix="apiany-profile-"))
    procs = []
    try:
        sandbox = servers.start_sandbox(workdir)
        procs.append(sandbox)
        env = servers.app_env(_database(workdir), servers.free_port(), sandbox.base_url, workdir)
        key = _prepare(env)
        app, _ = servers.start_apiany(env, workdir, os.environ.get("BENCH_APP", "uvicorn"))
        procs.append(app)
        url = app.base_url + "/v1/chat/completions"
        load.run_wrk(url, body, auth=key, connections=conns, seconds=2, workdir=workdir)
        OUT.mkdir(exist_ok=True)
        raw = OUT / f"profile-c{conns}-{'stream' if body is STREAM else 'unary'}.txt"
        spy = subprocess.Popen([str(servers.VENV_BIN / "py-spy"), "record", "--pid", str(app.proc.pid),
                                "--duration", str(int(seconds)), "--format", "raw", "--rate", "100",
                                "--output", str(raw), "--nonblocking", "--subprocesses",
                                *(["--gil"] if os.environ.get("PROFILE_GIL") == "1" else [])],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        point: dict = {}
        worker = threading.Thread(target=lambda: point.update(load.run_wrk(
            url, body, auth=key, connections=conns, seconds=seconds, workdir=workdir)))
        worker.start()
        worker.join()
        spy.wait(60)
        print(point)
        print(top(raw))
    finally:
        for p in reversed(procs):
            p.stop()
    return 0


def top(raw: Path, n: int = 40) -> str:
    """Self and total sample counts per function from collapsed stacks."""
    own: dict[str, int] = {}
    total: dict[str, int] = {}
    all_samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        c = int(count)
        all_samples += c
        frames = stack.split(";")
        own[frames[-1]] = own.get(frames[-1], 0) + c
        for frame in set(frames):
            total[frame] = total.get(frame, 0) + c
    lines = [f"{all_samples} samples; top by total:"]
    for frame, c in sorted(total.items(), key=lambda kv: -kv[1])[:n]:
        lines.append(f"{100 * c / all_samples:5.1f}% {100 * own.get(frame, 0) / all_samples:5.1f}%  {frame[:150]}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
