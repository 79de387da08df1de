"""The pure media half of the openai adapter and the media price rules."""

from __future__ import annotations

import pytest

from apiany.core.errors import InvalidRequest
from apiany.gateway.media import parse_multipart
from apiany.providers.base import ChannelConfig, ProviderError
from apiany.providers.openai_media import FilePart, OpenAIMedia, encode_multipart
from apiany.services.media_pricing import MILLI, MediaQuantity, image_key, media_cost
from apiany.services.pricing import TokenPrices

CHANNEL = ChannelConfig(name="v", protocol="openai", base_url="https://up.example/v1", api_key="sk-up")


def test_multipart_round_trip_keeps_fields_and_files():
    files = [FilePart("file", "a.wav", "audio/wav", b"RIFF\x00\r\n--not-a-boundary\x01")]
    body, ctype = encode_multipart({"model": "m", "response_format": "srt"}, files)
    fields, parsed = parse_multipart(body, ctype)
    assert fields == {"model": "m", "response_format": "srt"} and parsed == files


def test_build_multipart_request_replaces_the_model_and_carries_the_secret():
    req = OpenAIMedia().build(CHANNEL, "audio.transcriptions", {"model": "public"},
                              [FilePart("file", "a.wav", "audio/wav", b"x")], "upstream-stt", multipart=True)
    assert req.url == "https://up.example/v1/audio/transcriptions"
    assert req.headers["authorization"] == "Bearer sk-up" and req.json_body is None
    fields, _ = parse_multipart(req.body_bytes, req.headers["content-type"])
    assert fields["model"] == "upstream-stt"


@pytest.mark.parametrize("raw,status", [("queued", "queued"), ("in_progress", "in_progress"),
                                        ("succeeded", "completed"), ("failed", "failed"),
                                        ("warming_up", "unknown")])
def test_task_statuses_are_normalised_and_unknown_is_kept(raw, status):
    task = OpenAIMedia().parse_task(200, b'{"id": "t1", "status": "%s", "progress": 30}' % raw.encode())
    assert (task.upstream_id, task.status, task.raw_status, task.progress) == ("t1", status, raw, 30)


def test_task_errors_map_like_any_upstream_error():
    with pytest.raises(ProviderError) as info:
        OpenAIMedia().parse_task(429, b'{"error": {"message": "slow down", "type": "rate_limit_error"}}')
    assert (info.value.status, info.value.message) == (429, "slow down")


def test_transcription_duration_from_usage_or_verbose_json():
    media = OpenAIMedia()
    assert media.parse("audio.transcriptions", 200, b'{"text": "x", "usage": {"type": "duration", "seconds": 2.5}}',
                       {}, "json").audio_seconds == 2.5
    assert media.parse("audio.translations", 200, b'{"text": "x", "duration": 7.25}', {},
                       "verbose_json").audio_seconds == 7.25
    text = media.parse("audio.transcriptions", 200, b"hello\n", {"content-type": "text/plain"}, "text")
    assert (text.content, text.audio_seconds) == (b"hello\n", None)


def test_media_cost_rounds_up_once():
    prices = {"image:1024x1024:hd": 3, "audio:second": 1}
    q = MediaQuantity({"audio:second": 1_500})  # 1.5 s at 1 unit/s
    assert media_cost(TokenPrices(), prices, q) == 2
    assert media_cost(TokenPrices(input_per_m=1_500_000_000), {}, MediaQuantity(characters=3)) == 4_500
    assert media_cost(TokenPrices(per_request=7), prices, MediaQuantity({"image:1024x1024:hd": 2 * MILLI})) == 13
    assert image_key(prices, "1024x1024", "hd") == "image:1024x1024:hd"
    with pytest.raises(InvalidRequest):
        image_key(prices, "256x256", "standard")
    assert image_key({}, "256x256", "standard") == "image:256x256:standard"  # unpriced model: free
