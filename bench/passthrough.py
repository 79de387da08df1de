"""A bare aiohttp pass-through proxy: no auth, no accounting. The floor any
Python gateway on this stack can reach. Usage:
python -m bench.passthrough UPSTREAM_BASE_URL PORT"""

from __future__ import annotations

import sys

import aiohttp
from aiohttp import web

HOP = {"content-length", "transfer-encoding", "connection", "content-encoding"}


def make_app(upstream: str) -> web.Application:
    app = web.Application()

    async def start(app: web.Application) -> None:
        app["client"] = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=60), auto_decompress=False)

    async def stop(app: web.Application) -> None:
        await app["client"].close()

    async def proxy(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        async with app["client"].request(request.method, upstream + request.path_qs, data=body,
                                         headers={"content-type": "application/json"}) as up:
            headers = {k: v for k, v in up.headers.items() if k.lower() not in HOP}
            if up.headers.get("content-type", "").startswith("text/event-stream"):
                resp = web.StreamResponse(status=up.status, headers=headers)
                await resp.prepare(request)
                async for chunk in up.content.iter_any():
                    await resp.write(chunk)
                await resp.write_eof()
                return resp
            return web.Response(status=up.status, body=await up.read(), headers=headers)

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    app.router.add_route("*", "/{tail:.*}", proxy)
    return app


if __name__ == "__main__":
    web.run_app(make_app(sys.argv[1].rstrip("/")), host="127.0.0.1", port=int(sys.argv[2]),
                access_log=None, print=None)
