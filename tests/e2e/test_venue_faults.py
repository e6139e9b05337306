"""Acceptance of issue 7, item 3: venue faults end to end (real processes)."""

from __future__ import annotations

import asyncio
import time

import pytest

from polyarb.v1 import engine_pb2, engine_pb2_grpc, executor_pb2
from tests.e2e.test_pipeline import _instances, next_results, wait_fresh

pytestmark = pytest.mark.integration


async def engine_status(pipeline) -> engine_pb2.EngineStatus:
    async with pipeline.channel(pipeline.engine) as channel:
        return await engine_pb2_grpc.EngineStub(channel).GetStatus(engine_pb2.GetEngineStatusRequest())


async def until(predicate, timeout: float, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(step)


async def test_drop_and_stall_never_trade_on_a_stale_book(pipeline_factory):
    pipeline = pipeline_factory(ingest_args=("--stale-after", "2"))
    reply = await pipeline.push_structure_and_enable()
    await wait_fresh(pipeline, reply.tokens)
    trio = next(i for i in _instances(pipeline) if i["kind"] == "trio")

    # a cut connection: every token is stale within 1 s, fresh again after the reconnect's snapshots
    dropped = time.monotonic()
    pipeline.venue_post("/admin/faults", {"ws_drop": True})
    await until(lambda: _all_stale(pipeline, reply.tokens), timeout=1.0)
    assert time.monotonic() - dropped < 1.0
    await wait_fresh(pipeline, reply.tokens, timeout=10)

    # a frozen venue (no frames, no PONG): an arbitrage opened meanwhile is not seen, so not traded,
    # until ingest's watchdog reconnects and fresh snapshots show it
    stall_started_ns = time.time_ns()
    pipeline.venue_post("/admin/faults", {"ws_stall_s": 4})
    pipeline.venue_post("/admin/arbitrage", {"instance_id": trio["id"], "gap": 0.05, "size": 20, "ttl_s": None})
    (result,) = await next_results(pipeline, 0, 1, timeout=30)
    assert result.outcome == executor_pb2.OUTCOME_FILLED
    # the frame the trade came from arrived after the watchdog window (2 s): never from the frozen socket
    assert result.trace.ws_recv_ns - stall_started_ns > 1.9e9
    assert (await engine_status(pipeline)).skipped_acks == 0


async def _all_stale(pipeline, tokens: int) -> bool:
    return (await engine_status(pipeline)).stale_tokens == tokens


async def test_5xx_is_unknown_never_reposted_then_reconciled(pipeline_factory):
    # "not found" settles a batch only after the grace period (the edge may still be queueing it): 2 s here
    pipeline = pipeline_factory(executor_args=("--not-found-grace-s", "2"))
    reply = await pipeline.push_structure_and_enable()
    await wait_fresh(pipeline, reply.tokens)
    trio = next(i for i in _instances(pipeline) if i["kind"] == "trio")
    pipeline.venue_post("/admin/faults", {"http_5xx": 1})
    pipeline.venue_post("/admin/arbitrage", {"instance_id": trio["id"], "gap": 0.05, "size": 20, "ttl_s": None})
    unknown, reconciled = await next_results(pipeline, 0, 2, timeout=30)
    assert unknown.outcome == executor_pb2.OUTCOME_UNKNOWN and "503" in unknown.error
    # the venue answered 503 without processing: reconciliation learns the orders never existed
    assert reconciled.reconciles_seq == unknown.seq and reconciled.outcome == executor_pb2.OUTCOME_REJECTED
    assert reconciled.recorded_ns - unknown.trace.posted_ns >= 2e9
    stats = pipeline.venue_get("/admin/stats")
    assert stats["orders_accepted"] == 0  # the batch was posted once and never again
    assert stats["faults"]["fired"]["http_5xx"] == 1
