"""The engine with in-test ingest and executor gRPC servers: signals, in-flight, reconnect, skips."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from grpc import aio

from engine_svc.peers import ExecutorLink, IngestLink
from engine_svc.pipeline import Pipeline
from engine_svc.service import EngineServicer
from polyarb.v1 import engine_pb2, engine_pb2_grpc, executor_pb2, executor_pb2_grpc, ingest_pb2, ingest_pb2_grpc


def market(name: str) -> engine_pb2.Market:
    return engine_pb2.Market(condition_id=f"c-{name}", yes_token_id=f"{name}-yes", no_token_id=f"{name}-no",
                             tick_size=0.01, min_order_size=5, neg_risk=False, fee_rate_bps=0)


STRUCTURE = engine_pb2.MarketStructure(version=7, trios=[engine_pb2.Trio(
    id="btc-95-100", lower=market("lo"), upper=market("up"), range=market("rg"), lower_bound=95, upper_bound=100)])
TRIO_TOKENS = {"lo-yes", "lo-no", "up-yes", "up-no", "rg-yes", "rg-no"}


def tob(token: str, ask: float, size: float = 50.0) -> ingest_pb2.TopOfBook:
    return ingest_pb2.TopOfBook(token_id=token, bid_price=round(ask - 0.02, 2), bid_size=size, ask_price=ask,
                                ask_size=size, tick_size=0.01, stale=False)


# YES(lower) + NO(upper) + NO(range) = 0.60 + 0.70 + 0.60 = 1.90 < 2: a trio arbitrage of 0.10 per set
PROFITABLE = [tob("lo-yes", 0.60), tob("up-no", 0.70), tob("rg-no", 0.60),
              tob("lo-no", 0.45), tob("up-yes", 0.35), tob("rg-yes", 0.45)]


def fresh_trio(size: float) -> list[ingest_pb2.TopOfBook]:
    """The trio's three legs shown anew, at the same prices and a new size: one frame."""
    return [tob("lo-yes", 0.60, size), tob("up-no", 0.70, size), tob("rg-no", 0.60, size)]


class FakeIngest(ingest_pb2_grpc.IngestServicer):
    def __init__(self) -> None:
        self.requests: list[ingest_pb2.BookSubscription] = []
        self.outbox: asyncio.Queue = asyncio.Queue()
        self.got_request = asyncio.Event()

    async def StreamTopOfBook(self, request_iterator, context):
        async def read():
            async for request in request_iterator:
                self.requests.append(request)
                self.got_request.set()
        reader = asyncio.create_task(read())
        try:
            seq = 0
            while True:
                updates = await self.outbox.get()
                seq += 1
                yield ingest_pb2.TopOfBookBatch(updates=updates, seq=seq, ws_recv_ns=1, sent_ns=2)
        finally:
            reader.cancel()


class FakeExecutor(executor_pb2_grpc.ExecutorServicer):
    def __init__(self) -> None:
        self.signals: list[executor_pb2.Signal] = []
        self.answer = "accept"  # or "skip"
        self.got_signal = asyncio.Event()
        self.finish: asyncio.Queue = asyncio.Queue()  # signal ids to report done

    async def GetStatus(self, request, context):
        return executor_pb2.ExecutorStatus(balance=executor_pb2.BalanceState(collateral=1000))

    async def ExecuteSignals(self, request_iterator, context):
        acks: asyncio.Queue = asyncio.Queue()

        async def read():
            async for signal in request_iterator:
                self.signals.append(signal)
                self.got_signal.set()
                if self.answer == "skip":
                    await acks.put(executor_pb2.SignalAck(signal_id=signal.signal_id, reason="collateral_short"))
                else:
                    await acks.put(executor_pb2.SignalAck(signal_id=signal.signal_id, accepted=True))

        async def finish():
            while True:
                signal_id = await self.finish.get()
                await acks.put(executor_pb2.SignalAck(signal_id=signal_id, accepted=True, done=True,
                                                      outcome=executor_pb2.OUTCOME_FILLED))
        tasks = [asyncio.create_task(read()), asyncio.create_task(finish())]
        try:
            while True:
                yield await acks.get()
        finally:
            for task in tasks:
                task.cancel()


