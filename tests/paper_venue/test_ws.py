"""The market channel with a real websockets client: subscribe, dynamic subscribe, PING/PONG, events
after a fill, tick size change, resolution, faults, the ladder's own movement and replay."""

from __future__ import annotations

import asyncio
import gzip
import json

import aiohttp
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.paper_venue.signing import compact, l2_headers, order_body, signed_order

SLUG = "btc-above-100000"


def url(venue) -> str:
    return f"ws://{venue.feed.address}/ws/market"


def tokens(venue, slug: str = SLUG) -> tuple[str, str]:
    market = venue.scenario.market(slug)
    return market.yes_token_id, market.no_token_id


async def recv_json(ws, timeout: float = 2.0):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def next_event(ws, event_type: str, timeout: float = 2.0) -> dict:
    async def loop():
        while True:
            frame = await recv_json(ws, timeout)
            for event in frame if isinstance(frame, list) else [frame]:
                if event.get("event_type") == event_type:
                    return event
    return await asyncio.wait_for(loop(), timeout)


async def post_order(venue, body: dict) -> dict:
    raw = compact(body)
    async with aiohttp.ClientSession() as s, s.post(f"http://{venue.http_address}/order", data=raw,
                                                    headers=l2_headers("POST", "/order", raw)) as r:
        return await r.json()


async def admin(venue, path: str, payload: dict) -> dict:
    async with aiohttp.ClientSession() as s, s.post(f"http://{venue.http_address}{path}", json=payload) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def test_subscribe_answers_an_array_of_books_and_ping_pong(venue):
    yes, no = tokens(venue)
    async with connect(url(venue)) as ws:
        await ws.send(json.dumps({"assets_ids": [yes, no, "999"], "type": "market", "custom_feature_enabled": True}))
        books = await recv_json(ws)
        assert isinstance(books, list) and [b["asset_id"] for b in books] == [yes, no]
        book = books[0]
        assert book["event_type"] == "book" and book["tick_size"] == "0.01" and book["hash"]
        assert [b["price"] for b in book["bids"]] == ["0.47", "0.48", "0.49"]  # best last
        assert [a["price"] for a in book["asks"]] == ["0.53", "0.52", "0.51"]
        assert "min_order_size" not in book and "neg_risk" not in book
        await ws.send("PING")
        assert await asyncio.wait_for(ws.recv(), 2) == "PONG"


async def test_wrong_path_is_refused(venue):
    with pytest.raises(InvalidStatus):
        async with connect(f"ws://{venue.feed.address}/ws/user"):
            pass


async def test_dynamic_subscribe_and_unsubscribe(venue):
    yes, no = tokens(venue)
    async with connect(url(venue)) as ws:
        await ws.send(json.dumps({"assets_ids": [yes], "type": "market"}))
        assert [b["asset_id"] for b in await recv_json(ws)] == [yes]
        await ws.send(json.dumps({"operation": "subscribe", "assets_ids": [no]}))
        assert [b["asset_id"] for b in await recv_json(ws)] == [no]
        await ws.send(json.dumps({"operation": "unsubscribe", "assets_ids": [yes]}))
        await ws.send("PING")
        assert await asyncio.wait_for(ws.recv(), 2) == "PONG"  # the unsubscribe went first
        await post_order(venue, order_body(signed_order(yes, 0.51, 10)))  # trades YES only
        await ws.send("PING")
        assert await asyncio.wait_for(ws.recv(), 2) == "PONG"  # nothing about YES came before


async def test_a_fill_publishes_price_change_last_trade_and_book(venue):
    yes, _ = tokens(venue)
    async with connect(url(venue)) as ws:
        await ws.send(json.dumps({"assets_ids": [yes], "type": "market"}))
        await recv_json(ws)
        reply = await post_order(venue, order_body(signed_order(yes, 0.52, 200), "FAK"))
        assert reply["status"] == "matched" and reply["takingAmount"] == "200"
        change = await recv_json(ws)
        assert change["event_type"] == "price_change" and change["market"] == venue.scenario.market(SLUG).condition_id
        entries = {(e["price"], e["side"]): e for e in change["price_changes"]}
        assert entries[("0.51", "SELL")]["size"] == "0"  # the level is gone
        assert entries[("0.52", "SELL")]["size"] == "250"
        assert all(e["best_bid"] == "0.49" and e["best_ask"] == "0.52" and e["hash"] for e in entries.values())
        trades = [await recv_json(ws), await recv_json(ws)]
        assert [(t["event_type"], t["price"], t["size"], t["side"]) for t in trades] == [
            ("last_trade_price", "0.51", "150", "BUY"), ("last_trade_price", "0.52", "50", "BUY")]
        book = await recv_json(ws)
        assert book["event_type"] == "book" and book["asks"][-1] == {"price": "0.52", "size": "250"}
        assert book["last_trade_price"] == "0.52"


async def test_tick_size_change_and_resolution(venue):
    yes, no = tokens(venue)
    async with connect(url(venue)) as plain, connect(url(venue)) as custom:
        await plain.send(json.dumps({"assets_ids": [yes, no], "type": "market"}))
        await custom.send(json.dumps({"assets_ids": [yes, no], "type": "market", "custom_feature_enabled": True}))
        await recv_json(plain)
        await recv_json(custom)
        await admin(venue, "/admin/tick-size", {"token_id": yes, "tick_size": "0.001"})
        event = await next_event(plain, "tick_size_change")
        assert (event["old_tick_size"], event["new_tick_size"]) == ("0.01", "0.001")
        book = await next_event(plain, "book")
        assert book["tick_size"] == "0.001"
        await admin(venue, "/admin/resolve", {"winning_token_id": no})
        resolved = await next_event(custom, "market_resolved")
        assert resolved["winning_asset_id"] == no and resolved["winning_outcome"] == "No"
        await plain.send("PING")
        seen = []
        while (frame := await asyncio.wait_for(plain.recv(), 2)) != "PONG":
            seen.append(json.loads(frame)["event_type"])
        assert "market_resolved" not in seen  # custom features off (protocol 1.1)
        assert seen == ["tick_size_change", "book"]  # the NO token's, sent after the YES token's


