"""Task callbacks: signed with the user's webhook secret, retried with
backoff on failure, given up after the bound, never sent where the rules
refuse; and the /api/tasks story for the owner only."""

from __future__ import annotations

import hashlib
import hmac
import json

import httpx
import openai
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from apiany.core.settings import reset_settings
from apiany.jobs.media_tasks import deliver_callbacks, poll_media_tasks
from apiany.services.tasks import CALLBACK_MAX_ATTEMPTS
from tests.factories import make_key
from tests.gateway.helpers import balance, ledger_ok, set_channels
from tests.media.conftest import VIDEO_PER_SECOND
from tests.media.helpers import callback_attempts, later, task
from tests.servers import ServerThread


class Receiver:
    def __init__(self):
        self.statuses: list[int] = []
        self.received: list[tuple[dict, bytes]] = []
        self.server = ServerThread(Starlette(routes=[Route("/hook", self.hook, methods=["POST"])]))

    async def hook(self, request: Request) -> Response:
        self.received.append((dict(request.headers), await request.body()))
        return Response(status_code=self.statuses.pop(0) if self.statuses else 200)

    @property
    def url(self) -> str:
        return f"{self.server.url}/hook"


@pytest.fixture
def receiver():
    r = Receiver()
    with r.server:
        yield r


def signed_up(api, email: str) -> tuple[httpx.Client, object]:
    """A console session (cookie) and the user behind it, with credits."""
    from apiany.api.deps import SESSION_COOKIE
    from apiany.core.db import session_scope
    from apiany.services.accounts import create_console_session
    from tests.factories import make_user

    user = make_user(credits=100, email=email)
    with session_scope() as s:
        token, _ = create_console_session(s, user=user)
    return httpx.Client(base_url=api.url, cookies={SESSION_COOKIE: token}), user


def make_video(client_for, user, url: str):
    client = client_for(make_key(user))
    return client.videos.create(model="sandbox-video", prompt="waves", seconds="4", size="1280x720",
                                extra_body={"callback_url": url})


def test_callback_is_signed_with_the_users_secret(api, client_for, receiver):
    console, user = signed_up(api, "hooks@example.com")
    secret = console.get("/api/tasks/webhook-secret").json()["webhook_secret"]
    video = make_video(client_for, user, receiver.url)
    assert deliver_callbacks(later(1)) == 0  # nothing finished yet
    poll_media_tasks(later(5))
    assert deliver_callbacks(later(6)) == 1
    ((headers, body),) = receiver.received
    stamp, mac = (p.split("=", 1)[1] for p in headers["apiany-signature"].split(","))
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(mac, expected)
    event = json.loads(body)
    assert (event["type"], event["data"]["id"], event["data"]["status"]) == ("video.completed", video.id, "completed")
    assert task(video.id).callback_state == "delivered"
    assert [a.outcome for a in callback_attempts(video.id)] == ["delivered"]
    assert deliver_callbacks(later(3600)) == 0  # delivered once

    story = console.get(f"/api/tasks/{video.id}").json()
    assert story["video"]["status"] == "completed" and story["task"]["channel_name"] == "sandbox"
    assert [m["kind"] for m in story["ledger"]] == ["consumption"]
    assert story["ledger"][0]["amount"] == -4 * VIDEO_PER_SECOND
    assert story["usage"][0]["task_id"] == video.id and len(story["callbacks"]) == 1
    assert console.get(f"/api/usage/{story['usage'][0]['request_id']}").json()["ledger"][0]["kind"] == "consumption"


def test_callback_retried_after_500_then_delivered(api, client_for, receiver):
    _, user = signed_up(api, "retry@example.com")
    receiver.statuses = [500]
    set_channels(("sandbox", 0, "task_result=fail", {}))
    video = make_video(client_for, user, receiver.url)
    poll_media_tasks(later(5))
    assert deliver_callbacks(later(6)) == 0
    assert deliver_callbacks(later(7)) == 0  # backing off: not due yet
    assert deliver_callbacks(later(20)) == 1
    assert [(a.outcome, a.http_status) for a in callback_attempts(video.id)] == [("retry", 500), ("delivered", 200)]
    assert json.loads(receiver.received[1][1])["type"] == "video.failed"
    assert balance(user) == 100 * 1_000_000 and ledger_ok() == []  # the failed video was refunded


def test_callback_given_up_after_the_bound(api, client_for, receiver):
    _, user = signed_up(api, "giveup@example.com")
    receiver.statuses = [503] * 50
    video = make_video(client_for, user, receiver.url)
    poll_media_tasks(later(5))
    for minute in range(1, 200):
        deliver_callbacks(later(minute * 60))
    attempts = callback_attempts(video.id)
    assert len(attempts) == len(receiver.received) <= CALLBACK_MAX_ATTEMPTS
    assert [a.outcome for a in attempts] == ["retry"] * (len(attempts) - 1) + ["failed"]
    assert task(video.id).callback_state == "failed"


def test_refused_callback_addresses(api, client_for, receiver, monkeypatch):
    _, user = signed_up(api, "refused@example.com")
    client = client_for(make_key(user))
    before = balance(user)
    for url in ("http://example.com/hook", "ftp://127.0.0.1/x", "https://10.0.0.5/hook",
                "https://user:pw@example.com/hook", "not a url"):
        with pytest.raises(openai.BadRequestError) as info:
            client.videos.create(model="sandbox-video", prompt="x", seconds="4", size="1280x720",
                                 extra_body={"callback_url": url})
        assert info.value.body["param"] == "callback_url"
    assert balance(user) == before
    video = make_video(client_for, user, receiver.url)  # loopback is fine in development...
    poll_media_tasks(later(5))
    monkeypatch.setenv("APIANY_ENV", "prod")  # ...and refused in production, at delivery time too
    reset_settings()
    assert deliver_callbacks(later(6)) == 0
    assert receiver.received == []
    assert [a.outcome for a in callback_attempts(video.id)] == ["refused"]
    assert task(video.id).callback_state == "refused"


def test_task_routes_are_owner_only(api, client_for):
    owner_console, owner = signed_up(api, "owner@example.com")
    other_console, _ = signed_up(api, "other@example.com")
    video = client_for(make_key(owner)).videos.create(model="sandbox-video", prompt="x", seconds="4",
                                                      size="1280x720")
    assert owner_console.get(f"/api/tasks/{video.id}").status_code == 200
    assert [t["id"] for t in owner_console.get("/api/tasks").json()["data"]] == [video.id]
    assert other_console.get(f"/api/tasks/{video.id}").status_code == 404
    assert other_console.get("/api/tasks").json()["data"] == []
    assert httpx.get(f"{api.url}/api/tasks/{video.id}").status_code == 401
