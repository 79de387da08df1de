"""Seed loading: unit conversions, idempotent upserts, and bad files that
name the file, entry and field and write nothing."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from sqlmodel import func, select

from apiany.core.db import session_scope
from apiany.models import ApiModel, Channel, CostRule, CreditPack
from apiany.services.seeds import SeedError, default_seed_paths, load_seed_files

TABLES = (Channel, ApiModel, CostRule, CreditPack)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def row_counts(session) -> dict[str, int]:
    return {t.__tablename__: session.exec(select(func.count()).select_from(t)).one() for t in TABLES}


def by(session, table, **where):
    return session.exec(select(table).filter_by(**where)).one()


def test_shipped_seeds_load_with_exact_conversions(session, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    report = load_seed_files(session, default_seed_paths())
    session.commit()
    assert [Path(f).name for f in report.files] == ["channels.yaml", "costs.yaml", "models.yaml", "packs.yaml"]
    assert report.counts == {
        "channels": {"created": 3, "updated": 0, "unchanged": 0},
        "models": {"created": 9, "updated": 0, "unchanged": 0},
        "cost_rules": {"created": 9, "updated": 0, "unchanged": 0},
        "packs": {"created": 3, "updated": 0, "unchanged": 0},
    }
    assert report.disabled_channels == ["openai", "anthropic"]
    assert str(report) == ("channels: 3 created, 0 updated, 0 unchanged; models: 9 created, 0 updated, "
                           "0 unchanged; cost_rules: 9 created, 0 updated, 0 unchanged; packs: 3 created, "
                           "0 updated, 0 unchanged; disabled until their secret is set: openai, anthropic")

    sandbox = by(session, Channel, name="sandbox")
    assert (sandbox.protocol, sandbox.base_url, sandbox.enabled, sandbox.requires_secret) == \
        ("openai", "{sandbox}/v1", True, False)
    assert sandbox.groups == ["default", "sandbox"] and sandbox.timeout_seconds == 60.0
    openai = by(session, Channel, name="openai")
    assert (openai.base_url, openai.secret_ref, openai.enabled, openai.requires_secret) == \
        ("https://api.openai.com/v1", "OPENAI_API_KEY", False, True)
    anthropic = by(session, Channel, name="anthropic")
    assert (anthropic.protocol, anthropic.extra_headers) == ("anthropic", {"anthropic-version": "2023-06-01"})

    ids = sorted(session.exec(select(ApiModel.public_id)).all())
    assert ids == sorted(["sandbox-chat", "sandbox-embed", "sandbox-image", "sandbox-tts", "sandbox-stt",
                          "sandbox-video", "gpt-4o-mini", "text-embedding-3-small", "claude-sonnet-4-5"])
    chat = by(session, ApiModel, public_id="sandbox-chat")
    assert (chat.request_type, chat.price_input_per_m, chat.price_cached_input_per_m,
            chat.price_output_per_m, chat.price_per_request) == ("chat", 1_000_000, 500_000, 2_000_000, 0)
    assert chat.channel_groups == ["sandbox"] and chat.retry_on == ["connect_error", "timeout", "429", "5xx"]
    assert by(session, ApiModel, public_id="sandbox-image").unit_prices == {
        "image:256x256:standard": 1_000_000, "image:512x512:standard": 2_000_000,
        "image:1024x1024:standard": 4_000_000, "image:1024x1024:hd": 8_000_000}
    assert by(session, ApiModel, public_id="sandbox-stt").unit_prices == {"audio:second": 10_000}
    video = by(session, ApiModel, public_id="sandbox-video")
    assert (video.unit_prices, video.max_attempts, video.max_task_age_seconds) == \
        ({"video:second": 10_000_000}, 2, 1800)
    assert by(session, ApiModel, public_id="claude-sonnet-4-5").fallback_models == ["gpt-4o-mini"]

    mini = by(session, CostRule, channel_name="openai", upstream_model="gpt-4o-mini")
    assert (mini.currency, mini.cost_input_per_m, mini.cost_cached_input_per_m, mini.cost_output_per_m) == \
        ("usd", 150_000, 75_000, 600_000)
    assert by(session, CostRule, upstream_model="sandbox-stt").unit_costs == {"audio:second": 50}

    packs = {p.code: (p.kind, p.price_minor, p.currency, p.credits, p.interval)
             for p in session.exec(select(CreditPack))}
    assert packs == {"starter": ("pack", 500, "usd", 500_000_000, None),
                     "pro": ("pack", 2000, "usd", 2_200_000_000, None),
                     "monthly": ("plan", 5000, "usd", 6_000_000_000, "month")}


def test_second_load_changes_nothing(session):
    load_seed_files(session, default_seed_paths())
    session.commit()
    stamps = {c.name: c.updated_at for c in session.exec(select(Channel))}
    report = load_seed_files(session, default_seed_paths())
    session.commit()
    assert (report.created, report.updated, report.unchanged) == (0, 0, 24)
    assert {c.name: c.updated_at for c in session.exec(select(Channel))} == stamps
    assert row_counts(session) == {"channels": 3, "api_models": 9, "cost_rules": 9, "credit_packs": 3}


def test_changed_entry_is_updated_in_place(session, tmp_path):
    first = write(tmp_path, "a.yaml", """
        channels: [{name: c1, protocol: openai, base_url: "http://up.example/v1"}]
        models: [{public_id: m1, request_type: chat, price: {input_per_m: "0.5"}}]
    """)
    load_seed_files(session, [first])
    session.commit()
    model_id = by(session, ApiModel, public_id="m1").id
    second = write(tmp_path, "b.yaml", """
        models: [{public_id: m1, request_type: chat, price: {input_per_m: 0.75, per_request: "0.000001"}}]
    """)
    report = load_seed_files(session, [second])
    session.commit()
    assert report.counts["models"] == {"created": 0, "updated": 1, "unchanged": 0}
    m1 = by(session, ApiModel, public_id="m1")
    assert (m1.id, m1.price_input_per_m, m1.price_per_request) == (model_id, 750_000, 1)


def test_lenient_spellings_are_normalised(session, tmp_path):
    load_seed_files(session, [write(tmp_path, "a.yaml", """
        channels: [{name: c1, protocol: openai, base_url: "{sandbox}/v1/", timeout_seconds: 5}]
        models: [{public_id: m1, request_type: chat, retry_on: [429, "503", timeout], price: {input_per_m: 2}}]
        packs: [{code: yen, name: Yen pack, price: 500, currency: jpy, credits: "0.5"}]
    """)])
    assert by(session, Channel, name="c1").base_url == "{sandbox}/v1"
    m1 = by(session, ApiModel, public_id="m1")
    assert (m1.retry_on, m1.price_input_per_m) == (["429", "503", "timeout"], 2_000_000)
    yen = by(session, CreditPack, code="yen")
    assert (yen.price_minor, yen.currency, yen.credits) == (500, "jpy", 500_000)


def test_channel_enabled_once_its_secret_is_set(session, tmp_path, monkeypatch):
    path = write(tmp_path, "c.yaml", """
        channels: [{name: v, protocol: openai, base_url: "https://api.vendor.example/v1", secret_ref: VENDOR_KEY}]
    """)
    monkeypatch.delenv("VENDOR_KEY", raising=False)
    load_seed_files(session, [path])
    assert (by(session, Channel, name="v").enabled, by(session, Channel, name="v").requires_secret) == (False, True)
    monkeypatch.setenv("VENDOR_KEY", "sk-vendor")
    report = load_seed_files(session, [path])
    assert report.counts["channels"]["updated"] == 1 and report.disabled_channels == []
    assert (by(session, Channel, name="v").enabled, by(session, Channel, name="v").requires_secret) == (True, False)


def test_references_may_point_at_rows_already_in_the_database(session, tmp_path):
    load_seed_files(session, [write(tmp_path, "a.yaml", """
        channels: [{name: c1, protocol: openai, base_url: "http://up.example", groups: [g1]}]
        models: [{public_id: m1, request_type: chat, channel_groups: [g1], price: {}}]
    """)])
    session.commit()
    report = load_seed_files(session, [write(tmp_path, "b.yaml", """
        cost_rules: [{channel: c1, upstream_model: m1, cost: {input_per_m: "1.25"}}]
        models: [{public_id: m2, request_type: chat, channel_groups: [g1], fallback_models: [m1], price: {}}]
    """)])
    assert report.created == 2
    assert by(session, CostRule, channel_name="c1").cost_input_per_m == 1_250_000


GOOD_CHANNEL = '{name: c1, protocol: openai, base_url: "http://up.example/v1"}'
GOOD_MODEL = "{public_id: m1, request_type: chat, price: {}}"

BAD_FILES = {
    "unknown field": (
        f"channels: [{GOOD_CHANNEL}]\nmodels: [{GOOD_MODEL}, {{public_id: m2, request_type: chat, price: {{}}, colour: red}}]\n",
        ["models[1] (public_id=m2): colour: Extra inputs are not permitted"]),
    "wrong type": (
        "channels: [{name: c1, protocol: openai, base_url: 'http://up.example', priority: high}]\n",
        ["channels[0] (name=c1): priority: Input should be a valid integer"]),
    "nested wrong value": (
        f"channels: [{GOOD_CHANNEL}]\nmodels: [{{public_id: m1, request_type: chat, price: {{output_per_m: '0.0000001'}}}}]\n",
        ["models[0] (public_id=m1): price.output_per_m: '0.0000001' has more precision than 1/1000000 credit"]),
    "missing field": (
        "packs: [{code: p1, name: P, credits: 5}]\n",
        ["packs[0] (code=p1): price: Field required"]),
    "plan without interval": (
        "packs: [{code: p1, kind: plan, name: P, price: '9.99', credits: 5}]\n",
        ["packs[0] (code=p1): interval: a plan needs an interval (month or year)"]),
    "pack with an interval": (
        "packs: [{code: p1, name: P, price: 5, credits: 5, interval: month}]\n",
        ["packs[0] (code=p1): interval: only a plan has an interval"]),
    "negative price": (
        "packs: [{code: p1, name: P, price: '-5', credits: 5}]\n",
        ["packs[0] (code=p1): price: must be a non-negative decimal number, got '-5'"]),
    "fallback to itself": (
        f"channels: [{GOOD_CHANNEL}]\nmodels: [{{public_id: m1, request_type: chat, fallback_models: [m1], price: {{}}}}]\n",
        ["models[0] (public_id=m1): fallback_models[0]: a model cannot fall back to itself 'm1'"]),
    "bad retry_on": (
        f"channels: [{GOOD_CHANNEL}]\nmodels: [{{public_id: m1, request_type: chat, retry_on: [5xx, 200], price: {{}}}}]\n",
        ["models[0] (public_id=m1): retry_on[1]: must be connect_error, timeout, 4xx, 5xx "
         "or a status code 400-599, got 200"]),
    "missing channel": (
        "cost_rules: [{channel: nope, upstream_model: x, cost: {}}]\n",
        ["cost_rules[0] (channel=nope, upstream_model=x): channel: no channel named 'nope'"]),
    "groups served by no channel": (
        f"channels: [{GOOD_CHANNEL}]\nmodels: [{{public_id: m1, request_type: chat, channel_groups: [gpu], price: {{}}}}]\n",
        ["models[0] (public_id=m1): channel_groups: no channel is in any of the groups gpu"]),
    "request type served by no channel": (
        "channels: [{name: c1, protocol: openai, base_url: 'http://up.example', request_types: [chat]}]\n"
        "models: [{public_id: v1, request_type: video, price: {}}]\n",
        ["models[0] (public_id=v1): channel_groups: no channel in the groups default serves request type 'video'"]),
    "unknown fallback": (
        f"channels: [{GOOD_CHANNEL}]\nmodels: [{{public_id: m1, request_type: chat, fallback_models: [ghost], price: {{}}}}]\n",
        ["models[0] (public_id=m1): fallback_models[0]: unknown model 'ghost'"]),
    "bad URL": (
        "channels: [{name: c1, protocol: openai, base_url: 'ftp://up.example'}]\n",
        ["channels[0] (name=c1): base_url: must be an http(s) URL or start with {sandbox}, got 'ftp://up.example'"]),
    "duplicate natural key": (
        f"channels: [{GOOD_CHANNEL}, {GOOD_CHANNEL}]\n",
        ["channels[1] (name=c1): name: duplicate, already defined at {file}: channels[0] (name=c1)"]),
    "duplicate YAML key": (
        "channels:\n  - name: c1\n    protocol: openai\n    name: c2\n",
        ["line 4: duplicate key 'name'"]),
    "unknown section": (
        f"channels: [{GOOD_CHANNEL}]\nplans: []\n",
        ["unknown section 'plans' (expected one of channels, models, cost_rules, packs)"]),
    "credential in headers": (
        "channels: [{name: c1, protocol: openai, base_url: 'http://up.example', extra_headers: {Authorization: x}}]\n",
        ["channels[0] (name=c1): extra_headers: Authorization would store a credential; "
         "name its environment variable in secret_ref"]),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_file_names_file_entry_field_and_writes_nothing(db_url, tmp_path, case):
    text, expected = BAD_FILES[case]
    good = write(tmp_path, "good.yaml", "packs: [{code: ok, name: OK, price: '1.00', credits: 1}]\n")
    bad = write(tmp_path, "bad.yaml", text)
    with pytest.raises(SeedError) as caught, session_scope() as s:
        load_seed_files(s, [good, bad])
    assert caught.value.problems == [f"{bad}: {line.replace('{file}', str(bad))}" for line in expected]
    with session_scope() as s:
        assert row_counts(s) == {"channels": 0, "api_models": 0, "cost_rules": 0, "credit_packs": 0}


def test_every_problem_is_reported_at_once(session, tmp_path):
    bad = write(tmp_path, "bad.yaml", """
        channels:
          - {name: c1, protocol: grpc, base_url: "http://x"}
          - not-a-mapping
    """)
    missing = tmp_path / "missing.yaml"
    with pytest.raises(SeedError) as caught:
        load_seed_files(session, [bad, missing])
    assert str(caught.value).splitlines() == [
        f"{bad}: channels[0] (name=c1): protocol: Input should be 'openai' or 'anthropic'",
        f"{bad}: channels[1]: must be a mapping of fields",
        f"{missing}: file not found",
    ]
    assert row_counts(session) == {"channels": 0, "api_models": 0, "cost_rules": 0, "credit_packs": 0}
