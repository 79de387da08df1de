"""Real, deterministic media bytes for the sandbox: PNG images (zlib +
struct, no Pillow), WAV speech (the wave module), a tiny MP4-shaped video
and transcripts derived from a hash of the upload."""

from __future__ import annotations

import hashlib
import io
import math
import struct
import wave
import zlib

SAMPLE_RATE = 8000
MS_PER_CHAR = 60          # speech length: 60 ms per input character
MIN_SPEECH_MS = 500
WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
         "juliet", "kilo", "lima", "mike", "november", "oscar", "papa")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int, height: int, seed: str) -> bytes:
    """An RGB PNG of `width` x `height`: horizontal bands coloured from `seed`."""
    digest = hashlib.sha256(seed.encode()).digest()
    bands = [digest[i:i + 3] for i in range(0, 24, 3)]
    rows = []
    band_height = max(1, height // len(bands))
    for i in range(len(bands)):
        rows.append(b"\x00" + bands[i] * width)
    raw = b"".join(rows[min(y // band_height, len(rows) - 1)] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 6))
            + _chunk(b"IEND", b""))


def speech_ms(text: str) -> int:
    return max(MIN_SPEECH_MS, len(text) * MS_PER_CHAR)


def wav(text: str) -> bytes:
    """16-bit mono 8 kHz WAV, `speech_ms(text)` long: a tone per word."""
    frames = SAMPLE_RATE * speech_ms(text) // 1000
    words = text.split() or ["silence"]
    per_word = max(1, frames // len(words))
    samples = bytearray()
    for i in range(frames):
        word = words[min(i // per_word, len(words) - 1)]
        freq = 200 + (sum(word.encode()) % 600)
        samples += struct.pack("<h", int(8000 * math.sin(2 * math.pi * freq * i / SAMPLE_RATE)))
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(bytes(samples))
    return out.getvalue()


def transcript(data: bytes, words: int = 8) -> str:
    digest = hashlib.sha256(data).digest()
    return " ".join(WORDS[b % len(WORDS)] for b in digest[:words]).capitalize() + "."


def video(seed: str, seconds: int) -> bytes:
    """MP4-shaped bytes: an `ftyp` box and an `mdat` box of seeded data."""
    ftyp = b"ftypisom" + b"\x00\x00\x02\x00" + b"isomiso2mp41"
    payload = hashlib.shake_256(seed.encode()).digest(4096 * max(1, seconds))
    return (struct.pack(">I", 8 + len(ftyp) - 4) + ftyp
            + struct.pack(">I", 8 + len(payload)) + b"mdat" + payload)
