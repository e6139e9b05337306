"""Acceptance of issue 19, item 2: the venue's $1 minimum for marketable BUYs, end to end (real processes).

A trio whose cheap leg asks 0.03: with 20 shares shown there, the set could be 20 shares at most, and
that leg would be $0.60, which the venue refuses (the other legs would fill: leg risk). The engine does
not signal it. With 50 shown, the same trio trades, every leg at $1 or more, and fills.
"""

from __future__ import annotations

import asyncio
import time
import urllib.request

import pytest

from bench.pipeline import parse_metrics
from polyarb.v1 import engine_pb2, engine_pb2_grpc, executor_pb2
from tests.e2e.test_pipeline import next_results, wait_fresh

pytestmark = pytest.mark.integration

CHEAP = "0.03"


def _metric_total(service, name: str) -> float:
    with urllib.request.urlopen(f"http://{service.metrics_addr}/metrics", timeout=5) as response:
        metrics = parse_metrics(response.read().decode())
    return sum(v for k, v in metrics.items() if k == name or k.startswith(name + "{"))


async def _engine_shows(pipeline, token: str, ask: float, size: float, timeout: float = 15.0) -> None:
    """Until the engine's own view of the token's book has this ask and size."""
    async with pipeline.channel(pipeline.engine) as channel:
        stub = engine_pb2_grpc.EngineStub(channel)
        deadline = time.monotonic() + timeout
        while True:
            status = await stub.GetStatus(engine_pb2.GetEngineStatusRequest(include_instances=True))
            legs = [leg for view in status.instance_views for leg in view.legs if leg.token_id == token]
            if legs and all(leg.ask_price == ask and leg.ask_size == size and not leg.stale for leg in legs):
                return
            assert time.monotonic() < deadline, f"the engine never showed {token} at {ask} x {size}"
            await asyncio.sleep(0.05)


async def test_a_cheap_leg_trades_at_34_shares_or_more_and_20_shown_is_not_signalled(pipeline_factory):
    pipeline = pipeline_factory()
    reply = await pipeline.push_structure_and_enable()
    await wait_fresh(pipeline, reply.tokens)
    # The lowest trio: YES "above L" is worth about 0.96 at the scenario's spot; asked at 0.03 it makes the
    # trio (YES above L, NO above U, NO range, pays 2) cost about 1.1. No other instance buys that token.
    trio = min(pipeline.venue_get("/admin/structure")["trios"], key=lambda t: t["lower_bound"])
    cheap = trio["lower"]["yes_token_id"]

    def show(size: str) -> None:
        pipeline.venue_post("/admin/book", {"token_id": cheap, "bids": [["0.01", "100"]], "asks": [[CHEAP, size]]})

    show("20")
    await _engine_shows(pipeline, cheap, float(CHEAP), 20.0)
    await asyncio.sleep(1.0)  # time for a signal that should not come (the engine evaluates on arrival)
    assert _metric_total(pipeline.engine, "polyarb_signals_total") == 0
    assert _metric_total(pipeline.executor, "polyarb_signals_received_total") == 0
    assert pipeline.venue_get("/admin/stats")["orders_received"] == 0

    show("50")  # now the set can be 34 shares or more: 50, the thinnest leg
    (result,) = await next_results(pipeline, 0, 1)
    assert result.outcome == executor_pb2.OUTCOME_FILLED, result
    assert result.instance_id == trio["id"]
    sizes = {leg.size for leg in result.legs}
    assert len(sizes) == 1 and sizes.pop() >= 34  # equal shares, at least the $1 of the 0.03 leg
    for leg in result.legs:
        assert leg.filled_size == leg.size
        assert leg.price * leg.size >= 1.0 - 1e-9  # at the signed limit price, as the venue counts it
    stats = pipeline.venue_get("/admin/stats")
    assert stats["orders_rejected"] == 0 and stats["orders_filled"] == 3
