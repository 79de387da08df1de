"""The settings page: profile, password, active sessions, webhook secret.
Acts on SessionState.user_id only; the current browser is recognised by the
session cookie of this websocket connection."""

from __future__ import annotations

import asyncio

import reflex as rx

from apiany.core.db import session_scope
from apiany.core.errors import APIAnyError
from apiany.core.security import hash_token
from apiany.models import User
from apiany.services.accounts import change_password, end_all_sessions, list_sessions
from apiany.services.profile import rotate_webhook_secret, update_display_name, webhook_secret_hint
from apiany.ui.state.auth import SESSION_COOKIE, SessionState, cookie_value
from apiany.ui.state.formatting import iso_text


def load_settings(user_id: int, token: str | None) -> dict:
    current = hash_token(token) if token else ""
    with session_scope() as session:
        user = session.get(User, user_id)
        sessions = [{"id": str(s.id), "agent": s.user_agent or "unknown browser", "ip": s.client_ip or "—",
                     "seen": iso_text(s.last_seen_at), "created": iso_text(s.created_at),
                     "current": "yes" if s.token_hash == current else ""}
                    for s in list_sessions(session, user_id)]
        return {"display_name": user.display_name, "member_since": f"{user.created_at:%Y-%m-%d}",
                "webhook_hint": webhook_secret_hint(user.webhook_secret), "sessions": sessions}


def save_password(user_id: int, old: str, new: str, token: str | None) -> int:
    with session_scope() as session:
        return change_password(session, user=session.get(User, user_id), old_password=old, new_password=new,
                               keep_token=token)


def sign_out_others(user_id: int, token: str | None) -> int:
    with session_scope() as session:
        return end_all_sessions(session, user_id, except_token_hash=hash_token(token) if token else None)


def save_display_name(user_id: int, name: str) -> None:
    with session_scope() as session:
        update_display_name(session, user_id=user_id, display_name=name)


def new_webhook_secret(user_id: int) -> str:
    with session_scope() as session:
        return rotate_webhook_secret(session, user_id=user_id)


class SettingsState(rx.State):
    loaded_for: int = 0
    display_name: str = ""
    member_since: str = ""
    webhook_hint: str = ""
    new_webhook_secret: str = ""
    sessions: list[dict[str, str]] = []
    password_error: str = ""

    async def _who(self) -> tuple[int, str | None]:
        user_id = (await self.get_state(SessionState)).user_id
        return user_id, cookie_value(self.router.headers.cookie, SESSION_COOKIE)

    async def _refresh(self) -> None:
        user_id, token = await self._who()
        if not user_id:
            return
        info = await asyncio.to_thread(load_settings, user_id, token)
        self.display_name, self.member_since = info["display_name"], info["member_since"]
        self.webhook_hint, self.sessions, self.loaded_for = info["webhook_hint"], info["sessions"], user_id

    @rx.event
    async def load(self):
        self.new_webhook_secret, self.password_error = "", ""
        await self._refresh()

    async def _run(self, call, *, ok: str):
        """call(user_id, token) in a worker thread, then a toast for success or failure."""
        user_id, token = await self._who()
        try:
            result = await asyncio.to_thread(call, user_id, token)
        except APIAnyError as exc:
            return None, rx.toast.error(exc.message)
        await self._refresh()
        return result, rx.toast.success(ok)

    @rx.event
    async def save_profile(self, form: dict):
        name = str(form.get("display_name", ""))
        _, toast = await self._run(lambda uid, _token: save_display_name(uid, name), ok="Profile saved")
        return [toast, SessionState.require_login]

    @rx.event
    async def change_password(self, form: dict):
        old, new, again = (str(form.get(k, "")) for k in ("old_password", "new_password", "confirm_password"))
        if new != again:
            self.password_error = "The new passwords do not match."
            return
        user_id, token = await self._who()
        try:
            ended = await asyncio.to_thread(save_password, user_id, old, new, token)
        except APIAnyError as exc:
            self.password_error = exc.message
            return
        self.password_error = ""
        await self._refresh()
        others = f" and signed out {ended} other session{'s' if ended != 1 else ''}" if ended else ""
        return rx.toast.success(f"Password changed{others}")

    @rx.event
    async def sign_out_everywhere(self):
        _, toast = await self._run(sign_out_others, ok="Signed out of every other session")
        return toast

    @rx.event
    async def rotate_webhook(self):
        secret, toast = await self._run(lambda uid, _token: new_webhook_secret(uid), ok="New webhook secret created")
        self.new_webhook_secret = secret or ""
        return toast
