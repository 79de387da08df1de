"""Ledger tables (double entry, append-only).

Every transaction's entries sum to zero across accounts: credits come from a
system account (grants, purchases) and go back to one (consumption,
expiration, clawback). `LedgerAccount.balance` is a cache of the sum of the
account's entries, written in the same DB transaction as the entries;
`ledger.verify` proves it. Holds reserve part of a balance without moving
it; `held` caches the sum of active holds.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from apiany.core.db import utcnow


def big(**kw) -> Column:
    return Column(BigInteger, nullable=kw.pop("nullable", False), **kw)


class LedgerAccount(SQLModel, table=True):
    __tablename__ = "ledger_accounts"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=100, unique=True)  # "user:12", "system:grants", ...
    user_id: int | None = Field(default=None, foreign_key="users.id", unique=True)
    is_system: bool = Field(default=False)
    balance: int = Field(default=0, sa_column=big(default=0))
    held: int = Field(default=0, sa_column=big(default=0))
    # How far below zero a clawback may push this account (units); spending
    # never may. Zero for system accounts' purposes is irrelevant: they are
    # sources and sinks and are allowed any sign.
    overdraft_limit: int = Field(default=0, sa_column=big(default=0))
    flagged: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class LedgerTransaction(SQLModel, table=True):
    __tablename__ = "ledger_transactions"
    __table_args__ = (Index("ix_ledger_tx_reference", "reference_type", "reference_id"),)
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20, index=True)
    idempotency_key: str = Field(max_length=200, unique=True)
    fingerprint: str = Field(max_length=64)  # hash of the request content, for replay checks
    reference_type: str = Field(default="", max_length=30)
    reference_id: str = Field(default="", max_length=100)
    actor: str = Field(default="system", max_length=200)
    memo: str = Field(default="", max_length=500)
    # The transaction this one undoes (a refund of a consumption). Unique, so
    # a consumption can be refunded once even by concurrent writers.
    reverses_transaction_id: int | None = Field(
        default=None, foreign_key="ledger_transactions.id", unique=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)


class LedgerEntry(SQLModel, table=True):
    __tablename__ = "ledger_entries"
    __table_args__ = (Index("ix_ledger_entries_account_id_id", "account_id", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    transaction_id: int = Field(foreign_key="ledger_transactions.id", index=True)
    account_id: int = Field(foreign_key="ledger_accounts.id")
    amount: int = Field(sa_column=big())
    balance_after: int = Field(sa_column=big())
    created_at: datetime = Field(default_factory=utcnow)


class CreditLot(SQLModel, table=True):
    """A bundle of credits from one grant or purchase. Spending draws from
    the lot that expires first; `price_minor`/`currency` is what was paid for
    the whole lot (0 for free credits), so revenue = consumed share of it."""

    __tablename__ = "credit_lots"
    __table_args__ = (Index("ix_credit_lots_account_open", "account_id", "remaining"),)
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="ledger_accounts.id", index=True)
    transaction_id: int = Field(foreign_key="ledger_transactions.id")
    source: str = Field(max_length=20)  # grant | purchase | adjustment | subscription
    amount: int = Field(sa_column=big())
    remaining: int = Field(sa_column=big())
    frozen: int = Field(default=0, sa_column=big(default=0))
    price_minor: int = Field(default=0, sa_column=big(default=0))
    currency: str = Field(default="usd", max_length=3)
    expires_at: datetime | None = Field(default=None, index=True)
    expired_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class LotMovement(SQLModel, table=True):
    """How much of which lot a transaction moved (negative = drawn)."""

    __tablename__ = "lot_movements"
    id: int | None = Field(default=None, primary_key=True)
    transaction_id: int = Field(foreign_key="ledger_transactions.id", index=True)
    lot_id: int = Field(foreign_key="credit_lots.id", index=True)
    amount: int = Field(sa_column=big())


class Hold(SQLModel, table=True):
    """A two-phase reservation: active -> settled | released | expired."""

    __tablename__ = "holds"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_holds_idempotency_key"),
        Index("ix_holds_status_expires", "status", "expires_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="ledger_accounts.id", index=True)
    api_key_id: int | None = Field(default=None, foreign_key="api_keys.id")
    idempotency_key: str = Field(max_length=200)
    amount: int = Field(sa_column=big())
    settled_amount: int = Field(default=0, sa_column=big(default=0))
    status: str = Field(default="active", max_length=10)
    reference_type: str = Field(default="", max_length=30)
    reference_id: str = Field(default="", max_length=100)
    settle_transaction_id: int | None = Field(default=None, foreign_key="ledger_transactions.id")
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    finalized_at: datetime | None = None
