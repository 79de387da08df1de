"""Media endpoints of the sandbox: the place for images, audio and video.

Not served yet. When they land, each follows the text endpoints' pattern
(`call = await begin(request)` for directives, latency, forced status and
call accounting; deterministic output) and is listed in `media_routes()`:

- POST /v1/images/generations, /v1/images/edits  -> a real PNG (b64_json or url)
- POST /v1/audio/speech                          -> a real WAV
- POST /v1/audio/transcriptions, /translations   -> text from the upload's hash
- POST /v1/videos, GET /v1/videos/{id}           -> async tasks steered by
  directives (see `Directives`: succeed after N polls, fail, stay pending,
  report an unknown status)
"""

from __future__ import annotations

from starlette.routing import BaseRoute


def media_routes() -> list[BaseRoute]:
    return []
