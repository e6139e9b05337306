"""Market WebSocket faults against ingest: its real feed, pool and gRPC stream in process, real sockets.

Each test injects one fault and checks what the issue asks of it: no crash, the tokens stale within 1 s
of the fault being detectable, a reconnect inside the watchdog's window, fresh again only after a new
snapshot. Windows are scaled down (--stale-after 1 s) so the tests run in seconds; the last test runs
the default flags and shows the 35 s bound.

Covered elsewhere and not repeated here: a cut connection (stale at once, reconnect, fresh) in
tests/ingest/test_ingest_stream.py::test_drop_makes_tokens_stale_at_once_then_reconnect_and_fresh and end
to end in tests/e2e/test_venue_faults.py; a frozen venue (no frames, no PONG) never traded end to end in
test_venue_faults.py::test_drop_and_stall_never_trade_on_a_stale_book; garbage frames in
test_ingest_stream.py::test_garbage_and_unknown_events_are_counted_and_skipped.
"""

from __future__ import annotations

import asyncio
import json
import time

from prometheus_client import REGISTRY

from ingest_svc.ws_pool import MAX_FRAME_BYTES, PROBE_S
from tests.faults.conftest import ingest_on

TOKENS = ["A", "B"]
STALE_AFTER_S = 1.0
RECONNECT_BACKOFF_S = 1.2  # ws_pool.backoff_delay(0): 1 s plus up to 20 % jitter


def parse_errors(kind: str) -> float:
    return REGISTRY.get_sample_value("polyarb_parse_errors_total", {"kind": kind}) or 0.0


def operations(sock) -> list[str]:
    return [json.loads(m).get("operation", "initial") for m in sock.received if m != "PING"]


async def fresh_ingest(market, ingest):
    for token in TOKENS:
        market.set_book(token)
    watch = ingest.watch(TOKENS)
    await watch.until(watch.all_fresh, 5)
    return watch


async def test_half_open_socket_is_stale_when_the_watchdog_fires_and_reconnects(market):
    async with ingest_on(market.url, stale_after_s=STALE_AFTER_S, ping_interval_s=0.25) as ingest:
        watch = await fresh_ingest(market, ingest)
        await market.wait_for(lambda: "PING" in market.sockets[0].received)
        cut = time.monotonic()
        market.half_open()  # no FIN, no data, no PONG: only the watchdog can tell

        stale_at = await watch.until(watch.all_stale, 5)
        # the last frame (a PONG) came at most one ping interval before the cut: the watchdog fires within
        # STALE_AFTER_S of the cut, and the tokens are stale at once (not after a closing handshake that a
        # dead peer never completes)
        assert stale_at - cut < STALE_AFTER_S + 0.5
        fresh_at = await watch.until(watch.all_fresh, 5)
        assert fresh_at - cut < STALE_AFTER_S + RECONNECT_BACKOFF_S + 1.0
        assert len(market.sockets) == 2 and ingest.feed.pool.watchdog_fired == 1
        await watch.close()


async def test_data_frozen_behind_live_pongs_is_probed_then_reconnected(market):
    """Stall after PONG: the socket answers every PING, but the feed is frozen (Polymarket's silent freeze,
    reference-designs.md section 5). PONGs alone must not keep a frozen book fresh."""
    async with ingest_on(market.url, stale_after_s=STALE_AFTER_S, ping_interval_s=0.2) as ingest:
        watch = await fresh_ingest(market, ingest)
        market.answer_subscribes = False  # frozen: PONG still answered, nothing else
        frozen = time.monotonic()
        first = market.sockets[0]

        stale_at = await watch.until(watch.all_stale, STALE_AFTER_S + PROBE_S + 2)
        # first a resubscribe on the live socket (a quiet market answers it with snapshots), then, with no
        # answer within the probe window, a hard close: stale at once
        assert operations(first)[-2:] == ["unsubscribe", "subscribe"]
        assert first.received.count("PING") >= 4  # it was answering PONGs all along
        probe_s = min(PROBE_S, STALE_AFTER_S)
        assert STALE_AFTER_S - 0.1 <= stale_at - frozen < STALE_AFTER_S + probe_s + 0.5  # the probe waited
        await market.wait_for(lambda: len(market.sockets) == 2, timeout=RECONNECT_BACKOFF_S + 1)
        assert time.monotonic() - frozen < STALE_AFTER_S + probe_s + RECONNECT_BACKOFF_S + 0.8

        # still frozen on the new socket: stale it stays; the venue recovers: fresh again
        await asyncio.sleep(0.3)
        assert watch.all_stale()
        market.answer_subscribes = True
        await watch.until(watch.all_fresh, STALE_AFTER_S + probe_s + RECONNECT_BACKOFF_S + 2)
        await watch.close()


async def test_quiet_market_is_probed_on_the_same_socket_never_made_stale(market):
    async with ingest_on(market.url, stale_after_s=STALE_AFTER_S, ping_interval_s=0.2) as ingest:
        watch = await fresh_ingest(market, ingest)
        fresh_since = time.monotonic()
        await asyncio.sleep(2.6)  # no market data at all, but the venue answers PINGs and resubscribes

        assert len(market.sockets) == 1 and ingest.feed.pool.watchdog_fired == 0
        assert operations(market.sockets[0]).count("subscribe") >= 2  # probed at least twice
        assert ingest.feed.pool.probes >= 2
        assert not any(u.stale for u in watch.updates_since(fresh_since))  # never stale
        await watch.close()


