"""Accounts: sign-up, sign-in with throttling, console sessions, passwords,
roles and the bootstrap admin.

Every function takes the caller's session and leaves the commit to the
caller, with one deliberate exception: `authenticate` commits its failure
counters before raising, because the caller's unit of work rolls back on
the exception and a rolled-back counter would be no throttle at all. Call it
first in its unit of work.

Times are aware UTC (`core.db.utcnow`); functions that depend on the clock
take an optional `now` so tests can move time.
"""

from __future__ import annotations

import math
import secrets
from datetime import UTC, datetime, timedelta

from pydantic import EmailStr, TypeAdapter, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from apiany.core.db import utcnow
from apiany.core.errors import (AuthenticationFailed, Conflict, InvalidRequest, NotFound,
                                PermissionDenied, RateLimited)
from apiany.core.money import credits_to_units
from apiany.core.security import hash_password, hash_token, new_session_token, verify_password
from apiany.core.settings import get_settings
from apiany.ledger import grant_credits
from apiany.models.users import ConsoleSession, LoginThrottle, User
from apiany.services import audit

ROLES = ("user", "admin")
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256
LAST_SEEN_RESOLUTION = timedelta(minutes=1)
FORGET_FAILURES_AFTER = timedelta(hours=24)  # a quiet day starts the count over
BAD_CREDENTIALS = "Incorrect email or password"

_email_adapter = TypeAdapter(EmailStr)
_dummy_hash: str | None = None


# ---- helpers ---------------------------------------------------------------------------

def _utc(dt: datetime) -> datetime:
    """Aware UTC (a naive value is taken to be UTC already)."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _now(now: datetime | None) -> datetime:
    return _utc(now or utcnow())


def normalize_email(email: str | None) -> str:
    return (email or "").strip().lower()


def _valid_email(email: str) -> str:
    email = normalize_email(email)
    try:
        email = str(_email_adapter.validate_python(email)).lower()
    except ValidationError:
        raise InvalidRequest("Enter a valid email address", param="email") from None
    if len(email) > 320:
        raise InvalidRequest("Email address is too long", param="email")
    return email


def _check_password(password: str, param: str = "password") -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidRequest(f"Password must be at least {MIN_PASSWORD_LENGTH} characters", param=param)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidRequest(f"Password must be at most {MAX_PASSWORD_LENGTH} characters", param=param)


def _touch(session: Session, row) -> None:
    row.updated_at = utcnow()
    session.add(row)


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == normalize_email(email))).first()


# ---- creating users --------------------------------------------------------------------

def _insert_user(session: Session, *, email: str, password: str, display_name: str, role: str) -> User:
    email = _valid_email(email)
    _check_password(password)
    duplicate = Conflict("An account with this email already exists", param="email")
    if get_user_by_email(session, email) is not None:
        raise duplicate
    user = User(email=email, password_hash=hash_password(password), role=role,
                display_name=(display_name or "").strip()[:200])
    try:
        with session.begin_nested():  # a concurrent sign-up wins the unique index
            session.add(user)
    except IntegrityError:
        raise duplicate from None
    return user


def grant_signup_credits(session: Session, user: User):
    """The free credits, once per user (the idempotency key makes a replay a no-op).
    Returns the ledger transaction, or None when free credits are switched off."""
    settings = get_settings()
    if settings.free_credits == 0:
        return None
    days = settings.free_credits_expiry_days
    # Derived from created_at, not the clock, so a replay carries identical content.
    expires_at = _utc(user.created_at) + timedelta(days=days) if days else None
    return grant_credits(session, user_id=user.id, amount=credits_to_units(settings.free_credits),
                         kind="grant", idempotency_key=f"signup-grant:{user.id}",
                         memo="Free credits on sign-up", reference_type="user",
                         reference_id=str(user.id), expires_at=expires_at)


def sign_up(session: Session, *, email: str, password: str, display_name: str = "",
            client_ip: str = "") -> User:
    user = _insert_user(session, email=email, password=password, display_name=display_name, role="user")
    grant_signup_credits(session, user)
    audit.record(session, actor=f"user:{user.id}", actor_user_id=user.id, action="user.sign_up",
                 target_type="user", target_id=user.id, details={"email": user.email},
                 client_ip=client_ip)
    return user


def create_user(session: Session, *, email: str, password: str, admin: bool = False,
                grant_free_credits: bool = True, display_name: str = "", actor: str = "cli") -> User:
    """An operator-created account (CLI, bootstrap); no sign-up form involved."""
    user = _insert_user(session, email=email, password=password, display_name=display_name,
                        role="admin" if admin else "user")
    if grant_free_credits:
        grant_signup_credits(session, user)
    audit.record(session, actor=actor, action="user.create", target_type="user", target_id=user.id,
                 details={"email": user.email, "role": user.role})
    return user


def ensure_admin(session: Session, *, email: str, password: str | None = None) -> tuple[User, str | None]:
    """Make `email` an admin: create it (with `password`, or a generated one that
    is returned once) or promote the existing user. Idempotent; an existing
    user's password is never changed."""
    user = get_user_by_email(session, email)
    if user is not None:
        if user.role != "admin":
            user.role = "admin"
            _touch(session, user)
            audit.record(session, actor="system", action="user.role_change", target_type="user",
                         target_id=user.id, details={"from": "user", "to": "admin", "via": "ensure_admin"})
        return user, None
    generated = None if password else secrets.token_urlsafe(12)
    user = create_user(session, email=email, password=password or generated, admin=True, actor="system")
    return user, generated


