"""The docs page's examples, built for this deployment's base URL."""

from __future__ import annotations

import reflex as rx

from apiany.core.settings import get_settings
from apiany.ui.state.snippets import api_base, examples, streaming_examples

# section id -> (request type, example model)
ENDPOINTS = {"chat": ("chat", "sandbox-chat"), "responses": ("responses", "sandbox-chat"),
             "embeddings": ("embedding", "sandbox-embed"), "images": ("image", "sandbox-image"),
             "speech": ("speech", "sandbox-tts"), "transcription": ("transcription", "sandbox-stt"),
             "video": ("video", "sandbox-video")}


class DocsState(rx.State):
    base_url: str = ""
    retention_days: int = 0
    samples: dict[str, dict[str, str]] = {}

    @rx.event
    def load(self):
        settings = get_settings()
        self.base_url, self.retention_days = api_base(settings.base_url), settings.body_retention_days
        self.samples = {name: examples(kind, model, settings.base_url) for name, (kind, model) in ENDPOINTS.items()}
        self.samples["streaming"] = streaming_examples("sandbox-chat", settings.base_url)
