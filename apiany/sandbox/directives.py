"""Per-request behaviour of the sandbox upstream.

A directive string is `key=value` pairs separated by commas, e.g.
`latency=200,status=500,status_times=1`. It can come from

- the model name, after an `@`: `sandbox-chat@cut_after=2,no_usage=1` (works
  through the gateway, which forwards the upstream model id);
- the header `x-sandbox: cut_after=2,no_usage=1`;
- one header per key: `x-sandbox-cut-after: 2` (dashes or underscores).

Headers override the model suffix. A flag given without `=value` means 1.
Unknown keys or bad values are a 400, so a typo never passes silently.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Mapping


TASK_RESULTS = ("ok", "fail", "pending", "unknown", "undownloadable")


class DirectiveError(ValueError):
    pass


@dataclass
class Directives:
    latency: int = 0            # ms before the response starts
    chunk_delay: int = 0        # ms between stream chunks
    status: int | None = None   # answer with this HTTP status and an OpenAI error body
    status_times: int | None = None  # ...only for the first N calls of this model string
    retry_after: int = 1        # seconds, sent with status=429
    fail_after: int | None = None  # stream N chunks, then an in-stream error event
    cut_after: int | None = None   # stream N chunks, then drop the connection
    malformed: bool = False     # invalid JSON body / one malformed SSE line after chunk 1
    no_usage: bool = False      # omit usage everywhere
    no_done: bool = False       # end a chat stream cleanly but without [DONE]
    words: int | None = None    # natural reply length in words (default 16)
    cached: int = 0             # cached prompt tokens to report (capped at the prompt)
    reasoning: int = 0          # extra reasoning tokens (part of completion_tokens)
    tag: str = ""               # ignored: lets tests tell channels apart in /sandbox/stats
    # Media: a video task finishes on its `task_polls`-th status poll with
    # `task_result` ok | fail | pending (never finishes) | unknown (reports an
    # unknown status) | undownloadable (completes, but its content is a 500).
    task_polls: int = 1
    task_result: str = "ok"


_FIELDS = {f.name: f for f in fields(Directives)}
_BOOL_WORDS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


def _apply(d: Directives, text: str) -> None:
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        _set(d, key.strip(), value.strip() if sep else "1")


def _set(d: Directives, key: str, value: str) -> None:
    key = key.replace("-", "_").lower()
    field = _FIELDS.get(key)
    if field is None:
        raise DirectiveError(f"unknown sandbox directive {key!r}")
    default = field.default
    if isinstance(default, bool):
        if value.lower() not in _BOOL_WORDS:
            raise DirectiveError(f"sandbox directive {key} wants 0 or 1, got {value!r}")
        setattr(d, key, _BOOL_WORDS[value.lower()])
    elif isinstance(default, str):
        setattr(d, key, value)
    else:
        try:
            number = int(value)
        except ValueError:
            raise DirectiveError(f"sandbox directive {key} wants an integer, got {value!r}") from None
        if number < 0:
            raise DirectiveError(f"sandbox directive {key} must not be negative")
        setattr(d, key, number)


def split_model(model: str) -> tuple[str, str]:
    """`sandbox-chat@latency=5` -> (`sandbox-chat`, `latency=5`)."""
    base, _, directive = model.partition("@")
    return base, directive


def parse(model: str, headers: Mapping[str, str]) -> Directives:
    d = Directives()
    _apply(d, split_model(model)[1])
    if headers.get("x-sandbox"):
        _apply(d, headers["x-sandbox"])
    for name, value in headers.items():
        name = name.lower()
        if name.startswith("x-sandbox-"):
            _set(d, name[len("x-sandbox-"):], value.strip())
    if d.task_result not in TASK_RESULTS:
        raise DirectiveError(f"sandbox directive task_result must be one of {', '.join(TASK_RESULTS)}")
    if d.status is not None and not 100 <= d.status <= 599:
        raise DirectiveError("sandbox directive status must be an HTTP status")
    return d
