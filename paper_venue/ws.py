"""The market channel at /ws/market: what to send (pure functions first) and the websockets server.

Protocol (shared/docs/polymarket-protocol.md 1.1): the first frame subscribes
{"assets_ids": [...], "type": "market", "custom_feature_enabled": bool} and is answered by an ARRAY
of `book` snapshots; {"operation": "subscribe"|"unsubscribe", "assets_ids": [...]} changes a live
socket (a subscribe also gets snapshots of the new assets); the text frame PING gets PONG; no server
pings and no ACKs. Events are bare objects (1.2); `market_resolved` only reaches sockets that
enabled custom features. Faults (faults.py): drop, stall, garbage and oversized frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from paper_venue import wire
from paper_venue.exchange import BookChanged, Event, Resolved, SnapshotDue, TickChanged, Traded
from paper_venue.faults import WsActions

log = logging.getLogger("paper_venue.ws")

PATH = "/ws/market"
QUEUE_LIMIT = 10_000  # frames waiting for one socket; a client that far behind is cut off
GARBAGE_FRAME = "\x00\x01 not json {"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One frame to send, to the sockets subscribed to any of `assets`."""

    obj: dict[str, Any]
    assets: frozenset[str]
    custom_only: bool = False  # market_resolved: custom_feature_enabled sockets only


Snapshot = Callable[[str, int], dict[str, Any] | None]  # (token, now_ms) → REST book summary


def outgoing_frames(events: Sequence[Event], now_ms: int, snapshot: Snapshot) -> list[Outgoing]:
    """Exchange events → frames, in order. BookChanged of one market merge into one price_change
    (one message routinely covers both tokens of a market, protocol 1.2), placed where its first
    change happened."""
    out: list[Outgoing] = []
    price_changes: dict[str, dict[str, Any]] = {}
    for event in events:
        if isinstance(event, BookChanged):
            entries = [wire.price_change_entry(event.token_id, ch, event.best_bid, event.best_ask, now_ms)
                       for ch in event.changes]
            pending = price_changes.get(event.market)
            if pending is None:
                obj = wire.price_change_event(event.market, entries, now_ms)
                price_changes[event.market] = obj
                out.append(Outgoing(obj, frozenset()))
            else:
                pending["price_changes"].extend(entries)
        elif isinstance(event, Traded):
            out.append(Outgoing(wire.last_trade_price_event(
                event.market, event.token_id, event.price, event.size, event.fee_rate_bps, event.taker_side,
                now_ms, event.transaction_hash), frozenset((event.token_id,))))
        elif isinstance(event, SnapshotDue):
            summary = snapshot(event.token_id, now_ms)
            if summary is not None:
                out.append(Outgoing(wire.ws_book(summary), frozenset((event.token_id,))))
        elif isinstance(event, TickChanged):
            out.append(Outgoing(wire.tick_size_change_event(event.market, event.token_id, event.old, event.new,
                                                            now_ms), frozenset((event.token_id,))))
        elif isinstance(event, Resolved):
            out.append(Outgoing(wire.market_resolved_event(event.market, list(event.tokens), event.winner,
                                                           event.outcome, now_ms, event.question),
                                frozenset(event.tokens), custom_only=True))
    # the price_change objects were filled in place; their asset sets are known only now
    return [Outgoing(o.obj, frozenset(e["asset_id"] for e in o.obj["price_changes"]))
            if o.obj.get("event_type") == "price_change" else o for o in out]


def frame_for(item: Outgoing, assets: set[str]) -> dict[str, Any] | None:
    """What one socket subscribed to `assets` gets of `item`: price_change keeps only its entries."""
    if item.assets.isdisjoint(assets):
        return None
    if item.obj.get("event_type") == "price_change" and not item.assets <= assets:
        entries = [e for e in item.obj["price_changes"] if e["asset_id"] in assets]
        return {**item.obj, "price_changes": entries}
    return item.obj


# -- the server ----------------------------------------------------------------------------------------


@dataclass(eq=False)
class Client:
    ws: ServerConnection
    assets: set[str] = field(default_factory=set)
    custom: bool = False
    subscribed: bool = False
    queue: asyncio.Queue[str | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))


