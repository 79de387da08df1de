"""Video as async tasks. Create runs the normal pipeline (admit, hold,
fallback over channels for the submit call only); when an upstream accepts,
the hold is settled into a consumption referencing our task id, in the same
transaction that records the task. Afterwards the task stays on the channel
that accepted it: polls, downloads and deletes go there. Polling is a sync
unit of work (`refresh_task`) shared by the poller job and GET, which polls
inline when the task is due."""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta

import httpx
from sqlmodel import Session, select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from apiany.core.db import get_engine, session_scope, utcnow
from apiany.core.errors import APIAnyError, Conflict, InvalidRequest
from apiany.core.settings import get_settings
from apiany.gateway.accounting import HealthChange, finalize_request
from apiany.gateway.dbpool import run_db, run_db_shielded
from apiany.gateway.errors import UpstreamFailed, error_response
from apiany.gateway.media import MediaBody, MediaSpec, fill_media_usage
from apiany.gateway.pipeline import Gateway, new_request_id
from apiany.gateway.routing import plan_candidates
from apiany.gateway.upstream import open_upstream, read_body
from apiany.models import Channel, MediaTask
from apiany.providers.base import ChannelConfig, ProviderError
from apiany.providers.openai_media import UpstreamTask, get_media_adapter
from apiany.services import tasks as svc

# --- create ----------------------------------------------------------------------------


def _check_callback(parsed: MediaBody) -> None:
    url = parsed.body.get("callback_url")
    if url is None:
        return
    reason = svc.callback_refusal(url if isinstance(url, str) else None,
                                  production=get_settings().env == "prod")
    if reason:
        raise InvalidRequest(f"callback_url refused: {reason}", param="callback_url",
                             code="invalid_callback_url")


def _accept(session: Session, hold, *, fields: dict, info: UpstreamTask, now: datetime) -> None:
    if fields.get("callback_url"):
        svc.webhook_secret(session, fields["user_id"])
    task = MediaTask(**fields, hold_id=hold.id, consumption_transaction_id=hold.settle_transaction_id,
                     credits_charged=hold.settled_amount or 0, upstream_task_id=info.upstream_id,
                     upstream_status=info.raw_status, progress=info.progress,
                     status="in_progress" if info.status in ("in_progress", "unknown") else "queued",
                     next_poll_at=now + svc.poll_delay(0), created_at=now, updated_at=now)
    session.add(task)
    session.flush()
    if info.status in ("completed", "failed"):
        svc.finish_task(session, task.task_id, info.status, now=now, error_code=info.error_code,
                        error_message=info.error_message, upstream_status=info.raw_status)


async def create_video(gw: Gateway, request: Request) -> Response:
    request_id, started = new_request_id(), time.perf_counter()
    task_id = svc.new_task_id()
    spec = MediaSpec("videos.create", gw.settings.max_upload_bytes, ("task", task_id), _check_callback)
    admitted = await gw.admit(request, "video", request_id, started, media=spec)
    if isinstance(admitted, Response):
        return admitted
    call = admitted
    parsed: MediaBody = call.parsed  # type: ignore[assignment]
    catalog = await gw.cache.catalog()
    plan = plan_candidates(catalog, call.model, "video", gw.health, gw.rng)
    health: list[HealthChange] = []

    async def submit(cand):
        adapter = get_media_adapter(cand.channel.protocol)
        req = adapter.build(gw.channel_config(cand), "videos.create", parsed.fields, parsed.files,
                            cand.upstream_model, multipart=parsed.multipart)
        resp = await open_upstream(req, connect_timeout=gw.settings.upstream_connect_timeout_seconds)
        data = await read_body(resp)
        return adapter.parse_task(resp.status, data, resp.headers)

    served = await gw.first_success(call, plan, health, submit)
    if not isinstance(served, tuple):
        return await gw.fail(call, served, health)
    cand, info = served
    call.draft.task_id = task_id
    charge = fill_media_usage(gw, call, catalog, cand, parsed.quantity)
    now = utcnow()
    fields = {"task_id": task_id, "request_id": request_id, "user_id": call.key.user_id,
              "api_key_id": call.key.id, "public_model": cand.model.public_id,
              "upstream_model": cand.upstream_model, "channel_id": cand.channel.id,
              "channel_name": cand.channel.name, "callback_url": parsed.body.get("callback_url"),
              "expires_at": now + _max_age(cand.model.max_task_age_seconds),
              "params": {k: parsed.fields.get(k) for k in ("prompt", "seconds", "size")}}
    await run_db_shielded(finalize_request, call.draft, hold_id=call.hold_id, charge=charge, health=health,
                          then=lambda s, hold: _accept(s, hold, fields=fields, info=info, now=now))
    task = await run_db(_load, task_id)
    return JSONResponse(svc.video_object(task), headers=call.headers())


