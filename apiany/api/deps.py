"""FastAPI dependencies shared by the management API routers.

The console session travels in the HttpOnly `apiany_session` cookie only (never
in an Authorization header: that header carries API keys on `/v1`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from apiany.core.db import session_scope
from apiany.core.errors import AuthenticationFailed, PermissionDenied
from apiany.models.users import User
from apiany.services.accounts import user_for_session_token

SESSION_COOKIE = "apiany_session"


def session_token(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or None


def optional_user(request: Request) -> User | None:
    """The signed-in user, or None. Sync on purpose: FastAPI runs it in a thread."""
    token = session_token(request)
    if not token:
        return None
    with session_scope() as session:
        return user_for_session_token(session, token)


def current_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise AuthenticationFailed("You are not signed in.", code="not_signed_in")
    return user


def current_admin(user: Annotated[User, Depends(current_user)]) -> User:
    if user.role != "admin":
        raise PermissionDenied("This action needs the admin role.")
    return user


OptionalUser = Annotated[User | None, Depends(optional_user)]
CurrentUser = Annotated[User, Depends(current_user)]
CurrentAdmin = Annotated[User, Depends(current_admin)]
