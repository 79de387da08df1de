"""Hashing and tokens. Passwords: argon2 through passlib. API keys and
session tokens are high-entropy random strings, so a fast keyed-free SHA-256
is the right hash for them (lookups by hash on the hot path)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from passlib.context import CryptContext

_pwd = CryptContext(schemes=["argon2"], deprecated="auto")

API_KEY_PREFIX = "sk-"


def hash_password(password: str) -> str:
    return _pwd.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return _pwd.verify(password, password_hash)
    except (ValueError, TypeError):
        return False


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def new_api_key() -> str:
    """sk- + 48 url-safe chars (36 random bytes)."""
    return API_KEY_PREFIX + secrets.token_urlsafe(36)


def new_id(prefix: str, nbytes: int = 12) -> str:
    return f"{prefix}_{secrets.token_hex(nbytes)}"


def sign_payload(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return mac.hexdigest()


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