def _max_age(seconds: int) -> timedelta:
    return timedelta(seconds=max(seconds, 1))


def _load(task_id: str) -> MediaTask:
    with Session(get_engine(readonly=True)) as session:
        return session.exec(select(MediaTask).where(MediaTask.task_id == task_id)).one()


# --- polling (sync: the poller job and GET share it) -----------------------------------


def channel_config_for(channel_id: int | None) -> ChannelConfig | None:
    settings = get_settings()
    with Session(get_engine(readonly=True)) as session:
        ch = session.get(Channel, channel_id) if channel_id is not None else None
        if ch is None:
            return None
        return ChannelConfig(name=ch.name, protocol=ch.protocol,
                             base_url=ch.base_url.replace("{sandbox}", settings.sandbox_url),
                             api_key=os.environ.get(ch.secret_ref) if ch.secret_ref else None,
                             extra_headers=dict(ch.extra_headers or {}),
                             timeout=ch.timeout_seconds or settings.upstream_timeout_seconds)


def _fetch_status(task: MediaTask) -> UpstreamTask:
    cfg = channel_config_for(task.channel_id)
    if cfg is None:
        raise ProviderError("http_status", "the channel that accepted this task no longer exists", status=404)
    adapter = get_media_adapter(cfg.protocol)
    req = adapter.task_request(cfg, "GET", task.upstream_task_id)
    try:
        resp = httpx.request(req.method, req.url, headers=req.headers, timeout=min(req.timeout, 30))
    except httpx.TimeoutException:
        raise ProviderError("timeout", "upstream did not answer the status poll in time") from None
    except httpx.HTTPError as exc:
        raise ProviderError("connect_error", f"status poll failed: {type(exc).__name__}") from None
    return adapter.parse_task(resp.status_code, resp.content, resp.headers)


def refresh_task(task_id: str, now: datetime | None = None, *, force: bool = False) -> str:
    """Expire the task when past its maximum age, else poll it when due
    (`force`: poll now, without taking the poll slot). Returns what happened:
    expired | polled | skipped."""
    now = now or utcnow()
    with session_scope() as session:
        task = session.exec(select(MediaTask).where(MediaTask.task_id == task_id)).first()
        if task is None or task.status not in ("queued", "in_progress"):
            return "skipped"
        if task.expires_at <= now:
            svc.finish_task(session, task_id, "expired", now=now, error_code="task_expired",
                            error_message="the task did not finish within the model's maximum task age")
            return "expired"
        due = task.next_poll_at is not None and task.next_poll_at <= now
        if not force and not (due and svc.claim_poll(session, task, now)):
            return "skipped"
        session.expunge(task)
    try:
        info = _fetch_status(task)
    except ProviderError as err:
        with session_scope() as session:
            if err.status == 404:
                svc.finish_task(session, task_id, "failed", now=now, error_code="upstream_task_lost",
                                error_message=err.message)
            else:
                svc.record_progress(session, task_id, status=task.status, progress=task.progress, now=now,
                                    upstream_status=f"poll_error:{err.kind}:{err.status or ''}")
        return "polled"
    with session_scope() as session:
        if info.status in ("completed", "failed"):
            svc.finish_task(session, task_id, info.status, now=now, error_code=info.error_code,
                            error_message=info.error_message, upstream_status=info.raw_status)
        else:
            svc.record_progress(session, task_id, status=info.status, upstream_status=info.raw_status,
                                progress=info.progress, now=now)
    return "polled"


# --- get, list, content, delete ------------------------------------------------------


