"""Media endpoints on the same pipeline as text: images, speech (binary,
streamed through as it arrives) and transcription/translation (multipart).
`MediaSpec` tells `Gateway.admit` how to read and price the body; the call
then routes with fallback like any other and is charged only on success,
per unit (images by size and quality, speech per character, audio per
second: the duration the upstream reports, else the one we measure)."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from typing import Callable

import aiohttp
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from apiany.core.errors import InvalidRequest
from apiany.gateway.accounting import HealthChange, finalize_request
from apiany.gateway.cache import Catalog, ModelInfo
from apiany.gateway.dbpool import run_db_shielded, submit_db, work_to_come
from apiany.gateway.pipeline import ZERO, Call, Gateway, new_request_id
from apiany.gateway.requests import ParsedBody, parse_json_object
from apiany.gateway.routing import Candidate, plan_candidates
from apiany.gateway.upstream import open_upstream, read_body
from apiany.providers.openai_media import FilePart, get_media_adapter, speech_content_type, wav_seconds
from apiany.services.media_pricing import MILLI, MediaQuantity, image_key, media_cost, video_key

BYTES_PER_AUDIO_MS = 16  # unknown audio formats: assume 128 kbit/s when estimating


@dataclass(slots=True)
class MediaBody(ParsedBody):
    op: str = ""
    fields: dict = field(default_factory=dict)  # what goes upstream (model replaced)
    files: list[FilePart] = field(default_factory=list)
    multipart: bool = False
    quantity: MediaQuantity = field(default_factory=MediaQuantity)  # the estimate


@dataclass(slots=True)
class MediaSpec:
    """How admit() reads and prices one media endpoint's body."""

    op: str
    limit: int
    reference: tuple[str, str] | None = None  # what the hold and consumption reference
    check: Callable[[MediaBody], None] | None = None

    def parse(self, raw: bytes, content_type: str) -> MediaBody:
        return parse_media(self.op, raw, content_type, self.check)

    def estimate(self, model: ModelInfo, parsed: MediaBody) -> int:
        parsed.quantity = quantity_for(parsed, model)
        return media_cost(model.prices, model.unit_prices, parsed.quantity)


# --- reading bodies ------------------------------------------------------------------

_PARAM = re.compile(r';\s*([\w-]+)="?([^";]*)"?')


def parse_multipart(raw: bytes, content_type: str) -> tuple[dict[str, str], list[FilePart]]:
    params = dict((k.lower(), v) for k, v in _PARAM.findall(content_type))
    boundary = params.get("boundary")
    if not boundary:
        raise InvalidRequest("multipart body without a boundary")
    fields: dict[str, str] = {}
    files: list[FilePart] = []
    for part in raw.split(b"--" + boundary.encode())[1:]:
        if part.startswith(b"--"):
            break
        head, sep, data = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not sep:
            raise InvalidRequest("malformed multipart body")
        data = data.removesuffix(b"\r\n")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        disp = dict((k.lower(), v) for k, v in _PARAM.findall(";" + headers.get("content-disposition", "")))
        name = disp.get("name", "").removesuffix("[]")
        if "filename" in disp:
            files.append(FilePart(name, disp["filename"] or "upload",
                                  headers.get("content-type") or "application/octet-stream", data))
        elif name:
            fields[name] = data.decode("utf-8", "replace")
    return fields, files


def _body_of(raw: bytes, content_type: str) -> tuple[dict, list[FilePart], bool]:
    if content_type.startswith("multipart/form-data"):
        fields, files = parse_multipart(raw, content_type)
        return fields, files, True
    return parse_json_object(raw), [], False


