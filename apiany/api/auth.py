"""Console sign-up, sign-in and sign-out.

Each route accepts JSON (programs, tests) and a native HTML form post (the
Reflex login and signup pages post here so the session cookie can be HttpOnly,
which a websocket event handler could not set). JSON callers get the user or an
OpenAI-style error body; form posts get a 303 to `next` or back to the page
with `?error=<message>`.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from apiany.api.deps import SESSION_COOKIE, CurrentUser, session_token
from apiany.core.db import session_scope
from apiany.core.errors import APIAnyError, InvalidRequest, PermissionDenied
from apiany.core.settings import get_settings
from apiany.models.users import User, UserPublic
from apiany.services import accounts

router = APIRouter(prefix="/api/auth", tags=["auth"])

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
DEFAULT_NEXT = "/dashboard"


def safe_next(value: str | None, default: str = DEFAULT_NEXT) -> str:
    """Only same-site absolute paths: never `//host`, a scheme, or control characters."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    if any(ord(ch) < 32 for ch in value) or urlsplit(value).netloc:
        return default
    return value


def _is_form(request: Request) -> bool:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return content_type in FORM_TYPES


def _is_https(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "") == "https"


def _check_origin(request: Request) -> None:
    """Refuse cross-site posts (login CSRF). Clients that send no Origin pass."""
    origin = request.headers.get("origin")
    if origin is None:
        return
    allowed = {request.headers.get("host", "")}
    public = get_settings().public_base_url
    if public:
        allowed.add(urlsplit(public).netloc)
    if urlsplit(origin).netloc not in allowed:
        raise PermissionDenied("Cross-site request refused.", code="origin_mismatch")


async def _read_fields(request: Request, is_form: bool) -> dict[str, str]:
    if is_form:
        form = await request.form()
        return {key: value for key, value in form.items() if isinstance(value, str)}
    try:
        data = await request.json()
    except ValueError:
        raise InvalidRequest("The request body must be JSON or a form post.") from None
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return data


def _text(data: dict, name: str, *, required: bool = True) -> str:
    value = data.get(name, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidRequest(f"`{name}` is required.", param=name)
    return value


def _client(request: Request) -> tuple[str, str]:
    ip = request.client.host if request.client else ""
    return ip, request.headers.get("user-agent", "")[:400]


def _public(user: User) -> dict:
    return UserPublic.model_validate(user).model_dump(mode="json")


def _set_session_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE, token, max_age=get_settings().session_ttl_hours * 3600, path="/",
        httponly=True, samesite="lax", secure=_is_https(request),
    )


def _clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=_is_https(request))


def _error_json(exc: APIAnyError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)


def _sign_up(data: dict, ip: str, agent: str) -> tuple[dict, str]:
    email, password = _text(data, "email"), _text(data, "password")
    display_name = _text(data, "display_name", required=False)
    with session_scope() as session:
        user = accounts.sign_up(session, email=email, password=password,
                                display_name=display_name, client_ip=ip)
        token, _ = accounts.create_console_session(session, user=user, user_agent=agent, client_ip=ip)
        return _public(user), token


def _log_in(data: dict, ip: str, agent: str) -> tuple[dict, str]:
    email, password = _text(data, "email"), _text(data, "password")
    with session_scope() as session:
        user = accounts.authenticate(session, email=email, password=password, client_ip=ip)
        token, _ = accounts.create_console_session(session, user=user, user_agent=agent, client_ip=ip)
        return _public(user), token


async def _sign_in_flow(request: Request, page: str, action: Callable[..., tuple[dict, str]],
                        status_code: int) -> Response:
    """Shared by sign-up and log-in: run `action`, set the cookie, answer per caller kind."""
    is_form = _is_form(request)
    target = DEFAULT_NEXT
    try:
        _check_origin(request)
        data = await _read_fields(request, is_form)
        target = safe_next(data.get("next") if isinstance(data.get("next"), str) else None)
        user, token = await run_in_threadpool(action, data, *_client(request))
    except APIAnyError as exc:
        if not is_form:
            return _error_json(exc)
        query = {"error": exc.message} | ({"next": target} if target != DEFAULT_NEXT else {})
        return RedirectResponse(f"/{page}?{urlencode(query)}", status_code=303)
    response: Response = (RedirectResponse(target, status_code=303) if is_form
                          else JSONResponse(user, status_code=status_code))
    _set_session_cookie(response, request, token)
    return response


@router.post("/signup", summary="Create an account and sign in")
async def signup(request: Request) -> Response:
    return await _sign_in_flow(request, "signup", _sign_up, 201)


@router.post("/login", summary="Sign in with email and password")
async def login(request: Request) -> Response:
    return await _sign_in_flow(request, "login", _log_in, 200)


def _end_session(token: str) -> None:
    with session_scope() as session:
        accounts.end_session(session, token)


@router.post("/logout", summary="Sign out of this browser")
async def logout(request: Request) -> Response:
    is_form = _is_form(request)
    try:
        _check_origin(request)
    except APIAnyError as exc:
        return RedirectResponse("/login", status_code=303) if is_form else _error_json(exc)
    token = session_token(request)
    if token:
        await run_in_threadpool(_end_session, token)
    response: Response = (RedirectResponse("/login", status_code=303) if is_form
                          else Response(status_code=204))
    _clear_session_cookie(response, request)
    return response


@router.get("/me", response_model=UserPublic, summary="The signed-in user")
def me(user: CurrentUser) -> User:
    return user