async def serve(servicer, add, port: int = 0):
    server = aio.server()
    add(servicer, server)
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    return server, bound


async def until(predicate, timeout: float = 5.0) -> None:
    async def loop():
        while not predicate():
            await asyncio.sleep(0.01)
    await asyncio.wait_for(loop(), timeout)


@pytest.fixture
async def rig():
    ingest, executor = FakeIngest(), FakeExecutor()
    ingest_server, ingest_port = await serve(ingest, ingest_pb2_grpc.add_IngestServicer_to_server)
    executor_server, executor_port = await serve(executor, executor_pb2_grpc.add_ExecutorServicer_to_server)
    pipeline = Pipeline()
    executor_link = ExecutorLink(f"127.0.0.1:{executor_port}", None, pipeline)
    ingest_link = IngestLink(f"127.0.0.1:{ingest_port}", None, pipeline, executor_link.send)
    engine_server, engine_port = await serve(EngineServicer(pipeline, ingest_link, executor_link, False),
                                             engine_pb2_grpc.add_EngineServicer_to_server)
    executor_link.start()
    ingest_link.start()
    channel = aio.insecure_channel(f"127.0.0.1:{engine_port}")
    engine = engine_pb2_grpc.EngineStub(channel)
    await until(lambda: ingest_link.connected and executor_link.connected)
    rig = {"ingest": ingest, "executor": executor, "engine": engine, "pipeline": pipeline,
           "ingest_server": ingest_server, "ingest_port": ingest_port, "ingest_link": ingest_link}
    yield rig
    await ingest_link.stop()
    await executor_link.stop()
    await channel.close()
    for server in (rig["ingest_server"], executor_server, engine_server):
        await server.stop(None)


async def push_structure(rig) -> None:
    reply = await rig["engine"].UpdateMarketStructure(STRUCTURE)
    assert (reply.version, reply.instances, reply.tokens) == (7, 1, 6)
    await until(lambda: any(set(r.add_token_ids) == TRIO_TOKENS for r in rig["ingest"].requests))


async def test_profitable_trio_yields_one_signal_and_no_repeat_while_in_flight(rig):
    await push_structure(rig)
    await rig["ingest"].outbox.put(PROFITABLE)
    await until(lambda: rig["executor"].signals)
    (signal,) = rig["executor"].signals
    assert signal.strategy == executor_pb2.STRATEGY_TRIO and signal.instance_id == "btc-95-100"
    assert [(leg.token_id, leg.side, leg.price) for leg in signal.legs] == [
        ("lo-yes", executor_pb2.SIDE_BUY, 0.60), ("up-no", executor_pb2.SIDE_BUY, 0.70),
        ("rg-no", executor_pb2.SIDE_BUY, 0.60)]
    assert {leg.size for leg in signal.legs} == {50.0} and signal.payout == 2.0
    assert signal.trace.ws_recv_ns == 1 and signal.trace.ingest_sent_ns == 2
    assert signal.trace.engine_recv_ns > 0 and signal.trace.signal_sent_ns >= signal.trace.engine_recv_ns

    # the same opportunity again, shown anew (every leg's size changed) while the first is in flight: no signal
    await rig["ingest"].outbox.put(fresh_trio(60.0))
    await asyncio.sleep(0.3)  # > the 200 ms cooldown, so only the in-flight guard holds it back
    assert len(rig["executor"].signals) == 1
    status = await rig["engine"].GetStatus(engine_pb2.GetEngineStatusRequest())
    assert status.in_flight == 1 and status.signals_by_strategy["trio"] == 1

    # the outcome arrives: the instance is free; the books it last saw were shown after the signal
    # (size 60), so the next change trades them
    await rig["executor"].finish.put(signal.signal_id)
    await until(lambda: rig["pipeline"].in_flight() == 0)
    await asyncio.sleep(0.3)
    assert len(rig["executor"].signals) == 1  # no change, no new look
    await rig["ingest"].outbox.put([tob("lo-yes", 0.60, size=70.0)])
    await until(lambda: len(rig["executor"].signals) == 2)
    assert {leg.size for leg in rig["executor"].signals[1].legs} == {60.0}

    # filled: what it took stays taken until the venue shows the levels anew, so one leg's change
    # alone leaves the other two legs at nothing
    await rig["executor"].finish.put(rig["executor"].signals[1].signal_id)
    await until(lambda: rig["pipeline"].in_flight() == 0)
    await rig["ingest"].outbox.put([tob("lo-yes", 0.60, size=80.0)])
    await asyncio.sleep(0.3)
    assert len(rig["executor"].signals) == 2
    await rig["ingest"].outbox.put(fresh_trio(90.0))
    await until(lambda: len(rig["executor"].signals) == 3)
    assert {leg.size for leg in rig["executor"].signals[2].legs} == {90.0}


