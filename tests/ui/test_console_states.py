"""The console's state functions, without a browser: each takes the signed-in
user's id (from SessionState on the server) and must never return or change
another user's keys, usage rows or ledger rows, whatever id the browser sends."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from apiany.core.db import get_engine, session_scope
from apiany.core.errors import NotFound
from apiany.ledger import debit_credits
from apiany.models import ApiModel, UsageRecord
from apiany.services.ledger_history import LedgerFilters, list_ledger, totals_by_kind
from apiany.ui.state import credits as credits_state
from apiany.ui.state import keys as keys_state
from apiany.ui.state import settings as settings_state
from apiany.ui.state import usage as usage_state
from apiany.ui.state.catalog import price_phrases
from apiany.ui.state.usage import UsageFilters
from tests.factories import make_user

NEW_KEY = {"name": "", "app_name": "", "purpose": "", "budget": None, "budget_period": "none", "rpm_limit": None,
           "model_scope": [], "log_content": False, "expires_at": None}


def _usage(user_id: int, request_id: str, **fields) -> None:
    fields = {"public_model": "m1", "request_type": "chat", **fields}
    with session_scope() as session:
        session.add(UsageRecord(request_id=request_id, user_id=user_id, **fields))


@pytest.fixture
def two_users(db_url):
    return make_user(credits=10), make_user(credits=5)


def test_keys_are_private(two_users):
    alice, bob = two_users
    secret = keys_state.save_key(alice.id, 0, {**NEW_KEY, "name": "alice key"})
    assert secret.startswith("sk-") or len(secret) > 20
    [row] = keys_state.load_keys(alice.id)
    assert row["name"] == "alice key" and row["display"].endswith(secret[-4:]) and secret not in str(row)
    assert keys_state.load_keys(bob.id) == []
    key_id = int(row["id"])
    for attempt in (lambda: keys_state.set_key_status(bob.id, key_id, "disabled"),
                    lambda: keys_state.set_key_status(bob.id, key_id, "revoked"),
                    lambda: keys_state.save_key(bob.id, key_id, {**NEW_KEY, "name": "stolen"})):
        with pytest.raises(NotFound):
            attempt()
    [row] = keys_state.load_keys(alice.id)
    assert (row["name"], row["status"]) == ("alice key", "active")
    keys_state.set_key_status(alice.id, key_id, "disabled")
    assert keys_state.load_keys(alice.id)[0]["status"] == "disabled"


def test_key_form_validation_messages():
    data, errors = keys_state.parse_key_form({"name": " ", "budget": "abc", "rpm_limit": "-3", "expires_at": "x"})
    assert set(errors) == {"name", "budget", "rpm_limit", "expires_at"}
    data, errors = keys_state.parse_key_form({"name": "ok", "budget": "2.5", "rpm_limit": "1,000",
                                              "model_scope": "a, b,", "log_content": "on"})
    assert errors == {}
    assert (data["budget"], data["rpm_limit"], data["model_scope"], data["log_content"]) == (2_500_000, 1000,
                                                                                             ["a", "b"], True)


def test_usage_is_private(two_users):
    alice, bob = two_users
    _usage(alice.id, "req_alice", credits_charged=1234)
    _usage(bob.id, "req_bob", status="error", error_summary="boom")
    rows, total = usage_state.query_usage(alice.id, UsageFilters(), 0)
    assert total == 1 and [r["request_id"] for r in rows] == ["req_alice"] and rows[0]["credits"] == "0.001234"
    assert usage_state.request_detail(bob.id, "req_alice") is None
    assert usage_state.request_detail(alice.id, "req_alice")["facts"][0]["value"] == "req_alice"
    csv_text, count = usage_state.usage_csv(bob.id, UsageFilters())
    assert count == 1 and "req_bob" in csv_text and "req_alice" not in csv_text
    # a key name the user does not own matches nothing rather than being ignored
    filters = usage_state.to_filters({"key": "someone else's key"}, key_ids={})
    assert usage_state.query_usage(alice.id, filters, 0) == ([], 0)
    only_errors = usage_state.to_filters({"status": "error"}, key_ids={})
    assert usage_state.query_usage(alice.id, only_errors, 0)[1] == 0


def test_ledger_is_private(two_users):
    alice, bob = two_users
    with session_scope() as session:
        debit_credits(session, user_id=alice.id, amount=1_500_000, kind="consumption", idempotency_key="t:1",
                      reference_type="request", reference_id="req_1")
    with session_scope() as session:
        rows, total = list_ledger(session, user_id=alice.id)
        assert total == 2 and [r.kind for r in rows] == ["consumption", "adjustment"]
        assert rows[0].balance_after == 8_500_000 and rows[0].amount == -1_500_000
        assert totals_by_kind(session, user_id=alice.id) == {"adjustment": 10_000_000, "consumption": -1_500_000}
        assert [r.kind for r in list_ledger(session, user_id=bob.id)[0]] == ["adjustment"]
        assert list_ledger(session, user_id=alice.id, filters=LedgerFilters(kind="consumption"))[1] == 1
    rows, total, totals = credits_state.query_ledger(bob.id, LedgerFilters(), 0)
    assert total == 1 and rows[0]["amount"] == "+5 credits" and totals == [{"kind": "adjustment",
                                                                          "amount": "+5 credits"}]
    text, count = credits_state.ledger_csv(alice.id, credits_state.to_filters({"kind": "consumption"}))
    assert count == 1 and "req_1" in text and "-1.5" in text
    assert credits_state.ledger_row(list_ledger_first(alice.id))["link"] == "/usage/req_1"


def list_ledger_first(user_id: int):
    with session_scope() as session:
        return list_ledger(session, user_id=user_id, limit=1)[0][0]


def test_settings_act_on_the_signed_in_user_only(two_users):
    alice, bob = two_users
    from apiany.services.accounts import create_console_session

    with session_scope() as session:
        token_a, _ = create_console_session(session, user=alice)
        token_b1, _ = create_console_session(session, user=bob)
        create_console_session(session, user=bob)
    assert settings_state.sign_out_others(bob.id, token_b1) == 1
    assert len(settings_state.load_settings(alice.id, token_a)["sessions"]) == 1
    secret = settings_state.new_webhook_secret(bob.id)
    assert settings_state.load_settings(alice.id, token_a)["webhook_hint"] == ""
    assert settings_state.load_settings(bob.id, token_b1)["webhook_hint"].endswith(secret[-4:])


def test_price_words():
    model = ApiModel(public_id="x", request_type="chat", price_input_per_m=500_000, price_output_per_m=1_000_000,
                     unit_prices={"image:1024x1024:hd": 40_000_000})
    assert price_phrases(model) == ["0.5 credits per 1M input tokens", "1 credit per 1M output tokens",
                                    "40 credits per image (1024x1024, hd)"]


def test_usage_page_query_stays_fast_with_100k_rows(db_url):
    user, other = make_user(), make_user()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [{"request_id": f"r{i}", "user_id": user.id if i % 10 else other.id, "public_model": "m",
             "request_type": "chat", "status": "error" if i % 7 == 0 else "success",
             "created_at": start + timedelta(seconds=i), "credits_charged": 1, "billed_units": 0,
             "upstream_cost": 0} for i in range(110_000)]
    with get_engine().begin() as conn:
        conn.execute(insert(UsageRecord), rows)
    began = time.perf_counter()
    page, total = usage_state.query_usage(user.id, UsageFilters(), offset=2500)
    filtered, ftotal = usage_state.query_usage(user.id, UsageFilters(status="error"), offset=0)
    elapsed = time.perf_counter() - began
    assert total == 99_000 and len(page) == 25 and len(filtered) == 25 and ftotal > 10_000
    assert elapsed < 1.0, f"two page queries took {elapsed:.2f}s"


def test_docs_callback_check_accepts_the_real_signature():
    """The verification snippet on /docs matches how callbacks are signed (services.tasks.sign)."""
    from apiany.services.tasks import sign
    from apiany.ui.pages.docs import CALLBACK_CHECK

    namespace: dict = {}
    exec(CALLBACK_CHECK, namespace)
    header = sign("whsec_test", int(time.time()), b'{"id": "task_1"}')
    assert namespace["verify"]("whsec_test", header, b'{"id": "task_1"}')
    assert not namespace["verify"]("whsec_other", header, b'{"id": "task_1"}')
    assert not namespace["verify"]("whsec_test", header, b'{"id": "task_2"}')


def test_daily_usage_counts_only_the_users_rows(two_users):
    from apiany.services.usage_stats import daily_usage

    alice, bob = two_users
    now = datetime.now(UTC)
    _usage(alice.id, "a1", credits_charged=2_000_000, created_at=now)
    _usage(alice.id, "a2", credits_charged=500_000, created_at=now - timedelta(days=2), public_model="m2")
    _usage(bob.id, "b1", credits_charged=7, created_at=now)
    with session_scope() as session:
        days = daily_usage(session, user_id=alice.id, today=now.date())
        assert len(days) == 30 and days[-1] == {"day": now.date(), "requests": 1, "credits": 2_000_000}
        assert days[-3]["requests"] == 1 and sum(d["requests"] for d in days) == 2
        assert sum(d["requests"] for d in daily_usage(session, user_id=alice.id, model="m2")) == 1


def test_key_expiry_round_trips_through_the_edit_form(two_users):
    alice, _ = two_users
    data, errors = keys_state.parse_key_form({"name": "dated", "expires_at": "2031-05-10"})
    assert errors == {}
    keys_state.save_key(alice.id, 0, data)
    [row] = keys_state.load_keys(alice.id)
    assert row["expires_text"] == row["expires_at"] == "2031-05-10"
    form = {**{k: row[k] for k in keys_state.EMPTY_FORM}, "name": row["name"]}
    keys_state.save_key(alice.id, int(row["id"]), keys_state.parse_key_form(form)[0])
    assert keys_state.load_keys(alice.id)[0]["expires_text"] == "2031-05-10"


def test_csv_exports_page_through_more_than_one_chunk(two_users):
    alice, _ = two_users
    with get_engine().begin() as conn:
        conn.execute(insert(UsageRecord), [{"request_id": f"bulk{i}", "user_id": alice.id, "public_model": "m",
                                            "request_type": "chat", "billed_units": 0, "credits_charged": 0,
                                            "upstream_cost": 0} for i in range(2500)])
    text, count = usage_state.usage_csv(alice.id, UsageFilters())
    assert count == 2500 and len(text.splitlines()) == 2501 and len(set(text.splitlines())) == 2501


def test_task_reference_opens_the_request_of_its_owner_only(two_users):
    alice, bob = two_users
    _usage(alice.id, "req_video", task_id="task_abc", request_type="video")
    assert usage_state.request_detail(alice.id, "task_abc")["facts"][0]["value"] == "req_video"
    assert usage_state.request_detail(bob.id, "task_abc") is None


def test_csv_cells_that_look_like_formulas_are_quoted():
    from apiany.ui.state.formatting import csv_text

    text = csv_text(["key", "amount"], [['=HYPERLINK("https://evil.example","x")', "-0.5"], ["@cmd", "+3"]])
    assert text.splitlines() == ["key,amount", '"\'=HYPERLINK(""https://evil.example"",""x"")",-0.5',
                                 "'@cmd,+3"]