def _owned(user_id: int, task_id: str) -> MediaTask:
    with Session(get_engine(readonly=True)) as session:
        return svc.user_task(session, user_id, task_id)


async def _guarded(gw: Gateway, request: Request, work) -> Response:
    request_id = new_request_id()
    try:
        key = await gw.authenticate(request.headers.get("authorization"))
        return await work(key, {"x-request-id": request_id})
    except APIAnyError as exc:
        return error_response(exc, request_id)


async def get_video(gw: Gateway, request: Request, video_id: str) -> Response:
    async def work(key, headers):
        task = await run_db(_owned, key.user_id, video_id)
        if task.status in ("queued", "in_progress"):
            await run_db(refresh_task, video_id)
            task = await run_db(_owned, key.user_id, video_id)
        return JSONResponse(svc.video_object(task), headers=headers)
    return await _guarded(gw, request, work)


async def list_videos(gw: Gateway, request: Request) -> Response:
    async def work(key, headers):
        q = request.query_params
        raw = q.get("limit") or "20"
        limit = min(max(int(raw), 1), 100) if raw.isdigit() else 20
        order = "asc" if q.get("order") == "asc" else "desc"

        def load():
            with Session(get_engine(readonly=True)) as session:
                return svc.list_tasks(session, key.user_id, after=q.get("after"), limit=limit, order=order)
        rows, more = await run_db(load)
        data = [svc.video_object(t) for t in rows]
        return JSONResponse({"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
                             "last_id": data[-1]["id"] if data else None, "has_more": more}, headers=headers)
    return await _guarded(gw, request, work)


async def video_content(gw: Gateway, request: Request, video_id: str) -> Response:
    async def work(key, headers):
        task = await run_db(_owned, key.user_id, video_id)
        if task.status != "completed":
            raise Conflict(f"video '{video_id}' is {task.status}; its content is available once completed",
                           code="video_not_ready")
        cfg = await run_db(channel_config_for, task.channel_id)
        if cfg is None:
            raise UpstreamFailed("the channel that produced this video is gone", status_code=502)
        variant = request.query_params.get("variant")
        req = get_media_adapter(cfg.protocol).task_request(
            cfg, "GET", task.upstream_task_id, "/content" + (f"?variant={variant}" if variant else ""), stream=True)
        try:
            resp = await open_upstream(req, connect_timeout=gw.settings.upstream_connect_timeout_seconds)
            if resp.status >= 400:
                raise get_media_adapter(cfg.protocol).map_error(resp.status, await read_body(resp), resp.headers)
        except ProviderError as err:
            raise UpstreamFailed(f"the upstream could not deliver the video: {err.message}",
                                 status_code=502, code="upstream_error") from None

        async def relay():
            try:
                async for chunk in resp.content.iter_any():
                    yield chunk
            finally:
                resp.close()
        ctype = resp.headers.get("content-type") or "application/octet-stream"
        return StreamingResponse(relay(), media_type=ctype, headers=headers)
    return await _guarded(gw, request, work)


def _delete(user_id: int, task_id: str) -> MediaTask:
    with session_scope() as session:
        task = svc.user_task(session, user_id, task_id)
        svc.finish_task(session, task_id, "cancelled", error_code="cancelled",
                        error_message="deleted by the client before it finished")
        session.refresh(task)
        task.deleted_at = utcnow()
        session.add(task)
        session.flush()
        session.expunge(task)
        return task


async def delete_video(gw: Gateway, request: Request, video_id: str) -> Response:
    async def work(key, headers):
        task = await run_db(_owned, key.user_id, video_id)
        cfg = await run_db(channel_config_for, task.channel_id)
        if cfg is not None:  # best effort: the upstream may keep or have dropped it
            try:
                req = get_media_adapter(cfg.protocol).task_request(cfg, "DELETE", task.upstream_task_id)
                resp = await open_upstream(req, connect_timeout=gw.settings.upstream_connect_timeout_seconds)
                await read_body(resp)
            except ProviderError:
                pass
        await run_db_shielded(_delete, key.user_id, video_id)
        return JSONResponse({"id": video_id, "object": "video.deleted", "deleted": True}, headers=headers)
    return await _guarded(gw, request, work)