async def test_oversized_frame_is_a_lost_connection_and_a_big_one_is_just_skipped(market):
    async with ingest_on(market.url, stale_after_s=30) as ingest:
        watch = await fresh_ingest(market, ingest)
        # the paper venue's ws_oversized size (2 MiB): within ingest's limit, an unknown event, skipped
        unknown_before = parse_errors("unknown_event")
        await market.send_all('{"event_type":"padding","data":"' + "x" * (2 << 20) + '"}')
        await market.send_all({"event_type": "price_change", "market": "m", "timestamp": "1786728432338",
                               "price_changes": [{"asset_id": "A", "price": "0.41", "size": "1", "side": "BUY"}]})
        await watch.until(lambda: watch.latest["A"].bid_price == 0.41, 5)
        assert parse_errors("unknown_event") == unknown_before + 1 and len(market.sockets) == 1

        # past the limit: websockets closes with 1009 (message too big), the tokens are stale at once
        sent = time.monotonic()
        await market.send_all(b"[" + b" " * (MAX_FRAME_BYTES + 1) + b"]")
        stale_at = await watch.until(watch.all_stale, 5)
        assert stale_at - sent < 1.0
        fresh_at = await watch.until(watch.all_fresh, 5)
        assert fresh_at - sent < RECONNECT_BACKOFF_S + 1.5 and len(market.sockets) == 2
        status = await ingest.status()
        assert "1009" in status.sockets[0].last_error or "too big" in status.sockets[0].last_error
        await watch.close()


async def test_unknown_events_and_fields_are_skipped_and_the_known_ones_applied(market):
    async with ingest_on(market.url) as ingest:
        watch = await fresh_ingest(market, ingest)
        unknown_before = parse_errors("unknown_event")
        change = {"event_type": "price_change", "market": "m", "timestamp": "1786728432338", "brand_new": {"x": 1},
                  "price_changes": [{"asset_id": "A", "price": "0.42", "size": "2", "side": "BUY", "extra": [1]}]}
        await market.send_all([{"event_type": "settlement_preview", "asset_id": "A"}, change,
                               {"event_type": "book_v2", "asset_id": "B", "bids": "all of them"}])
        await market.send_all({"event_type": 7})
        await watch.until(lambda: watch.latest["A"].bid_price == 0.42, 5)
        await asyncio.sleep(0.1)
        assert parse_errors("unknown_event") == unknown_before + 2
        assert watch.all_fresh() and len(market.sockets) == 1  # nothing stale, nothing reconnected
        await watch.close()


async def test_out_of_order_snapshot_is_stale_until_a_fresh_one(market):
    async with ingest_on(market.url) as ingest:
        # a level update before the token's first snapshot: applied, but the token stays stale
        market.answer_subscribes = False
        watch = ingest.watch(["A"])
        await market.wait_for(lambda: market.open_sockets() and market.open_sockets()[0].received)
        ts = market.timestamp_ms
        await market.send_all({"event_type": "price_change", "market": "m", "timestamp": str(ts + 1),
                               "price_changes": [{"asset_id": "A", "price": "0.30", "size": "5", "side": "BUY"}]})
        await watch.until(lambda: "A" in watch.latest and watch.latest["A"].bid_price == 0.30, 5)
        assert watch.latest["A"].stale
        market.set_book("A", bid="0.40")
        await market.send_all([market.book_frame("A", ts + 2)])
        await watch.until(watch.all_fresh, 5)
        assert watch.latest["A"].bid_price == 0.40

        # a snapshot older than what the book already applied: the book may be wrong, so stale at once,
        # and ingest asks the venue again; only the venue's answer makes it fresh
        await market.send_all({"event_type": "price_change", "market": "m", "timestamp": str(ts + 10),
                               "price_changes": [{"asset_id": "A", "price": "0.45", "size": "5", "side": "BUY"}]})
        await watch.until(lambda: watch.latest["A"].bid_price == 0.45, 5)
        market.answer_subscribes = True
        market.set_book("A", bid="0.44")  # what the venue will answer
        old = market.book_frame("A", ts + 5)
        old["bids"] = [{"price": "0.20", "size": "1"}]
        sent = time.monotonic()
        await market.send_all([old])
        await watch.until(lambda: len(watch.updates_since(sent)) >= 2 and watch.all_fresh(), 5)
        stale, fresh = watch.updates_since(sent)[:2]
        assert stale.stale and stale.bid_price == 0.45  # stale at once, the old snapshot not applied
        assert next(t for t, _ in watch.history if t >= sent) - sent < 1.0
        assert not fresh.stale and fresh.bid_price == 0.44  # fresh with the venue's answer
        assert operations(market.sockets[0])[-2:] == ["unsubscribe", "subscribe"]
        assert len(market.sockets) == 1
        await watch.close()


async def test_default_flags_reconnect_a_half_open_and_a_frozen_socket_within_35_s():
    """The issue's bound with ingest's default flags (--stale-after 30, --ping-interval 10): both silent
    failures, side by side so the test costs one window (about 34 s)."""
    from tests.faults.conftest import FaultyMarket

    async def one(fault: str) -> float:
        async with FaultyMarket() as venue, ingest_on(venue.url) as ingest:
            watch = await fresh_ingest(venue, ingest)
            started = time.monotonic()
            if fault == "half_open":
                venue.half_open()
            else:
                venue.answer_subscribes = False  # frozen behind live PONGs
            stale_at = await watch.until(watch.all_stale, 40)
            await venue.wait_for(lambda: len(venue.sockets) == 2, timeout=40)
            reconnected = time.monotonic() - started
            assert reconnected - (stale_at - started) < RECONNECT_BACKOFF_S + 0.5  # stale, then the backoff
            await watch.close()
            return reconnected

    half_open, frozen = await asyncio.gather(one("half_open"), one("frozen"))
    assert half_open < 35 and frozen < 35, (half_open, frozen)
