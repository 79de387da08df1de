"""Credits are integers of the smallest unit: 1 credit = 1,000,000 units.

Prices are stored as integer units per million of something (tokens,
characters) or per single thing (request, image, second). The one rounding
rule: a request's exact cost is computed as an integer numerator over a
denominator and rounded UP once, to the next whole unit, at the end. Nothing
ever rounds twice and no float touches money.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

UNITS_PER_CREDIT = 1_000_000
PER_MILLION = 1_000_000


def ceil_div(numerator: int, denominator: int) -> int:
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    return -((-numerator) // denominator)


def credits_to_units(value: int | str | Decimal) -> int:
    """Parse credits ("0.5", 2, Decimal) into units; more than 6 decimals is an error."""
    try:
        dec = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"not a number of credits: {value!r}") from None
    if not dec.is_finite():
        raise ValueError(f"not a number of credits: {value!r}")
    units = dec * UNITS_PER_CREDIT
    if units != units.to_integral_value():
        raise ValueError(f"{value!r} has more precision than 1/{UNITS_PER_CREDIT} credit")
    return int(units)


def units_to_credits(units: int) -> Decimal:
    return Decimal(units) / UNITS_PER_CREDIT


def format_credits(units: int, places: int = 6) -> str:
    """'12.5' style text for humans: trailing zeros trimmed, sign kept."""
    dec = units_to_credits(units).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    text = f"{dec:,.{places}f}".rstrip("0").rstrip(".")
    return text if text not in ("-0", "") else "0"


def cost_units(quantities_and_prices: list[tuple[int, int]], per: int = PER_MILLION) -> int:
    """Sum of quantity * price_per_`per`, rounded up once to a whole unit."""
    numerator = 0
    for quantity, price in quantities_and_prices:
        if quantity < 0 or price < 0:
            raise ValueError("quantities and prices cannot be negative")
        numerator += quantity * price
    return ceil_div(numerator, per)
