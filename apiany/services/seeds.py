"""Seed files: the catalog as configuration.

Any YAML file may hold the lists `channels:`, `models:`, `cost_rules:` and
`packs:`. Each entry is checked by a strict schema (unknown fields and wrong
types are errors) that turns human units into stored integers: prices in
credits -> units, costs in currency -> micro-units, pack prices -> minor
units. Rows are upserted by natural key (public_id, name, channel +
upstream_model, code) in the caller's transaction; the seed sets every field
it knows, runtime fields (health, counters) are never touched. Everything,
references included, is validated before anything is written: a bad file
raises SeedError, one line per problem,
`<file>: <section>[<index>] (<natural key>): <field>: <message>`.

Base URLs are stored as written; `{sandbox}` (this app's mounted sandbox) is
resolved by the gateway at call time. A channel whose `secret_ref` variable
is unset is stored disabled with `requires_secret=True`; loading again once
the variable is set enables it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field,
                      ValidationError, ValidationInfo, create_model, field_validator)
from apiany.core.events import config_changed
from sqlmodel import Session, select

from apiany.core.db import utcnow
from apiany.core.money import credits_to_units
from apiany.core.settings import ROOT
from apiany.models.catalog import (DEFAULT_RETRY_ON, REQUEST_TYPES, ApiModel, Channel,
                                   CostRule, CreditPack)

SEED_DIR = ROOT / "seeds"
SANDBOX_PLACEHOLDER = "{sandbox}"
SECTIONS = ("channels", "models", "cost_rules", "packs")  # also the write order
MICRO = 6  # costs are stored in micro-units of their currency
_MINOR_DIGITS = {"jpy": 0, "krw": 0, "vnd": 0, "clp": 0}  # others: 2 (cents)


class SeedError(ValueError):
    """One or more problems in seed files; `problems` holds one line each."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


# ---- field types --------------------------------------------------------------------

def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise ValueError('must be a decimal number such as "0.50"')
    try:
        dec = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"not a decimal number: {value!r}") from None
    if not dec.is_finite() or dec < 0:
        raise ValueError(f"must be a non-negative decimal number, got {value!r}")
    return dec


def _fixed_point(value: Any, places: int) -> int:
    scaled = _decimal(value).scaleb(places)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{value!r} has more than {places} decimal places")
    return int(scaled)


def _credits(value: Any) -> int:
    _decimal(value)  # type and sign checks
    return credits_to_units(str(value).strip())


def _base_url(value: str) -> str:
    value = value.strip().rstrip("/")
    if value.startswith(SANDBOX_PLACEHOLDER):
        rest = value[len(SANDBOX_PLACEHOLDER):]
        if rest and not rest.startswith("/"):
            raise ValueError(f"after {SANDBOX_PLACEHOLDER} only a path may follow, got {value!r}")
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"must be an http(s) URL or start with {SANDBOX_PLACEHOLDER}, got {value!r}")
    return value


def _retry_on(value: Any) -> str:
    text = str(value) if type(value) is int else value
    if text in ("connect_error", "timeout", "4xx", "5xx") or (
            isinstance(text, str) and text.isdigit() and 400 <= int(text) <= 599):
        return text
    raise ValueError(f"must be connect_error, timeout, 4xx, 5xx or a status code 400-599, got {value!r}")


