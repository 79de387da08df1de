"""Fixtures for the sandbox upstream: an in-process ASGI client per test and
one real uvicorn server per session (for the OpenAI SDK and real cuts)."""

from __future__ import annotations

import json
import socket
import threading
import time

import httpx
import pytest
import uvicorn

from apiany.sandbox import create_sandbox_app


@pytest.fixture
def sandbox_app():
    return create_sandbox_app()


@pytest.fixture
async def client(sandbox_app):
    transport = httpx.ASGITransport(app=sandbox_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as c:
        yield c


@pytest.fixture(scope="session")
def sandbox_server():
    """(base_url, app) of a sandbox served by uvicorn on a free local port."""
    app = create_sandbox_app()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "sandbox server did not start"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}", app
    server.should_exit = True
    thread.join(5)
    sock.close()


def sse_data(text: str) -> list[str]:
    """The `data:` payloads of an SSE body, in order."""
    out = []
    for block in text.split("\n\n"):
        lines = [line[6:] for line in block.split("\n") if line.startswith("data: ")]
        if lines:
            out.append("\n".join(lines))
    return out


@pytest.fixture
def sse():
    def parse(text: str) -> tuple[list[dict], list[str]]:
        """(decoded JSON events, raw payloads) of an SSE body; raw keeps [DONE]
        and anything undecodable."""
        raw = sse_data(text)
        decoded = []
        for payload in raw:
            try:
                decoded.append(json.loads(payload))
            except ValueError:
                pass
        return decoded, raw
    return parse
