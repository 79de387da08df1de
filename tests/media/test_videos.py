"""Video tasks: charged when accepted, refunded exactly once on failure,
cancel or max age (even with concurrent pollers), unknown statuses do not
poll forever, and nobody reaches another user's task."""

from __future__ import annotations

import threading

import openai
import pytest

from apiany.gateway.tasks import refresh_task
from apiany.jobs.media_tasks import expire_stale_tasks, poll_media_tasks
from tests.factories import make_key, make_user
from tests.gateway.helpers import balance, ledger_ok, set_channels, usage_rows
from tests.media.conftest import MAX_TASK_AGE, VIDEO_PER_SECOND
from tests.media.helpers import later, task, task_transactions

FOUR_SECONDS = 4 * VIDEO_PER_SECOND


def create(client, **kw):
    return client.videos.create(model="sandbox-video", prompt="a cat on a skateboard", seconds="4",
                                size="1280x720", **kw)


def test_video_completes_and_downloads(client_for):
    user = make_user(credits=100)
    before = balance(user)
    client = client_for(make_key(user))
    video = create(client)
    assert video.id.startswith("video_") and video.status in ("queued", "in_progress")
    assert video.model == "sandbox-video" and video.seconds == "4"
    assert before - balance(user) == FOUR_SECONDS  # charged when the upstream accepted
    (row,) = usage_rows(user)
    assert (row.task_id, row.credits_charged, row.unit_kind, row.billed_units) == (
        video.id, FOUR_SECONDS, "video:second", 4)
    assert row.upstream_cost == 4 * 50_000
    assert task_transactions(video.id) == [("consumption", None)]
    assert poll_media_tasks(later(5)) == 1
    done = client.videos.retrieve(video.id)
    assert (done.status, done.progress) == ("completed", 100) and done.completed_at
    content = client.videos.download_content(video.id).read()
    assert content[4:8] == b"ftyp" and len(content) > 16_000
    assert [v.id for v in client.videos.list()] == [video.id]
    assert balance(user) == before - FOUR_SECONDS and ledger_ok() == []


def test_get_polls_inline_when_due(client_for):
    user = make_user(credits=100)
    client = client_for(make_key(user))
    video = create(client)
    assert client.videos.retrieve(video.id).status in ("queued", "in_progress")  # not due yet
    assert refresh_task(video.id, later(3)) == "polled"
    assert client.videos.retrieve(video.id).status == "completed"


def _fail_after_two_polls():
    set_channels(("sandbox", 0, "task_polls=2,task_result=fail", {}))


def _refunded_once(user, before, task_id):
    assert balance(user) == before
    assert task_transactions(task_id)[0] == ("consumption", None)
    kinds = [k for k, _ in task_transactions(task_id)]
    assert kinds == ["consumption", "refund"]
    assert ledger_ok() == []


def test_failed_video_is_refunded_once_with_two_concurrent_pollers(any_client_for):
    _fail_after_two_polls()
    user = make_user(credits=100)
    before = balance(user)
    client = any_client_for(make_key(user))
    video = create(client)
    assert refresh_task(video.id, later(3)) == "polled"
    assert task(video.id).status == "in_progress"
    barrier = threading.Barrier(2)
    results = []

    def poller():
        barrier.wait()
        results.append(refresh_task(video.id, force=True))  # both fetch "failed" from the upstream

    threads = [threading.Thread(target=poller) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["polled", "polled"]
    t = task(video.id)
    assert (t.status, t.error_code) == ("failed", "sandbox_failed") and t.refund_transaction_id
    _refunded_once(user, before, video.id)
    failed = client.videos.retrieve(video.id)
    assert failed.status == "failed" and failed.error.code == "sandbox_failed"
    assert poll_media_tasks(later(3600)) == 0 and expire_stale_tasks(later(7200)) == 0
    _refunded_once(user, before, video.id)


def test_concurrent_poll_jobs_refund_once(any_client_for):
    _fail_after_two_polls()
    user = make_user(credits=100)
    before = balance(user)
    video = create(any_client_for(make_key(user)))
    for at in (later(3), later(10)):
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=lambda: (barrier.wait(), poll_media_tasks(at))) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert task(video.id).status == "failed"
    _refunded_once(user, before, video.id)


