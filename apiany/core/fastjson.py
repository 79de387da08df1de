"""JSON on the /v1 hot path: orjson (several times faster than the standard
library, and measurable per request), falling back to the standard library
for what orjson refuses (integers beyond 64 bits), so inputs decode and
encode as they did. NaN and Infinity are refused, as JSON has no such
values (the standard library would accept them)."""

from __future__ import annotations

import json
from typing import Any

import orjson


def loads(data: bytes | str) -> Any:
    """Raises ValueError for anything that is not JSON we can use."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    try:  # the standard library's answer, or its error
        return json.loads(data, parse_constant=_not_json)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _not_json(name: str):
    raise ValueError(f"{name} is not valid JSON")


def dumps(obj: Any) -> bytes:
    """Compact UTF-8, as Starlette's JSONResponse renders."""
    try:
        return orjson.dumps(obj)
    except TypeError:
        return json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