async def test_ws_faults_stall_garbage_oversized_drop(venue):
    yes, _ = tokens(venue)
    async with connect(url(venue)) as ws:
        await ws.send(json.dumps({"assets_ids": [yes], "type": "market"}))
        await recv_json(ws)
        await admin(venue, "/admin/faults", {"ws_stall_s": 0.5})
        await ws.send("PING")
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.3)  # stalled: not even PONG
        await asyncio.sleep(0.3)
        await ws.send("PING")
        assert await asyncio.wait_for(ws.recv(), 2) == "PONG"
        await admin(venue, "/admin/faults", {"ws_garbage": 1})
        with pytest.raises(ValueError):
            json.loads(await asyncio.wait_for(ws.recv(), 2))
        await admin(venue, "/admin/faults", {"ws_oversized": 1})
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 2)  # over the client's 1 MiB max_size
        assert closed.value.sent is not None and closed.value.sent.code == 1009  # message too big
    async with connect(url(venue)) as ws:
        await ws.send(json.dumps({"assets_ids": [yes], "type": "market"}))
        await recv_json(ws)
        await admin(venue, "/admin/faults", {"ws_drop": True})
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 2)
    assert venue.feed.connections_total == 2


async def test_ladder_moves_on_its_own(start_venue):
    venue = await start_venue(scenario="ladder", seed=3, step_s=0.02)
    everything = [t for m in venue.scenario.markets for t in m.tokens]
    async with connect(url(venue)) as ws:
        await ws.send(json.dumps({"assets_ids": everything, "type": "market"}))
        assert len(await recv_json(ws)) == 22
        change = await next_event(ws, "price_change", timeout=5)
        assert change["price_changes"] and all(e["asset_id"] in everything for e in change["price_changes"])
    status = venue.status()
    assert status["frames_sent"] >= 2 and status["tokens"] == 22


async def test_replay_sends_recorded_frames_verbatim(start_venue, tmp_path):
    book = [{"market": "0xm", "asset_id": "111", "timestamp": "1", "hash": "h", "bids": [], "asks": [],
             "event_type": "book"}]
    change = {"market": "0xm", "price_changes": [{"asset_id": "111", "price": "0.5", "size": "3", "side": "BUY"}],
              "timestamp": "2", "event_type": "price_change"}
    other = {"market": "0xn", "asset_id": "222", "price": "0.1", "event_type": "last_trade_price", "timestamp": "3"}
    frames = [json.dumps(book), "PONG", json.dumps(other), json.dumps(change, separators=(",", ":"))]
    path = tmp_path / "rec.jsonl.gz"
    with gzip.open(path, "wt") as f:
        for i, frame in enumerate(frames):
            f.write(json.dumps({"recv_ns": 1_000_000_000 + i * 1000, "frame": frame}) + "\n")
    venue = await start_venue(scenario=str(path), replay_speed=0.0)
    async with connect(url(venue)) as ws:
        await ws.send(json.dumps({"assets_ids": ["111"], "type": "market"}))
        assert await asyncio.wait_for(ws.recv(), 2) == frames[0]
        assert await asyncio.wait_for(ws.recv(), 2) == frames[3]  # PONG and the other asset skipped
    assert venue.replayed_frames == 3


async def test_hidden_fills_leave_the_feed_showing_the_consumed_level_until_the_next_change(venue):
    yes, _ = tokens(venue)
    async with connect(url(venue)) as ws:
        await ws.send(json.dumps({"assets_ids": [yes], "type": "market"}))
        await recv_json(ws)
        await admin(venue, "/admin/faults", {"ws_hide_fills": True})
        reply = await post_order(venue, order_body(signed_order(yes, 0.52, 200), "FAK"))
        assert reply["status"] == "matched"
        with pytest.raises(TimeoutError):  # the fill happened, the feed lags it: nothing on the socket
            await recv_json(ws, timeout=0.5)
        await admin(venue, "/admin/faults", {"ws_hide_fills": False})
        reply = await post_order(venue, order_body(signed_order(yes, 0.52, 10), "FAK"))
        change = await next_event(ws, "price_change")
        entries = {(e["price"], e["side"]): e["size"] for e in change["price_changes"]}
        assert entries[("0.52", "SELL")] == "240"  # both fills show now: 300 - 50 - 10


async def test_admin_books_shows_several_books_in_one_frame(venue):
    yes, no = tokens(venue)
    async with connect(url(venue)) as ws:
        await ws.send(json.dumps({"assets_ids": [yes, no], "type": "market"}))
        await recv_json(ws)
        answer = await admin(venue, "/admin/books", {"books": [
            {"token_id": yes, "bids": [["0.40", "10"]], "asks": [["0.45", "20"]]},
            {"token_id": no, "bids": [["0.50", "30"]], "asks": [["0.58", "40"]]}]})
        assert answer == {"tokens": [yes, no], "events": 2}
        frame = await recv_json(ws)
        assert [(b["event_type"], b["asset_id"], b["asks"][-1]) for b in frame] == [
            ("book", yes, {"price": "0.45", "size": "20"}), ("book", no, {"price": "0.58", "size": "40"})]
        with pytest.raises(TimeoutError):  # and nothing else: the frame is the whole change
            await recv_json(ws, timeout=0.3)
