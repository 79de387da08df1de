"""Media endpoints of the sandbox, following the text endpoints' pattern
(`start()` for directives, latency, forced status and call accounting;
deterministic output):

- POST /v1/images/generations, /v1/images/edits  -> real PNGs (b64_json or url)
- GET  /v1/sandbox-files/{name}.png              -> the PNG behind a url
- POST /v1/audio/speech                          -> a real WAV, streamed in chunks
- POST /v1/audio/transcriptions, /translations   -> text from the upload's hash
- POST /v1/videos, GET/DELETE /v1/videos/{id}, GET /v1/videos/{id}/content
  -> async tasks steered by the `task_polls` / `task_result` directives
"""

from __future__ import annotations

import base64
import hashlib
import time

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from apiany.sandbox.common import ApiError, Call, SandboxCut, begin, malformed_json, start
from apiany.providers.openai_media import wav_seconds
from apiany.sandbox.media_files import png, speech_ms, transcript, video, wav

CHUNK = 4096
MAX_PIXELS = 2048


async def _form_call(request: Request) -> tuple[Call, dict[str, bytes]]:
    """Like begin() for JSON, for multipart bodies (JSON accepted too)."""
    if not request.headers.get("content-type", "").startswith(("multipart/form-data",
                                                               "application/x-www-form-urlencoded")):
        return await begin(request), {}
    form = await request.form(max_part_size=50 * 1024 * 1024)
    fields: dict = {}
    files: dict[str, bytes] = {}
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            files[name.removesuffix("[]")] = await value.read()
            fields[name] = f"<file {value.filename} {value.size} bytes>"
        else:
            fields[name] = value
    return await start(request, fields), files


def _size(value) -> tuple[int, int]:
    text = value if isinstance(value, str) and value != "auto" else "1024x1024"
    try:
        w, h = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise ApiError(400, f"Invalid size {text!r}: expected WIDTHxHEIGHT", param="size") from None
    if not (1 <= w <= MAX_PIXELS and 1 <= h <= MAX_PIXELS):
        raise ApiError(400, f"Invalid size {text!r}", param="size")
    return w, h


async def _images(request: Request, edit: bool) -> Response:
    call, files = await _form_call(request)
    prompt = call.body.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        raise ApiError(400, "prompt is required", param="prompt")
    if edit and "image" not in files:
        raise ApiError(400, "image is required", param="image")
    w, h = _size(call.body.get("size"))
    n = int(call.body.get("n") or 1)
    if not 1 <= n <= 10:
        raise ApiError(400, "n must be between 1 and 10", param="n")
    if call.d.malformed:
        return malformed_json()
    fmt = call.body.get("response_format") or "b64_json"
    seed = prompt + (hashlib.sha256(files["image"]).hexdigest() if edit else "")
    data = []
    for i in range(n):
        name = f"{hashlib.sha256(f'{seed}|{i}'.encode()).hexdigest()[:24]}-{w}x{h}"
        if fmt == "url":
            data.append({"url": f"{request.base_url}v1/sandbox-files/{name}.png",
                         "revised_prompt": prompt})
        else:
            data.append({"b64_json": base64.b64encode(png(w, h, name)).decode(),
                         "revised_prompt": prompt})
    body = {"created": call.created, "data": data}
    if not call.d.no_usage:
        body["usage"] = {"input_tokens": len(prompt.split()), "output_tokens": 0,
                         "total_tokens": len(prompt.split())}
    return JSONResponse(body)


async def image_generations(request: Request) -> Response:
    return await _images(request, edit=False)


async def image_edits(request: Request) -> Response:
    return await _images(request, edit=True)


async def image_file(request: Request) -> Response:
    name = request.path_params["name"]
    try:
        w, h = _size(name.rsplit("-", 1)[1])
    except (IndexError, ApiError):
        raise ApiError(404, "no such file") from None
    return Response(png(w, h, name), media_type="image/png")


async def speech(request: Request) -> Response:
    call = await begin(request)
    text = call.body.get("input")
    if not isinstance(text, str) or not text:
        raise ApiError(400, "input is required", param="input")
    fmt = call.body.get("response_format") or "wav"
    if fmt not in ("wav", "pcm"):
        raise ApiError(400, f"the sandbox speaks wav and pcm only, not {fmt!r}",
                       param="response_format")
    audio = wav(text)
    if fmt == "pcm":
        audio = audio[44:]

    async def chunks():
        for i in range(0, len(audio), CHUNK):
            if call.d.cut_after is not None and i // CHUNK >= call.d.cut_after:
                raise SandboxCut("speech cut")
            yield audio[i:i + CHUNK]

    return StreamingResponse(chunks(), media_type="audio/wav" if fmt == "wav" else "audio/pcm")


