"""SIGKILL of ingest, engine and executor in turn while the paper venue drives arbitrages (real processes).

What must hold across the whole run: while one service is down the others keep serving health; its
streams come back after the restart (the control plane's part, done here as the shell would: push the
structure again, set balance and config, enable trading); no order hash is ever posted twice (the
venue's own count per hash); and no trade result is lost or reordered: the journal's seqs are
contiguous, a follower that reconnected across the executor's death got each once in order, and every
order the venue saw is in the journal, even the batch the executor was killed in the middle of posting.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from google.protobuf import json_format

from polyarb.v1 import engine_pb2, engine_pb2_grpc, executor_pb2, executor_pb2_grpc
from tests.e2e.conftest import TOKEN
from tests.e2e.test_pipeline import _instances, next_results, wait_fresh
from tests.faults.conftest import SERVING, ArbitrageDriver, ResultFollower, health, restart_same_port, until

pytestmark = pytest.mark.integration

ENV = {"POLYARB_CONTROL_TOKEN": TOKEN}


async def engine_status(pipeline) -> engine_pb2.EngineStatus:
    async with pipeline.channel(pipeline.engine) as channel:
        return await engine_pb2_grpc.EngineStub(channel).GetStatus(engine_pb2.GetEngineStatusRequest(), timeout=5)


async def executor_status(pipeline) -> executor_pb2.ExecutorStatus:
    async with pipeline.channel(pipeline.executor) as channel:
        return await executor_pb2_grpc.ExecutorStub(channel).GetStatus(executor_pb2.GetExecutorStatusRequest(),
                                                                        timeout=5)


async def set_up_engine(pipeline) -> int:
    """What the control plane does for a (re)started engine: the structure, and a short in-flight timeout
    (signals lost with a dead executor free their instance after 2 s instead of 10)."""
    structure = json_format.ParseDict(pipeline.venue_get("/admin/structure"), engine_pb2.MarketStructure())
    async with pipeline.channel(pipeline.engine) as channel:
        stub = engine_pb2_grpc.EngineStub(channel)
        reply = await stub.UpdateMarketStructure(structure, timeout=5)
        config = (await stub.GetStatus(engine_pb2.GetEngineStatusRequest(), timeout=5)).config
        config.in_flight_timeout_ms = 2000
        await stub.UpdateConfig(config, timeout=5)
    return reply.tokens


async def set_up_executor(pipeline) -> None:
    """What the control plane does for a (re)started executor: the venue's balance (the truth, after
    whatever the last one did), room for the whole run's exposure, trading on. Signals may be 2 s old:
    this test is about losing nothing, and a loaded 2-core machine must not turn it into a latency test."""
    balance = pipeline.venue_get(f"/balance?address={pipeline.address}")
    async with pipeline.channel(pipeline.executor) as channel:
        stub = executor_pb2_grpc.ExecutorStub(channel)
        await stub.UpdateBalance(executor_pb2.UpdateBalanceRequest(
            collateral=float(balance["collateral"]),
            inventory={t: float(s) for t, s in balance["inventory"].items()}), timeout=5)
        config = (await stub.GetStatus(executor_pb2.GetExecutorStatusRequest(), timeout=5)).config
        config.max_exposure = 1e6
        config.max_signal_age_ms = 2000
        await stub.UpdateConfig(config, timeout=5)
        await stub.SetTradingEnabled(executor_pb2.SetTradingEnabledRequest(enabled=True, reason="restarted"),
                                     timeout=5)


async def others_serve(pipeline, down) -> None:
    for service in (pipeline.venue, pipeline.ingest, pipeline.engine, pipeline.executor):
        if service is not down:
            assert await health(service.grpc_addr) == SERVING, f"{service.module} stopped serving"


async def trades_after(follower: ResultFollower, since_ns: int, timeout: float = 20) -> None:
    await follower.until(lambda results: any(r.trace.signal_sent_ns > since_ns for r in results), timeout)


async def test_sigkill_each_service_in_turn_loses_no_result_and_posts_no_order_twice(pipeline_factory,
                                                                                     start_service):
    pipeline = pipeline_factory(venue_args=("--starting-balance", "1000000"),
                                executor_args=("--not-found-grace-s", "2"))  # "not found" is final after 2 s here
    tokens = await set_up_engine(pipeline)
    await set_up_executor(pipeline)
    await wait_fresh(pipeline, tokens)
    follower = ResultFollower(pipeline)
    driver = ArbitrageDriver(pipeline, [i["id"] for i in _instances(pipeline)])
    quiet_windows = []  # (from, to) ns: no signal may leave the engine in between
    try:
        await follower.until(lambda results: len(results) >= 3, 20)

        # ingest: the engine marks every token stale at once and trades on none until fresh snapshots
        killed = time.time_ns()
        pipeline.ingest.kill()
        await until(lambda: _all_stale(pipeline, tokens), timeout=1.0)
        await others_serve(pipeline, pipeline.ingest)
        pipeline.ingest = restart_same_port(start_service, pipeline.ingest, ENV)
        await wait_fresh(pipeline, tokens, timeout=20)  # the engine's link came back by itself
        quiet_windows.append((killed + 200_000_000, time.time_ns() - 200_000_000))
        await trades_after(follower, time.time_ns())

        # engine: a new one knows nothing until the control plane pushes the structure again
        pipeline.engine.kill()
        await others_serve(pipeline, pipeline.engine)
        pipeline.engine = restart_same_port(start_service, pipeline.engine, ENV)
        await wait_fresh(pipeline, await set_up_engine(pipeline), timeout=20)
        await trades_after(follower, time.time_ns())

        # executor, killed in the middle of a POST the venue has processed (its answer held back)
        pipeline.venue_post("/admin/faults", {"timeout": 1, "timeout_s": 30})
        await until(lambda: _fired(pipeline, "timeout"), timeout=20, step=0.01)
        pipeline.executor.kill()
        await others_serve(pipeline, pipeline.executor)
        assert not (await engine_status(pipeline)).executor_connected
        restarted = time.time_ns()
        pipeline.executor = restart_same_port(start_service, pipeline.executor, ENV)
        await set_up_executor(pipeline)
        # the batch that was on the wire: UNKNOWN (from its journaled intent), then reconciled with the venue
        await follower.until(lambda results: _reconciled_after(results, restarted), 20)
        await until(lambda: _executor_link_up(pipeline), timeout=20)
        await trades_after(follower, time.time_ns())
    finally:
        await driver.stop()

    # quiescence: nothing in flight, every UNKNOWN reconciled
    await until(lambda: _settled(pipeline), timeout=20)
    last_seq = (await executor_status(pipeline)).last_seq
    await follower.until(lambda results: follower.last_seq >= last_seq, 10)
    await follower.stop()
    journal = await next_results(pipeline, 0, last_seq)
    stats = pipeline.venue_get("/admin/stats")

    # nothing lost, nothing reordered, nothing twice: on the executor's side ...
    assert [r.seq for r in journal] == list(range(1, last_seq + 1))
    assert [r.seq for r in follower.received] == list(range(1, last_seq + 1))  # across 1 executor death
    assert [r.SerializeToString() for r in follower.received] == [r.SerializeToString() for r in journal]
    # ... and on the venue's: each order hash posted once, and every one of them in the journal
    assert stats["duplicates"] == 0 and set(stats["posts_by_hash"].values()) == {1}
    journal_hashes = {leg.order_hash for r in journal for leg in r.legs}
    assert set(stats["posts_by_hash"]) <= journal_hashes
    final = {r.signal_id: r for r in journal}  # a reconciled result comes after the UNKNOWN it settles
    assert not [r for r in final.values() if r.outcome == executor_pb2.OUTCOME_UNKNOWN]
    matched = sum(1 for r in final.values() for leg in r.legs if leg.filled_size > 0)
    assert matched == stats["orders_accepted"]
    # no signal left the engine while ingest was down or its books not yet fresh again
    for start, end in quiet_windows:
        assert not [r for r in journal if start < r.trace.signal_sent_ns < end]
    print(f"\nkill run: {last_seq} results, {len(final)} batches, {stats['orders_accepted']} orders accepted, "
          f"{len(stats['posts_by_hash'])} hashes posted once each, {driver.injected} arbitrages injected, "
          f"follower reconnects {follower.reconnects}")


async def _all_stale(pipeline, tokens: int) -> bool:
    return (await engine_status(pipeline)).stale_tokens == tokens


async def _fired(pipeline, fault: str) -> bool:
    stats = await asyncio.to_thread(pipeline.venue_get, "/admin/stats")
    return stats["faults"]["fired"].get(fault, 0) > 0


async def _executor_link_up(pipeline) -> bool:
    return (await engine_status(pipeline)).executor_connected


def _reconciled_after(results, since_ns: int) -> bool:
    unknown = {r.seq for r in results if r.outcome == executor_pb2.OUTCOME_UNKNOWN and r.recorded_ns > since_ns}
    return any(r.reconciles_seq in unknown and r.outcome == executor_pb2.OUTCOME_FILLED for r in results)


async def _settled(pipeline) -> bool:
    status = await executor_status(pipeline)
    if status.in_flight:
        return False
    results = await next_results(pipeline, 0, status.last_seq)
    settled = {r.reconciles_seq for r in results if r.reconciles_seq}
    return all(r.seq in settled for r in results if r.outcome == executor_pb2.OUTCOME_UNKNOWN)