# ---- signing in ------------------------------------------------------------------------

def _throttle_keys(email: str, client_ip: str) -> list[str]:
    keys = [f"email:{email}"[:400]]
    if client_ip:
        keys.append(f"ip:{client_ip}"[:400])
    return keys


def block_seconds(failures: int) -> float:
    """How long an account or client is blocked after `failures` failures in a row."""
    settings = get_settings()
    over = failures - settings.login_max_failures
    if over < 0:
        return 0.0
    return min(settings.login_lockout_base_seconds * 2 ** min(over, 40), settings.login_lockout_max_seconds)


def _check_not_blocked(session: Session, keys: list[str], now: datetime) -> None:
    wait = 0
    for key in keys:
        row = session.get(LoginThrottle, key)
        if row is not None and row.blocked_until is not None and _utc(row.blocked_until) > now:
            wait = max(wait, math.ceil((_utc(row.blocked_until) - now).total_seconds()))
    if wait:
        retry_at = now + timedelta(seconds=wait)
        raise RateLimited(
            f"Too many failed sign-in attempts. Try again in {wait} second{'s' * (wait != 1)} "
            f"(at {retry_at:%H:%M:%S} UTC).", headers={"retry-after": str(wait)})


def _count_failure(session: Session, keys: list[str], now: datetime) -> None:
    for key in keys:
        row = session.get(LoginThrottle, key, with_for_update=True)
        if row is None:
            row = LoginThrottle(key=key, failures=0)
        elif now - _utc(row.last_failure_at) > FORGET_FAILURES_AFTER:
            row.failures = 0
        row.failures += 1
        row.last_failure_at = now
        seconds = block_seconds(row.failures)
        row.blocked_until = now + timedelta(seconds=seconds) if seconds else None
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            pass  # a concurrent failure created the row first and was counted there


def _dummy_password_hash() -> str:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = hash_password(secrets.token_urlsafe(16))
    return _dummy_hash


def authenticate(session: Session, *, email: str, password: str, client_ip: str = "",
                 now: datetime | None = None) -> User:
    """The user for these credentials. Raises RateLimited while the email or
    the client IP is blocked (even for the right password), else
    AuthenticationFailed with one message for unknown emails and wrong
    passwords alike (an unknown email still costs one argon2 verify).
    Commits the failure counters before raising AuthenticationFailed."""
    now = _now(now)
    email = normalize_email(email)
    keys = _throttle_keys(email, client_ip)
    _check_not_blocked(session, keys, now)
    user = get_user_by_email(session, email) if email else None
    if user is None:
        verify_password(password or "", _dummy_password_hash())
        ok = False
    else:
        ok = verify_password(password or "", user.password_hash)
    if not ok:
        _count_failure(session, keys, now)
        session.commit()
        raise AuthenticationFailed(BAD_CREDENTIALS, code="invalid_credentials")
    if not user.is_active:
        raise PermissionDenied("This account has been disabled", code="account_disabled")
    throttle = session.get(LoginThrottle, keys[0])
    if throttle is not None:
        session.delete(throttle)
    return user


# ---- console sessions ------------------------------------------------------------------

def create_console_session(session: Session, *, user: User, user_agent: str = "", client_ip: str = "",
                           now: datetime | None = None) -> tuple[str, ConsoleSession]:
    """A new signed-in browser: returns the token (only its hash is stored)."""
    now = _now(now)
    token = new_session_token()
    row = ConsoleSession(user_id=user.id, token_hash=hash_token(token), created_at=now, last_seen_at=now,
                         expires_at=now + timedelta(hours=get_settings().session_ttl_hours),
                         user_agent=(user_agent or "")[:400], client_ip=(client_ip or "")[:64])
    session.add(row)
    audit.record(session, actor=audit.user_actor(user), actor_user_id=user.id, action="user.sign_in",
                 target_type="user", target_id=user.id, client_ip=client_ip)
    session.flush()
    return token, row