class MarketFeed:
    """Sockets, their subscriptions and one writer task per socket."""

    def __init__(self, snapshot: Snapshot, now_ms: Callable[[], int],
                 on_subscribe: Callable[[], None] | None = None) -> None:
        self.snapshot = snapshot
        self.now_ms = now_ms
        self.on_subscribe = on_subscribe
        self.clients: set[Client] = set()
        self.frames_sent = 0
        self.connections_total = 0
        self.invalid_messages = 0
        self.slow_clients_dropped = 0
        self.stalled_until = 0.0  # time.monotonic(); nothing is sent (not even PONG) before it
        self._server: Server | None = None
        self.address = ""

    async def start(self, host: str, port: int) -> str:
        self._server = await serve(
            self._handle, host.strip("[]"), port, process_request=_check_path,
            compression=None, ping_interval=None,  # Polymarket never pings first (protocol 1.1)
            max_size=1 << 20,
        )
        bound = self._server.sockets[0].getsockname()[1]
        self.address = f"{host}:{bound}"
        return self.address

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()  # closes every socket with 1001 (going away)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 5)
        self._server = None

    # -- publishing ------------------------------------------------------------------------------

    @property
    def stalled(self) -> bool:
        return time.monotonic() < self.stalled_until

    def publish(self, events: Sequence[Event]) -> None:
        if not events or not self.clients or self.stalled:
            return
        self.send_items(outgoing_frames(events, self.now_ms(), self.snapshot))

    def send_items(self, items: Iterable[Outgoing]) -> None:
        for item in items:
            texts: dict[frozenset[str], str] = {}  # serialised once per distinct view of the item
            for client in list(self.clients):
                if not client.subscribed or (item.custom_only and not client.custom):
                    continue
                view = item.assets.intersection(client.assets)
                if not view:
                    continue
                text = texts.get(view)
                if text is None:
                    obj = frame_for(item, client.assets)
                    text = texts[view] = wire.compact(obj)
                self._enqueue(client, text)

    def send_raw(self, text: str, assets: frozenset[str] | None) -> None:
        """A recorded frame, verbatim, to sockets subscribed to any of its assets (None: to all)."""
        if self.stalled:
            return
        for client in list(self.clients):
            if client.subscribed and (assets is None or not client.assets.isdisjoint(assets)):
                self._enqueue(client, text)

    def _enqueue(self, client: Client, text: str) -> None:
        try:
            client.queue.put_nowait(text)
        except asyncio.QueueFull:
            self.slow_clients_dropped += 1
            log.warning("dropping a slow market client", extra={"queued": client.queue.qsize()})
            client.ws.transport.abort()

    # -- faults ----------------------------------------------------------------------------------

    def apply_faults(self, actions: WsActions) -> None:
        if actions.stall_s > 0:
            self.stalled_until = time.monotonic() + actions.stall_s
        for client in list(self.clients):
            for _ in range(actions.garbage):
                self._enqueue(client, GARBAGE_FRAME)
            for _ in range(actions.oversized):
                pad = max(0, actions.oversized_bytes - 40)
                self._enqueue(client, '{"event_type":"padding","data":"' + "x" * pad + '"}')
        if actions.drop:
            for client in list(self.clients):
                client.ws.transport.abort()

    # -- one socket ------------------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        client = Client(ws)
        self.clients.add(client)
        self.connections_total += 1
        writer = asyncio.create_task(self._write(client))
        try:
            async for message in ws:
                if self.stalled:
                    continue
                if isinstance(message, bytes):
                    message = message.decode(errors="replace")
                self._on_message(client, message)
        except ConnectionClosed:
            pass
        finally:
            self.clients.discard(client)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    async def _write(self, client: Client) -> None:
        while True:
            text = await client.queue.get()
            if text is None:
                await client.ws.close(1001, "going away")
                return
            try:
                await client.ws.send(text)
            except ConnectionClosed:
                return
            self.frames_sent += 1

    def _on_message(self, client: Client, message: str) -> None:
        if message.strip() == "PING":
            self._enqueue(client, "PONG")
            return
        try:
            request = json.loads(message)
        except ValueError:
            self.invalid_messages += 1
            return
        if not isinstance(request, dict):
            self.invalid_messages += 1
            return
        ids = [a for a in request.get("assets_ids") or () if isinstance(a, str)]
        operation = request.get("operation")
        if operation == "unsubscribe":
            client.assets.difference_update(ids)
            return
        if operation not in (None, "subscribe") or (operation is None and request.get("type") not in ("market",
                                                                                                       "MARKET")):
            self.invalid_messages += 1
            return
        if "custom_feature_enabled" in request:
            client.custom = bool(request["custom_feature_enabled"])
        new = [a for a in dict.fromkeys(ids) if a not in client.assets]
        client.assets.update(new)
        first = not client.subscribed
        client.subscribed = True
        now = self.now_ms()
        books = [wire.ws_book(s) for s in (self.snapshot(a, now) for a in new) if s is not None]
        if books:
            self._enqueue(client, wire.compact(books))
        if first and self.on_subscribe is not None:
            self.on_subscribe()


def _check_path(connection: ServerConnection, request: Request) -> Response | None:
    if request.path.split("?", 1)[0] != PATH:
        return connection.respond(404, f"no market channel at {request.path}; use {PATH}\n")
    return None
