"""Trade only what the venue shows (issue 14), over the real processes: paper venue → ingest → engine →
executor → paper venue.

- a frame is evaluated only once applied whole: six legs in one WebSocket frame;
- liquidity we took is not chased: a FILLED trio on books that do not change is traded once;
- no new exposure while an outcome is unknown: a hung POST holds its instance until reconciliation
  settles it ("not found" only after the grace period; "matched" at once), across an engine restart too.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from google.protobuf import json_format

from polyarb.v1 import engine_pb2, engine_pb2_grpc, executor_pb2, executor_pb2_grpc
from tests.e2e.conftest import TOKEN
from tests.e2e.test_pipeline import _instances, wait_fresh
from tests.faults.conftest import ResultFollower, until

pytestmark = pytest.mark.integration

GRACE_S = 4.0  # the executor's --not-found-grace-s in these tests (30 by default)


def trio_legs(pipeline) -> tuple[str, dict[str, str]]:
    """The first trio's id and its six tokens by role."""
    trio = next(i for i in _instances(pipeline) if i["kind"] == "trio")
    t = trio["trio"]
    for market in (t["lower"], t["upper"], t["range"]):
        assert 0.01 / float(market["tick_size"]) == round(0.01 / float(market["tick_size"]))  # cents are on the grid
    return trio["id"], {
        "lo_yes": t["lower"]["yes_token_id"], "up_no": t["upper"]["no_token_id"], "rg_no": t["range"]["no_token_id"],
        "lo_no": t["lower"]["no_token_id"], "up_yes": t["upper"]["yes_token_id"], "rg_yes": t["range"]["yes_token_id"],
    }


def show(pipeline, tokens: dict[str, str], asks: list[tuple[str, float, float]]) -> None:
    """One WebSocket frame with these books, in this order: (role, best ask, size); bids 5 cents lower."""
    books = [{"token_id": tokens[role], "asks": [[f"{ask:.2f}", f"{size:g}"]],
              "bids": [[f"{ask - 0.05:.2f}", f"{size:g}"]]} for role, ask, size in asks]
    pipeline.venue_post("/admin/books", {"books": books})


# the complement's legs, never an arbitrage in any mix of these (asks sum >= 1.08 > 1)
QUIET_COMPLEMENT = [("lo_no", 0.36, 50), ("up_yes", 0.36, 50), ("rg_yes", 0.36, 50)]


async def engine_stub_call(pipeline, method: str, request):
    async with pipeline.channel(pipeline.engine) as channel:
        return await getattr(engine_pb2_grpc.EngineStub(channel), method)(request, timeout=5)


async def executor_stub_call(pipeline, method: str, request):
    async with pipeline.channel(pipeline.executor) as channel:
        return await getattr(executor_pb2_grpc.ExecutorStub(channel), method)(request, timeout=5)


async def configure(pipeline, *, max_set_size: float = 10.0, http_timeout_ms: int | None = None) -> None:
    """Small sets; signals may be 2 s old and the limit is the signal's price (no slippage), so a test on
    a loaded machine checks behaviour, not latency, and reads the signal's prices off the orders."""
    engine = (await engine_stub_call(pipeline, "GetStatus", engine_pb2.GetEngineStatusRequest())).config
    engine.max_set_size = max_set_size
    await engine_stub_call(pipeline, "UpdateConfig", engine)
    executor = (await executor_stub_call(pipeline, "GetStatus", executor_pb2.GetExecutorStatusRequest())).config
    executor.max_signal_age_ms = 2000
    executor.slippage_ticks = 0
    if http_timeout_ms is not None:
        executor.http_timeout_ms = http_timeout_ms
    await executor_stub_call(pipeline, "UpdateConfig", executor)


def posts(pipeline) -> int:
    return pipeline.venue_get("/admin/stats")["order_posts"]


def batches(results, instance_id: str) -> list[executor_pb2.TradeResult]:
    return [r for r in results if r.instance_id == instance_id and not r.reconciles_seq]


async def push_one_trio(pipeline) -> int:
    """The engine trades only the first trio: the books these tests set on its legs would make arbitrages
    of the neighbouring trios (they share markets), which are not what is tested."""
    structure = json_format.ParseDict(pipeline.venue_get("/admin/structure"), engine_pb2.MarketStructure())
    del structure.trios[1:]
    del structure.sets[:]
    structure.version += 1
    return (await engine_stub_call(pipeline, "UpdateMarketStructure", structure)).tokens


async def start(pipeline_factory, **kwargs):
    pipeline = pipeline_factory(**kwargs)
    await pipeline.push_structure_and_enable()
    await wait_fresh(pipeline, await push_one_trio(pipeline))
    await configure(pipeline)
    instance_id, tokens = trio_legs(pipeline)
    return pipeline, instance_id, tokens


