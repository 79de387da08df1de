"""Summaries of a benchmark run: added latency over direct, APIAny/LiteLLM
and APIAny/pass-through ratios against the issue's targets; written to
bench/results/latest.json and between the markers in docs/benchmarks.md."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "latest.json"
DOCS = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
NAMES = {"direct": "direct", "apiany": "APIAny", "apiany_api": "APIAny API-only",
         "passthrough": "aiohttp pass-through", "litellm": "LiteLLM"}


def _point(results: dict, target: str, mode: str, conns: int) -> dict | None:
    for p in results["points"]:
        if (p["target"], p["mode"], p["concurrency"]) == (target, mode, conns):
            return p
    return None


def summarize(results: dict) -> dict:
    for p in results["points"]:
        d = _point(results, "direct", p["mode"], p["concurrency"])
        p["added_p50_ms"] = round(p["p50_ms"] - d["p50_ms"], 3) if d else None
        p["added_p99_ms"] = round(p["p99_ms"] - d["p99_ms"], 3) if d else None
    ttfb = results.get("ttfb", {})
    for name, t in ttfb.items():
        if t["ttfb_p50_ms"] is not None and ttfb.get("direct", {}).get("ttfb_p50_ms") is not None:
            t["added_ttfb_p50_ms"] = round(t["ttfb_p50_ms"] - ttfb["direct"]["ttfb_p50_ms"], 3)
    checks = []
    for target in ("apiany", "apiany_api"):
        checks += _checks(results, target, ttfb)
    results["targets"] = [{"target": t, "measured": m, "limit": lim, "met": ok}
                          for t, m, lim, ok in checks]
    return results


def _checks(results: dict, target: str, ttfb: dict) -> list[tuple]:
    """The issue's targets for one APIAny server (the full app, or the
    API-only gateway server)."""
    name = NAMES[target]
    api32 = _point(results, target, "unary", 32)
    lite32 = _point(results, "litellm", "unary", 32)
    pass32 = _point(results, "passthrough", "unary", 32)
    api1 = _point(results, target, "unary", 1)
    rss = results.get("peak_rss_mb", {}).get(target)
    checks = []
    if api32:
        checks.append((f"{name}: throughput at c=32 >= 1,000 req/s", api32["rps"], 1000,
                       api32["rps"] >= 1000))
    if api32 and lite32 and lite32["rps"]:
        r = round(api32["rps"] / lite32["rps"], 1)
        checks.append((f"{name} / LiteLLM throughput at c=32 >= 15x", r, 15, r >= 15))
    if api32 and pass32 and pass32["rps"]:
        r = round(100 * api32["rps"] / pass32["rps"], 1)
        checks.append((f"{name} / pass-through throughput at c=32 >= 55%", r, 55, r >= 55))
    if api1 and api1["added_p50_ms"] is not None:
        checks.append((f"{name}: added median latency at c=1 <= 1.5 ms", api1["added_p50_ms"], 1.5,
                       api1["added_p50_ms"] <= 1.5))
    if target in ttfb and "added_ttfb_p50_ms" in ttfb[target]:
        v = ttfb[target]["added_ttfb_p50_ms"]
        checks.append((f"{name}: added streaming TTFB median <= 2 ms", v, 2, v <= 2))
    if rss:
        checks.append((f"{name}: peak RSS per worker <= 150 MB", rss, 150, rss <= 150))
    return checks


def _fmt(v, digits: int = 2) -> str:
    return "–" if v is None else f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def markdown(results: dict) -> str:
    meta = results["meta"]
    lines = [f"Measured {meta['date']} on {meta['machine']}; APIAny as {meta['apiany']} on "
             f"{meta['database']}; LiteLLM: {meta['litellm']}; {meta['seconds_per_point']:.0f} s per "
             f"point after {meta['warmup_seconds']:.0f} s warm-up; whole run {meta['wall_seconds']} s.",
             "", "| mode | conc. | target | req/s | p50 ms | p99 ms | added p50 ms | added p99 ms | "
             "CPU ms/req | errors |", "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for p in results["points"]:
        lines.append(f"| {p['mode']} | {p['concurrency']} | {NAMES[p['target']]} | {p['rps']:.0f} | "
                     f"{_fmt(p['p50_ms'])} | {_fmt(p['p99_ms'])} | {_fmt(p['added_p50_ms'])} | "
                     f"{_fmt(p['added_p99_ms'])} | {_fmt(p.get('cpu_ms_per_request'))} | {p['errors']} |")
    lines += ["", "Streaming time to first byte (sequential, 300 streams):", "",
              "| target | TTFB p50 ms | TTFB p99 ms | added p50 ms | errors |",
              "|---|---:|---:|---:|---:|"]
    for name, t in results.get("ttfb", {}).items():
        lines.append(f"| {NAMES[name]} | {_fmt(t['ttfb_p50_ms'])} | {_fmt(t['ttfb_p99_ms'])} | "
                     f"{_fmt(t.get('added_ttfb_p50_ms'))} | {t.get('errors', 0)} |")
    lines += ["", "Peak RSS (the serving process of each server: the granian worker for APIAny, MB): " + ", ".join(
        f"{NAMES.get(k, k)} {v}" for k, v in results.get("peak_rss_mb", {}).items()), "",
        "| target (issue 8) | measured | limit | met |", "|---|---:|---:|---|"]
    for t in results.get("targets", []):
        lines.append(f"| {t['target']} | {t['measured']} | {t['limit']} | {'yes' if t['met'] else 'NO'} |")
    c = results["correctness"]
    lines += ["", f"Correctness after the run: {'PASSED' if c['passed'] else 'FAILED'} — "
              f"{c['responses_200']} APIAny responses logged, {c['responses_without_usage_row']} "
              f"without a usage row, {c['ok_responses_not_billed']} not billed; ledger verify "
              f"{'ok' if c['ledger_verify_ok'] else 'FAILED'}; balance drop {c['balance_drop_units']} "
              f"units == charged {c['charged_units']} units: {c['balance_drop_units'] == c['charged_units']}; "
              f"credits still held: {c['held_left_units']}; request errors: {c['request_errors']}."]
    return "\n".join(lines)


def finish(results: dict, *, write_docs: bool = True) -> None:
    summarize(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    print("\n" + table)
    if write_docs and DOCS.exists() and START in DOCS.read_text():
        text = DOCS.read_text()
        head, rest = text.split(START, 1)
        tail = rest.split(END, 1)[1] if END in rest else ""
        DOCS.write_text(f"{head}{START}\n{table}\n{END}{tail}")
