"""Acceptance of issue 7, item 4: a recorded session replays to the same tops of book and the same signals."""

from __future__ import annotations

import asyncio
import gzip

import pytest
from google.protobuf import json_format

from polyarb.v1 import engine_pb2, engine_pb2_grpc, executor_pb2, executor_pb2_grpc, ingest_pb2, ingest_pb2_grpc
from tests.e2e.test_pipeline import _instances, next_results, wait_fresh

pytestmark = pytest.mark.integration


class TopOfBookTape:
    """A second StreamTopOfBook client of ingest, keeping every change (snapshot answers left out)."""

    def __init__(self, pipeline, tokens: list[str]) -> None:
        self.tokens = tokens
        self.tape: list[tuple] = []
        self._task = asyncio.create_task(self._read(pipeline))
        self.subscribed = asyncio.Event()

    async def _read(self, pipeline) -> None:
        async with pipeline.channel(pipeline.ingest) as channel:
            async def requests():
                yield ingest_pb2.BookSubscription(add_token_ids=self.tokens)
                await asyncio.Event().wait()

            async for batch in ingest_pb2_grpc.IngestStub(channel).StreamTopOfBook(requests()):
                self.subscribed.set()
                if not batch.snapshot:
                    self.tape.append(tuple((u.token_id, u.bid_price, u.bid_size, u.ask_price, u.ask_size, u.stale)
                                           for u in batch.updates))

    async def stop(self) -> list[tuple]:
        """The batches after the venue's initial dump (which a late subscriber sees as its snapshot)."""
        self._task.cancel()
        tape = list(self.tape)
        while tape and len(tape[0]) == len(self.tokens):
            tape.pop(0)
        return tape


async def strict_threshold(pipeline) -> None:
    """min_profit_abs above what the half-moved books of an injection or its expiry offer, so each
    injection gives exactly one signal whatever the timing (the cooldown would otherwise decide)."""
    async with pipeline.channel(pipeline.engine) as channel:
        stub = engine_pb2_grpc.EngineStub(channel)
        config = (await stub.GetStatus(engine_pb2.GetEngineStatusRequest())).config
        config.min_profit_abs = 0.03
        await stub.UpdateConfig(config)


def signals_of(results) -> list[tuple]:
    return [(r.instance_id, r.strategy, tuple((leg.token_id, leg.avg_price, leg.size) for leg in r.legs))
            for r in results]


async def test_recorded_session_replays_to_the_same_tops_and_signals(pipeline_factory, tmp_path):
    recording = tmp_path / "session.jsonl.gz"
    live = pipeline_factory(ingest_args=("--record", str(recording)), executor_args=("--mode", "dry-run"))
    structure_json = live.venue_get("/admin/structure")
    tokens = sorted({m[k] for t in structure_json["trios"] for role in ("lower", "upper", "range")
                     for m in [t[role]] for k in ("yes_token_id", "no_token_id")}
                    | {m["yes_token_id"] for s in structure_json["sets"] for m in s["members"]})
    tape = TopOfBookTape(live, tokens)
    await asyncio.wait_for(tape.subscribed.wait(), 10)
    await strict_threshold(live)
    reply = await live.push_structure_and_enable()
    await wait_fresh(live, reply.tokens)
    for instance in _instances(live)[:3]:  # three different instances, one signal each
        live.venue_post("/admin/arbitrage", {"instance_id": instance["id"], "gap": 0.04, "size": 10, "ttl_s": 0.5})
        await asyncio.sleep(1.0)  # past cooldown and ttl: each injection is its own episode
    live_results = await next_results(live, 0, 3)
    await asyncio.sleep(1.0)
    live_tape = await tape.stop()
    live.ingest.terminate()  # flushes and closes the recording

    replay = pipeline_factory(scenario=str(recording), executor_args=("--mode", "dry-run"))
    structure = json_format.ParseDict(structure_json, engine_pb2.MarketStructure())
    async with replay.channel(replay.executor) as channel:
        stub = executor_pb2_grpc.ExecutorStub(channel)
        await stub.UpdateBalance(executor_pb2.UpdateBalanceRequest(collateral=10_000))
        await stub.SetTradingEnabled(executor_pb2.SetTradingEnabledRequest(enabled=True, reason="replay"))
    await strict_threshold(replay)
    async with replay.channel(replay.engine) as channel:
        engine = engine_pb2_grpc.EngineStub(channel)
        for _ in range(100):  # the engine sizes against the executor's balance: wait until it has it
            if (await engine.GetStatus(engine_pb2.GetEngineStatusRequest())).capital > 0:
                break
            await asyncio.sleep(0.1)
        # the first subscription starts the replay, with the engine ready to trade it
        await engine.UpdateMarketStructure(structure)
    tape = TopOfBookTape(replay, tokens)
    replay_results = await next_results(replay, 0, 3, timeout=40)
    with gzip.open(recording, "rb") as fileobj:
        frames = sum(1 for _ in fileobj)
    for _ in range(200):  # the replay keeps the original timing: wait for its last frame
        if replay.venue_get("/admin/stats")["replayed_frames"] >= frames:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    replay_tape = await tape.stop()

    assert len(live_tape) >= 6  # three injections and their expiries, at least
    assert replay_tape[: len(live_tape)] == live_tape
    assert signals_of(replay_results) == signals_of(live_results)
    assert all(r.outcome == executor_pb2.OUTCOME_DRY_RUN for r in replay_results)
