"""A real executor process: 100 dry-run results, SIGKILL, restart: the journal still has all 100 in order."""

from __future__ import annotations

import asyncio
import time

import pytest

from polyarb.runtime.auth import insecure_channel
from polyarb.v1 import common_pb2, executor_pb2, executor_pb2_grpc

pytestmark = pytest.mark.integration

TOKENS = ["4" * 77, "5" * 77, "6" * 77]


def signal(i: int) -> executor_pb2.Signal:
    return executor_pb2.Signal(
        signal_id=f"sig-{i}", instance_id=f"trio-{i}", strategy=executor_pb2.STRATEGY_TRIO, payout=2.0,
        expected_profit=0.2, min_profit_abs=0.01, trace=common_pb2.Trace(signal_sent_ns=time.time_ns()),
        legs=[executor_pb2.Leg(token_id=t, side=executor_pb2.SIDE_BUY, price=0.6, size=5, tick_size=0.01,
                               min_order_size=5) for t in TOKENS])


async def read_results(addr: str, from_seq: int, expect: int) -> list[executor_pb2.TradeResult]:
    async with insecure_channel(addr) as channel:
        call = executor_pb2_grpc.ExecutorStub(channel).StreamTradeResults(
            executor_pb2.StreamTradeResultsRequest(from_seq=from_seq))
        results = []
        async def collect():
            async for result in call:
                results.append(result)
                if len(results) == expect:
                    return
        await asyncio.wait_for(collect(), 20)
        call.cancel()
        return results


async def test_results_survive_sigkill_and_replay_from_any_seq(start_service, tmp_path):
    journal = str(tmp_path / "journal.sqlite")
    args = ["--mode", "dry-run", "--journal", journal]
    first = start_service("executor_svc", args)
    async with insecure_channel(first.grpc_addr) as channel:
        stub = executor_pb2_grpc.ExecutorStub(channel)
        await stub.SetTradingEnabled(executor_pb2.SetTradingEnabledRequest(enabled=True, reason="test"))
        await stub.UpdateBalance(executor_pb2.UpdateBalanceRequest(collateral=1_000_000))
        acks = []

        async def signals():
            for i in range(100):
                yield signal(i)
                await asyncio.sleep(0)

        async def collect():
            async for ack in stub.ExecuteSignals(signals()):
                acks.append(ack)
                if sum(1 for a in acks if a.done) == 100:
                    return
        await asyncio.wait_for(collect(), 30)
    assert [a.result_seq for a in acks if a.done] == list(range(1, 101))
    first.proc.kill()  # SIGKILL: no drain, no close
    first.proc.wait()

    second = start_service("executor_svc", args)
    replay = await read_results(second.grpc_addr, 0, 100)
    assert [r.seq for r in replay] == list(range(1, 101))
    assert [r.signal_id for r in replay] == [f"sig-{i}" for i in range(100)]
    assert all(r.outcome == executor_pb2.OUTCOME_DRY_RUN and r.mode == "dry-run" for r in replay)
    after = await read_results(second.grpc_addr, 37, 63)
    assert [r.seq for r in after] == list(range(38, 101))
    async with insecure_channel(second.grpc_addr) as channel:
        status = await executor_pb2_grpc.ExecutorStub(channel).GetStatus(executor_pb2.GetExecutorStatusRequest())
    assert status.last_seq == 100 and not status.trading.enabled  # the switch does not survive a restart
