"""The /v1 media routes: images, audio and video tasks. Thin: the gateway
(gateway.media, gateway.tasks) does the work."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from apiany.gateway import tasks
from apiany.gateway.media import handle_media
from apiany.gateway.pipeline import Gateway


def create_media_router(gateway: Gateway) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["v1 media"])

    @router.post("/images/generations")
    async def image_generations(request: Request) -> Response:
        return await handle_media(gateway, request, "image", "images.generations")

    @router.post("/images/edits")
    async def image_edits(request: Request) -> Response:
        return await handle_media(gateway, request, "image", "images.edits")

    @router.post("/audio/speech")
    async def speech(request: Request) -> Response:
        return await handle_media(gateway, request, "speech", "audio.speech")

    @router.post("/audio/transcriptions")
    async def transcriptions(request: Request) -> Response:
        return await handle_media(gateway, request, "transcription", "audio.transcriptions")

    @router.post("/audio/translations")
    async def translations(request: Request) -> Response:
        return await handle_media(gateway, request, "transcription", "audio.translations")

    @router.post("/videos")
    async def create_video(request: Request) -> Response:
        return await tasks.create_video(gateway, request)

    @router.get("/videos")
    async def list_videos(request: Request) -> Response:
        return await tasks.list_videos(gateway, request)

    @router.get("/videos/{video_id}")
    async def get_video(video_id: str, request: Request) -> Response:
        return await tasks.get_video(gateway, request, video_id)

    @router.delete("/videos/{video_id}")
    async def delete_video(video_id: str, request: Request) -> Response:
        return await tasks.delete_video(gateway, request, video_id)

    @router.get("/videos/{video_id}/content")
    async def video_content(video_id: str, request: Request) -> Response:
        return await tasks.video_content(gateway, request, video_id)

    return router
