"""verify() proves the invariants and names what a hand edit broke."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import select

from apiany.core.money import UNITS_PER_CREDIT as C
from apiany.ledger import debit_credits, grant_credits, reserve, user_account, verify
from apiany.models.ledger import CreditLot, LedgerEntry


def setup_ledger(s, user, make_key):
    grant_credits(s, user_id=user, amount=10 * C, kind="grant", idempotency_key="g")
    spend = debit_credits(s, user_id=user, amount=3 * C, kind="consumption",
                          idempotency_key="r", actor="t", memo="", reference_type="request",
                          reference_id="r")
    key = make_key(s, user)
    reserve(s, user_id=user, amount=2 * C, idempotency_key="h", api_key_id=key.id)
    s.commit()
    assert verify(s) == []
    return spend, key


def test_verify_names_a_hand_altered_entry(s, user, make_key):
    spend, _ = setup_ledger(s, user, make_key)
    entry = s.exec(select(LedgerEntry).where(LedgerEntry.transaction_id == spend.id,
                                             LedgerEntry.amount < 0)).one()
    s.execute(text("UPDATE ledger_entries SET amount = :a WHERE id = :id"),
              {"a": -3 * C + 1, "id": entry.id})
    s.commit()
    assert verify(s) == [
        f"Account user:{user} has a cached balance of {7 * C} units but its entries sum to "
        f"{7 * C + 1} units.",
        f"Transaction #{spend.id} (consumption, key 'r') has 2 entries summing to 1 units; it "
        "must have at least two entries summing to zero.",
        f"Account user:{user}: entry #{entry.id} (transaction #{spend.id}) records balance_after "
        f"{7 * C} units but the running sum of entries there is {7 * C + 1} units (entries of "
        "this account that disagree: 1).",
    ]


def test_verify_names_a_hand_altered_cached_balance(s, user, make_key):
    setup_ledger(s, user, make_key)
    s.execute(text("UPDATE ledger_accounts SET balance = balance + 5 WHERE code = :c"),
              {"c": f"user:{user}"})
    s.commit()
    assert verify(s) == [
        f"Account user:{user} has a cached balance of {7 * C + 5} units but its entries sum to "
        f"{7 * C} units.",
        f"Account user:{user} has a balance of {7 * C + 5} units but its lots hold {7 * C} units "
        f"(expected {7 * C + 5}).",
    ]


def test_verify_names_altered_holds_budgets_and_lots(s, user, make_key):
    _, key = setup_ledger(s, user, make_key)
    lot = s.exec(select(CreditLot)).one()
    s.execute(text("UPDATE ledger_accounts SET held = 0 WHERE code = :c"), {"c": f"user:{user}"})
    s.execute(text("UPDATE api_keys SET budget_held = 7 WHERE id = :id"), {"id": key.id})
    s.execute(text("UPDATE credit_lots SET remaining = amount + 1 WHERE id = :id"), {"id": lot.id})
    s.commit()
    assert user_account(s, user).held == 0
    assert verify(s) == [
        f"Account user:{user} has a balance of {7 * C} units but its lots hold {10 * C + 1} units "
        f"(expected {7 * C}).",
        f"Lot #{lot.id} of user:{user} has {10 * C + 1} units remaining, outside 0..{10 * C}.",
        f"Lot #{lot.id} of user:{user} has {10 * C + 1} units remaining but its amount {10 * C} "
        f"plus its movements ({-3 * C}) gives {7 * C}.",
        f"Account user:{user} caches 0 units held but its active holds add up to {2 * C} units.",
        f"API key #{key.id} ('k') caches 7 units of budget held but its active holds add up to "
        f"{2 * C} units.",
    ]