Credits = Annotated[int, BeforeValidator(_credits)]
Micro = Annotated[int, BeforeValidator(lambda v: _fixed_point(v, MICRO))]
Ident = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$")]
EnvName = Annotated[str, Field(pattern=r"^[A-Z_][A-Z0-9_]*$", max_length=100)]
Currency = Annotated[str, Field(pattern=r"^[a-z]{3}$")]
RequestType = Literal[REQUEST_TYPES]
BaseUrl = Annotated[str, Field(max_length=500), AfterValidator(_base_url)]
RetryOn = Annotated[str, BeforeValidator(_retry_on)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


def _rates(name: str, amount: Any) -> type[_Spec]:
    """Per-1M-token, per-request and per-unit rates in one human unit."""
    return create_model(name, __base__=_Spec, input_per_m=(amount, 0), cached_input_per_m=(amount, 0),
                        output_per_m=(amount, 0), per_request=(amount, 0),
                        units=(dict[Annotated[str, Field(min_length=1, max_length=40)], amount], {}))


PriceSpec = _rates("PriceSpec", Credits)  # credits -> units
CostSpec = _rates("CostSpec", Micro)  # currency -> micro-units


class ChannelSpec(_Spec):
    name: Ident
    protocol: Literal["openai", "anthropic"]
    base_url: BaseUrl
    secret_ref: EnvName | None = None
    enabled: bool = True
    priority: int = 0
    weight: int = Field(1, ge=0)
    groups: list[Ident] = Field(default_factory=lambda: ["default"], min_length=1)
    request_types: list[RequestType] = Field(default_factory=lambda: list(REQUEST_TYPES), min_length=1)
    model_map: dict[str, str] = {}
    extra_headers: dict[str, str] = {}
    timeout_seconds: float | None = Field(None, gt=0)

    @field_validator("extra_headers")
    @classmethod
    def _no_credentials(cls, headers: dict[str, str]) -> dict[str, str]:
        for name in headers:
            if name.lower() in ("authorization", "x-api-key", "api-key"):
                raise ValueError(f"{name} would store a credential; name its environment variable in secret_ref")
        return headers


class ModelSpec(_Spec):
    public_id: Ident
    request_type: RequestType
    display_name: str = Field("", max_length=200)
    description: str = Field("", max_length=2000)
    capabilities: list[str] = []
    parameters: dict[str, Any] = {}
    status: Literal["active", "deprecated", "unavailable"] = "active"
    is_public: bool = True
    price: PriceSpec
    channel_groups: list[Ident] = Field(default_factory=lambda: ["default"], min_length=1)
    max_attempts: int = Field(3, ge=1, le=10)
    retry_on: list[RetryOn] = Field(default_factory=lambda: list(DEFAULT_RETRY_ON))
    fallback_models: list[Ident] = []
    max_task_age_seconds: int = Field(3600, ge=1)


class CostRuleSpec(_Spec):
    channel: Ident
    upstream_model: Ident
    currency: Currency = "usd"
    cost: CostSpec


class PackSpec(_Spec):
    code: Ident
    kind: Literal["pack", "plan"] = "pack"
    name: str = Field(min_length=1, max_length=200)
    currency: Currency = "usd"
    price: int  # decimal text such as "10.00" -> minor units (cents), see _minor_units
    credits: Credits = Field(gt=0)
    expires_days: int | None = Field(None, ge=1)
    interval: Literal["month", "year"] | None = Field(None, validate_default=True)
    active: bool = True
    sort_order: int = 0

    @field_validator("price", mode="before")
    @classmethod
    def _minor_units(cls, value: Any, info: ValidationInfo) -> int:
        return _fixed_point(value, _MINOR_DIGITS.get(info.data.get("currency", "usd"), 2))

    @field_validator("interval")
    @classmethod
    def _interval_matches_kind(cls, value: str | None, info: ValidationInfo) -> str | None:
        if (info.data.get("kind") == "plan") != (value is not None):
            raise ValueError("only a plan has an interval" if value else "a plan needs an interval (month or year)")
        return value


# ---- sections -------------------------------------------------------------------------

def _rate_columns(prefix: str, unit_column: str, rates: Any) -> dict[str, Any]:
    columns = {f"{prefix}_{name}": getattr(rates, name)
               for name in ("input_per_m", "cached_input_per_m", "output_per_m", "per_request")}
    return columns | {unit_column: dict(rates.units)}


def _channel_row(spec: ChannelSpec) -> dict[str, Any]:
    missing = bool(spec.secret_ref) and not os.environ.get(spec.secret_ref or "")
    return spec.model_dump() | {"enabled": spec.enabled and not missing, "requires_secret": missing}


@dataclass(frozen=True)
class _Section:
    spec: type[_Spec]
    table: type
    key: tuple[tuple[str, str], ...]  # (spec field, column) pairs of the natural key
    to_row: Callable[[Any], dict[str, Any]]


_SECTIONS: dict[str, _Section] = {
    "channels": _Section(ChannelSpec, Channel, (("name", "name"),), _channel_row),
    "models": _Section(ModelSpec, ApiModel, (("public_id", "public_id"),),
                       lambda s: s.model_dump(exclude={"price"})
                       | _rate_columns("price", "unit_prices", s.price)),
    "cost_rules": _Section(CostRuleSpec, CostRule,
                           (("channel", "channel_name"), ("upstream_model", "upstream_model")),
                           lambda s: {"channel_name": s.channel, "upstream_model": s.upstream_model,
                                      "currency": s.currency}
                           | _rate_columns("cost", "unit_costs", s.cost)),
    "packs": _Section(PackSpec, CreditPack, (("code", "code"),),
                      lambda s: s.model_dump(exclude={"price"}) | {"price_minor": s.price}),
}


@dataclass
class _Entry:
    section: str
    where: str  # "<file>: models[2] (public_id=foo)"
    spec: Any

    def key(self) -> tuple:
        return tuple(getattr(self.spec, f) for f, _ in _SECTIONS[self.section].key)


@dataclass
class SeedReport:
    files: list[str] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(
        default_factory=lambda: {s: {"created": 0, "updated": 0, "unchanged": 0} for s in SECTIONS})
    disabled_channels: list[str] = field(default_factory=list)  # waiting for their secret

    def total(self, outcome: str) -> int:
        return sum(c[outcome] for c in self.counts.values())

    created = property(lambda self: self.total("created"))
    updated = property(lambda self: self.total("updated"))
    unchanged = property(lambda self: self.total("unchanged"))

    def summary(self) -> str:
        text = "; ".join(f"{s}: {c['created']} created, {c['updated']} updated, {c['unchanged']} unchanged"
                         for s, c in self.counts.items())
        if self.disabled_channels:
            text += f"; disabled until their secret is set: {', '.join(self.disabled_channels)}"
        return text

    __str__ = summary


# ---- reading and checking ---------------------------------------------------------------

class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key repeated in one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (str, int, float, bool)):
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}", key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep)


