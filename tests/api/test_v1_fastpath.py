"""The production front layer sends only the hot /v1 POSTs to the gateway;
everything else, and CORS requests, reach the full app unchanged."""

from __future__ import annotations

import httpx
import pytest
from starlette.responses import JSONResponse, PlainTextResponse

from apiany.api.v1_fastpath import V1FastPath


class FakeGateway:
    def __init__(self, fail: bool = False):
        self.calls: list[tuple[str, str, bytes]] = []
        self.fail = fail

    async def handle(self, request, kind):
        body = await request.body()
        self.calls.append((request.url.path, kind, body))
        if self.fail:
            raise RuntimeError("boom")
        return JSONResponse({"served_by": "gateway", "kind": kind}, headers={"x-request-id": "req_1"})


async def inner_app(scope, receive, send):
    if scope["type"] != "http":
        return
    response = PlainTextResponse(f"inner {scope['method']} {scope['path']}")
    await response(scope, receive, send)


def client(gateway) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=V1FastPath(inner_app, gateway)),
                             base_url="http://test")


@pytest.mark.parametrize("path,kind", [("/v1/chat/completions", "chat"), ("/v1/embeddings", "embedding"),
                                       ("/v1/responses", "responses")])
async def test_hot_routes_go_to_the_gateway(path, kind):
    gateway = FakeGateway()
    async with client(gateway) as c:
        r = await c.post(path, content=b'{"model": "m"}')
    assert r.status_code == 200
    assert r.json() == {"served_by": "gateway", "kind": kind}
    assert gateway.calls == [(path, kind, b'{"model": "m"}')]


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "HEAD"])
async def test_other_methods_on_the_hot_routes_are_405(method):
    gateway = FakeGateway()
    async with client(gateway) as c:
        r = await c.request(method, "/v1/chat/completions")
    assert r.status_code == 405
    assert r.headers["allow"] == "POST"
    if method != "HEAD":
        assert r.json()["error"]["code"] == "method_not_allowed"
    assert gateway.calls == []


@pytest.mark.parametrize("method,path", [("OPTIONS", "/v1/chat/completions"), ("GET", "/v1/models"),
                                         ("POST", "/v1/images/generations"), ("POST", "/api/keys"),
                                         ("GET", "/healthz"), ("POST", "/v1/chat/completions/x")])
async def test_everything_else_reaches_the_full_app(method, path):
    gateway = FakeGateway()
    async with client(gateway) as c:
        r = await c.request(method, path)
    assert (r.status_code, r.text) == (200, f"inner {method} {path}")
    assert gateway.calls == []


async def test_browser_requests_keep_cors_handling():
    gateway = FakeGateway()
    async with client(gateway) as c:
        r = await c.post("/v1/chat/completions", content=b"{}", headers={"origin": "https://example.com"})
    assert r.text == "inner POST /v1/chat/completions"
    assert gateway.calls == []


async def test_an_unexpected_error_is_a_500_in_the_api_format():
    async with client(FakeGateway(fail=True)) as c:
        r = await c.post("/v1/chat/completions", content=b"{}")
    assert r.status_code == 500
    assert r.json()["error"]["type"] == "server_error"
    assert r.headers["x-request-id"].startswith("req_")


async def test_the_api_only_server_answers_cors_like_the_full_app(db_url):
    from apiany.api.server import create_gateway_server

    transport = httpx.ASGITransport(app=create_gateway_server())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        pre = await c.options("/v1/chat/completions", headers={
            "origin": "https://app.example", "access-control-request-method": "POST",
            "access-control-request-headers": "authorization,content-type"})
        post = await c.post("/v1/chat/completions", content=b"{}",
                            headers={"origin": "https://app.example"})
    assert pre.status_code == 200
    assert pre.headers["access-control-allow-origin"] == "https://app.example"
    assert "authorization" in pre.headers["access-control-allow-headers"].lower()
    assert post.status_code == 401  # no key: the gateway's answer, with CORS headers
    assert post.headers["access-control-allow-origin"] == "https://app.example"