async def test_one_frame_of_six_legs_is_evaluated_whole(pipeline_factory):
    pipeline, instance_id, tokens = await start(pipeline_factory)
    follower = ResultFollower(pipeline)
    try:
        show(pipeline, tokens, [("lo_yes", 0.75, 20), ("up_no", 0.72, 20), ("rg_no", 0.60, 20), *QUIET_COMPLEMENT])
        await asyncio.sleep(0.5)
        # one frame: the first two legs get cheap, the third dear. Mid-frame the books would say
        # 0.65 + 0.62 + 0.60 = 1.87 (a trio arbitrage); the venue shows 0.65 + 0.62 + 0.80 = 2.07 (none).
        show(pipeline, tokens, [("lo_yes", 0.65, 20), ("up_no", 0.62, 20), ("rg_no", 0.80, 20), *QUIET_COMPLEMENT])
        await asyncio.sleep(1.5)
        assert posts(pipeline) == 0
        status = await engine_stub_call(pipeline, "GetStatus", engine_pb2.GetEngineStatusRequest())
        assert status.stale_tokens == 0 and not status.signals_by_strategy.get("trio")

        # the reverse: mid-frame 0.55 + 0.62 + 0.80 = 1.97 would already signal at the old prices; the frame
        # ends at 0.55 + 0.60 + 0.78 = 1.93: exactly one batch (of the whole 10 shown), priced from the final state
        show(pipeline, tokens, [("lo_yes", 0.55, 10), ("up_no", 0.60, 10), ("rg_no", 0.78, 10), *QUIET_COMPLEMENT])
        await follower.until(lambda results: batches(results, instance_id), timeout=15)
        await asyncio.sleep(1.0)
        (result,) = batches(follower.received, instance_id)
        assert result.outcome == executor_pb2.OUTCOME_FILLED
        assert [(leg.token_id, leg.price) for leg in result.legs] == [
            (tokens["lo_yes"], 0.55), (tokens["up_no"], 0.60), (tokens["rg_no"], 0.78)]
        assert posts(pipeline) == 1
    finally:
        await follower.stop()


async def test_a_filled_trio_on_unchanged_books_is_traded_once(pipeline_factory):
    pipeline, instance_id, tokens = await start(pipeline_factory)
    # the venue's feed lags our fills: the books on the socket keep showing what we took
    pipeline.venue_post("/admin/faults", {"ws_hide_fills": True})
    follower = ResultFollower(pipeline)
    try:
        # 30 shown on each leg, sets of 10: the 20 left would still look like an arbitrage
        show(pipeline, tokens, [("lo_yes", 0.60, 30), ("up_no", 0.60, 30), ("rg_no", 0.70, 30), *QUIET_COMPLEMENT])
        await follower.until(lambda results: batches(results, instance_id), timeout=15)
        (first,) = batches(follower.received, instance_id)
        assert first.outcome == executor_pb2.OUTCOME_FILLED and first.legs[0].size == 10
        # 5 s of unchanged books: the cooldown ends, the balance poll sees the new inventory, nothing more
        await asyncio.sleep(5.0)
        assert len(batches(follower.received, instance_id)) == 1 and posts(pipeline) == 1

        # the venue shows the books anew (a fresh frame, new sizes) still with the arbitrage: one more
        show(pipeline, tokens, [("lo_yes", 0.60, 25), ("up_no", 0.60, 25), ("rg_no", 0.70, 25), *QUIET_COMPLEMENT])
        await follower.until(lambda results: len(batches(results, instance_id)) == 2, timeout=15)
        await asyncio.sleep(1.5)
        assert len(batches(follower.received, instance_id)) == 2 and posts(pipeline) == 2
        assert batches(follower.received, instance_id)[1].outcome == executor_pb2.OUTCOME_FILLED
    finally:
        await follower.stop()


async def hung_batch(pipeline, instance_id: str, tokens: dict[str, str], follower) -> executor_pb2.TradeResult:
    """An arbitrage whose POST hangs at the edge and is lost: the executor's answer times out (UNKNOWN),
    and the venue never hears of the orders."""
    pipeline.venue_post("/admin/faults", {"hang": 1, "timeout_s": 2})
    show(pipeline, tokens, [("lo_yes", 0.60, 30), ("up_no", 0.60, 30), ("rg_no", 0.70, 30), *QUIET_COMPLEMENT])
    await follower.until(lambda results: batches(results, instance_id), timeout=15)
    (unknown,) = batches(follower.received, instance_id)
    assert unknown.outcome == executor_pb2.OUTCOME_UNKNOWN
    return unknown


