"""Media on the real app in production mode with the seeded sandbox models:
the openai client generates an image, speech and a transcript, creates a
video task and downloads it once complete; usage and ledger show each."""

from __future__ import annotations

import base64
import time
import uuid

import httpx
import openai
import pytest

pytestmark = pytest.mark.e2e


def test_media_with_the_openai_client(live_app):
    account = httpx.Client(base_url=live_app.base_url, timeout=30)
    r = account.post("/api/auth/signup", json={"email": f"media-{uuid.uuid4().hex[:8]}@example.com",
                                               "password": "a long password"})
    assert r.status_code in (200, 201), r.text
    key = account.post("/api/keys", json={"name": "media"}).json()["key"]
    client = openai.OpenAI(base_url=live_app.url("/v1"), api_key=key, max_retries=0, timeout=60)
    start = account.get("/api/balance").json()["balance"]

    image = client.images.generate(model="sandbox-image", prompt="a lighthouse", size="256x256")
    assert base64.b64decode(image.data[0].b64_json)[:8] == b"\x89PNG\r\n\x1a\n"
    speech = client.audio.speech.create(model="sandbox-tts", voice="alloy", input="Hello from APIAny.")
    assert speech.content[:4] == b"RIFF" and speech.response.headers["content-type"] == "audio/wav"
    transcript = client.audio.transcriptions.create(model="sandbox-stt", file=("s.wav", speech.content, "audio/wav"))
    assert transcript.text

    video = client.videos.create(model="sandbox-video", prompt="waves at dusk", seconds="4")
    deadline = time.monotonic() + 30
    while video.status != "completed" and time.monotonic() < deadline:
        time.sleep(1)
        video = client.videos.retrieve(video.id)  # polls the upstream inline when due
    assert video.status == "completed"
    assert client.videos.download_content(video.id).read()[4:8] == b"ftyp"

    rows = account.get("/api/usage", params={"limit": 10}).json()["data"]
    assert sorted(r["request_type"] for r in rows) == ["image", "speech", "transcription", "video"]
    spent = sum(r["credits_charged"] for r in rows)
    assert spent == 1_000_000 + 18 * 1500 + 40_000_000 + next(r["credits_charged"] for r in rows
                                                                 if r["request_type"] == "transcription")
    assert account.get("/api/balance").json()["balance"] == start - spent
    story = account.get(f"/api/tasks/{video.id}").json()
    assert [m["kind"] for m in story["ledger"]] == ["consumption"]
