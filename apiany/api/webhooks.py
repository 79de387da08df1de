"""POST /webhooks/stripe: the signature is checked over the raw bytes. 200
for applied, ignored (unknown type) and duplicate events; 400 for a bad
signature (nothing stored); 500 on a processing error, with the whole
transaction rolled back, so Stripe retries."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from apiany.services.payments import Received, receive_event
from apiany.services.payments.base import BadSignature, PaymentsNotConfigured

log = logging.getLogger(__name__)
router = APIRouter(tags=["webhooks"])


def acknowledge(result: Received) -> JSONResponse:
    return JSONResponse({"received": True, "id": result.event_id, "status": result.status})


@router.post("/webhooks/stripe", include_in_schema=False)
async def stripe_webhook(request: Request) -> JSONResponse:
    payload = await request.body()
    try:
        result = await run_in_threadpool(receive_event, "stripe", payload, dict(request.headers))
    except (BadSignature, PaymentsNotConfigured) as exc:
        log.warning("stripe webhook refused: %s", exc.message)
        return JSONResponse(exc.body(), status_code=exc.status_code)
    except Exception:
        log.exception("stripe webhook failed; Stripe will retry")
        return JSONResponse({"error": {"message": "processing failed", "type": "server_error",
                                       "param": None, "code": None}}, status_code=500)
    return acknowledge(result)
