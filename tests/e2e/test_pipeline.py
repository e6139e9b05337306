"""Acceptance of issue 7: real processes, real sockets, real HTTP, end to end."""

from __future__ import annotations

import asyncio

import pytest

from polyarb.v1 import engine_pb2, engine_pb2_grpc, executor_pb2, executor_pb2_grpc

pytestmark = pytest.mark.integration


async def wait_fresh(pipeline, tokens_expected: int, timeout: float = 20.0) -> None:
    async with pipeline.channel(pipeline.engine) as channel:
        stub = engine_pb2_grpc.EngineStub(channel)

        async def loop():
            while True:
                status = await stub.GetStatus(engine_pb2.GetEngineStatusRequest())
                if (status.tokens == tokens_expected and status.stale_tokens == 0 and status.executor_connected
                        and status.capital > 0):
                    return
                await asyncio.sleep(0.1)

        await asyncio.wait_for(loop(), timeout)


async def next_results(pipeline, from_seq: int, count: int, timeout: float = 20.0) -> list:
    async with pipeline.channel(pipeline.executor) as channel:
        call = executor_pb2_grpc.ExecutorStub(channel).StreamTradeResults(
            executor_pb2.StreamTradeResultsRequest(from_seq=from_seq))
        results = []

        async def collect():
            async for result in call:
                results.append(result)
                if len(results) == count:
                    return

        try:
            await asyncio.wait_for(collect(), timeout)
        finally:
            call.cancel()
        return results


def check_trace(result) -> None:
    t = result.trace
    stamps = [t.ws_recv_ns, t.ingest_sent_ns, t.engine_recv_ns, t.signal_sent_ns, t.executor_recv_ns, t.signed_ns,
              t.posted_ns, t.response_ns]
    assert all(stamps), stamps
    assert stamps == sorted(stamps), stamps  # each stage after the one before, on one machine's clock


@pytest.mark.parametrize(("kind", "exchange_neg_risk"), [("trio", False), ("bundle", True)])
async def test_injected_arbitrage_becomes_one_verified_batch_and_a_filled_result(pipeline_factory, kind,
                                                                                 exchange_neg_risk):
    pipeline = pipeline_factory()
    reply = await pipeline.push_structure_and_enable()
    await wait_fresh(pipeline, reply.tokens)
    instance = next(i for i in _instances(pipeline) if i["kind"] == kind)

    stats_before = pipeline.venue_get("/admin/stats")
    injected = pipeline.venue_post("/admin/arbitrage", {"instance_id": instance["id"], "gap": 0.05, "size": 20,
                                                        "ttl_s": None})
    (result,) = await next_results(pipeline, 0, 1)
    assert result.outcome == executor_pb2.OUTCOME_FILLED, result
    assert result.instance_id == instance["id"] and result.mode == "paper"
    assert sorted(leg.token_id for leg in result.legs) == sorted(injected["legs"])
    assert all(leg.filled_size == leg.size > 0 for leg in result.legs)
    assert all(leg.order_id == leg.order_hash for leg in result.legs)  # the venue's id is the EIP-712 digest
    check_trace(result)

    stats = pipeline.venue_get("/admin/stats")
    posted = stats["orders_accepted"] - stats_before["orders_accepted"]
    assert posted == len(result.legs)  # one batch of all legs, each verified and filled
    assert stats["orders_rejected"] == stats_before["orders_rejected"] and stats["duplicates"] == 0
    assert {leg.order_hash for leg in result.legs} <= set(stats["posts_by_hash"])
    assert all(count == 1 for count in stats["posts_by_hash"].values())
    # venue balances and positions match the result
    balance = pipeline.venue_get(f"/balance?address={pipeline.address}")
    start = pipeline.venue_get("/admin/starting-balance")["collateral"]
    assert balance["collateral"] == pytest.approx(start - result.cost, abs=1e-6)
    for leg in result.legs:
        assert balance["inventory"][leg.token_id] == pytest.approx(leg.filled_size)
    assert exchange_neg_risk == any(m["neg_risk"] for m in _markets_of(pipeline, instance))


def _instances(pipeline) -> list[dict]:
    structure = pipeline.venue_get("/admin/structure")
    return [{"id": t["id"], "kind": "trio", "trio": t} for t in structure.get("trios", [])] + [
        {"id": s["id"], "kind": "bundle", "set": s} for s in structure.get("sets", [])]


def _markets_of(pipeline, instance) -> list[dict]:
    if instance["kind"] == "trio":
        return [instance["trio"][k] for k in ("lower", "upper", "range")]
    return instance["set"]["members"]
