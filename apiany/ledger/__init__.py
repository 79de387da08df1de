"""The credit ledger: the only code that writes balances.

Double entry and append-only: every transaction moves units between a user
account and a system account ("system:grants", "system:purchases",
"system:consumption", "system:expirations", "system:adjustments",
"system:clawbacks"), its entries sum to zero and the user account's cached
balance changes in the same DB transaction (system accounts cache no
balance, so they are never a hot row: accounts.py). Every function takes
the caller's Session, flushes and never commits.

- grant_credits / debit_credits / refund_consumption  (postings.py)
- reserve / settle / release / expire_holds             (holds.py)
- reserve_hold / settle_hold / release_hold             (fastpath.py: the /v1 hot path)
- expire_lots                                           (lots.py)
- balance_of                                            (views.py)
- verify                                                (verify.py)
"""

from apiany.ledger.accounts import system_account, user_account
from apiany.ledger.common import MAX_AMOUNT, SYSTEM_CODES
from apiany.ledger.fastpath import release_hold, reserve_hold, settle_hold
from apiany.ledger.holds import expire_holds, release, reserve, settle
from apiany.ledger.lots import expire_lots
from apiany.ledger.postings import debit_credits, grant_credits, refund_consumption
from apiany.ledger.verify import verify
from apiany.ledger.views import BalanceView, balance_of

__all__ = [
    "MAX_AMOUNT", "SYSTEM_CODES", "BalanceView", "balance_of", "debit_credits", "expire_holds",
    "expire_lots", "grant_credits", "refund_consumption", "release", "release_hold", "reserve",
    "reserve_hold", "settle", "settle_hold",
    "system_account", "user_account", "verify",
]
