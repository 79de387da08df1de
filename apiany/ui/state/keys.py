"""The API keys page: list, create (secret shown once), edit, disable/enable,
revoke. The owner is always SessionState.user_id, read on the server; key ids
sent by the browser are only looked up among that user's keys (services.keys)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import reflex as rx
from pydantic import ValidationError

from apiany.core.db import session_scope
from apiany.core.errors import APIAnyError
from apiany.core.money import credits_to_units, format_credits
from apiany.services.keys import KeyCreate, KeyPublic, KeyUpdate, create_key, list_keys, revoke_key, update_key
from apiany.ui.state.auth import SessionState
from apiany.ui.state.formatting import credits_text, date_text, parse_day

EMPTY_FORM = {"name": "", "app_name": "", "purpose": "", "budget": "", "budget_period": "none",
              "rpm_limit": "", "model_scope": "", "log_content": "", "expires_at": ""}
NO_ERRORS = dict.fromkeys(EMPTY_FORM, "")


def last_valid_day(expires_at: datetime | None) -> str:
    """A key expiring at midnight UTC is valid through the day before (what 'Expires on' means)."""
    return date_text(expires_at - timedelta(microseconds=1)) if expires_at else ""


def key_row(key: KeyPublic) -> dict[str, str]:
    """Display text for the table, plus the raw values the edit form starts from."""
    limit = "no limit" if key.budget is None else credits_text(key.budget)
    reset = " (resets monthly)" if key.budget_period == "monthly" else ""
    return {
        "id": str(key.id), "name": key.name, "app_name": key.app_name, "purpose": key.purpose,
        "display": key.display, "status": key.status,
        "budget_text": f"{format_credits(key.budget_used)} / {limit}{reset}",
        "rpm_text": f"{key.rpm_limit:,}" if key.rpm_limit else "no limit",
        "scope_text": ", ".join(key.model_scope) or "all models",
        "logging_text": "On" if key.log_content else "Off",
        "expires_text": last_valid_day(key.expires_at) or "never",
        "last_used_text": date_text(key.last_used_at, empty="never"),
        # edit form values
        "budget": format_credits(key.budget) if key.budget else "", "budget_period": key.budget_period,
        "rpm_limit": str(key.rpm_limit or ""), "model_scope": ", ".join(key.model_scope),
        "log_content": "on" if key.log_content else "", "expires_at": last_valid_day(key.expires_at),
    }


def parse_key_form(form: dict) -> tuple[dict, dict[str, str]]:
    """Browser strings -> KeyCreate/KeyUpdate fields, and a message per bad field."""
    errors: dict[str, str] = {}
    data: dict = {f: (form.get(f) or "").strip() for f in ("name", "app_name", "purpose")}
    data["budget_period"] = form.get("budget_period") or "none"
    data["log_content"] = bool(form.get("log_content"))
    data["model_scope"] = [m.strip() for m in (form.get("model_scope") or "").split(",") if m.strip()]
    budget = (form.get("budget") or "").replace(",", "").strip()
    try:
        data["budget"] = credits_to_units(budget) if budget else None
        if data["budget"] is not None and data["budget"] <= 0:
            errors["budget"] = "Enter a positive number of credits, or leave empty for no budget."
    except ValueError:
        errors["budget"] = "Enter a number of credits, for example 10 or 2.5."
    rpm = (form.get("rpm_limit") or "").replace(",", "").strip()
    data["rpm_limit"] = int(rpm) if rpm.isdigit() and int(rpm) > 0 else None
    if rpm and data["rpm_limit"] is None:
        errors["rpm_limit"] = "Enter a whole number of requests per minute (1 or more)."
    expires = (form.get("expires_at") or "").strip()
    data["expires_at"] = parse_day(expires, end=True) if expires else None
    if expires and data["expires_at"] is None:
        errors["expires_at"] = "Enter a date as YYYY-MM-DD."
    if not data["name"]:
        errors["name"] = "Give the key a name."
    return data, errors


def _validation_errors(exc: ValidationError) -> dict[str, str]:
    return {str(e["loc"][0]) if e["loc"] else "name": e["msg"] for e in exc.errors()}


def load_keys(user_id: int) -> list[dict[str, str]]:
    with session_scope() as session:
        return [key_row(KeyPublic.of(k)) for k in list_keys(session, user_id=user_id)]


def save_key(user_id: int, key_id: int, data: dict) -> str:
    """Create (key_id 0: returns the secret) or update one of the user's keys."""
    actor = f"user:{user_id}"
    with session_scope() as session:
        if not key_id:
            secret, _ = create_key(session, user_id=user_id, data=KeyCreate(**data), actor=actor)
            return secret
        data = {**data, "budget": data["budget"] or 0, "rpm_limit": data["rpm_limit"] or 0}
        update_key(session, user_id=user_id, key_id=key_id, data=KeyUpdate(**data), actor=actor)
        return ""


