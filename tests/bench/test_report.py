"""The benchmark's summary: added latency over direct and the issue's
targets for both APIAny servers, from one run's points."""

from __future__ import annotations

from bench.report import summarize


def point(target, mode, conns, rps, p50, p99=10.0):
    return {"target": target, "mode": mode, "concurrency": conns, "rps": rps, "p50_ms": p50,
            "p99_ms": p99, "errors": 0, "ok": 100}


def test_targets_and_ratios_for_both_servers():
    results = {
        "points": [point("direct", "unary", 1, 3000, 0.3), point("apiany", "unary", 1, 500, 1.5),
                   point("apiany_api", "unary", 1, 600, 2.0),
                   point("direct", "unary", 32, 3000, 10.0), point("apiany", "unary", 32, 1100, 20.0),
                   point("apiany_api", "unary", 32, 900, 25.0), point("passthrough", "unary", 32, 2000, 11.0),
                   point("litellm", "unary", 32, 60, 500.0)],
        "ttfb": {"direct": {"ttfb_p50_ms": 1.0}, "apiany": {"ttfb_p50_ms": 2.5},
                 "apiany_api": {"ttfb_p50_ms": 3.5}},
        "peak_rss_mb": {"apiany": 170.0, "apiany_api": 110.0},
    }
    summarize(results)
    by_name = {t["target"]: (t["measured"], t["met"]) for t in results["targets"]}
    assert by_name["APIAny: throughput at c=32 >= 1,000 req/s"] == (1100, True)
    assert by_name["APIAny API-only: throughput at c=32 >= 1,000 req/s"] == (900, False)
    assert by_name["APIAny / LiteLLM throughput at c=32 >= 15x"] == (18.3, True)
    assert by_name["APIAny / pass-through throughput at c=32 >= 55%"] == (55.0, True)
    assert by_name["APIAny API-only / pass-through throughput at c=32 >= 55%"] == (45.0, False)
    assert by_name["APIAny: added median latency at c=1 <= 1.5 ms"] == (1.2, True)
    assert by_name["APIAny API-only: added median latency at c=1 <= 1.5 ms"] == (1.7, False)
    assert by_name["APIAny: added streaming TTFB median <= 2 ms"] == (1.5, True)
    assert by_name["APIAny API-only: added streaming TTFB median <= 2 ms"] == (2.5, False)
    assert by_name["APIAny: peak RSS per worker <= 150 MB"] == (170.0, False)
    assert by_name["APIAny API-only: peak RSS per worker <= 150 MB"] == (110.0, True)
    assert len(by_name) == 12