async def test_hung_post_holds_the_instance_until_settled_then_trades_again(pipeline_factory):
    pipeline, instance_id, tokens = await start(
        pipeline_factory, executor_args=("--not-found-grace-s", str(GRACE_S)))
    await configure(pipeline, http_timeout_ms=500)
    follower = ResultFollower(pipeline)
    try:
        unknown = await hung_batch(pipeline, instance_id, tokens, follower)
        status = await executor_stub_call(pipeline, "GetStatus", executor_pb2.GetExecutorStatusRequest())
        assert [b.seq for b in status.unknown_batches] == [unknown.seq]
        assert status.unknown_batches[0].instance_id == instance_id and status.balance.reserved > 0
        reserved_one = status.balance.reserved
        engine = await engine_stub_call(pipeline, "GetStatus", engine_pb2.GetEngineStatusRequest())
        assert engine.held_instances == 1

        # the books keep showing the arbitrage; "not found" is no proof yet: nothing more is posted
        show(pipeline, tokens, [("lo_yes", 0.60, 31), ("up_no", 0.60, 31), ("rg_no", 0.70, 31), *QUIET_COMPLEMENT])
        await asyncio.sleep(1.0)
        assert posts(pipeline) == 1 and len(batches(follower.received, instance_id)) == 1
        engine = await engine_stub_call(pipeline, "GetStatus", engine_pb2.GetEngineStatusRequest())
        assert engine.signals_by_strategy["trio"] == 1 and engine.skipped_acks == 0  # the engine held it itself

        # after the grace period the batch settles unfilled, the reservation is freed, and the books
        # (still showing the arbitrage) are traded: one more batch
        await follower.until(lambda results: [r for r in results if r.reconciles_seq == unknown.seq], timeout=20)
        (settled,) = [r for r in follower.received if r.reconciles_seq == unknown.seq]
        assert settled.outcome == executor_pb2.OUTCOME_REJECTED
        assert settled.recorded_ns - unknown.trace.posted_ns >= GRACE_S * 1e9
        assert {leg.status for leg in settled.legs} == {"not_found"}
        await follower.until(lambda results: len(batches(results, instance_id)) == 2, timeout=15)
        second = batches(follower.received, instance_id)[1]
        assert second.outcome == executor_pb2.OUTCOME_FILLED
        assert second.trace.signal_sent_ns > settled.recorded_ns
        assert posts(pipeline) == 2
        status = await executor_stub_call(pipeline, "GetStatus", executor_pb2.GetExecutorStatusRequest())
        assert not status.unknown_batches and status.balance.reserved == 0 < reserved_one

        # a time-out after the venue matched the batch: UNKNOWN, then FILLED at the first probe, long
        # before the grace period
        pipeline.venue_post("/admin/faults", {"timeout": 1, "timeout_s": 3})
        show(pipeline, tokens, [("lo_yes", 0.60, 40), ("up_no", 0.60, 40), ("rg_no", 0.70, 40), *QUIET_COMPLEMENT])
        await follower.until(lambda results: len(batches(results, instance_id)) == 3, timeout=15)
        late = batches(follower.received, instance_id)[2]
        assert late.outcome == executor_pb2.OUTCOME_UNKNOWN
        await follower.until(lambda results: [r for r in results if r.reconciles_seq == late.seq], timeout=10)
        (matched,) = [r for r in follower.received if r.reconciles_seq == late.seq]
        assert matched.outcome == executor_pb2.OUTCOME_FILLED
        assert matched.recorded_ns - late.recorded_ns < GRACE_S * 1e9  # never waits out the not-found grace
        assert posts(pipeline) == 3
    finally:
        await follower.stop()


async def test_a_restarted_engine_does_not_trade_an_instance_whose_outcome_is_unknown(pipeline_factory,
                                                                                    start_service):
    pipeline, instance_id, tokens = await start(
        pipeline_factory, executor_args=("--not-found-grace-s", "8"))
    await configure(pipeline, http_timeout_ms=500)
    follower = ResultFollower(pipeline)
    try:
        unknown = await hung_batch(pipeline, instance_id, tokens, follower)

        # a new engine process: it knows nothing of the batch but what the executor's status says
        args = list(pipeline.engine.proc.args)
        pipeline.engine.kill()
        pipeline.engine = start_service("engine_svc", args[args.index("engine_svc") + 1:],
                                        {"POLYARB_CONTROL_TOKEN": TOKEN})
        await wait_fresh(pipeline, await push_one_trio(pipeline))
        await configure(pipeline, http_timeout_ms=500)
        status = await until(lambda: _held(pipeline), timeout=5)
        assert status.held_instances == 1

        # its books are fresh and show the arbitrage: still nothing until the batch settles
        show(pipeline, tokens, [("lo_yes", 0.60, 31), ("up_no", 0.60, 31), ("rg_no", 0.70, 31), *QUIET_COMPLEMENT])
        settled_at = unknown.trace.posted_ns + 8e9
        while time.time_ns() < settled_at - 0.5e9:
            assert posts(pipeline) == 1
            await asyncio.sleep(0.2)
        status = await engine_stub_call(pipeline, "GetStatus", engine_pb2.GetEngineStatusRequest())
        assert not status.signals_by_strategy.get("trio")  # held by the engine itself, not denied by the executor
        await follower.until(lambda results: [r for r in results if r.reconciles_seq == unknown.seq], timeout=15)
        await follower.until(lambda results: len(batches(results, instance_id)) == 2, timeout=15)
        second = batches(follower.received, instance_id)[1]
        assert second.outcome == executor_pb2.OUTCOME_FILLED and posts(pipeline) == 2
    finally:
        await follower.stop()


async def _held(pipeline):
    status = await engine_stub_call(pipeline, "GetStatus", engine_pb2.GetEngineStatusRequest())
    return status if status.held_instances else None
