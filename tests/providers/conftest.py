"""Helpers for the adapter tests: recorded fixtures and feeding a stream
parser in awkward pieces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def fixture_bytes():
    def load(name: str) -> bytes:
        return (FIXTURES / name).read_bytes()
    return load


def feed(parser, data: bytes, cuts=()) -> list[bytes]:
    """Feed `data` split at the byte offsets in `cuts`, then close."""
    out, last = [], 0
    for cut in sorted(cuts):
        out += parser.feed(data[last:cut])
        last = cut
    out += parser.feed(data[last:])
    return out + parser.close()


def payloads(events: list[bytes]) -> list:
    """The decoded `data:` of each forwarded event ([DONE] stays a string)."""
    out = []
    for event in events:
        assert event.endswith(b"\n\n"), event
        data = b"\n".join(line[6:] for line in event.strip().split(b"\n")
                          if line.startswith(b"data: "))
        out.append("[DONE]" if data == b"[DONE]" else json.loads(data))
    return out


@pytest.fixture
def feeder():
    return feed


@pytest.fixture
def decode():
    return payloads
