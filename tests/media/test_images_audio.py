"""Images, speech and transcription through the gateway with the official
openai client: real PNG/WAV bytes, exact per-unit credits, failures free."""

from __future__ import annotations

import base64
import io
import struct
import wave

import httpx
import httpx2
import openai
import pytest

from apiany.core.settings import reset_settings
from apiany.gateway import dbpool
from tests.factories import make_key, make_user
from tests.gateway.helpers import balance, consumption, ledger_ok, set_channels, usage_rows
from tests.media.conftest import CREDIT, STT_PER_SECOND, _serve_api


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def make_wav(seconds: float, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x01" * int(seconds * rate))
    return out.getvalue()


def charged(user, before: int) -> int:
    dbpool.drain()
    (row,) = usage_rows(user)
    assert before - balance(user) == row.credits_charged
    assert ledger_ok() == []
    return row.credits_charged


def test_image_generation_b64_is_a_png_and_costs_per_image(client_for):
    user = make_user(credits=100)
    before = balance(user)
    result = client_for(make_key(user)).images.generate(
        model="sandbox-image", prompt="a red fox", size="256x256", n=2, response_format="b64_json")
    assert len(result.data) == 2
    assert all(png_size(base64.b64decode(d.b64_json)) == (256, 256) for d in result.data)
    assert charged(user, before) == 2 * CREDIT
    (row,) = usage_rows(user)
    assert (row.request_type, row.billed_units, row.unit_kind) == ("image", 2, "image:256x256:standard")
    assert row.upstream_cost == 2 * 5_000 and row.channel_name == "sandbox"
    assert len(consumption(row.request_id)) == 1


def test_image_url_and_hd_quality_price(client_for):
    user = make_user(credits=100)
    before = balance(user)
    result = client_for(make_key(user)).images.generate(
        model="sandbox-image", prompt="a blue whale", size="1024x1024", quality="hd", response_format="url")
    assert png_size(httpx.get(result.data[0].url).content) == (1024, 1024)
    assert charged(user, before) == 8 * CREDIT


def test_image_edit_multipart(client_for):
    user = make_user(credits=100)
    before = balance(user)
    source = base64.b64decode(client_for(make_key(user)).images.generate(
        model="sandbox-image", prompt="seed", size="256x256").data[0].b64_json)
    result = client_for(make_key(user)).images.edit(
        model="sandbox-image", image=("in.png", source, "image/png"), prompt="add a hat", size="512x512")
    assert png_size(base64.b64decode(result.data[0].b64_json)) == (512, 512)
    assert before - balance(user) == 1 * CREDIT + 2 * CREDIT
    assert [r.credits_charged for r in usage_rows(user)] == [1 * CREDIT, 2 * CREDIT]


def test_unpriced_size_is_refused_and_free(client_for):
    user = make_user(credits=100)
    before = balance(user)
    with pytest.raises(openai.BadRequestError) as info:
        client_for(make_key(user)).images.generate(model="sandbox-image", prompt="x", size="1792x1024")
    assert info.value.body["param"] == "size"
    assert balance(user) == before


def test_failed_image_costs_nothing(client_for):
    set_channels(("broken", 0, "status=500", {}))
    user = make_user(credits=100)
    before = balance(user)
    with pytest.raises(openai.APIStatusError) as info:
        client_for(make_key(user)).images.generate(model="sandbox-image", prompt="x", size="256x256")
    assert info.value.status_code == 502
    (row,) = usage_rows(user)
    assert (row.status, row.credits_charged) == ("error", 0) and balance(user) == before
    assert ledger_ok() == []


def test_speech_streams_a_wav_and_costs_per_character(client_for):
    user = make_user(credits=100)
    before = balance(user)
    text = "Hello from the sandbox speech model."
    client = client_for(make_key(user))
    with client.audio.speech.with_streaming_response.create(
            model="sandbox-tts", voice="alloy", input=text, response_format="wav") as response:
        assert response.headers["content-type"] == "audio/wav"
        assert response.headers["x-request-id"].startswith("req_")
        chunks = list(response.iter_bytes())
    audio = b"".join(chunks)
    assert audio[:4] == b"RIFF" and audio[8:12] == b"WAVE"
    with wave.open(io.BytesIO(audio)) as w:
        assert w.getnframes() / w.getframerate() == pytest.approx(len(text) * 0.06)
    assert charged(user, before) == len(text) * 1500
    (row,) = usage_rows(user)
    assert (row.billed_units, row.unit_kind, row.upstream_cost) == (len(text), "characters", 270)  # 7.5 per 1M chars, rounded up once


def test_failed_speech_costs_nothing(client_for):
    set_channels(("broken", 0, "status=503", {}))
    user = make_user(credits=100)
    before = balance(user)
    with pytest.raises(openai.APIStatusError):
        client_for(make_key(user)).audio.speech.create(model="sandbox-tts", voice="alloy", input="hi",
                                                        response_format="wav")
    (row,) = usage_rows(user)
    assert (row.status, row.credits_charged) == ("error", 0) and balance(user) == before


@pytest.mark.parametrize("endpoint", ["transcriptions", "translations"])
def test_transcription_costs_per_second_of_audio(client_for, endpoint):
    user = make_user(credits=100)
    before = balance(user)
    client = client_for(make_key(user))
    result = getattr(client.audio, endpoint).create(model="sandbox-stt", file=("a.wav", make_wav(2.5), "audio/wav"))
    again = getattr(client.audio, endpoint).create(model="sandbox-stt", file=("a.wav", make_wav(2.5), "audio/wav"))
    assert result.text == again.text and result.text.endswith("." if endpoint == "transcriptions" else ")")
    rows = usage_rows(user)
    assert [r.credits_charged for r in rows] == [25 * STT_PER_SECOND // 10] * 2  # 2.5 s each
    assert [(r.billed_units, r.unit_kind) for r in rows] == [(3, "audio:second")] * 2
    assert before - balance(user) == 2 * 25_000 and ledger_ok() == []


def test_transcription_formats_pass_through(client_for):
    user = make_user(credits=100)
    client = client_for(make_key(user))
    audio = ("a.wav", make_wav(1.0), "audio/wav")
    text = client.audio.transcriptions.create(model="sandbox-stt", file=audio, response_format="text")
    srt = client.audio.transcriptions.create(model="sandbox-stt", file=audio, response_format="srt")
    vtt = client.audio.transcriptions.create(model="sandbox-stt", file=audio, response_format="vtt")
    verbose = client.audio.transcriptions.create(model="sandbox-stt", file=audio, response_format="verbose_json")
    assert isinstance(text, str) and text.strip() == verbose.text
    assert srt.startswith("1\n00:00:00,000 --> 00:00:01,000\n")
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n")
    assert verbose.duration == 1.0
    assert [r.credits_charged for r in usage_rows(user)] == [STT_PER_SECOND] * 4


def test_failed_transcription_costs_nothing(client_for):
    set_channels(("broken", 0, "status=500", {}))
    user = make_user(credits=100)
    before = balance(user)
    with pytest.raises(openai.APIStatusError):
        client_for(make_key(user)).audio.transcriptions.create(model="sandbox-stt", file=("a.wav", make_wav(1), "audio/wav"))
    assert balance(user) == before and usage_rows(user)[0].credits_charged == 0


def test_upload_over_the_limit_is_413(media_db, monkeypatch):
    monkeypatch.setenv("APIANY_MAX_UPLOAD_BYTES", "4096")
    reset_settings()
    user = make_user(credits=100)
    before = balance(user)
    for server in _serve_api():
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=make_key(user), max_retries=0)
        with pytest.raises(openai.APIStatusError) as info:
            client.audio.transcriptions.create(model="sandbox-stt", file=("a.wav", make_wav(2), "audio/wav"))
        assert info.value.status_code == 413 and "4,096" in info.value.message
        ok = client.audio.transcriptions.create(model="sandbox-stt", file=("a.wav", make_wav(0.1), "audio/wav"))
        assert ok.text
    assert before - balance(user) == STT_PER_SECOND // 10


def test_speech_cut_by_the_upstream_is_not_passed_off_as_complete_and_costs_nothing(client_for):
    set_channels(("cutting", 0, "cut_after=1", {}))
    user = make_user(credits=100)
    before = balance(user)
    client = client_for(make_key(user))
    with pytest.raises(httpx2.HTTPError):  # the openai client runs on httpx2
        with client.audio.speech.with_streaming_response.create(
                model="sandbox-tts", voice="alloy", input="a long sentence " * 20, response_format="wav") as r:
            b"".join(r.iter_bytes())
    dbpool.drain()
    (row,) = usage_rows(user)
    assert (row.status, row.credits_charged, row.error_type) == ("incomplete", 0, "stream_cut")
    assert balance(user) == before and ledger_ok() == []


def test_media_falls_back_and_charges_once(client_for):
    set_channels(("primary", 10, "status=500", {}), ("secondary", 0, None, {}))
    user = make_user(credits=100)
    before = balance(user)
    client_for(make_key(user)).images.generate(model="sandbox-image", prompt="x", size="256x256")
    (row,) = usage_rows(user)
    assert (row.channel_name, row.attempt_count, row.credits_charged) == ("secondary", 2, CREDIT)
    assert before - balance(user) == CREDIT and ledger_ok() == []
