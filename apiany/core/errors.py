"""Domain errors. Each carries what an HTTP layer needs to answer in
OpenAI's error shape; services raise them, routers translate them."""

from __future__ import annotations


class APIAnyError(Exception):
    status_code = 400
    error_type = "invalid_request_error"
    code: str | None = None

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None,
                 status_code: int | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.error_type,
                          "param": self.param, "code": self.code}}


class InvalidRequest(APIAnyError):
    status_code = 400


class NotFound(APIAnyError):
    status_code = 404
    code = "not_found"


class Conflict(APIAnyError):
    status_code = 409
    code = "conflict"


class AuthenticationFailed(APIAnyError):
    status_code = 401
    error_type = "authentication_error"
    code = "invalid_api_key"


class PermissionDenied(APIAnyError):
    status_code = 403
    error_type = "permission_error"
    code = "permission_denied"


class InsufficientCredits(APIAnyError):
    status_code = 402
    error_type = "insufficient_quota"
    code = "insufficient_quota"

    def __init__(self, message: str, **kw):
        super().__init__(message, **kw)
        self.headers.setdefault("x-should-retry", "false")


class RateLimited(APIAnyError):
    status_code = 429
    error_type = "rate_limit_error"
    code = "rate_limit_exceeded"


class InternalError(APIAnyError):
    status_code = 500
    error_type = "server_error"


class MethodNotAllowed(APIAnyError):
    status_code = 405
    code = "method_not_allowed"


class ClientClosed(APIAnyError):
    """The client went away before its request was read (nginx's 499)."""
    status_code = 499
    code = "client_closed"


class TooLarge(APIAnyError):
    status_code = 413
    code = "request_too_large"


class LedgerError(APIAnyError):
    """An operation that would break a ledger rule (bad amount, replay mismatch)."""
    status_code = 409
    code = "ledger_error"


class IdempotencyMismatch(LedgerError):
    code = "idempotency_key_reused"
