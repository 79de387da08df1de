"""The processes of a benchmark run: the sandbox upstream, APIAny (Reflex in
production mode, or uvicorn on the FastAPI factory), the bare pass-through
and the LiteLLM proxy. Each starts in its own process group and is stopped
by its pid; peak RSS is read from /proc (VmHWM) of its process tree."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
BUN_BIN = ROOT / ".tools" / "node_modules" / ".bin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    name: str
    proc: subprocess.Popen
    base_url: str
    log_path: Path
    peak_rss: dict[int, int] = field(default_factory=dict)

    def tree(self) -> list[int]:
        """The leader and every descendant (granian workers, ...)."""
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                children.setdefault(ppid, []).append(int(entry.name))
        out, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            out.append(pid)
            todo.extend(children.get(pid, []))
        return out

    def sample_rss(self) -> None:
        """Remember each process's peak RSS (VmHWM, kB) while it is alive."""
        for pid in self.tree():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                exe = Path(f"/proc/{pid}/exe").resolve().name
            except OSError:
                continue
            if exe in ("bun", "node"):
                continue  # the frontend build, not a gateway worker
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    self.peak_rss[pid] = max(self.peak_rss.get(pid, 0), int(line.split()[1]))

    def cpu_seconds(self) -> float:
        """User + system CPU of the whole process tree so far (a per-request
        cost that a busy machine distorts much less than latency)."""
        total = 0
        for pid in self.tree():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
        return total / os.sysconf("SC_CLK_TCK")

    def peak_worker_mb(self) -> float:
        """The largest child (a granian worker) when there are children, else
        the process itself (uvicorn, aiohttp and LiteLLM serve in-process)."""
        children = [kb for pid, kb in self.peak_rss.items() if pid != self.proc.pid]
        return round(max(children or self.peak_rss.values() or [0]) / 1024, 1)

    def stop(self) -> None:
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(timeout=wait)
                os.killpg(self.proc.pid, signal.SIGKILL)  # stragglers of the group
                return
            except ProcessLookupError:
                return
            except subprocess.TimeoutExpired:
                continue

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def start(name: str, cmd: list[str], *, env: dict, workdir: Path, port: int, health: str,
          timeout: float = 120) -> Server:
    log_path = workdir / f"{name}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    server = Server(name, proc, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=5) as client:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{server.tail()}")
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"{name} did not answer {health} in {timeout:.0f}s:\n{server.tail()}")
            try:
                if client.get(server.base_url + health).status_code == 200:
                    return server
            except httpx.HTTPError:
                pass
            time.sleep(0.3)


def app_env(db_url: str, port: int, sandbox_url: str, workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APIANY_", "REFLEX_"))}
    env.update({
        "APIANY_DATABASE_URL": db_url, "APIANY_PORT": str(port), "APIANY_JOBS": "0",
        "APIANY_SANDBOX": "0", "APIANY_SANDBOX_BASE_URL": sandbox_url,
        "PATH": f"{BUN_BIN}{os.pathsep}{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        "REFLEX_USE_SYSTEM_BUN": "1", "REFLEX_CHECK_LATEST_VERSION": "0", "PYTHONUNBUFFERED": "1",
        "REFLEX_WEB_WORKDIR": str(workdir / "web"), "REFLEX_STATES_WORKDIR": str(workdir / "states"),
        "REFLEX_UPLOADED_FILES_DIR": str(workdir / "uploads"),
    })
    return env


def start_sandbox(workdir: Path) -> Server:
    port = free_port()
    return start("sandbox", [sys.executable, "-m", "apiany", "sandbox", "--port", str(port)],
                 env=dict(os.environ), workdir=workdir, port=port, health="/v1/models")


def start_apiany(env: dict[str, str], workdir: Path, mode: str) -> tuple[Server, str]:
    """Reflex in production mode on one port; uvicorn on the FastAPI factory
    when asked (BENCH_APP=uvicorn) or when the Reflex start fails."""
    port = int(env["APIANY_PORT"])
    if mode == "reflex":
        try:
            cmd = [str(VENV_BIN / "reflex"), "run", "--env", "prod", "--frontend-port", str(port),
                   "--backend-port", str(port)]
            return start("apiany", cmd, env=env, workdir=workdir, port=port, health="/healthz",
                         timeout=300), "reflex run --env prod (granian, 1 worker)"
        except RuntimeError as exc:
            print(f"reflex prod did not start, falling back to uvicorn: {str(exc)[:300]}")
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "apiany.api.app:create_api", "--port",
           str(port), "--log-level", "warning", "--no-access-log"]
    return start("apiany", cmd, env=env, workdir=workdir, port=port, health="/healthz"), \
        "uvicorn apiany.api.app:create_api (1 worker)"


def start_api_only(env: dict[str, str], workdir: Path) -> Server:
    """`python -m apiany serve-api`: the gateway without the Reflex console
    (granian, one worker), on the same database."""
    port = free_port()
    cmd = [sys.executable, "-m", "apiany", "serve-api", "--host", "127.0.0.1", "--port", str(port),
           "--workers", "1"]
    return start("apiany_api", cmd, env=env, workdir=workdir, port=port, health="/healthz")


def start_passthrough(sandbox_url: str, workdir: Path) -> Server:
    port = free_port()
    return start("passthrough", [sys.executable, "-m", "bench.passthrough", sandbox_url, str(port)],
                 env=dict(os.environ), workdir=workdir, port=port, health="/v1/models")


LITELLM_CONFIG = """model_list:
  - model_name: sandbox-chat
    litellm_params:
      model: openai/sandbox-chat
      api_base: {base}/v1
      api_key: sk-sandbox
litellm_settings:
  drop_params: true
  telemetry: false
general_settings:
  master_key: {key}
"""
LITELLM_KEY = "sk-bench-master"


def start_litellm(python: Path, sandbox_url: str, workdir: Path) -> Server:
    port = free_port()
    config = workdir / "litellm.yaml"
    config.write_text(LITELLM_CONFIG.format(base=sandbox_url, key=LITELLM_KEY))
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR",
           "LITELLM_TELEMETRY": "False", "DISABLE_SCHEMA_UPDATE": "True"}
    cmd = [str(python.parent / "litellm"), "--config", str(config), "--host", "127.0.0.1",
           "--port", str(port), "--num_workers", "1"]
    return start("litellm", cmd, env=env, workdir=workdir, port=port,
                 health="/health/liveliness", timeout=180)