def _label(section: str, index: int, raw: Any) -> str:
    fields = [f for f, _ in _SECTIONS[section].key]
    if isinstance(raw, dict) and all(isinstance(raw.get(f), (str, int)) for f in fields):
        return f"{section}[{index}] (" + ", ".join(f"{f}={raw[f]}" for f in fields) + ")"
    return f"{section}[{index}]"


def _loc(loc: tuple) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _message(err: dict) -> str:
    msg = err["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    return msg


def _read_file(path: Path, problems: list[str]) -> list[_Entry]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except FileNotFoundError:
        problems.append(f"{path}: file not found")
        return []
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problems.append(f"{path}: {f'line {mark.line + 1}: ' if mark else ''}{exc.problem or exc.context}")
        return []
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        problems.append(f"{path}: cannot read: {exc}")
        return []
    if not isinstance(data, dict):
        if data is not None:
            problems.append(f"{path}: the top level must be a mapping with {', '.join(SECTIONS)}")
        return []
    entries = []
    for section, items in data.items():
        if section not in _SECTIONS:
            problems.append(f"{path}: unknown section {section!r} (expected one of {', '.join(SECTIONS)})")
            continue
        if not isinstance(items, list):
            problems.append(f"{path}: {section}: must be a list")
            continue
        for index, raw in enumerate(items):
            where = f"{path}: {_label(section, index, raw)}"
            if not isinstance(raw, dict):
                problems.append(f"{where}: must be a mapping of fields")
                continue
            try:
                entries.append(_Entry(section, where, _SECTIONS[section].spec.model_validate(raw)))
            except ValidationError as exc:
                problems.extend(f"{where}: {_loc(e['loc'])}: {_message(e)}" for e in exc.errors())
    return entries


def _check_duplicates(entries: list[_Entry], problems: list[str]) -> None:
    first: dict[tuple, _Entry] = {}
    for entry in entries:
        seen = first.setdefault((entry.section, entry.key()), entry)
        if seen is not entry:
            fields = "+".join(f for f, _ in _SECTIONS[entry.section].key)
            problems.append(f"{entry.where}: {fields}: duplicate, already defined at {seen.where}")


def _check_references(session: Session, entries: list[_Entry], problems: list[str]) -> None:
    channels = {c.name: (set(c.groups), set(c.request_types)) for c in session.exec(select(Channel))}
    models = set(session.exec(select(ApiModel.public_id)))
    for e in entries:
        if e.section == "channels":
            channels[e.spec.name] = (set(e.spec.groups), set(e.spec.request_types))
        elif e.section == "models":
            models.add(e.spec.public_id)
    for e in entries:
        spec = e.spec
        if e.section == "cost_rules" and spec.channel not in channels:
            problems.append(f"{e.where}: channel: no channel named {spec.channel!r}")
        if e.section != "models":
            continue
        in_groups = [types for groups, types in channels.values() if groups & set(spec.channel_groups)]
        wanted = ", ".join(spec.channel_groups)
        if not in_groups:
            problems.append(f"{e.where}: channel_groups: no channel is in any of the groups {wanted}")
        elif not any(spec.request_type in types for types in in_groups):
            problems.append(f"{e.where}: channel_groups: no channel in the groups {wanted} "
                            f"serves request type {spec.request_type!r}")
        for i, fallback in enumerate(spec.fallback_models):
            if fallback == spec.public_id or fallback not in models:
                why = "a model cannot fall back to itself" if fallback == spec.public_id else "unknown model"
                problems.append(f"{e.where}: fallback_models[{i}]: {why} {fallback!r}")


# ---- writing ----------------------------------------------------------------------------

def _upsert(session: Session, entry: _Entry, report: SeedReport) -> None:
    section = _SECTIONS[entry.section]
    values = section.to_row(entry.spec)
    where = [getattr(section.table, col) == values[col] for _, col in section.key]
    row = session.exec(select(section.table).where(*where)).first()
    counts = report.counts[entry.section]
    if row is None:
        session.add(section.table(**values))
        counts["created"] += 1
        return
    changed = {k: v for k, v in values.items() if getattr(row, k) != v}
    if not changed:
        counts["unchanged"] += 1
        return
    for name, value in changed.items():
        setattr(row, name, value)
    row.updated_at = utcnow()
    session.add(row)
    counts["updated"] += 1


def default_seed_paths() -> list[Path]:
    return sorted(SEED_DIR.glob("*.yaml"))


def load_seed_files(session: Session, paths: list[Path]) -> SeedReport:
    """Validate every file, then upsert in the caller's transaction (no commit)."""
    problems: list[str] = []
    entries = [e for path in paths for e in _read_file(Path(path), problems)]
    _check_duplicates(entries, problems)
    if not problems:
        _check_references(session, entries, problems)
    if problems:
        raise SeedError(problems)
    report = SeedReport(files=[str(p) for p in paths])
    for section in SECTIONS:
        for entry in (e for e in entries if e.section == section):
            _upsert(session, entry, report)
            if section == "channels" and _channel_row(entry.spec)["requires_secret"]:
                report.disabled_channels.append(entry.spec.name)
    session.flush()
    config_changed("catalog", None, session)
    return report
