"""bench.bench_post sends the same request both ways and measures each (no timing asserted)."""

from __future__ import annotations

import asyncio

from bench import bench_post


def test_both_clients_are_measured_on_every_request():
    figures = asyncio.run(bench_post.run(gap_ms=0.0, count=5))
    assert set(figures) == {"aiohttp", "batch_post"}
    assert all(f["n"] == 5 and f["p50_us"] > 0 for f in figures.values())
