"""Accounts: sign-up credits, sign-in and throttling, sessions, passwords, roles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import func, select

from apiany.core.db import session_scope, utcnow
from apiany.core.errors import (AuthenticationFailed, Conflict, InvalidRequest, NotFound,
                                PermissionDenied, RateLimited)
from apiany.core.security import hash_token
from apiany.core.settings import reset_settings
from apiany.ledger import balance_of
from apiany.models import AuditLog, ConsoleSession, LedgerTransaction, LoginThrottle, User
from apiany.services import accounts

PASSWORD = "correct horse"
T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def env(monkeypatch):
    def set_env(**values):
        for name, value in values.items():
            monkeypatch.setenv(f"APIANY_{name.upper()}", str(value))
        reset_settings()
    return set_env


@pytest.fixture
def alice(session):
    user = accounts.sign_up(session, email="alice@example.com", password=PASSWORD)
    session.commit()
    return user


def count(session, table) -> int:
    return session.exec(select(func.count()).select_from(table)).one()


def log_in(password=PASSWORD, *, email="alice@example.com", ip="10.0.0.1", now=None):
    with session_scope() as s:
        return accounts.authenticate(s, email=email, password=password, client_ip=ip, now=now)


# ---- sign-up ---------------------------------------------------------------------------

def test_sign_up_grants_exactly_100_credits_once(session):
    user = accounts.sign_up(session, email="  Alice@Example.COM ", password=PASSWORD,
                            display_name=" Alice ", client_ip="10.0.0.1")
    session.commit()
    assert (user.email, user.display_name, user.role) == ("alice@example.com", "Alice", "user")
    view = balance_of(session, user.id)
    assert (view.balance, view.available, view.free, view.purchased) == (100_000_000,) * 3 + (0,)
    tx = session.exec(select(LedgerTransaction)).one()
    assert (tx.kind, tx.idempotency_key, tx.memo) == ("grant", f"signup-grant:{user.id}", "Free credits on sign-up")

    replay = accounts.grant_signup_credits(session, user)
    session.commit()
    assert replay.id == tx.id
    assert balance_of(session, user.id).balance == 100_000_000
    assert count(session, LedgerTransaction) == 1

    row = session.exec(select(AuditLog).where(AuditLog.action == "user.sign_up")).one()
    assert (row.actor, row.actor_user_id, row.details, row.client_ip) == \
        (f"user:{user.id}", user.id, {"email": "alice@example.com"}, "10.0.0.1")


def test_free_credits_expire_after_the_configured_days(session, env):
    env(free_credits=7, free_credits_expiry_days=10)
    user = accounts.sign_up(session, email="bob@example.com", password=PASSWORD)
    session.commit()
    view = balance_of(session, user.id)
    assert view.balance == 7_000_000
    assert view.next_expiry == user.created_at + timedelta(days=10)


def test_no_grant_when_free_credits_are_off(session, env):
    env(free_credits=0)
    user = accounts.sign_up(session, email="bob@example.com", password=PASSWORD)
    session.commit()
    assert balance_of(session, user.id).balance == 0
    assert count(session, LedgerTransaction) == 0


def test_duplicate_email_is_a_conflict_whatever_the_case(session, alice):
    with pytest.raises(Conflict) as caught:
        accounts.sign_up(session, email="ALICE@example.com ", password=PASSWORD)
    assert (caught.value.message, caught.value.param) == ("An account with this email already exists", "email")


@pytest.mark.parametrize("email,password,param,message", [
    ("not-an-email", PASSWORD, "email", "Enter a valid email address"),
    ("", PASSWORD, "email", "Enter a valid email address"),
    ("bob@example.com", "short", "password", "Password must be at least 8 characters"),
    ("bob@example.com", "x" * 257, "password", "Password must be at most 256 characters"),
])
def test_sign_up_validation(session, email, password, param, message):
    with pytest.raises(InvalidRequest) as caught:
        accounts.sign_up(session, email=email, password=password)
    assert (caught.value.param, caught.value.message) == (param, message)
    assert count(session, User) == 0


# ---- signing in and throttling ---------------------------------------------------------

def test_authenticate(alice):
    assert log_in().id == alice.id
    assert log_in(email=" ALICE@example.com").id == alice.id
    for kwargs in ({"password": "wrong password"}, {"email": "nobody@example.com"}):
        with pytest.raises(AuthenticationFailed) as caught:
            log_in(**kwargs)
        assert (caught.value.message, caught.value.status_code) == ("Incorrect email or password", 401)


def test_failures_block_then_the_block_expires(alice):
    for _ in range(5):  # login_max_failures defaults to 5, first block 1 s
        with pytest.raises(AuthenticationFailed):
            log_in("wrong password", now=T0)
    with pytest.raises(RateLimited) as caught:
        log_in(now=T0)  # right password, still blocked
    assert caught.value.message == "Too many failed sign-in attempts. Try again in 1 second (at 12:00:01 UTC)."
    assert (caught.value.headers, caught.value.status_code) == ({"retry-after": "1"}, 429)
    assert log_in(now=T0 + timedelta(seconds=1)).id == alice.id
    with session_scope() as s:  # success forgets the email's failures, not the IP's
        assert s.get(LoginThrottle, "email:alice@example.com") is None
        assert s.get(LoginThrottle, "ip:10.0.0.1").failures == 5


def test_block_doubles_and_is_capped(alice, env):
    env(login_max_failures=2, login_lockout_base_seconds=10, login_lockout_max_seconds=25)
    t = T0
    for expected_block in (None, 10, 20, 25, 25):
        with pytest.raises(AuthenticationFailed):
            log_in("wrong password", ip="", now=t)
        with session_scope() as s:
            until = s.get(LoginThrottle, "email:alice@example.com").blocked_until
        assert until == (expected_block and t + timedelta(seconds=expected_block))
        t += timedelta(seconds=expected_block or 0)
    with pytest.raises(RateLimited) as caught:
        log_in(ip="", now=t - timedelta(seconds=3))
    assert caught.value.headers == {"retry-after": "3"}


def test_one_client_ip_is_blocked_across_emails(alice):
    for n in range(5):
        with pytest.raises(AuthenticationFailed):
            log_in(email=f"guess{n}@example.com", ip="6.6.6.6", now=T0)
    with pytest.raises(RateLimited):
        log_in(ip="6.6.6.6", now=T0)
    assert log_in(ip="10.0.0.1", now=T0).id == alice.id


def test_inactive_user_cannot_sign_in(session, alice):
    alice.is_active = False
    session.add(alice)
    session.commit()
    with pytest.raises(PermissionDenied):
        log_in()


# ---- console sessions ------------------------------------------------------------------

def test_session_lifetime_and_last_seen(session, alice, env):
    env(session_ttl_hours=2)
    now = utcnow()
    token, row = accounts.create_console_session(session, user=alice, user_agent="pytest", client_ip="1.2.3.4")
    session.commit()
    assert row.token_hash == hash_token(token) and token not in (row.token_hash, str(row.id))
    assert accounts.user_for_session_token(session, token, now=now + timedelta(seconds=30)).id == alice.id
    assert row.last_seen_at == row.created_at  # not refreshed within a minute
    later = now + timedelta(minutes=5)
    accounts.user_for_session_token(session, token, now=later)
    assert row.last_seen_at == later
    assert accounts.user_for_session_token(session, token, now=now + timedelta(hours=2, seconds=1)) is None
    assert accounts.user_for_session_token(session, "not-a-token") is None
    assert accounts.user_for_session_token(session, "") is None


def test_end_session_and_inactive_user(session, alice):
    token, _ = accounts.create_console_session(session, user=alice)
    other, _ = accounts.create_console_session(session, user=alice)
    assert accounts.end_session(session, token) is True
    assert accounts.end_session(session, token) is False
    assert accounts.user_for_session_token(session, token) is None
    assert [s.token_hash for s in accounts.list_sessions(session, alice.id)] == [hash_token(other)]
    alice.is_active = False
    assert accounts.user_for_session_token(session, other) is None


def test_password_change_ends_other_sessions(session, alice):
    tokens = [accounts.create_console_session(session, user=alice)[0] for _ in range(3)]
    with pytest.raises(InvalidRequest) as caught:
        accounts.change_password(session, user=alice, old_password="nope nope", new_password="new password")
    assert (caught.value.param, caught.value.message) == ("old_password", "Current password is incorrect")
    with pytest.raises(InvalidRequest) as caught:
        accounts.change_password(session, user=alice, old_password=PASSWORD, new_password="short")
    assert caught.value.param == "new_password"
    ended = accounts.change_password(session, user=alice, old_password=PASSWORD,
                                     new_password="new password", keep_token=tokens[0])
    session.commit()
    assert ended == 2
    assert [accounts.user_for_session_token(session, t) is not None for t in tokens] == [True, False, False]
    session.commit()  # SQLite: every transaction holds the write lock; log_in opens another
    assert log_in("new password").id == alice.id
    with pytest.raises(AuthenticationFailed):
        log_in(PASSWORD)
    row = session.exec(select(AuditLog).where(AuditLog.action == "user.password_change")).one()
    assert row.details == {"sessions_ended": 2}


def test_end_all_sessions(session, alice):
    for _ in range(3):
        accounts.create_console_session(session, user=alice)
    assert accounts.end_all_sessions(session, alice.id) == 3
    assert accounts.list_sessions(session, alice.id) == []
    assert count(session, ConsoleSession) == 3


# ---- roles and the bootstrap admin -----------------------------------------------------

def test_set_role_is_checked_on_the_server(session, alice):
    admin = accounts.create_user(session, email="root@example.com", password=PASSWORD, admin=True)
    bob = accounts.sign_up(session, email="bob@example.com", password=PASSWORD)
    with pytest.raises(PermissionDenied):
        accounts.set_role(session, actor_user=alice, user_id=bob.id, role="admin")
    with pytest.raises(InvalidRequest):
        accounts.set_role(session, actor_user=admin, user_id=bob.id, role="owner")
    with pytest.raises(NotFound):
        accounts.set_role(session, actor_user=admin, user_id=9999, role="admin")
    assert accounts.set_role(session, actor_user=admin, user_id=bob.id, role="admin").role == "admin"
    row = session.exec(select(AuditLog).where(AuditLog.action == "user.role_change")).one()
    assert (row.actor, row.actor_user_id, row.target_id, row.details) == \
        (f"admin:{admin.id}", admin.id, str(bob.id), {"from": "user", "to": "admin"})

    accounts.set_role(session, actor_user=bob, user_id=admin.id, role="user")
    stale = User(id=admin.id, email=admin.email, password_hash="", role="admin")  # what a stale UI state holds
    with pytest.raises(PermissionDenied):
        accounts.set_role(session, actor_user=stale, user_id=alice.id, role="admin")
    with pytest.raises(Conflict) as caught:
        accounts.set_role(session, actor_user=bob, user_id=bob.id, role="user")
    assert caught.value.message == "The last admin cannot be demoted"


def test_ensure_admin_creates_once_with_a_generated_password(session):
    user, password = accounts.ensure_admin(session, email="Root@Example.com")
    session.commit()
    assert user.role == "admin" and password and len(password) >= 16
    assert log_in(password, email="root@example.com").id == user.id
    again, none = accounts.ensure_admin(session, email="root@example.com", password="other password")
    session.commit()
    assert (again.id, none, count(session, User)) == (user.id, None, 1)
    assert balance_of(session, user.id).balance == 100_000_000


def test_ensure_admin_promotes_an_existing_user_and_keeps_a_given_password(session, alice):
    user, password = accounts.ensure_admin(session, email="alice@example.com", password="ignored pw")
    session.commit()
    assert (user.id, user.role, password) == (alice.id, "admin", None)
    assert log_in(PASSWORD).id == alice.id
    admin, password = accounts.ensure_admin(session, email="ops@example.com", password="given password")
    session.commit()
    assert password is None and log_in("given password", email="ops@example.com").id == admin.id
