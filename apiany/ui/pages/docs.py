"""/docs: quickstart and reference for the /v1 API, with this deployment's base URL."""

from __future__ import annotations

import reflex as rx

from apiany.ui.components.tables import VISUALLY_HIDDEN, code_sample, code_tabs
from apiany.ui.layouts.shell import console_page
from apiany.ui.state.docs import DocsState as S

ENDPOINTS = [
    ("chat", "Chat completions", "POST /v1/chat/completions",
     "Messages in, a reply out. Add \"stream\": true for server-sent events."),
    ("responses", "Responses", "POST /v1/responses", "The Responses API shape, served by chat models."),
    ("embeddings", "Embeddings", "POST /v1/embeddings", "Vectors for text; charged per input token."),
    ("images", "Images", "POST /v1/images/generations (and /v1/images/edits)",
     "Charged per image by size and quality."),
    ("speech", "Speech", "POST /v1/audio/speech", "Text to audio; charged per 1M input characters."),
    ("transcription", "Transcription", "POST /v1/audio/transcriptions (and /translations)",
     "Audio to text; charged per second of audio."),
    ("video", "Video (async tasks)", "POST /v1/videos, then GET /v1/videos/{id}",
     "Returns a task at once. Credits are held when the upstream accepts the task and refunded exactly "
     "once if it fails or never finishes."),
]
ERRORS = [
    ("400", "invalid_request_error", "A parameter is missing or wrong: read error.param and fix the request."),
    ("401", "authentication_error", "Missing or unknown key: send Authorization: Bearer <key>."),
    ("402", "insufficient_quota", "Not enough credits or the key's budget is used up: add credits or raise "
                                  "the budget. Not retried (x-should-retry: false)."),
    ("403", "permission_error", "The key is disabled, revoked, expired or the model is outside its scope."),
    ("404", "invalid_request_error", "code model_not_found: unknown model id. List models with GET /v1/models."),
    ("413", "invalid_request_error", "The request body is too large: send less (or a smaller file)."),
    ("429", "rate_limit_error", "Over the key's requests per minute: wait retry-after seconds. The OpenAI "
                                "SDKs retry it for you."),
    ("502 / 503 / 504", "upstream_error", "Every channel failed after fallback: retry with backoff; nothing "
                                          "was charged."),
]
HEADERS = [
    ("x-request-id", "On every /v1 response. Quote it to find the request on the Usage page."),
    ("x-ratelimit-limit-requests", "The key's requests per minute."),
    ("x-ratelimit-remaining-requests", "Requests left in the current minute."),
    ("x-ratelimit-reset-requests", "Seconds until the window resets."),
    ("retry-after", "On 429: seconds to wait before retrying."),
    ("x-should-retry", "false on 402: the OpenAI SDKs then do not retry."),
]

CALLBACK_CHECK = """import hashlib, hmac, time

def verify(secret: str, header: str, body: bytes, max_age: int = 300) -> bool:
    parts = dict(p.split("=", 1) for p in header.split(","))
    mac = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256)
    fresh = abs(time.time() - int(parts["t"])) <= max_age
    return fresh and hmac.compare_digest(mac.hexdigest(), parts["v1"])"""


def _section(anchor: str, title: str, *children) -> rx.Component:
    return rx.el.section(rx.vstack(rx.heading(title, size="5", as_="h2", id=anchor), *children, spacing="3",
                                   width="100%"), aria_labelledby=anchor, width="100%")


def _p(*text) -> rx.Component:
    return rx.text(*text, size="2")


def _table(headers: list[str], rows: list[tuple[str, ...]], label: str) -> rx.Component:
    return rx.box(rx.table.root(
        rx.el.caption(label, style=VISUALLY_HIDDEN),
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
        rx.table.body(*[rx.table.row(rx.table.row_header_cell(rx.code(r[0])), *[rx.table.cell(c) for c in r[1:]])
                        for r in rows]),
        size="1", variant="surface"), overflow_x="auto", width="100%")


def _endpoint(anchor: str, title: str, route: str, text: str) -> rx.Component:
    return _section(anchor, title, rx.code(route), _p(text), code_tabs(S.samples[anchor], title))


@console_page("/docs", "API docs", on_load=S.load)
def docs() -> rx.Component:
    return rx.vstack(
        _section("quickstart", "Quickstart",
                 _p("APIAny speaks the OpenAI API. Point any official OpenAI SDK at this base URL and use an "
                    "API key from the API keys page:"),
                 code_sample(S.base_url, "Base URL"),
                 _p("1. Create a key on ", rx.link("API keys", href="/keys"), ". 2. Pick a model on ",
                    rx.link("Models", href="/models"), ". 3. Call it:"),
                 code_tabs(S.samples["chat"], "Quickstart"),
                 _p("Full OpenAPI reference: ", rx.link("/api/docs", href="/api/docs", is_external=True), ".")),
        *[_endpoint(*e) for e in ENDPOINTS],
        _section("streaming", "Streaming",
                 _p("With \"stream\": true the reply arrives as server-sent events; a complete stream always ends "
                    "with data: [DONE]. A stream cut upstream ends with an error event and is billed only for "
                    "what was delivered; a stream that produced nothing is not charged."),
                 code_tabs(S.samples["streaming"], "Streaming")),
        _section("errors", "Errors and what to do",
                 _p("Errors use OpenAI's body: {\"error\": {\"message\", \"type\", \"param\", \"code\"}}. "
                    "Failed requests are never charged."),
                 _table(["Status", "Type", "What to do"], ERRORS, "Error codes")),
        _section("headers", "Rate limits and request ids", _table(["Header", "Meaning"], HEADERS, "Headers")),
        _section("callbacks", "Async tasks and callbacks",
                 _p("Video and long image jobs return a task id at once: poll GET /v1/videos/{id}, or pass a "
                    "callback URL (https) and we POST the finished task to it. Each callback carries an "
                    "apiany-signature header \"t=<unix time>,v1=<hex>\": the hex HMAC-SHA256, keyed with your "
                    "webhook secret (Settings), of \"<t>.\" followed by the raw body. Reject old timestamps."),
                 code_sample(CALLBACK_CHECK, "Callback verification")),
        _section("logging", "Content logging and retention",
                 _p("Bodies are stored only for keys with content logging on, and deleted after ",
                    S.retention_days, " days. Usage rows, credit movements and finance summaries are kept "
                    "forever. Keys are accepted in headers only and are never logged.")),
        spacing="6", width="100%",
    )
