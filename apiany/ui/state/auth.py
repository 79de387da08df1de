"""Who is signed in, resolved on the server from the HttpOnly session cookie.

The login and signup pages post native forms to `/api/auth/*`, which set the
`apiany_session` cookie (HttpOnly, so JavaScript never sees it). Every full
page load opens a new websocket whose upgrade request carries that cookie;
Reflex keeps the upgrade request's headers for the connection and exposes them
to handlers as `self.router.headers` (`.cookie` is server-side only: Reflex
0.10 strips it from what it sends to the browser). Each `on_load` guard
resolves the token through the accounts service again, so a revoked or
expired session is noticed on the next page visit.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

import reflex as rx

from apiany.core.db import session_scope
from apiany.services.accounts import user_for_session_token

SESSION_COOKIE = "apiany_session"  # the name the /api/auth routes set
LOGIN_ROUTE = "/login"
HOME_ROUTE = "/dashboard"


def cookie_value(header: str, name: str) -> str | None:
    """One cookie from a raw `Cookie:` header (tolerates malformed neighbours)."""
    for part in (header or "").split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value.strip().strip('"') or None
    return None


def _lookup(token: str) -> dict | None:
    """Blocking: runs in a worker thread so the event loop stays free."""
    with session_scope() as session:
        user = user_for_session_token(session, token)
        if user is None:
            return None
        return {"id": user.id, "email": user.email, "display_name": user.display_name,
                "role": user.role}


class SessionState(rx.State):
    """The signed-in user, as the pages need it. No business rules here."""

    user_id: int = 0
    email: str = ""
    display_name: str = ""
    role: str = ""

    @rx.var
    def is_authenticated(self) -> bool:
        return self.user_id > 0

    @rx.var
    def is_admin(self) -> bool:
        return self.role == "admin"

    @rx.var
    def greeting_name(self) -> str:
        return self.display_name or self.email

    async def resolve_user(self) -> bool:
        """Refresh the user from the cookie of this connection; True when signed in."""
        token = cookie_value(self.router.headers.cookie, SESSION_COOKIE)
        info = await asyncio.to_thread(_lookup, token) if token else None
        info = info or {"id": 0, "email": "", "display_name": "", "role": ""}
        self.user_id, self.email = info["id"], info["email"]
        self.display_name, self.role = info["display_name"], info["role"]
        return self.user_id > 0

    def _login_redirect(self) -> rx.event.EventSpec:
        url = self.router.url
        here = url.path + (f"?{url.query}" if url.query else "")
        return rx.redirect(f"{LOGIN_ROUTE}?{urlencode({'next': here})}", replace=True)

    @rx.event
    async def require_login(self):
        """on_load guard of every console page: anonymous visitors go to /login?next=..."""
        if not await self.resolve_user():
            return self._login_redirect()

    @rx.event
    async def require_admin(self):
        """on_load guard of admin pages (the management API checks again on the server)."""
        if not await self.resolve_user():
            return self._login_redirect()
        if self.role != "admin":
            return rx.redirect(HOME_ROUTE, replace=True)

    @rx.event
    async def go_home(self):
        """`/`: the dashboard for a signed-in visitor, else the login page."""
        return rx.redirect(HOME_ROUTE if await self.resolve_user() else LOGIN_ROUTE, replace=True)


class AuthFormState(rx.State):
    """The login and signup pages: the `?error=` message and the `next` path."""

    error: str = ""
    next_path: str = HOME_ROUTE

    @rx.event
    async def load(self):
        params = self.router.url.query_parameters
        self.error = params.get("error", "")[:300]
        # Passed through a hidden field; /api/auth validates it before redirecting.
        self.next_path = params.get("next", "") or HOME_ROUTE
        session = await self.get_state(SessionState)
        if await session.resolve_user():
            return rx.redirect(HOME_ROUTE, replace=True)
