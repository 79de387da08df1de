"""Display text for numbers and dates, computed on the server (no JS formatting)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from apiany.core.money import UNITS_PER_CREDIT, format_credits


def credits_text(units: int) -> str:
    """'1,234.5 credits' / '1 credit' (thousands separators, trailing zeros trimmed)."""
    return f"{format_credits(units)} {'credit' if units == UNITS_PER_CREDIT else 'credits'}"


def date_text(value: datetime | None, empty: str = "") -> str:
    """'2025-07-14' (stored times are UTC)."""
    return f"{value:%Y-%m-%d}" if value is not None else empty


def signed_credits_text(units: int) -> str:
    """'+100 credits' / '-0.000042 credits' for ledger movements."""
    return ("+" if units > 0 else "") + credits_text(units)


def number_text(value: int | None) -> str:
    return f"{value:,}" if value is not None else ""


def iso_text(value: datetime | None) -> str:
    """ISO 8601 in UTC for the browser to show in the visitor's time zone (rx.moment)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def utc_text(value: datetime | None, empty: str = "") -> str:
    """'2025-07-14 09:30:00 UTC' for CSV files."""
    return f"{value:%Y-%m-%d %H:%M:%S} UTC" if value is not None else empty


def parse_day(text: str, *, end: bool = False) -> datetime | None:
    """'2025-07-14' from a date input -> that day's start (or the next day's start
    with end=True, for an exclusive upper bound), UTC. Empty or invalid -> None."""
    try:
        day = datetime.strptime((text or "").strip(), "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    return day + timedelta(days=1) if end else day


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """Text a spreadsheet would run as a formula gets a leading quote (numbers,
    including negative amounts, stay as they are)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        try:
            float(value.replace(",", ""))
        except ValueError:
            return "'" + value
    return value


def csv_text(header: list[str], rows: list[list]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([csv_cell(v) for v in row] for row in rows)
    return buffer.getvalue()
