"""OpenAI-shaped error responses and the mapping of upstream failures to
what the client sees after fallback."""

from __future__ import annotations

from starlette.responses import JSONResponse

from apiany.core.errors import APIAnyError
from apiany.providers.base import ProviderError


def error_response(exc: APIAnyError, request_id: str, extra_headers: dict | None = None) -> JSONResponse:
    headers = {"x-request-id": request_id, **exc.headers, **(extra_headers or {})}
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=headers)


def is_retryable(err: ProviderError, retry_on: frozenset[str]) -> bool:
    if err.kind in ("connect_error", "timeout"):
        return err.kind in retry_on
    if err.kind == "unsupported":
        return False
    status = err.status
    if err.kind in ("malformed", "stream_cut") or (err.kind == "stream_error" and status is None):
        return "5xx" in retry_on
    if status is None:
        return False
    return (str(status) in retry_on or ("5xx" in retry_on and 500 <= status < 600)
            or ("4xx" in retry_on and 400 <= status < 500))


def counts_against_channel(err: ProviderError) -> bool:
    """Failures that say something about the channel's health (not the
    client's request): no answer, 401/403 (bad secret), 429, 5xx, garbage."""
    if err.kind in ("connect_error", "timeout", "malformed", "stream_cut"):
        return True
    return err.status is not None and (err.status in (401, 403, 429) or err.status >= 500)


class UpstreamFailed(APIAnyError):
    error_type = "upstream_error"


def client_error_for(err: ProviderError | None, attempts: int) -> APIAnyError:
    if err is None:
        return UpstreamFailed("no channel is available for this model right now; try again later",
                              status_code=503, code="no_channel_available")
    tried = f" (after {attempts} attempt{'s' if attempts != 1 else ''})"
    status = err.status
    if err.kind == "timeout":
        return UpstreamFailed("the upstream provider timed out" + tried, status_code=504, code="upstream_timeout")
    if status in (400, 413, 422) and err.kind == "http_status":
        # The client's request was refused on its merits: pass it through.
        exc = APIAnyError(err.message, status_code=400 if status == 422 else status, code=err.code)
        exc.error_type = err.error_type or "invalid_request_error"
        return exc
    if status == 429:
        headers = {"retry-after": str(int(err.retry_after or 1))}
        return UpstreamFailed("the upstream provider is rate limiting us; retry shortly" + tried,
                              status_code=503, code="upstream_rate_limited", headers=headers)
    return UpstreamFailed(f"the upstream provider failed: {err.message}" + tried, status_code=502,
                          code="upstream_error")
