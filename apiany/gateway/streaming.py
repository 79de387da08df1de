"""Streaming calls. Before answering the client we read the upstream until
its first piece of content (or its end): a stream that fails before any
content falls back to the next channel and costs nothing. After that,
chunks are forwarded as they arrive; the request is billed from the
upstream's final usage, or for what was delivered when the stream was cut,
failed midway or the client went away (then the upstream connection is
closed at once)."""

from __future__ import annotations

import asyncio

import aiohttp
from starlette.responses import StreamingResponse

from apiany.gateway.accounting import HealthChange, finalize_request
from apiany.gateway.cache import Catalog
from apiany.gateway.dbpool import submit_db, work_to_come
from apiany.gateway.routing import Candidate
from apiany.gateway.upstream import open_upstream, read_body
from apiany.providers import get_adapter
from apiany.providers.base import ProviderError, StreamParser, error_event

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


async def _prefetch(resp: aiohttp.ClientResponse, parser: StreamParser) -> list[bytes]:
    """Events up to and including the first one carrying content."""
    events: list[bytes] = []
    try:
        async for chunk in resp.content.iter_any():
            events.extend(parser.feed(chunk))
            if parser.delivered_text_tokens or parser.done or parser.error:
                return events
    except asyncio.TimeoutError:
        raise ProviderError("timeout", "upstream stream timed out", status=resp.status) from None
    except aiohttp.ClientError:
        pass  # a cut: close() below reports it
    events.extend(parser.close())
    return events


async def stream_call(gw, call, catalog: Catalog, plan: list[Candidate]):
    health: list[HealthChange] = []

    async def attempt(cand: Candidate):
        adapter = get_adapter(cand.channel.protocol)
        resp = None
        try:
            req = adapter.build_request(gw.channel_config(cand), call.request_type, call.parsed.body,
                                        cand.upstream_model)
            resp = await open_upstream(req, connect_timeout=gw.settings.upstream_connect_timeout_seconds)
            if resp.status >= 400:
                raise adapter.map_error(resp.status, await read_body(resp), resp.headers)
            parser = adapter.stream_parser(call.request_type, client_wants_usage=req.client_wants_usage,
                                           model=cand.model.public_id)
            first = await _prefetch(resp, parser)
            if parser.error is not None and not parser.delivered_text_tokens:
                raise parser.error
        except ProviderError:
            if resp is not None:
                resp.close()
            raise
        return resp, parser, first

    served = await gw.first_success(call, plan, health, attempt)
    if not isinstance(served, tuple):
        return await gw.fail(call, served, health)
    cand, (resp, parser, first) = served
    call.draft.ttft_ms = call.elapsed_ms()
    started: list[bool] = []
    relay = _relay(gw, call, catalog, cand, resp, parser, first, health, started)

    def never_started() -> None:
        resp.close()
        _settle_stream(gw, call, catalog, cand, parser, "client_closed", health, None, nothing_sent=True)

    return SettlingStream(relay, started, never_started, media_type="text/event-stream",
                          headers={**SSE_HEADERS, **call.headers()})


class SettlingStream(StreamingResponse):
    """The relay settles in its own `finally` once it runs; but when the
    client is gone before the server takes the first chunk, the generator
    never starts and that `finally` never runs. Then this settles instead
    (nothing was delivered: the hold is released, the usage row says
    client_closed)."""

    def __init__(self, relay, started: list[bool], never_started, **kwargs):
        super().__init__(relay, **kwargs)
        self._started, self._never_started = started, never_started

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            if not self._started:
                self._never_started()


async def _relay(gw, call, catalog: Catalog, cand: Candidate, resp: aiohttp.ClientResponse,
                 parser: StreamParser, first: list[bytes], health: list[HealthChange],
                 started: list[bool]):
    started.append(True)
    log = [] if call.key.log_content else None
    outcome = "success"
    settled = work_to_come()
    try:
        for event in first:
            if log is not None:
                log.append(event)
            yield event
        if not (parser.done or parser.error):
            try:
                async for chunk in resp.content.iter_any():
                    for event in parser.feed(chunk):
                        if log is not None:
                            log.append(event)
                        yield event
                    if parser.done or parser.error:
                        break
                else:
                    for event in parser.close():
                        yield event
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                parser.error = ProviderError("stream_cut", f"upstream stream broke: {type(exc).__name__}")
        if parser.error is not None:
            outcome = "incomplete"
            yield error_event(parser.error)
    except (asyncio.CancelledError, GeneratorExit):
        outcome = "client_closed"
        raise
    finally:
        resp.close()  # stop reading the upstream at once
        try:
            _settle_stream(gw, call, catalog, cand, parser, outcome, health, log)
        finally:
            settled.set_result(None)


def _settle_stream(gw, call, catalog, cand, parser: StreamParser, outcome: str,
                   health: list[HealthChange], log: list[bytes] | None, *,
                   nothing_sent: bool = False) -> None:
    """Bill from the upstream's usage when it came, else for what was
    delivered; nothing when not one byte reached the client. Runs in the DB
    pool without awaiting, so a cancelled client task cannot stop it."""
    usage = parser.billable_usage(prompt_estimate=gw.prompt_estimate(call))
    delivered = not nothing_sent and (parser.usage is not None or parser.delivered_text_tokens > 0)
    charge, cost, tokens = gw.price(catalog, cand, usage) if delivered else (0, 0, None)
    d = call.draft
    if tokens is not None:
        gw.fill_usage(call, cand, tokens, cost)
    else:
        d.channel_id, d.channel_name, d.upstream_model = cand.channel.id, cand.channel.name, cand.upstream_model
    d.latency_ms = call.elapsed_ms()
    if outcome != "success":
        d.status = outcome
        err = parser.error
        d.error_type = "client_closed" if outcome == "client_closed" else (err.kind if err else "stream_error")
        d.error_summary = ("the client closed the stream early" if outcome == "client_closed"
                           else (err.message if err else "stream ended early"))[:500]
    bodies = gw.bodies(call, b"".join(log).decode("utf-8", "replace")) if log is not None else None
    submit_db(finalize_request, d, hold_id=call.hold_id, charge=charge, bodies=bodies, health=health)