def set_key_status(user_id: int, key_id: int, status: str) -> None:
    with session_scope() as session:
        if status == "revoked":
            revoke_key(session, user_id=user_id, key_id=key_id, actor=f"user:{user_id}")
        else:
            update_key(session, user_id=user_id, key_id=key_id, data=KeyUpdate(status=status),
                       actor=f"user:{user_id}")


class KeysState(rx.State):
    loaded_for: int = 0
    keys: list[dict[str, str]] = []
    form_open: bool = False
    editing_id: int = 0
    form: dict[str, str] = dict(EMPTY_FORM)
    errors: dict[str, str] = dict(NO_ERRORS)
    saving: bool = False
    new_secret: str = ""
    revoke_id: int = 0
    revoke_name: str = ""

    async def _user_id(self) -> int:
        return (await self.get_state(SessionState)).user_id

    async def _refresh(self) -> None:
        user_id = await self._user_id()
        self.keys = await asyncio.to_thread(load_keys, user_id) if user_id else []
        self.loaded_for = user_id

    @rx.event
    async def load(self):
        self.new_secret, self.revoke_id, self.form_open = "", 0, False
        await self._refresh()

    @rx.event
    def open_create(self):
        self.editing_id, self.form, self.errors, self.form_open = 0, dict(EMPTY_FORM), dict(NO_ERRORS), True

    @rx.event
    def open_edit(self, key_id: str):
        row = next((k for k in self.keys if k["id"] == key_id), None)
        if row is not None:
            self.editing_id, self.errors, self.form_open = int(key_id), dict(NO_ERRORS), True
            self.form = {f: row.get(f, "") for f in EMPTY_FORM}

    @rx.event
    def set_form_open(self, value: bool):
        self.form_open = value

    @rx.event
    async def save(self, form_data: dict):
        data, errors = parse_key_form(form_data)
        self.form = {f: str(form_data.get(f, "") or "") for f in EMPTY_FORM}
        if errors:
            self.errors = {**NO_ERRORS, **errors}
            return
        self.saving = True
        yield
        try:
            secret = await asyncio.to_thread(save_key, await self._user_id(), self.editing_id, data)
        except ValidationError as exc:
            self.errors = {**NO_ERRORS, **_validation_errors(exc)}
            return
        except APIAnyError as exc:
            self.errors = {**NO_ERRORS, (exc.param or "name"): exc.message}
            return
        finally:
            self.saving = False
        created = not self.editing_id
        self.errors, self.form_open, self.new_secret = dict(NO_ERRORS), False, secret
        await self._refresh()
        yield rx.toast.success("Key created" if created else "Key saved")

    async def _apply_status(self, key_id: int, status: str):
        try:
            await asyncio.to_thread(set_key_status, await self._user_id(), key_id, status)
        except APIAnyError as exc:
            return rx.toast.error(exc.message)
        await self._refresh()
        return rx.toast.success({"active": "Key enabled", "disabled": "Key disabled"}.get(status, "Key revoked"))

    @rx.event
    async def set_status(self, key_id: str, status: str):
        if status in ("active", "disabled") and key_id.isdigit():
            return await self._apply_status(int(key_id), status)

    @rx.event
    def ask_revoke(self, key_id: str, name: str):
        self.revoke_id, self.revoke_name = int(key_id), name

    @rx.event
    def cancel_revoke(self):
        self.revoke_id = 0

    @rx.event
    async def confirm_revoke(self):
        key_id, self.revoke_id = self.revoke_id, 0
        if key_id:
            return await self._apply_status(key_id, "revoked")

    @rx.event
    def close_secret(self):
        self.new_secret = ""