def _int_field(body: dict, name: str, default: int, low: int, high: int) -> int:
    value = body.get(name, default)
    try:
        number = int(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        number = None
    if number is None or not low <= number <= high:
        raise InvalidRequest(f"'{name}' must be an integer from {low} to {high}", param=name)
    return number


REQUIRED = {"images.generations": ("prompt",), "images.edits": ("prompt",),
            "audio.speech": ("input",), "audio.transcriptions": (), "audio.translations": (),
            "videos.create": ("prompt",)}
FILES = {"images.edits": "image", "audio.transcriptions": "file", "audio.translations": "file"}


def parse_media(op: str, raw: bytes, content_type: str,
                check: Callable[[MediaBody], None] | None = None) -> MediaBody:
    if not raw.strip():
        raise InvalidRequest("the request body is empty")
    body, files, multipart = _body_of(raw, content_type)
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest("you must provide a model parameter", param="model")
    for name in REQUIRED[op]:
        if not isinstance(body.get(name), str) or not body[name]:
            raise InvalidRequest(f"missing required parameter: '{name}' (a non-empty string)", param=name)
    wanted = FILES.get(op)
    if wanted and not any(f.name == wanted for f in files):
        raise InvalidRequest(f"missing required file upload: '{wanted}' (send multipart/form-data)",
                             param=wanted)
    text = body.get("input") or body.get("prompt") or ""
    parsed = MediaBody(raw=b"" if files else raw, body=body, model=model, stream=False,
                       max_output_tokens=None, input_chars=len(text) if isinstance(text, str) else 0,
                       op=op, fields={k: v for k, v in body.items() if k != "callback_url"},
                       files=files, multipart=multipart)
    if check is not None:
        check(parsed)
    return parsed


def quantity_for(parsed: MediaBody, model: ModelInfo) -> MediaQuantity:
    """The billed quantity as far as the request tells (the estimate)."""
    body, prices = parsed.body, model.unit_prices
    if parsed.op.startswith("images."):
        n = _int_field(body, "n", 1, 1, 10)
        size = body.get("size") or "1024x1024"
        quality = body.get("quality") or "standard"
        size = "1024x1024" if size == "auto" else size
        return MediaQuantity({image_key(prices, str(size), "standard" if quality == "auto" else str(quality)):
                              n * MILLI})
    if parsed.op == "audio.speech":
        return MediaQuantity(characters=parsed.input_chars)
    if parsed.op == "videos.create":
        seconds = _int_field(body, "seconds", 4, 1, 600)
        return MediaQuantity({video_key(prices, str(body.get("size") or "720x1280")): seconds * MILLI})
    audio = next(f.data for f in parsed.files if f.name == "file")
    seconds = wav_seconds(audio)
    ms = -(-len(audio) // BYTES_PER_AUDIO_MS) if seconds is None else int(-(-seconds * 1000 // 1))
    return MediaQuantity({"audio:second": max(ms, 1)})


# --- the calls -----------------------------------------------------------------------

def fill_media_usage(gw: Gateway, call: Call, catalog: Catalog, cand: Candidate,
                     q: MediaQuantity) -> int:
    """Price `q` for the serving channel, fill the usage draft; the charge."""
    key = (cand.channel.name, cand.upstream_model)
    d = call.draft
    d.upstream_cost = media_cost(catalog.costs.get(key, ZERO), catalog.unit_costs.get(key, {}), q)
    d.billed_units, d.unit_kind = q.billed_units, q.kind
    d.upstream_model, d.channel_id, d.channel_name = cand.upstream_model, cand.channel.id, cand.channel.name
    d.latency_ms = call.elapsed_ms()
    return media_cost(cand.model.prices, cand.model.unit_prices, q)


def _actual(parsed: MediaBody, images: int | None, audio_seconds: float | None) -> MediaQuantity:
    q = parsed.quantity
    key = next(iter(q.units), "")
    if images is not None and key:
        return MediaQuantity({key: images * MILLI})
    if audio_seconds is not None and key == "audio:second":
        return MediaQuantity({key: max(1, int(-(-audio_seconds * 1000 // 1)))})
    return q


async def handle_media(gw: Gateway, request: Request, request_type: str, op: str) -> Response:
    request_id, started = new_request_id(), time.perf_counter()
    large = op in ("images.edits", "audio.transcriptions", "audio.translations")
    spec = MediaSpec(op, gw.settings.max_upload_bytes if large else gw.settings.max_request_bytes)
    admitted = await gw.admit(request, request_type, request_id, started, media=spec)
    if isinstance(admitted, Response):
        return admitted
    call = admitted
    catalog = await gw.cache.catalog()
    plan = plan_candidates(catalog, call.model, request_type, gw.health, gw.rng)
    health: list[HealthChange] = []
    parsed: MediaBody = call.parsed  # type: ignore[assignment]
    fmt = parsed.body.get("response_format")

    async def attempt(cand: Candidate):
        adapter = get_media_adapter(cand.channel.protocol)
        req = adapter.build(gw.channel_config(cand), op, parsed.fields, parsed.files,
                            cand.upstream_model, multipart=parsed.multipart)
        resp = await open_upstream(req, connect_timeout=gw.settings.upstream_connect_timeout_seconds)
        if op == "audio.speech":
            if resp.status >= 400:
                raise adapter.map_error(resp.status, await read_body(resp), resp.headers)
            return resp, None, None
        data = await read_body(resp)
        return None, data, adapter.parse(op, resp.status, data, resp.headers, fmt)

    served = await gw.first_success(call, plan, health, attempt)
    if not isinstance(served, tuple):
        return await gw.fail(call, served, health)
    cand, (resp, data, result) = served
    if resp is not None:  # speech: relay the audio as it arrives
        ctype = speech_content_type(fmt, resp.headers.get("content-type"))
        relay = _relay_audio(gw, call, catalog, cand, resp, health)
        return StreamingResponse(relay, media_type=ctype, headers=call.headers())
    charge = fill_media_usage(gw, call, catalog, cand, _actual(parsed, result.images, result.audio_seconds))
    bodies = None
    if call.key.log_content:
        bodies = (parsed.fields.get("prompt", "") if parsed.files else parsed.raw.decode("utf-8", "replace"),
                  data[:100_000].decode("utf-8", "replace"))
    await run_db_shielded(finalize_request, call.draft, hold_id=call.hold_id, charge=charge,
                          bodies=bodies, health=health)
    return Response(result.content, media_type=result.content_type, headers=call.headers())


async def _relay_audio(gw: Gateway, call: Call, catalog: Catalog, cand: Candidate,
                       resp: aiohttp.ClientResponse, health: list[HealthChange]):
    """Forward audio bytes as they arrive. Charged when the upstream finished
    (or the client left after it started); a broken upstream costs nothing and
    the client's connection is dropped so a cut file never looks complete."""
    outcome = "success"
    settled = work_to_come()
    try:
        async for chunk in resp.content.iter_any():
            yield chunk
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        outcome = "incomplete"
        call.draft.error_type, call.draft.error_summary = "stream_cut", f"upstream audio broke: {type(exc).__name__}"
        raise
    except (asyncio.CancelledError, GeneratorExit):
        outcome = "client_closed"
        raise
    finally:
        resp.close()
        try:
            parsed: MediaBody = call.parsed  # type: ignore[assignment]
            charge = fill_media_usage(gw, call, catalog, cand, parsed.quantity)
            if outcome != "success":
                call.draft.status = outcome
            if outcome == "incomplete":
                charge, call.draft.upstream_cost, call.draft.http_status = 0, 0, 502
            submit_db(finalize_request, call.draft, hold_id=call.hold_id, charge=charge, health=health)
        finally:
            settled.set_result(None)
