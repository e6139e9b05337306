"""Ingest against an in-test market WebSocket server, through its real gRPC stream (in process)."""

from __future__ import annotations

import asyncio
import gzip
import json

import pytest
from grpc import aio

from ingest_svc.book import Books
from ingest_svc.feed import MarketFeed
from ingest_svc.parse import make_parser
from ingest_svc.record import FrameWriter, read_frames
from ingest_svc.service import IngestServicer
from ingest_svc.stream import Subscriber
from polyarb.v1 import ingest_pb2, ingest_pb2_grpc
from tests.ingest.fake_market import FakeMarket


class Harness:
    def __init__(self, feed: MarketFeed, stub: ingest_pb2_grpc.IngestStub) -> None:
        self.feed = feed
        self.stub = stub

    def open_stream(self):
        requests: asyncio.Queue = asyncio.Queue()

        async def request_iter():
            while True:
                item = await requests.get()
                if item is None:
                    return
                yield item

        call = self.stub.StreamTopOfBook(request_iter())
        return requests, call


@pytest.fixture
async def market():
    async with FakeMarket() as fake:
        yield fake


async def start_ingest(market: FakeMarket, recorder=None, **overrides):
    options = {"tokens_per_connection": 50, "ping_interval_s": 10.0, "stale_after_s": 30.0, **overrides}
    feed = MarketFeed(market.url, options["tokens_per_connection"], options["ping_interval_s"],
                      options["stale_after_s"], recorder=recorder)
    server = aio.server()
    ingest_pb2_grpc.add_IngestServicer_to_server(IngestServicer(feed, market.url, False), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = aio.insecure_channel(f"127.0.0.1:{port}")
    return server, channel, Harness(feed, ingest_pb2_grpc.IngestStub(channel))


@pytest.fixture
async def ingest(market, request):
    overrides = getattr(request, "param", {})
    server, channel, harness = await start_ingest(market, **overrides)
    yield harness
    await channel.close()
    await server.stop(None)
    await harness.feed.pool.close()


async def next_batch(call, timeout: float = 5.0) -> ingest_pb2.TopOfBookBatch:
    return await asyncio.wait_for(call.read(), timeout)


async def read_until(call, predicate, timeout: float = 5.0) -> list[ingest_pb2.TopOfBookBatch]:
    seen = []
    async def loop():
        while True:
            batch = await call.read()
            seen.append(batch)
            if predicate(batch):
                return
    await asyncio.wait_for(loop(), timeout)
    return seen


async def test_subscribe_payload_snapshot_first_then_fresh_books(market, ingest):
    market.set_book("A", bids=[("0.40", "10"), ("0.45", "5")], asks=[("0.60", "7"), ("0.55", "3")])
    requests, call = ingest.open_stream()
    await requests.put(ingest_pb2.BookSubscription(add_token_ids=["A", "B"]))

    first = await next_batch(call)  # the answer: both tokens, stale, before any snapshot
    assert first.snapshot and first.seq == 1
    assert {(u.token_id, u.stale, u.bid_price) for u in first.updates} == {("A", True, 0.0), ("B", True, 0.0)}

    await market.wait_for(lambda: market.connections and market.connections[0].received)
    assert json.loads(market.connections[0].received[0]) == {
        "assets_ids": ["A", "B"], "type": "market", "custom_feature_enabled": True}

    fresh = await next_batch(call)  # one batch for the whole initial dump frame
    assert fresh.seq == 2 and not fresh.snapshot
    tops = {u.token_id: u for u in fresh.updates}
    assert (tops["A"].bid_price, tops["A"].bid_size, tops["A"].ask_price, tops["A"].ask_size) == (0.45, 5, 0.55, 3)
    assert not tops["A"].stale and tops["A"].tick_size == 0.01 and tops["A"].venue_ts_ms == 1786728432337
    assert (tops["B"].bid_price, tops["B"].ask_price, tops["B"].stale) == (0, 0, False)
    assert fresh.ws_recv_ns > 0 and fresh.sent_ns >= fresh.ws_recv_ns
    call.cancel()


async def test_one_batch_per_frame_only_changed_tokens(market, ingest):
    for token in ("A", "B", "C"):
        market.set_book(token, bids=[("0.40", "10")], asks=[("0.60", "10")])
    requests, call = ingest.open_stream()
    await requests.put(ingest_pb2.BookSubscription(add_token_ids=["A", "B", "C"]))
    await read_until(call, lambda b: not b.snapshot)
    frame = {"market": "0xm", "timestamp": "1786728438403", "event_type": "price_change", "price_changes": [
        {"asset_id": "A", "price": "0.41", "size": "2", "side": "BUY", "hash": "x", "best_bid": "0.41",
         "best_ask": "0.6"},
        {"asset_id": "B", "price": "0.30", "size": "9", "side": "BUY", "hash": "y", "best_bid": "0.4",
         "best_ask": "0.6"},  # below the best bid: B's top does not change
        {"asset_id": "C", "price": "0.60", "size": "0", "side": "SELL", "hash": "z", "best_bid": "0.4",
         "best_ask": "0"}]}
    await market.send_all(frame)
    batch = await next_batch(call)
    assert sorted(u.token_id for u in batch.updates) == ["A", "C"]
    tops = {u.token_id: u for u in batch.updates}
    assert (tops["A"].bid_price, tops["A"].bid_size) == (0.41, 2)
    assert (tops["C"].ask_price, tops["C"].ask_size) == (0, 0)  # empty side: zeros
    call.cancel()


async def test_dynamic_subscribe_and_late_subscriber_gets_current_state(market, ingest):
    market.set_book("A", bids=[("0.40", "10")], asks=[("0.60", "10")])
    market.set_book("C", bids=[("0.20", "1")], asks=[("0.30", "1")])
    requests, call = ingest.open_stream()
    await requests.put(ingest_pb2.BookSubscription(add_token_ids=["A"]))
    await read_until(call, lambda b: not b.snapshot)

    await requests.put(ingest_pb2.BookSubscription(add_token_ids=["C"]))
    await market.wait_for(lambda: len(market.connections[0].received) >= 2)
    assert json.loads(market.connections[0].received[1]) == {
        "operation": "subscribe", "assets_ids": ["C"], "custom_feature_enabled": True}
    assert len(market.connections) == 1  # same socket

    late_requests, late = ingest.open_stream()
    await late_requests.put(ingest_pb2.BookSubscription(add_token_ids=["A"]))
    answer = await next_batch(late)
    assert answer.snapshot and [(u.token_id, u.stale, u.bid_price) for u in answer.updates] == [("A", False, 0.4)]

    # removing from one stream keeps the venue subscription while the other still wants it
    await late_requests.put(ingest_pb2.BookSubscription(remove_token_ids=["A"]))
    await requests.put(ingest_pb2.BookSubscription(remove_token_ids=["A"]))
    await market.wait_for(lambda: any('"unsubscribe"' in m for m in market.connections[0].received))
    unsubscribes = [json.loads(m) for m in market.connections[0].received if '"unsubscribe"' in m]
    assert unsubscribes == [{"operation": "unsubscribe", "assets_ids": ["A"]}]
    call.cancel()
    late.cancel()


@pytest.mark.parametrize("ingest", [{"ping_interval_s": 0.1}], indirect=True)
async def test_text_ping_is_sent(market, ingest):
    requests, call = ingest.open_stream()
    await requests.put(ingest_pb2.BookSubscription(add_token_ids=["A"]))
    await market.wait_for(lambda: market.connections and "PING" in market.connections[0].received)
    call.cancel()


async def test_drop_makes_tokens_stale_at_once_then_reconnect_and_fresh(market, ingest):
    market.set_book("A", bids=[("0.40", "10")], asks=[("0.60", "10")])
    requests, call = ingest.open_stream()
    await requests.put(ingest_pb2.BookSubscription(add_token_ids=["A", "B"]))
    await read_until(call, lambda b: not b.snapshot)

    loop = asyncio.get_running_loop()
    dropped_at = loop.time()
    await market.drop_all()
    stale = await next_batch(call, timeout=1.0)
    assert loop.time() - dropped_at < 1.0
    assert {(u.token_id, u.stale) for u in stale.updates} == {("A", True), ("B", True)}

    # reconnect after the 1 s (+jitter) backoff, resubscribing everything, then fresh again
    await market.wait_for(lambda: len(market.connections) == 2 and market.connections[1].received, timeout=5)
    assert json.loads(market.connections[1].received[0])["assets_ids"] == ["A", "B"]
    fresh = await next_batch(call)
    assert {(u.token_id, u.stale) for u in fresh.updates} == {("A", False), ("B", False)}
    call.cancel()


@pytest.mark.parametrize("ingest", [{"stale_after_s": 0.5, "ping_interval_s": 0.1}], indirect=True)
async def test_silent_server_trips_the_watchdog(market, ingest):
    market.silent = True  # accepts the socket, never answers: no snapshot, no PONG
    requests, call = ingest.open_stream()
    await requests.put(ingest_pb2.BookSubscription(add_token_ids=["A"]))
    await market.wait_for(lambda: len(market.connections) >= 2, timeout=5)
    assert ingest.feed.pool.watchdog_fired >= 1
    call.cancel()


async def test_thousand_tokens_over_twenty_connections(market, ingest):
    tokens = [str(10**76 + i) for i in range(1000)]  # 77-digit ids, like the venue's
    requests, call = ingest.open_stream()
    await requests.put(ingest_pb2.BookSubscription(add_token_ids=tokens))
    await market.wait_for(lambda: len(market.connections) == 20 and all(c.received for c in market.connections),
                          timeout=15)
    per_connection = [len(json.loads(c.received[0])["assets_ids"]) for c in market.connections]
    assert per_connection == [50] * 20
    subscribed = {t for c in market.connections for t in json.loads(c.received[0])["assets_ids"]}
    assert subscribed == set(tokens)
    status = await ingest.stub.GetStatus(ingest_pb2.GetIngestStatusRequest())
    assert status.subscribed_tokens == 1000 and status.connections == 20 and status.streams == 1
    call.cancel()


async def test_garbage_and_unknown_events_are_counted_and_skipped(market, ingest):
    market.set_book("A", bids=[("0.40", "10")], asks=[("0.60", "10")])
    requests, call = ingest.open_stream()
    await requests.put(ingest_pb2.BookSubscription(add_token_ids=["A"]))
    await read_until(call, lambda b: not b.snapshot)
    await market.send_all("{not json")
    await market.send_all({"event_type": "mystery", "asset_id": "A"})
    await market.send_all({"event_type": "price_change", "market": "m", "timestamp": "1", "price_changes": [
        {"asset_id": "ZZ", "price": "0.5", "size": "1", "side": "BUY"}]})
    await market.send_all({"event_type": "price_change", "market": "m", "timestamp": "2", "price_changes": [
        {"asset_id": "A", "price": "0.42", "size": "1", "side": "BUY"}]})
    batch = await next_batch(call)  # the service kept going: the good frame arrives
    assert [(u.token_id, u.bid_price) for u in batch.updates] == [("A", 0.42)]
    call.cancel()


def test_slow_consumer_is_conflated_with_bounded_memory_and_what_queued_goes_as_one_message():
    sub = Subscriber(max_batches=4)
    sub.coalesce = True
    sub.tokens.update({"A", "B"})
    for i in range(100):
        sub.offer(i, [ingest_pb2.TopOfBook(token_id="A", bid_price=i / 1000),
                      ingest_pb2.TopOfBook(token_id="B", bid_price=i / 1000)])
    assert sub.queued == 4
    assert sub.conflated == 2 * (100 - 4)

    batch = asyncio.run(sub.next_batch())
    assert batch.seq == 1 and sub.queued == 0 and sub.coalesced == 3
    assert {u.token_id: u.bid_price for u in batch.updates} == {"A": 0.099, "B": 0.099}  # latest wins
    assert batch.ws_recv_ns == 99


def test_without_coalesce_every_frame_is_its_own_batch():
    sub = Subscriber()
    sub.tokens.update({"A"})
    for i in range(3):
        sub.offer(i, [ingest_pb2.TopOfBook(token_id="A", bid_price=i / 10)])

    async def drain():
        return [await sub.next_batch() for _ in range(3)]

    assert [(b.seq, b.ws_recv_ns, b.updates[0].bid_price) for b in asyncio.run(drain())] == [
        (1, 0, 0.0), (2, 1, 0.1), (3, 2, 0.2)]
    assert sub.coalesced == 0


def test_frames_that_queued_are_one_batch_in_which_each_token_has_its_latest_top_of_book():
    sub = Subscriber()
    sub.coalesce = True
    sub.tokens.update({"A", "B", "C"})
    sub.offer(1, [ingest_pb2.TopOfBook(token_id="A", bid_price=0.1), ingest_pb2.TopOfBook(token_id="B", bid_price=0.1)])
    sub.offer(2, [ingest_pb2.TopOfBook(token_id="B", bid_price=0.2)])
    sub.offer(3, [ingest_pb2.TopOfBook(token_id="C", bid_price=0.3)])
    batch = asyncio.run(sub.next_batch())
    assert {u.token_id: u.bid_price for u in batch.updates} == {"A": 0.1, "B": 0.2, "C": 0.3}
    assert batch.ws_recv_ns == 3 and not batch.snapshot and sub.coalesced == 2
    sub.offer(4, [ingest_pb2.TopOfBook(token_id="A", bid_price=0.4)])  # nothing queued behind it: alone
    alone = asyncio.run(sub.next_batch())
    assert alone.seq == 2 and [u.token_id for u in alone.updates] == ["A"] and sub.coalesced == 2


async def test_recorded_session_replays_to_the_same_top_of_book_sequence(market, tmp_path):
    path = tmp_path / "session.jsonl.gz"
    record_file = gzip.open(path, "wb")  # noqa: SIM115 - closed in the finally below, after the feed stops
    server, channel, harness = await start_ingest(market, recorder=FrameWriter(record_file))
    try:
        market.set_book("A", bids=[("0.40", "10")], asks=[("0.60", "10")])
        requests, call = harness.open_stream()
        await requests.put(ingest_pb2.BookSubscription(add_token_ids=["A"]))
        live = [b for b in await read_until(call, lambda b: not b.snapshot) if not b.snapshot]
        for i in range(1, 6):
            await market.send_all({"event_type": "price_change", "market": "m", "timestamp": str(i),
                                   "price_changes": [{"asset_id": "A", "price": f"0.4{i}", "size": str(i),
                                                      "side": "BUY"}]})
            live.append(await next_batch(call))
        call.cancel()
    finally:
        await channel.close()
        await server.stop(None)
        await harness.feed.pool.close()
        record_file.close()

    books, parse = Books(), make_parser()
    books.add("A")
    replayed = []
    with gzip.open(path, "rb") as recording:
        for frame in read_frames(recording):
            events, _ = parse(frame.frame)
            changed, _ = books.apply_events(events)
            if changed:
                replayed.append([books.top_of_book(t) for t in changed])
    live_tops = [[(u.token_id, u.bid_price, u.bid_size, u.ask_price, u.ask_size, u.stale) for u in b.updates]
                 for b in live]
    replay_tops = [[(t.token_id, t.bid_price, t.bid_size, t.ask_price, t.ask_size, t.stale) for t in batch]
                   for batch in replayed]
    assert live_tops == replay_tops and len(live_tops) == 6


async def test_tick_size_change_is_stale_at_once_then_resnapshot_makes_it_fresh(market, ingest):
    market.set_book("A", bids=[("0.40", "10")], asks=[("0.60", "10")])
    requests, call = ingest.open_stream()
    await requests.put(ingest_pb2.BookSubscription(add_token_ids=["A"]))
    await read_until(call, lambda b: not b.snapshot)
    await market.send_all({"event_type": "tick_size_change", "asset_id": "A", "market": "m",
                           "old_tick_size": "0.01", "new_tick_size": "0.001", "timestamp": "5"})
    stale = await next_batch(call)
    assert [(u.token_id, u.stale, u.tick_size) for u in stale.updates] == [("A", True, 0.001)]
    # ingest asks again for the token; the venue's answer is a fresh snapshot
    fresh = await next_batch(call)
    assert [(u.token_id, u.stale) for u in fresh.updates] == [("A", False)]
    sent = [json.loads(m) for m in market.connections[0].received[1:] if m != "PING"]
    assert [m["operation"] for m in sent] == ["unsubscribe", "subscribe"]
    call.cancel()


async def test_market_resolved_makes_its_tokens_stale(market, ingest):
    market.set_book("A", bids=[("0.40", "10")], asks=[("0.60", "10")])
    requests, call = ingest.open_stream()
    await requests.put(ingest_pb2.BookSubscription(add_token_ids=["A"]))
    await read_until(call, lambda b: not b.snapshot)
    await market.send_all({"event_type": "market_resolved", "id": "1", "market": "m", "assets_ids": ["A", "X"],
                           "winning_asset_id": "A", "winning_outcome": "Yes", "timestamp": "6"})
    batch = await next_batch(call)
    assert [(u.token_id, u.stale) for u in batch.updates] == [("A", True)]
    call.cancel()
