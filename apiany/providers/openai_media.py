"""Media operations of the OpenAI-compatible protocol: images, speech,
transcription/translation and video tasks. Pure, like every adapter: it
builds JSON, multipart or bodiless upstream requests, reads what the
upstream reports (images made, seconds of audio, task status) and maps
errors; the gateway sends the requests and prices the reported units."""

from __future__ import annotations

import io
import json
import secrets
import struct
import wave
from dataclasses import dataclass, field
from typing import Mapping

from apiany.providers.base import (
    ChannelConfig, ProviderError, UpstreamRequest, error_from_body, http_error, join_url, load_json,
)

PATHS = {
    "images.generations": "/images/generations", "images.edits": "/images/edits",
    "audio.speech": "/audio/speech", "audio.transcriptions": "/audio/transcriptions",
    "audio.translations": "/audio/translations", "videos.create": "/videos",
}
# Upstream task statuses we understand; anything else is recorded as unknown.
TASK_STATUSES = {"queued": "queued", "pending": "queued", "submitted": "queued",
                 "in_progress": "in_progress", "processing": "in_progress", "running": "in_progress",
                 "completed": "completed", "succeeded": "completed", "success": "completed",
                 "failed": "failed", "error": "failed", "cancelled": "failed", "canceled": "failed"}
SPEECH_TYPES = {"mp3": "audio/mpeg", "opus": "audio/opus", "aac": "audio/aac", "flac": "audio/flac",
                "wav": "audio/wav", "pcm": "audio/pcm"}
TEXT_TYPES = {"text": "text/plain; charset=utf-8", "srt": "application/x-subrip; charset=utf-8",
              "vtt": "text/vtt; charset=utf-8"}


@dataclass(frozen=True, slots=True)
class FilePart:
    name: str
    filename: str
    content_type: str
    data: bytes = field(repr=False)


@dataclass
class BodyRequest(UpstreamRequest):
    """An upstream request whose body is raw bytes (multipart) instead of JSON."""

    body_bytes: bytes | None = field(default=None, repr=False)


@dataclass(slots=True)
class MediaResult:
    content: bytes
    content_type: str
    images: int | None = None          # images returned
    audio_seconds: float | None = None  # duration the upstream reported


@dataclass(slots=True)
class UpstreamTask:
    upstream_id: str
    status: str            # queued | in_progress | completed | failed | unknown
    raw_status: str
    progress: int = 0
    error_code: str = ""
    error_message: str = ""


def encode_multipart(fields: Mapping[str, str], files: list[FilePart],
                     boundary: str | None = None) -> tuple[bytes, str]:
    """multipart/form-data body and its content type."""
    boundary = boundary or "apiany" + secrets.token_hex(16)
    out = bytearray()
    for name, value in fields.items():
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                f"{value}\r\n").encode()
    for part in files:
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="{part.name}"; '
                f'filename="{part.filename}"\r\nContent-Type: {part.content_type}\r\n\r\n').encode()
        out += part.data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def _headers(channel: ChannelConfig, extra: dict[str, str] | None = None) -> dict[str, str]:
    headers = dict(extra or {})
    headers.update(channel.extra_headers)
    if channel.api_key:
        headers["authorization"] = f"Bearer {channel.api_key}"
    return headers


def _form_value(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


class OpenAIMedia:
    """The media half of the `openai` protocol (composed next to OpenAIAdapter)."""

    protocol = "openai"

    def build(self, channel: ChannelConfig, op: str, body: dict, files: list[FilePart],
              upstream_model: str, *, multipart: bool) -> UpstreamRequest:
        url = join_url(channel.base_url, PATHS[op])
        out = {**body, "model": upstream_model}
        stream = op == "audio.speech"
        if multipart or files:
            data, ctype = encode_multipart({k: _form_value(v) for k, v in out.items()}, files)
            return BodyRequest("POST", url, _headers(channel, {"content-type": ctype}), None, stream,
                               channel.timeout, body_bytes=data)
        return UpstreamRequest("POST", url, _headers(channel, {"content-type": "application/json"}),
                               out, stream, channel.timeout)

    def task_request(self, channel: ChannelConfig, method: str, upstream_id: str,
                     suffix: str = "", *, stream: bool = False) -> UpstreamRequest:
        url = join_url(channel.base_url, f"/videos/{upstream_id}{suffix}")
        return UpstreamRequest(method, url, _headers(channel), None, stream, channel.timeout)

    def map_error(self, status: int, data: bytes,
                  headers: Mapping[str, str] | None = None) -> ProviderError:
        return http_error(status, data, headers)

    def parse(self, op: str, status: int, data: bytes, headers: Mapping[str, str] | None,
              response_format: str | None) -> MediaResult:
        """A finished images/transcription/translation response."""
        if not 200 <= status < 300:
            raise self.map_error(status, data, headers)
        ctype = (headers or {}).get("content-type", "") or "application/json"
        if op.startswith("audio.") and response_format in TEXT_TYPES:
            return MediaResult(data, ctype if ctype.startswith(("text/", "application/x-subrip"))
                               else TEXT_TYPES[response_format])
        body = load_json(data, status)
        if isinstance(body.get("error"), dict):
            raise error_from_body(None, body["error"], headers)
        result = MediaResult(data, "application/json")
        if op.startswith("images."):
            images = body.get("data")
            if not isinstance(images, list) or not images:
                raise ProviderError("malformed", "upstream returned no images", status=status)
            result.images = len(images)
        else:
            result.audio_seconds = _audio_seconds(body)
        return result

    def parse_task(self, status: int, data: bytes,
                   headers: Mapping[str, str] | None = None) -> UpstreamTask:
        """A video task object (create or status poll)."""
        if not 200 <= status < 300:
            raise self.map_error(status, data, headers)
        body = load_json(data, status)
        upstream_id = body.get("id")
        if not isinstance(upstream_id, str) or not upstream_id:
            raise ProviderError("malformed", "upstream task has no id", status=status)
        raw = str(body.get("status") or "")
        progress = body.get("progress")
        err = body.get("error") if isinstance(body.get("error"), dict) else {}
        return UpstreamTask(upstream_id, TASK_STATUSES.get(raw.lower(), "unknown"), raw[:60],
                            progress if isinstance(progress, int) and 0 <= progress <= 100 else 0,
                            str(err.get("code") or "")[:60], str(err.get("message") or "")[:500])


def _audio_seconds(body: dict) -> float | None:
    usage = body.get("usage")
    if isinstance(usage, dict) and usage.get("type") == "duration":
        seconds = usage.get("seconds")
        if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and seconds >= 0:
            return float(seconds)
    duration = body.get("duration")
    if isinstance(duration, (int, float)) and not isinstance(duration, bool) and duration >= 0:
        return float(duration)
    return None


def wav_seconds(data: bytes) -> float | None:
    """Duration of a WAV file, None when `data` is not one."""
    try:
        with wave.open(io.BytesIO(data), "rb") as w:
            rate = w.getframerate()
            return w.getnframes() / rate if rate else None
    except (wave.Error, EOFError, struct.error):
        return None


def speech_content_type(response_format: str | None, upstream: str | None) -> str:
    if upstream and upstream.startswith("audio/"):
        return upstream
    return SPEECH_TYPES.get(response_format or "mp3", "application/octet-stream")


MEDIA = {"openai": OpenAIMedia()}


def get_media_adapter(protocol: str) -> OpenAIMedia:
    try:
        return MEDIA[protocol]
    except KeyError:
        raise ProviderError("unsupported", f"the {protocol} protocol has no media endpoints",
                            status=400, error_type="invalid_request_error",
                            code="unsupported_request_type") from None
