"""CLOB faults end to end: the paper venue's HTTP fault switches against the real executor (real processes,
real signatures, the venue's own matching and GET /data/order for reconciliation).

Each fault against the in-test CLOB is in tests/executor/test_execution.py (5xx and time-out UNKNOWN and
never re-posted, reconciliation, one leg rejected is PARTIAL with leg risk, the breaker opening after N
failures and closed only by SetTradingEnabled(true), an HTML 403 a config error that opens it at once);
5xx end to end, reconciled to REJECTED, in tests/e2e/test_venue_faults.py. What only the paper venue can
show is here: a time-out *after the venue accepted and matched* reconciled to FILLED from the venue's own
order records, the live venue's batch rejection shape, and the breaker's whole cycle through real HTTP.
"""

from __future__ import annotations

import asyncio

import pytest

from polyarb.v1 import engine_pb2, engine_pb2_grpc, executor_pb2, executor_pb2_grpc
from tests.e2e.test_pipeline import _instances, wait_fresh
from tests.faults.conftest import ResultFollower, until

pytestmark = pytest.mark.integration


async def executor_config(pipeline, **changes) -> None:
    async with pipeline.channel(pipeline.executor) as channel:
        stub = executor_pb2_grpc.ExecutorStub(channel)
        config = (await stub.GetStatus(executor_pb2.GetExecutorStatusRequest(), timeout=5)).config
        for name, value in changes.items():
            setattr(config, name, value)
        await stub.UpdateConfig(config, timeout=5)


async def trading_state(pipeline) -> executor_pb2.TradingState:
    async with pipeline.channel(pipeline.executor) as channel:
        status = await executor_pb2_grpc.ExecutorStub(channel).GetStatus(executor_pb2.GetExecutorStatusRequest())
    return status.trading


async def enable(pipeline) -> None:
    async with pipeline.channel(pipeline.executor) as channel:
        await executor_pb2_grpc.ExecutorStub(channel).SetTradingEnabled(
            executor_pb2.SetTradingEnabledRequest(enabled=True, reason="a person checked the venue"))


async def skipped(pipeline) -> int:
    async with pipeline.channel(pipeline.engine) as channel:
        return (await engine_pb2_grpc.EngineStub(channel).GetStatus(engine_pb2.GetEngineStatusRequest())).skipped_acks


def posted(pipeline) -> int:
    return sum(pipeline.venue_get("/admin/stats")["posts_by_hash"].values())


async def quiet_posts(pipeline, quiet_s: float = 0.6, timeout: float = 10) -> None:
    """Until no POST has reached the venue for quiet_s: a fault set now meets the next trade's batch, not
    a late batch of the previous arbitrage (a fresh frame can show its remaining size again)."""
    deadline = asyncio.get_running_loop().time() + timeout
    count = posted(pipeline)
    while True:
        await asyncio.sleep(quiet_s)
        now = posted(pipeline)
        if now == count:
            return
        assert asyncio.get_running_loop().time() < deadline, "the venue never went quiet"
        count = now