async def _stt(request: Request, translate: bool) -> Response:
    call, files = await _form_call(request)
    audio = files.get("file")
    if not audio:
        raise ApiError(400, "file is required", param="file")
    seconds = wav_seconds(audio)
    seconds = round(len(audio) / 16000, 3) if seconds is None else round(seconds, 3)
    text = transcript(audio) + (" (translated)" if translate else "")
    fmt = call.body.get("response_format") or "json"
    if fmt == "text":
        return PlainTextResponse(text + "\n")
    if fmt in ("srt", "vtt"):
        stamp = _stamp(seconds, "," if fmt == "srt" else ".")
        zero = "00:00:00,000" if fmt == "srt" else "00:00:00.000"
        head = "1\n" if fmt == "srt" else "WEBVTT\n\n"
        return PlainTextResponse(f"{head}{zero} --> {stamp}\n{text}\n",
                                 media_type="text/vtt" if fmt == "vtt" else "application/x-subrip")
    if fmt == "verbose_json":
        return JSONResponse({"task": "translate" if translate else "transcribe",
                             "language": "english", "duration": seconds, "text": text,
                             "segments": [{"id": 0, "seek": 0, "start": 0.0, "end": seconds,
                                           "text": text, "tokens": [], "temperature": 0.0,
                                           "avg_logprob": -0.1, "compression_ratio": 1.0,
                                           "no_speech_prob": 0.0}]})
    body: dict = {"text": text}
    if not call.d.no_usage:
        body["usage"] = {"type": "duration", "seconds": seconds}
    return JSONResponse(body)


def _stamp(seconds: float, sep: str) -> str:
    ms = int(round(seconds * 1000))
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}{sep}{ms % 1000:03d}"


async def transcriptions(request: Request) -> Response:
    return await _stt(request, translate=False)


async def translations(request: Request) -> Response:
    return await _stt(request, translate=True)


# --- video tasks ---------------------------------------------------------------------

def _tasks(request: Request) -> dict[str, dict]:
    state = request.app.state
    if not hasattr(state, "video_tasks"):
        state.video_tasks = {}
    return state.video_tasks


def _task_view(task: dict) -> dict:
    d, polls = task["d"], task["polls"]
    view = {k: task[k] for k in ("id", "model", "prompt", "seconds", "size", "created_at")}
    view.update(object="video", status="queued", progress=0, completed_at=None, error=None)
    done = polls >= d.task_polls
    if polls == 0:
        return view
    if d.task_result == "unknown":
        return {**view, "status": "mystery_state", "progress": 0}
    if d.task_result == "pending" or not done:
        return {**view, "status": "in_progress", "progress": min(99, 100 * polls // max(d.task_polls, 1))}
    if d.task_result == "fail":
        return {**view, "status": "failed", "progress": 100,
                "error": {"code": "sandbox_failed", "message": f"Sandbox video failed after {polls} polls"}}
    return {**view, "status": "completed", "progress": 100, "completed_at": int(time.time())}


async def create_video(request: Request) -> Response:
    call, _ = await _form_call(request)
    prompt = call.body.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        raise ApiError(400, "prompt is required", param="prompt")
    task = {"id": call.make_id("video_sbx_"), "model": call.model, "prompt": prompt,
            "seconds": str(call.body.get("seconds") or "4"), "size": call.body.get("size") or "1280x720",
            "created_at": call.created, "d": call.d, "polls": 0}
    _tasks(request)[task["id"]] = task
    return JSONResponse(_task_view(task))


def _task(request: Request) -> dict:
    task = _tasks(request).get(request.path_params["video_id"])
    if task is None:
        raise ApiError(404, "Video not found", param="video_id")
    return task


async def video_task(request: Request) -> Response:
    task = _task(request)
    if request.method == "DELETE":
        _tasks(request).pop(task["id"], None)
        return JSONResponse({"id": task["id"], "object": "video.deleted", "deleted": True})
    task["polls"] += 1
    return JSONResponse(_task_view(task))


async def video_content(request: Request) -> Response:
    task = _task(request)
    view = _task_view(task)
    if view["status"] != "completed":
        raise ApiError(409, "Video is not ready")
    if task["d"].task_result == "undownloadable":
        raise ApiError(500, "Sandbox video content is unavailable")
    data = video(task["id"], int(task["seconds"]) if task["seconds"].isdigit() else 4)

    async def chunks():
        for i in range(0, len(data), CHUNK):
            yield data[i:i + CHUNK]

    return StreamingResponse(chunks(), media_type="video/mp4")


def media_routes() -> list[BaseRoute]:
    return [
        Route("/v1/images/generations", image_generations, methods=["POST"]),
        Route("/v1/images/edits", image_edits, methods=["POST"]),
        Route("/v1/sandbox-files/{name}.png", image_file, methods=["GET"]),
        Route("/v1/audio/speech", speech, methods=["POST"]),
        Route("/v1/audio/transcriptions", transcriptions, methods=["POST"]),
        Route("/v1/audio/translations", translations, methods=["POST"]),
        Route("/v1/videos", create_video, methods=["POST"]),
        Route("/v1/videos/{video_id}", video_task, methods=["GET", "DELETE"]),
        Route("/v1/videos/{video_id}/content", video_content, methods=["GET"]),
    ]


__all__ = ["media_routes", "speech_ms"]
