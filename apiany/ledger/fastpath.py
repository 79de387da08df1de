"""The /v1 hot path through holds: `reserve_hold`, `settle_hold` and
`release_hold` apply exactly the rules of holds.reserve / holds.settle /
holds.release for the common case, in a few plain SQL statements on the
session's own connection (the ORM version costs ~25 statements and several
milliseconds of CPU per request; even SQLAlchemy Core statement building
showed up as most of the rest). Whatever is not the common case (no account
yet, a replayed idempotency key, a budget period to roll over, not enough
credits or budget, a hold that is no longer active) undoes what this did,
still under the same locks, and hands over to the full implementation,
which decides and explains. Same lock order: the user account, then the
API key, then the hold. System accounts are never locked or updated
(accounts.py). The SQL is written once with :name parameters (sqlite3's
style) and translated for psycopg (core/sqltx.py). Each function takes the
caller's Session or a plain-SQL Tx.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from apiany.core.db import utcnow
from apiany.core.sqltx import SQL, Tx, as_tx
from apiany.ledger.accounts import system_row
from apiany.ledger.common import DEBIT_SINKS, check_amount, check_key, fingerprint, month_start
from apiany.ledger.holds import release, reserve, settle
from apiany.models.ledger import Hold

SINK = DEBIT_SINKS["consumption"]


PERIOD_OK = "(budget_period != 'monthly' OR budget_period_start >= :month)"
RESERVE_ACCOUNT = SQL("""UPDATE ledger_accounts SET held = held + :amount, updated_at = :now
    WHERE code = :code AND balance >= 0 AND balance - held >= :amount RETURNING id""")
RESERVE_KEY = SQL(f"""UPDATE api_keys SET budget_held = budget_held + :amount
    WHERE id = :key AND user_id = :user AND (budget IS NULL OR
    ({PERIOD_OK} AND budget - budget_used - budget_held >= :amount))""")
INSERT_HOLD = SQL("""INSERT INTO holds (account_id, api_key_id, idempotency_key, amount,
    settled_amount, status, reference_type, reference_id, created_at, expires_at)
    VALUES (:account, :key, :idem, :amount, 0, 'active', :rtype, :rid, :now, :expires)
    ON CONFLICT (idempotency_key) DO NOTHING RETURNING id""")
ADD_HELD = SQL("UPDATE ledger_accounts SET held = held + :amount WHERE id = :account")
ADD_BUDGET = SQL("""UPDATE api_keys SET budget_held = budget_held + :amount,
    budget_used = budget_used + :used WHERE id = :key""")
SETTLE_KEY = SQL(f"""UPDATE api_keys SET budget_held = budget_held - :amount,
    budget_used = budget_used + :used WHERE id = :key AND {PERIOD_OK}""")
LOCK_ACCOUNT = SQL("""SELECT id, code, balance, held FROM ledger_accounts
    WHERE id = (SELECT account_id FROM holds WHERE id = :hold)""")
READ_HOLD = SQL("""SELECT api_key_id, amount, status, idempotency_key, reference_type,
    reference_id FROM holds WHERE id = :hold""")
INSERT_TX = SQL("""INSERT INTO ledger_transactions (kind, idempotency_key, fingerprint,
    reference_type, reference_id, actor, memo, created_at)
    VALUES ('consumption', :idem, :fp, :rtype, :rid, :actor, :memo, :now)
    ON CONFLICT (idempotency_key) DO NOTHING RETURNING id""")
SYSTEM_ID = SQL("SELECT id FROM ledger_accounts WHERE code = :code")
INSERT_ENTRIES = SQL("""INSERT INTO ledger_entries (transaction_id, account_id, amount,
    balance_after, created_at) VALUES (:tx, :account, :spent, :after, :now),
    (:tx, :system, :charge, 0, :now)""")
OPEN_LOTS = SQL("""SELECT id, remaining FROM credit_lots WHERE account_id = :account
    AND remaining > 0 ORDER BY expires_at IS NULL, expires_at, id""")
DRAW_LOT = SQL("UPDATE credit_lots SET remaining = remaining - :take WHERE id = :lot")
INSERT_MOVE = SQL("""INSERT INTO lot_movements (transaction_id, lot_id, amount)
    VALUES (:tx, :lot, :amount)""")
SETTLE_ACCOUNT = SQL("""UPDATE ledger_accounts SET balance = balance - :charge,
    held = held - :amount, updated_at = :now WHERE id = :account""")
FINISH_HOLD = SQL("""UPDATE holds SET status = :status, finalized_at = :now,
    settled_amount = :charge, settle_transaction_id = :tx WHERE id = :hold""")
RELEASE_ACCOUNT = SQL("""UPDATE ledger_accounts SET held = held - :amount, updated_at = :now
    WHERE id = :account""")


def reserve_hold(db: Session | Tx, *, user_id: int, amount: int, idempotency_key: str,
                 api_key_id: int | None = None, reference_type: str = "",
                 reference_id: str = "", ttl_seconds: int = 600) -> int:
    """holds.reserve, returning the hold's id."""
    args = dict(user_id=user_id, amount=amount, idempotency_key=idempotency_key,
                api_key_id=api_key_id, reference_type=reference_type,
                reference_id=reference_id, ttl_seconds=ttl_seconds)
    check_amount(amount)
    check_key(idempotency_key)
    tx = as_tx(db)
    if len(reference_type) > 30 or len(reference_id) > 100 or isinstance(user_id, bool):
        return reserve(tx.session, **args).id  # raises the full path's error
    now = utcnow()
    stamp = tx.ts(now)
    row = tx.one(RESERVE_ACCOUNT, dict(amount=amount, now=stamp, code=f"user:{user_id}"))
    if row is None:
        return reserve(tx.session, **args).id
    account_id = row[0]
    if api_key_id is not None:
        if tx.do(RESERVE_KEY, dict(amount=amount, key=api_key_id, user=user_id,
                                   month=tx.ts(month_start(now)))) != 1:
            tx.do(ADD_HELD, dict(amount=-amount, account=account_id))
            return reserve(tx.session, **args).id
    row = tx.one(INSERT_HOLD, dict(
        account=account_id, key=api_key_id, idem=idempotency_key, amount=amount,
        rtype=reference_type, rid=reference_id, now=stamp,
        expires=tx.ts(now + timedelta(seconds=ttl_seconds))))
    if row is None:  # the key was used before: undo, the full path answers the replay
        tx.do(ADD_HELD, dict(amount=-amount, account=account_id))
        if api_key_id is not None:
            tx.do(ADD_BUDGET, dict(amount=-amount, used=0, key=api_key_id))
        return reserve(tx.session, **args).id
    return row[0]


