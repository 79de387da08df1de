"""All SQLModel tables. Importing this package registers every table on
SQLModel.metadata (Alembic's env.py and the tests rely on that)."""

from apiany.models.audit import AuditLog
from apiany.models.catalog import ApiModel, Channel, CostRule, CreditPack
from apiany.models.jobs import Alert, FinanceSummary, JobLease, JobRun
from apiany.models.keys import ApiKey
from apiany.models.ledger import (
    CreditLot,
    Hold,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    LotMovement,
)
from apiany.models.payments import Order, OrderEvent, PaymentEvent, Subscription
from apiany.models.tasks import MediaTask, TaskCallbackAttempt
from apiany.models.usage import ChannelAttempt, RequestBody, UsageRecord
from apiany.models.users import ConsoleSession, LoginThrottle, User

__all__ = [
    "Alert", "FinanceSummary", "JobLease", "JobRun",
    "ApiKey", "ApiModel", "AuditLog", "Channel", "ChannelAttempt", "ConsoleSession",
    "CostRule", "CreditLot", "CreditPack", "Hold", "LedgerAccount", "LedgerEntry",
    "LedgerTransaction", "LoginThrottle", "LotMovement", "MediaTask", "Order", "OrderEvent", "PaymentEvent",
    "Subscription", "RequestBody", "TaskCallbackAttempt", "UsageRecord", "User",
]
