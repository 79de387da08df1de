"""Random sequences of grants, holds, settles, releases, refunds, clawbacks,
adjustments and the passage of time, checked step by step against a small
reference model of the lots, and against verify()."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from ledger_helpers import add_key, add_user
from sqlmodel import Session, SQLModel, select

from apiany.core import db as core_db
from apiany.core.errors import InsufficientCredits
from apiany.ledger import (
    balance_of,
    debit_credits,
    expire_holds,
    expire_lots,
    grant_credits,
    refund_consumption,
    release,
    reserve,
    settle,
    verify,
)
from apiany.models.keys import ApiKey
from apiany.models.ledger import CreditLot

T0 = datetime(2030, 6, 1, 0, 0, 0)
BUDGET = 120
amounts = st.integers(min_value=1, max_value=60)


class LedgerMachine(RuleBasedStateMachine):
    url = ""

    def __init__(self):
        super().__init__()
        self.s = Session(core_db.get_engine(self.url), expire_on_commit=False)
        for table in reversed(SQLModel.metadata.sorted_tables):  # each history starts empty
            self.s.execute(table.delete())
        self.user = add_user(self.s)
        self.key = add_key(self.s, self.user, budget=BUDGET).id
        self.s.commit()
        self.now = T0
        self.n = 0
        # The reference model.
        self.lots: list[dict] = []  # {"id", "remaining", "expires"}
        self.balance = 0
        self.holds: dict[int, dict] = {}  # id -> {"amount", "key", "expires"}
        self.budget_used = 0
        self.consumptions: dict[int, list[tuple[dict, int]]] = {}  # tx id -> draws
        self.clawed_back = False

    def teardown(self):
        self.s.close()

    def next_key(self, what: str) -> str:
        self.n += 1
        return f"{what}-{self.user}-{self.n}"

    @property
    def held(self) -> int:
        return sum(h["amount"] for h in self.holds.values())

    def order(self, lots):
        return sorted(lots, key=lambda lot: (lot["expires"] is None, lot["expires"] or T0,
                                             lot["id"]))

    def attempt(self, ok: bool, call):
        """Run a write the model predicts succeeds (ok) or gets a 402."""
        try:
            result = call()
        except InsufficientCredits:
            assert not ok
            return None
        self.s.commit()
        assert ok
        return result

    def draw(self, amount: int) -> list[tuple[dict, int]]:
        draws = []
        for lot in self.order([lot for lot in self.lots if lot["remaining"] > 0]):
            take = min(lot["remaining"], amount)
            if take:
                lot["remaining"] -= take
                amount -= take
                draws.append((lot, take))
        return draws

    def add_lot(self, tx, amount, expires):
        row = self.s.exec(select(CreditLot).where(CreditLot.transaction_id == tx.id)).one()
        debt = max(-self.balance, 0)
        self.lots.append({"id": row.id, "remaining": amount - min(debt, amount),
                          "expires": expires})
        self.balance += amount

    # ---- rules ----------------------------------------------------------------------

    @rule(amount=amounts, hours=st.one_of(st.none(), st.integers(1, 48)), paid=st.booleans())
    def grant(self, amount, hours, paid):
        expires = self.now + timedelta(hours=hours) if hours else None
        tx = grant_credits(self.s, user_id=self.user, amount=amount,
                           idempotency_key=self.next_key("g"),
                           kind="purchase" if paid else "grant", expires_at=expires,
                           price_minor=100 if paid else 0)
        self.s.commit()
        self.add_lot(tx, amount, expires)

    @rule(amount=amounts, with_key=st.booleans(), ttl_hours=st.integers(1, 30))
    def reserve(self, amount, with_key, ttl_hours):
        key_held = sum(h["amount"] for h in self.holds.values() if h["key"])
        ok = (self.balance >= 0 and self.balance - self.held >= amount
              and (not with_key or BUDGET - self.budget_used - key_held >= amount))
        hold = self.attempt(ok, lambda: reserve(
            self.s, user_id=self.user, amount=amount, idempotency_key=self.next_key("h"),
            api_key_id=self.key if with_key else None, ttl_seconds=ttl_hours * 3600,
            now=self.now))
        if hold is None:
            return
        self.holds[hold.id] = {"amount": amount, "key": with_key,
                               "expires": self.now + timedelta(hours=ttl_hours)}

    @precondition(lambda self: self.holds)
    @rule(data=st.data(), amount=st.integers(0, 80))
    def settle(self, data, amount):
        hold_id = data.draw(st.sampled_from(sorted(self.holds)))
        hold = self.holds.pop(hold_id)
        charge = min(amount, max(self.balance - self.held, 0))
        tx = settle(self.s, hold_id, amount=amount, now=self.now)
        self.s.commit()
        assert (tx is None) == (charge == 0)
        self.balance -= charge
        if hold["key"]:
            self.budget_used += charge
        if tx is not None:
            self.consumptions[tx.id] = self.draw(charge)

    @precondition(lambda self: self.holds)
    @rule(data=st.data())
    def release(self, data):
        hold_id = data.draw(st.sampled_from(sorted(self.holds)))
        del self.holds[hold_id]
        assert release(self.s, hold_id, now=self.now).status == "released"
        self.s.commit()

    @rule(hours=st.integers(1, 24))
    def time_passes(self, hours):
        self.now += timedelta(hours=hours)
        gone = [i for i, h in self.holds.items() if h["expires"] <= self.now]
        for hold_id in gone:
            del self.holds[hold_id]
        assert expire_holds(self.s, now=self.now) == len(gone)
        expired = 0
        due = [lot for lot in self.lots if lot["expires"] and lot["expires"] <= self.now]
        for lot in self.order(due):
            amount = min(lot["remaining"], max(self.balance - self.held, 0))
            if amount > 0:
                lot["remaining"] -= amount
                self.balance -= amount
                expired += 1
        assert expire_lots(self.s, now=self.now) == expired
        self.s.commit()

    @rule(amount=amounts, up=st.booleans())
    def adjust(self, amount, up):
        key = self.next_key("adj")
        if up:
            tx = grant_credits(self.s, user_id=self.user, amount=amount, kind="adjustment",
                               idempotency_key=key)
            self.s.commit()
            self.add_lot(tx, amount, None)
            return
        ok = self.balance - self.held >= amount
        if self.attempt(ok, lambda: debit_credits(
                self.s, user_id=self.user, amount=amount, kind="adjustment", idempotency_key=key,
                actor="admin", memo="", reference_type="", reference_id="")) is None:
            return
        self.balance -= amount
        self.draw(amount)

    @rule(amount=amounts)
    def clawback(self, amount):
        debit_credits(self.s, user_id=self.user, amount=amount, kind="clawback",
                      idempotency_key=self.next_key("cb"), actor="stripe", memo="",
                      reference_type="", reference_id="", allow_overdraft=True)
        self.s.commit()
        self.draw(amount)
        self.balance -= amount
        self.clawed_back = True

    @precondition(lambda self: self.consumptions)
    @rule(data=st.data())
    def refund(self, data):
        tx_id = data.draw(st.sampled_from(sorted(self.consumptions)))
        draws = self.consumptions.pop(tx_id)
        refund_consumption(self.s, transaction_id=tx_id, idempotency_key=self.next_key("rf"))
        self.s.commit()
        debt = max(-self.balance, 0)
        for lot, amount in sorted(draws, key=lambda d: self.order(self.lots).index(d[0])):
            repay = min(debt, amount)
            debt -= repay
            lot["remaining"] += amount - repay
        self.balance += sum(amount for _, amount in draws)

    # ---- invariants ------------------------------------------------------------------

    @invariant()
    def matches_the_model(self):
        assert verify(self.s) == []
        view = balance_of(self.s, self.user, now=self.now)
        assert (view.balance, view.held) == (self.balance, self.held)
        assert view.available >= 0 or self.clawed_back
        lots = self.s.exec(select(CreditLot.id, CreditLot.remaining)
                           .where(CreditLot.id.in_([lot["id"] for lot in self.lots]))
                           .order_by(CreditLot.id)).all()
        assert lots == [(lot["id"], lot["remaining"]) for lot in self.lots]
        assert sum(lot["remaining"] for lot in self.lots) == max(self.balance, 0)
        key = self.s.get(ApiKey, self.key)
        self.s.refresh(key)
        key_held = sum(h["amount"] for h in self.holds.values() if h["key"])
        assert (key.budget_used, key.budget_held) == (self.budget_used, key_held)


@pytest.mark.parametrize("db", ["sqlite", "postgres"])
def test_random_ledger_histories_keep_every_invariant(request, db):
    url = request.getfixturevalue("db_url" if db == "sqlite" else "pg_url")
    machine = type("Machine", (LedgerMachine,), {"url": url})
    examples = 20 if db == "sqlite" else 8
    run_state_machine_as_test(machine, settings=settings(
        max_examples=examples, stateful_step_count=25, deadline=None, database=None))