def _is_live(row: ConsoleSession, now: datetime) -> bool:
    return row.revoked_at is None and _utc(row.expires_at) > now


def _live_session(session: Session, token: str | None, now: datetime) -> ConsoleSession | None:
    if not token:
        return None
    row = session.exec(select(ConsoleSession).where(ConsoleSession.token_hash == hash_token(token))).first()
    return row if row is not None and _is_live(row, now) else None


def user_for_session_token(session: Session, token: str | None, *, now: datetime | None = None) -> User | None:
    """The signed-in user, or None for an unknown, expired or revoked session
    or an inactive user. Refreshes last_seen_at at most once a minute."""
    now = _now(now)
    row = _live_session(session, token, now)
    if row is None:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    if now - _utc(row.last_seen_at) >= LAST_SEEN_RESOLUTION:
        row.last_seen_at = now
        session.add(row)
    return user


def list_sessions(session: Session, user_id: int, *, now: datetime | None = None) -> list[ConsoleSession]:
    """The user's live sessions, most recently seen first."""
    now = _now(now)
    rows = session.exec(select(ConsoleSession).where(ConsoleSession.user_id == user_id,
                                                     ConsoleSession.revoked_at.is_(None))).all()
    live = [r for r in rows if _is_live(r, now)]
    return sorted(live, key=lambda r: (_utc(r.last_seen_at), r.id or 0), reverse=True)


def _revoke(session: Session, rows: list[ConsoleSession], now: datetime) -> int:
    for row in rows:
        row.revoked_at = now
        session.add(row)
    return len(rows)


def end_session(session: Session, token: str | None, *, now: datetime | None = None) -> bool:
    """Sign one browser out. True when a live session was ended."""
    now = _now(now)
    row = _live_session(session, token, now)
    return row is not None and _revoke(session, [row], now) == 1


def end_all_sessions(session: Session, user_id: int, *, except_token_hash: str | None = None,
                     now: datetime | None = None) -> int:
    """Sign the user out everywhere (except one session); returns how many ended."""
    now = _now(now)
    rows = [r for r in list_sessions(session, user_id, now=now) if r.token_hash != except_token_hash]
    return _revoke(session, rows, now)


# ---- changing accounts -----------------------------------------------------------------

def change_password(session: Session, *, user: User, old_password: str, new_password: str,
                    keep_token: str | None = None, client_ip: str = "") -> int:
    """Set a new password and end every other session (all but `keep_token`'s).
    Returns the number of sessions ended."""
    if not verify_password(old_password or "", user.password_hash):
        raise InvalidRequest("Current password is incorrect", param="old_password", code="incorrect_password")
    _check_password(new_password, param="new_password")
    user.password_hash = hash_password(new_password)
    _touch(session, user)
    ended = end_all_sessions(session, user.id, except_token_hash=hash_token(keep_token) if keep_token else None)
    audit.record(session, actor=audit.user_actor(user), actor_user_id=user.id, action="user.password_change",
                 target_type="user", target_id=user.id, details={"sessions_ended": ended},
                 client_ip=client_ip)
    return ended


def set_role(session: Session, *, actor_user: User, user_id: int, role: str, client_ip: str = "") -> User:
    """Change a user's role. Checked here, on the server: the actor must be an
    active admin (as stored now, not as the caller remembers), and the last
    active admin cannot be demoted."""
    actor = session.get(User, actor_user.id) if actor_user is not None and actor_user.id else None
    if actor is None or actor.role != "admin" or not actor.is_active:
        raise PermissionDenied("Only an admin can change roles")
    if role not in ROLES:
        raise InvalidRequest(f"role must be one of: {', '.join(ROLES)}", param="role")
    target = session.get(User, user_id)
    if target is None:
        raise NotFound(f"No user with id {user_id}", param="user_id")
    if target.role == role:
        return target
    if target.role == "admin" and target.is_active:
        admins = session.exec(select(User.id).where(User.role == "admin", User.is_active.is_(True))).all()
        if len(admins) <= 1:
            raise Conflict("The last admin cannot be demoted", param="role")
    previous, target.role = target.role, role
    _touch(session, target)
    audit.record(session, actor=f"admin:{actor.id}", actor_user_id=actor.id, action="user.role_change",
                 target_type="user", target_id=target.id, details={"from": previous, "to": role},
                 client_ip=client_ip)
    return target