async def test_skipped_ack_is_counted_and_frees_the_instance(rig):
    rig["executor"].answer = "skip"
    await push_structure(rig)
    await rig["ingest"].outbox.put(PROFITABLE)
    await until(lambda: rig["pipeline"].skipped_acks == 1)
    status = await rig["engine"].GetStatus(engine_pb2.GetEngineStatusRequest())
    assert status.skipped_acks == 1 and status.in_flight == 0


async def test_restarted_ingest_gets_the_whole_set_again_and_books_are_stale_meanwhile(rig):
    await push_structure(rig)
    await rig["ingest"].outbox.put(PROFITABLE[3:])  # the complement's legs, fresh, not profitable
    await until(lambda: rig["pipeline"].evaluator.stale_token_count() == 3)

    await rig["ingest_server"].stop(None)  # kill the fake ingest
    await until(lambda: not rig["ingest_link"].connected)
    assert rig["pipeline"].evaluator.stale_token_count() == 6  # while ingest is away everything is stale

    fresh = FakeIngest()
    rig["ingest"] = fresh
    rig["ingest_server"], _ = await serve(fresh, ingest_pb2_grpc.add_IngestServicer_to_server, rig["ingest_port"])
    await until(lambda: fresh.requests, timeout=15)
    assert set(fresh.requests[0].add_token_ids) == TRIO_TOKENS


async def test_the_engine_asks_ingest_to_coalesce_queued_frames(rig):
    await push_structure(rig)
    assert rig["ingest"].requests and all(r.coalesce for r in rig["ingest"].requests)


async def test_structure_swap_sends_only_the_difference(rig):
    await push_structure(rig)
    swapped = engine_pb2.MarketStructure(version=8, trios=[engine_pb2.Trio(
        id="btc-95-100", lower=market("lo"), upper=market("up"), range=market("rg2"), lower_bound=95,
        upper_bound=100)])
    before = len(rig["ingest"].requests)  # the empty set at connect, then the first structure's tokens
    await rig["engine"].UpdateMarketStructure(swapped)
    await until(lambda: len(rig["ingest"].requests) == before + 1)
    change = rig["ingest"].requests[-1]
    assert sorted(change.add_token_ids) == ["rg2-no", "rg2-yes"]
    assert sorted(change.remove_token_ids) == ["rg-no", "rg-yes"]


async def test_bad_structure_is_refused_and_the_running_one_stays(rig):
    await push_structure(rig)
    before = len(rig["ingest"].requests)
    bad = engine_pb2.MarketStructure(version=9, trios=[engine_pb2.Trio(
        id="x", lower=market("a"), upper=market("b"), range=market("c"), lower_bound=100, upper_bound=95)])
    with pytest.raises(aio.AioRpcError) as exc:
        await rig["engine"].UpdateMarketStructure(bad)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = await rig["engine"].GetStatus(engine_pb2.GetEngineStatusRequest())
    assert status.structure_version == 7 and status.instances == 1
    await asyncio.sleep(0.1)
    assert len(rig["ingest"].requests) == before  # no subscription change for a refused structure


async def test_update_config_validates_whole(rig):
    status = await rig["engine"].GetStatus(engine_pb2.GetEngineStatusRequest())
    config = status.config
    config.min_profit_abs = 0.02
    config.bundle = False
    applied = await rig["engine"].UpdateConfig(config)
    assert applied.min_profit_abs == 0.02 and not applied.bundle
    config.max_set_size = -1
    with pytest.raises(aio.AioRpcError) as exc:
        await rig["engine"].UpdateConfig(config)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = await rig["engine"].GetStatus(engine_pb2.GetEngineStatusRequest())
    assert status.config.max_set_size == applied.max_set_size