def test_stuck_task_is_failed_and_refunded_after_max_age(client_for):
    set_channels(("sandbox", 0, "task_result=pending", {}))
    user = make_user(credits=100)
    before = balance(user)
    video = create(client_for(make_key(user)))
    assert poll_media_tasks(later(5)) == 1
    assert expire_stale_tasks(later(MAX_TASK_AGE - 60)) == 0
    assert expire_stale_tasks(later(MAX_TASK_AGE + 1)) == 1
    assert expire_stale_tasks(later(MAX_TASK_AGE + 2)) == 0
    t = task(video.id)
    assert (t.status, t.error_code) == ("expired", "task_expired")
    _refunded_once(user, before, video.id)
    assert client_for(make_key(user)).videos.retrieve(video.id).status == "failed"


def test_unknown_status_is_recorded_backs_off_and_stops_at_max_age(client_for):
    set_channels(("sandbox", 0, "task_result=unknown", {}))
    user = make_user(credits=100)
    before = balance(user)
    video = create(client_for(make_key(user)))
    gaps, at = [], 5.0
    for _ in range(6):
        assert poll_media_tasks(later(at)) == 1
        t = task(video.id)
        assert (t.status, t.upstream_status) == ("queued", "mystery_state")  # recorded, still pending
        gap = (t.next_poll_at - t.last_polled_at).total_seconds()
        gaps.append(gap)
        at += gap + 1
    assert gaps == [4, 8, 16, 32, 60, 60]  # backoff, capped
    assert poll_media_tasks(later(MAX_TASK_AGE + 10)) == 0  # past max age: no more polls
    assert task(video.id).poll_count == 6
    assert expire_stale_tasks(later(MAX_TASK_AGE + 10)) == 1
    _refunded_once(user, before, video.id)


def test_undownloadable_result_is_a_502(client_for):
    set_channels(("sandbox", 0, "task_result=undownloadable", {}))
    user = make_user(credits=100)
    client = client_for(make_key(user))
    video = create(client)
    poll_media_tasks(later(5))
    assert client.videos.retrieve(video.id).status == "completed"
    with pytest.raises(openai.InternalServerError) as info:
        client.videos.download_content(video.id)
    assert info.value.status_code == 502


def test_content_before_completion_is_409(client_for):
    set_channels(("sandbox", 0, "task_result=pending", {}))
    client = client_for(make_key(make_user(credits=100)))
    video = create(client)
    with pytest.raises(openai.ConflictError):
        client.videos.download_content(video.id)


def test_delete_cancels_and_refunds_an_open_task(client_for):
    set_channels(("sandbox", 0, "task_result=pending", {}))
    user = make_user(credits=100)
    before = balance(user)
    client = client_for(make_key(user))
    video = create(client)
    deleted = client.videos.delete(video.id)
    assert (deleted.id, deleted.deleted) == (video.id, True)
    assert task(video.id).status == "cancelled"
    _refunded_once(user, before, video.id)
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(video.id)
    assert client.videos.list().data == []


def test_failed_submit_costs_nothing(client_for):
    set_channels(("sandbox", 0, "status=500", {}))
    user = make_user(credits=100)
    before = balance(user)
    with pytest.raises(openai.APIStatusError):
        create(client_for(make_key(user)))
    (row,) = usage_rows(user)
    assert (row.status, row.credits_charged, row.attempt_count) == ("error", 0, 1)
    assert balance(user) == before and ledger_ok() == []


def test_not_enough_credits_is_402(client_for):
    user = make_user(credits=10)
    with pytest.raises(openai.APIStatusError) as info:
        create(client_for(make_key(user)))
    assert info.value.status_code == 402 and balance(user) == 10 * 1_000_000


def test_another_users_task_is_404_everywhere(client_for, api):
    owner, other = make_user(credits=100), make_user(credits=100)
    video = create(client_for(make_key(owner)))
    intruder = client_for(make_key(other))
    for call in (lambda: intruder.videos.retrieve(video.id), lambda: intruder.videos.download_content(video.id),
                 lambda: intruder.videos.delete(video.id)):
        with pytest.raises(openai.NotFoundError):
            call()
    assert intruder.videos.list().data == []
    assert task(video.id).status in ("queued", "in_progress") and task(video.id).deleted_at is None


def test_submit_falls_back_and_the_task_stays_on_the_accepting_channel(client_for):
    set_channels(("primary", 10, "status=503", {}), ("secondary", 0, None, {}))
    user = make_user(credits=100)
    before = balance(user)
    client = client_for(make_key(user))
    video = create(client)
    (row,) = usage_rows(user)
    assert (row.channel_name, row.attempt_count, row.credits_charged) == ("secondary", 2, FOUR_SECONDS)
    assert task(video.id).channel_name == "secondary"
    poll_media_tasks(later(5))
    assert client.videos.retrieve(video.id).status == "completed"
    assert before - balance(user) == FOUR_SECONDS and ledger_ok() == []
