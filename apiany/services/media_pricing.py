"""Per-unit media prices and costs, with the one rounding rule of
core.money (exact numerator, rounded up once per request).

Unit price keys (ApiModel.unit_prices / CostRule.unit_costs, units per one
unit): `image:<size>:<quality>` (or `image:<size>`, `image`) per image,
`audio:second` per second of audio, `video:<size>:second` (or
`video:second`) per second of video. Speech is priced per 1M input
characters through the token price `input_per_m`."""

from __future__ import annotations

from dataclasses import dataclass, field

from apiany.core.errors import InvalidRequest
from apiany.core.money import PER_MILLION, cost_units
from apiany.services.pricing import TokenPrices

MILLI = 1000  # unit quantities are kept in thousandths (e.g. milliseconds of audio)


@dataclass(slots=True)
class MediaQuantity:
    """What a media request is billed for: `units` maps a price key to a
    quantity in thousandths of a unit; `characters` is speech input."""

    units: dict[str, int] = field(default_factory=dict)
    characters: int = 0

    @property
    def kind(self) -> str:
        return next(iter(self.units), "characters" if self.characters else "")

    @property
    def billed_units(self) -> int:
        """For the usage row: whole units (images, seconds) or characters, rounded up."""
        if self.units:
            return -(-sum(self.units.values()) // MILLI)
        return self.characters


def media_cost(prices: TokenPrices, unit_prices: dict[str, int], q: MediaQuantity) -> int:
    per = PER_MILLION * MILLI
    terms = [(q.characters * MILLI, prices.input_per_m), (per, prices.per_request)]
    terms += [(milli * PER_MILLION, unit_prices.get(key, 0)) for key, milli in q.units.items()]
    return cost_units(terms, per=per)


def price_key(unit_prices: dict[str, int], candidates: list[str], prefix: str, param: str,
              what: str) -> str:
    """The first candidate key that has a price. When the model prices some
    `prefix` keys but none of the candidates, the option is not offered (400);
    when it prices none, the first candidate (free unless per_request)."""
    for key in candidates:
        if key in unit_prices:
            return key
    if any(k.startswith(prefix) for k in unit_prices):
        offered = sorted(k.removeprefix(prefix) for k in unit_prices if k.startswith(prefix))
        raise InvalidRequest(f"{what} is not offered for this model; priced options: {', '.join(offered)}",
                             param=param, code="unsupported_value")
    return candidates[0]


def image_key(unit_prices: dict[str, int], size: str, quality: str) -> str:
    return price_key(unit_prices, [f"image:{size}:{quality}", f"image:{size}", "image"], "image:",
                     "size", f"size {size} with quality {quality}")


def video_key(unit_prices: dict[str, int], size: str) -> str:
    return price_key(unit_prices, [f"video:{size}:second", "video:second"], "video:", "size",
                     f"size {size}")
