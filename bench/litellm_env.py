"""Install LiteLLM for the benchmark in its own venv (bench/.venv-litellm),
exactly `litellm[proxy]==1.81.13`, refusing any wheel whose sha256 is not the
pinned one (later releases were compromised). Idempotent; returns the venv's
python, or None (with the reason) when it cannot be installed."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

VERSION = "1.81.13"
SHA256 = "ae4aea2a55e85993f5f6dd36d036519422d24812a1a3e8540d9e987f2d7a4304"
HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-litellm"
WHEELS = HERE / ".wheels"
PY = VENV / "bin" / "python"


def _run(*args: str, timeout: float = 600) -> None:
    subprocess.run(args, check=True, timeout=timeout, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)


def installed() -> bool:
    if not PY.exists():
        return False
    probe = subprocess.run([str(PY), "-c", "import importlib.metadata as m, litellm.proxy;"
                            "print(m.version('litellm'))"], capture_output=True, text=True)
    return probe.returncode == 0 and probe.stdout.strip() == VERSION


def ensure() -> tuple[Path | None, str]:
    """(python of the venv, "") when ready, else (None, why not)."""
    if installed():
        return PY, ""
    try:
        if not PY.exists():
            _run(sys.executable, "-m", "venv", str(VENV))
            _run(str(PY), "-m", "pip", "install", "--quiet", "--upgrade", "pip")
        WHEELS.mkdir(exist_ok=True)
        wheel = WHEELS / f"litellm-{VERSION}-py3-none-any.whl"
        if not wheel.exists():
            _run(str(PY), "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                 "-d", str(WHEELS), f"litellm=={VERSION}")
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != SHA256:
            wheel.unlink()
            return None, f"litellm {VERSION} wheel sha256 {digest} != pinned {SHA256}; not installed"
        # The wheel itself is the verified file; pip installs it, plus the
        # [proxy] extras' dependencies, from the local path.
        _run(str(PY), "-m", "pip", "install", "--quiet", f"{wheel}[proxy]", timeout=900)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        err = getattr(exc, "stderr", b"") or b""
        return None, f"cannot install litellm[proxy]=={VERSION}: {exc} {err.decode(errors='replace')[-300:]}"
    return (PY, "") if installed() else (None, "litellm installed but `litellm.proxy` does not import")


if __name__ == "__main__":
    path, why = ensure()
    print(path or why)
    sys.exit(0 if path else 1)