def _lock_account_of_hold(tx: Tx, hold_id: int):
    """Lock the hold's account (FOR NO KEY UPDATE on PostgreSQL: foreign keys
    of new entries need only KEY SHARE), then read the hold, which cannot
    change any more: every status change locks its account first. (One
    statement on SQLite, whose transactions hold the write lock already; on
    PostgreSQL a join would read the hold from before the lock wait.)"""
    if isinstance(hold_id, bool) or not isinstance(hold_id, int):
        return None, None
    if not tx.pg:
        row = tx.one(ACCOUNT_AND_HOLD, dict(hold=hold_id))
        return (row[:4], row[4:]) if row else (None, None)
    account = tx.one(LOCK_ACCOUNT_PG, dict(hold=hold_id))
    if account is None:
        return None, None
    return account, tx.one(READ_HOLD, dict(hold=hold_id))


LOCK_ACCOUNT_PG = SQL(LOCK_ACCOUNT.lite + " FOR NO KEY UPDATE")
ACCOUNT_AND_HOLD = SQL("""SELECT a.id, a.code, a.balance, a.held, h.api_key_id, h.amount, h.status,
    h.idempotency_key, h.reference_type, h.reference_id
    FROM holds h JOIN ledger_accounts a ON a.id = h.account_id WHERE h.id = :hold""")