class Trader:
    """Opens an arbitrage on the next instance (round-robin) and returns the results it leads to."""

    def __init__(self, pipeline, follower: ResultFollower) -> None:
        self.pipeline = pipeline
        self.follower = follower
        self.instances = [i["id"] for i in _instances(pipeline)]
        self.turn = 0

    def inject(self, ttl_s: float | None = None) -> str:
        instance_id = self.instances[self.turn % len(self.instances)]
        # A gap other than the previous round's: an instance whose last arbitrage is still shown (a batch
        # skipped while the circuit was open takes nothing) must see its books move, or no frame comes
        # and the engine, rightly, has nothing new to evaluate.
        gap = 0.05 + 0.01 * ((self.turn // len(self.instances)) % 2)
        self.turn += 1
        self.pipeline.venue_post("/admin/arbitrage", {"instance_id": instance_id, "gap": gap, "size": 10,
                                                      "ttl_s": ttl_s})
        return instance_id

    async def trade(self, timeout: float = 15) -> executor_pb2.TradeResult:
        """The result of the batch the next arbitrage leads to (reconciliations of earlier ones skipped)."""
        seen = len(self.follower.received)
        instance_id = self.inject()

        def new_batches(results):
            return [r for r in results[seen:] if r.instance_id == instance_id and not r.reconciles_seq]

        await self.follower.until(new_batches, timeout)
        return new_batches(self.follower.received)[0]

    async def skipped_while_open(self) -> None:
        """An arbitrage while the circuit is open: the engine's signal is skipped, nothing is posted; the
        arbitrage expires before trading resumes, so it cannot meet the next fault."""
        before, skips = posted(self.pipeline), await skipped(self.pipeline)
        self.inject(ttl_s=0.5)
        await until(lambda: _more_skips(self.pipeline, skips), timeout=10)
        assert posted(self.pipeline) == before
        await asyncio.sleep(0.8)  # the venue's next steps (0.25 s) re-quote the expired legs

    async def reconciliation_of(self, unknown: executor_pb2.TradeResult, timeout: float = 10):
        def found(results):
            return [r for r in results if r.reconciles_seq == unknown.seq]

        await self.follower.until(found, timeout)
        return found(self.follower.received)[0]


async def test_timeout_partial_5xx_breaker_and_geoblock_through_the_paper_venue(pipeline_factory):
    # the venue's "not found" settles an unanswered batch after 2 s here (30 s by default)
    pipeline = pipeline_factory(executor_args=("--not-found-grace-s", "2"))
    reply = await pipeline.push_structure_and_enable()
    await wait_fresh(pipeline, reply.tokens)
    follower = ResultFollower(pipeline)
    trader = Trader(pipeline, follower)
    try:
        # time-out after the venue accepted and matched: UNKNOWN, never re-posted, reconciled to FILLED
        # (signals may be 2 s old: a loaded machine must not turn this into a latency test)
        await executor_config(pipeline, http_timeout_ms=400, max_signal_age_ms=2000)
        pipeline.venue_post("/admin/faults", {"timeout": 1, "timeout_s": 3})
        before = posted(pipeline)
        unknown = await trader.trade()
        reconciled = await trader.reconciliation_of(unknown)
        assert unknown.outcome == executor_pb2.OUTCOME_UNKNOWN and "400 ms" in unknown.error
        assert reconciled.reconciles_seq == unknown.seq and reconciled.outcome == executor_pb2.OUTCOME_FILLED
        assert [leg.status for leg in reconciled.legs] == ["matched"] * len(unknown.legs)
        assert posted(pipeline) == before + len(unknown.legs)  # once

        # one leg rejected in the batch, the live venue's way (success true, no orderID): PARTIAL, leg risk
        await quiet_posts(pipeline)
        pipeline.venue_post("/admin/faults", {"reject_leg": 1})
        partial = await trader.trade()
        assert partial.outcome == executor_pb2.OUTCOME_PARTIAL and partial.leg_risk
        assert [leg.filled_size > 0 for leg in partial.legs] == [True] * (len(partial.legs) - 1) + [False]
        assert partial.legs[-1].error == "not enough balance / allowance"
        inventory = pipeline.venue_get(f"/balance?address={pipeline.address}")["inventory"]
        assert all(inventory.get(leg.token_id, 0) >= leg.filled_size for leg in partial.legs)

        # two 5xx in a row with breaker_failures 2: both UNKNOWN (reconciled REJECTED), then the circuit
        # is open: the next arbitrage is skipped with a reason, nothing posted, until a person closes it
        await executor_config(pipeline, breaker_failures=2)
        await quiet_posts(pipeline)
        pipeline.venue_post("/admin/faults", {"http_5xx": 2})
        first = await trader.trade()
        second = await trader.trade()
        assert first.outcome == second.outcome == executor_pb2.OUTCOME_UNKNOWN and "503" in second.error
        for unknown in (first, second):  # the venue never processed them
            assert (await trader.reconciliation_of(unknown)).outcome == executor_pb2.OUTCOME_REJECTED
        assert (await trading_state(pipeline)).circuit_open
        await trader.skipped_while_open()
        await enable(pipeline)
        assert not (await trading_state(pipeline)).circuit_open
        filled = await trader.trade()
        assert filled.outcome == executor_pb2.OUTCOME_FILLED

        # an HTML 403 (geoblock) is a config error: REJECTED, circuit open at once, not retried
        await quiet_posts(pipeline)
        pipeline.venue_post("/admin/faults", {"html_403": 1})
        blocked = await trader.trade()
        assert blocked.outcome == executor_pb2.OUTCOME_REJECTED and "403" in blocked.error
        assert (await trading_state(pipeline)).circuit_open
        await trader.skipped_while_open()
        await enable(pipeline)
        filled = await trader.trade()
        assert filled.outcome == executor_pb2.OUTCOME_FILLED

        stats = pipeline.venue_get("/admin/stats")
        assert set(stats["posts_by_hash"].values()) == {1} and stats["duplicates"] == 0
        assert stats["faults"]["fired"] == {"timeout": 1, "reject_leg": 1, "http_5xx": 2, "html_403": 1}
    finally:
        await follower.stop()


async def _more_skips(pipeline, skips: int) -> bool:
    return await skipped(pipeline) > skips
