"""bench.bench_hop measures what it says: both directions of a real two-process stream (no timing asserted)."""

from __future__ import annotations

from bench import bench_hop


def test_one_variant_measures_every_message_both_ways():
    figures = bench_hop.measure("write", "write", "asyncio", rate=500.0, count=20)
    assert figures["n"] == 20
    assert figures["p50_us"] > 0 and figures["back_p50_us"] > 0 and figures["p99_us"] >= figures["p50_us"]