def settle_hold(db: Session | Tx, hold_id: int, *, amount: int, memo: str = "",
                actor: str = "system") -> int:
    """holds.settle, returning the units actually charged."""
    check_amount(amount, allow_zero=True)
    tx = as_tx(db)
    now = utcnow()
    account, hold = _lock_account_of_hold(tx, hold_id)
    if hold is None or hold[2] != "active" or len(memo) > 500 or len(actor) > 200:
        return _full_settle(tx, hold_id, amount, memo, actor)
    account_id, code, balance, held = account
    key_id, hold_amount, _, idem, rtype, rid = hold
    charge = min(amount, max(balance - (held - hold_amount), 0))
    stamp = tx.ts(now)
    if key_id is not None:
        if tx.do(SETTLE_KEY, dict(amount=hold_amount, used=charge, key=key_id,
                                  month=tx.ts(month_start(now)))) != 1:  # a monthly period to roll over
            return _full_settle(tx, hold_id, amount, memo, actor)
    tx_id = None
    if charge:
        fp = fingerprint("consumption", [code, SINK], charge, rtype, rid)
        row = tx.one(INSERT_TX, dict(idem=f"settle:{idem}", fp=fp, rtype=rtype, rid=rid,
                                     actor=actor, memo=memo, now=stamp))
        if row is None:  # the consumption's key exists: undo, the full path answers
            if key_id is not None:
                tx.do(ADD_BUDGET, dict(amount=hold_amount, used=-charge, key=key_id))
            return _full_settle(tx, hold_id, amount, memo, actor)
        tx_id = row[0]
        _post(tx, account_id, balance, tx_id, charge, stamp)
    tx.do(SETTLE_ACCOUNT, dict(charge=charge, amount=hold_amount, now=stamp, account=account_id))
    tx.do(FINISH_HOLD, dict(status="settled", now=stamp, charge=charge, tx=tx_id, hold=hold_id))
    return charge


def _post(tx: Tx, account_id: int, balance: int, tx_id: int, charge: int, now) -> None:
    """The consumption's two entries (the system leg records no running
    balance: accounts.py) and its draw on the lots, earliest expiry first.
    charge <= balance - other holds, so the lots (which hold max(balance,
    0)) always cover it."""
    row = tx.one(SYSTEM_ID, dict(code=SINK))
    system_id = row[0] if row else system_row(tx.session, SINK).id
    tx.do(INSERT_ENTRIES, dict(tx=tx_id, account=account_id, spent=-charge, after=balance - charge,
                               system=system_id, charge=charge, now=now))
    left, moves = charge, []
    for lot_id, remaining in tx.all(OPEN_LOTS, dict(account=account_id)):
        if not left:
            break
        take = min(remaining, left)
        moves.append(dict(tx=tx_id, lot=lot_id, amount=-take))
        tx.do(DRAW_LOT, dict(take=take, lot=lot_id))
        left -= take
    tx.do(INSERT_MOVE, moves)


def _full_settle(tx: Tx, hold_id: int, amount: int, memo: str, actor: str) -> int:
    session = tx.session
    settle(session, hold_id, amount=amount, memo=memo, actor=actor)
    return session.get(Hold, hold_id, populate_existing=True).settled_amount


def release_hold(db: Session | Tx, hold_id: int) -> None:
    """holds.release: free an active hold; a finished one stays as it is."""
    tx = as_tx(db)
    account, hold = _lock_account_of_hold(tx, hold_id)
    if hold is None:
        release(tx.session, hold_id)  # raises the full path's error
        return
    key_id, hold_amount, status = hold[0], hold[1], hold[2]
    if status != "active":
        return
    stamp = tx.ts(utcnow())
    if key_id is not None:
        tx.do(ADD_BUDGET, dict(amount=-hold_amount, used=0, key=key_id))
    tx.do(RELEASE_ACCOUNT, dict(amount=hold_amount, now=stamp, account=account[0]))
    tx.do(FINISH_HOLD, dict(status="released", now=stamp, charge=0, tx=None, hold=hold_id))
