"""/api/auth/* through the FastAPI app alone (no Reflex): fast."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from apiany.api.app import create_api

PASSWORD = "correct horse battery"


@pytest.fixture
def client(db_url):
    with TestClient(create_api(), base_url="http://testserver") as c:
        yield c


def _signup(client, email="ada@example.com", password=PASSWORD, **extra):
    return client.post("/api/auth/signup", json={"email": email, "password": password, **extra})


def _set_cookie_header(response) -> str:
    headers = [v for k, v in response.headers.multi_items() if k == "set-cookie"]
    assert len(headers) == 1, headers
    return headers[0]


def test_signup_sets_httponly_lax_cookie_and_me_works(client):
    response = _signup(client, display_name="Ada")
    assert response.status_code == 201
    assert response.json()["email"] == "ada@example.com"
    assert "password_hash" not in response.json()
    cookie = _set_cookie_header(response).lower()
    assert cookie.startswith("apiany_session=")
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert "secure" not in cookie  # plain http here

    me = client.get("/api/auth/me")
    assert me.status_code == 200
    assert me.json()["email"] == "ada@example.com" and me.json()["role"] == "user"


def test_cookie_is_secure_over_https(db_url):
    with TestClient(create_api(), base_url="https://testserver") as client:
        assert "secure" in _set_cookie_header(_signup(client)).lower()


def test_me_without_cookie_is_401_openai_shape(client):
    response = client.get("/api/auth/me")
    assert response.status_code == 401
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_bearer_session_token_is_not_accepted(client):
    token = _signup(client).cookies["apiany_session"]
    client.cookies.clear()
    assert client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_logout_clears_cookie_and_ends_session(client):
    token = _signup(client).cookies["apiany_session"]
    response = client.post("/api/auth/logout")
    assert response.status_code == 204
    assert 'apiany_session=""' in _set_cookie_header(response) or "Max-Age=0" in _set_cookie_header(response)
    assert client.get("/api/auth/me").status_code == 401
    # the old token is revoked on the server, not only forgotten by the browser
    assert client.get("/api/auth/me", cookies={"apiany_session": token}).status_code == 401


def test_login_after_logout_and_wrong_password(client):
    _signup(client)
    client.post("/api/auth/logout")
    wrong = client.post("/api/auth/login", json={"email": "ada@example.com", "password": "nope-nope"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["type"] == "authentication_error"
    assert "set-cookie" not in wrong.headers
    ok = client.post("/api/auth/login", json={"email": "ADA@example.com", "password": PASSWORD})
    assert ok.status_code == 200 and ok.json()["email"] == "ada@example.com"
    assert client.get("/api/auth/me").status_code == 200


def test_duplicate_signup_is_409(client):
    assert _signup(client).status_code == 201
    again = _signup(client, email="Ada@Example.com")
    assert again.status_code == 409
    assert again.json()["error"]["param"] == "email"


@pytest.mark.parametrize("body, param", [
    ({"email": "not-an-email", "password": PASSWORD}, "email"),
    ({"email": "bob@example.com", "password": "short"}, "password"),
    ({"email": "bob@example.com"}, "password"),
])
def test_signup_validation_is_400_with_param(client, body, param):
    response = client.post("/api/auth/signup", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def test_non_object_json_is_400(client):
    assert client.post("/api/auth/login", json=["x"]).status_code == 400
    assert client.post("/api/auth/login", content=b"{", headers={"content-type": "application/json"}).status_code == 400


def test_form_signup_redirects_303_to_next_with_cookie(client):
    response = client.post("/api/auth/signup", data={"email": "f@example.com", "password": PASSWORD,
                                                     "next": "/keys?x=1"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/keys?x=1"
    assert "httponly" in _set_cookie_header(response).lower()


@pytest.mark.parametrize("next_value", ["//evil.example", "https://evil.example/", "/\\evil", "javascript:x", ""])
def test_form_login_never_redirects_off_site(client, next_value):
    _signup(client)
    response = client.post("/api/auth/login", data={"email": "ada@example.com", "password": PASSWORD,
                                                    "next": next_value}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard"


def test_form_errors_redirect_back_with_message(client):
    _signup(client)
    client.cookies.clear()
    wrong = client.post("/api/auth/login", data={"email": "ada@example.com", "password": "wrong-password",
                                                 "next": "/usage"}, follow_redirects=False)
    assert wrong.status_code == 303
    assert wrong.headers["location"] == "/login?error=Incorrect+email+or+password&next=%2Fusage"
    assert "set-cookie" not in wrong.headers
    dup = client.post("/api/auth/signup", data={"email": "ada@example.com", "password": PASSWORD},
                      follow_redirects=False)
    assert dup.status_code == 303 and dup.headers["location"].startswith("/signup?error=An+account")


def test_form_logout_redirects_to_login(client):
    _signup(client)
    response = client.post("/api/auth/logout", content=b"", follow_redirects=False,
                           headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert client.get("/api/auth/me").status_code == 401


def test_cross_site_post_is_refused(client):
    response = client.post("/api/auth/signup", json={"email": "x@example.com", "password": PASSWORD},
                           headers={"origin": "https://evil.example"})
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    same = client.post("/api/auth/signup", json={"email": "x@example.com", "password": PASSWORD},
                       headers={"origin": "http://testserver"})
    assert same.status_code == 201


def test_repeated_failures_are_rate_limited_with_retry_after(client, monkeypatch):
    _signup(client)
    client.cookies.clear()
    bad = {"email": "ada@example.com", "password": "wrong-password"}
    statuses = [client.post("/api/auth/login", json=bad).status_code for _ in range(7)]
    assert statuses[0] == 401 and statuses[-1] == 429
    limited = client.post("/api/auth/login", json={"email": "ada@example.com", "password": PASSWORD})
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
