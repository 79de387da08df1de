"""Display text for numbers and dates, computed on the server (no JS formatting)."""

from __future__ import annotations

from datetime import datetime

from apiany.core.money import UNITS_PER_CREDIT, format_credits


def credits_text(units: int) -> str:
    """'1,234.5 credits' / '1 credit' (thousands separators, trailing zeros trimmed)."""
    return f"{format_credits(units)} {'credit' if units == UNITS_PER_CREDIT else 'credits'}"


def date_text(value: datetime | None, empty: str = "") -> str:
    """'2025-07-14' (stored times are UTC)."""
    return f"{value:%Y-%m-%d}" if value is not None else empty
