"""An in-test market WebSocket server speaking Polymarket's protocol, with switches for faults."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

from websockets.asyncio.server import ServerConnection, serve


@dataclass
class FakeConnection:
    ws: ServerConnection
    received: list[str] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)


class FakeMarket:
    def __init__(self) -> None:
        self.connections: list[FakeConnection] = []
        self.books: dict[str, dict] = {}  # token -> {"bids": [...], "asks": [...]} as sent (best last)
        self.silent = False  # no PONG, no snapshot: a half-open server
        self.url = ""
        self._server = None
        self.changed = asyncio.Event()

    def set_book(self, token: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> None:
        self.books[token] = {"bids": [{"price": p, "size": s} for p, s in bids],
                             "asks": [{"price": p, "size": s} for p, s in asks]}

    def book_frame(self, token: str, ts: int = 1786728432337) -> dict:
        book = self.books.get(token, {"bids": [], "asks": []})
        return {"market": "0xm", "asset_id": token, "timestamp": str(ts), "hash": "h", **book,
                "tick_size": "0.01", "event_type": "book"}

    async def __aenter__(self) -> FakeMarket:
        self._server = await serve(self._handle, "127.0.0.1", 0, compression=None)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/ws/market"
        return self

    async def __aexit__(self, *exc) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, ws: ServerConnection) -> None:
        conn = FakeConnection(ws)
        self.connections.append(conn)
        self._notify()
        try:
            async for message in ws:
                conn.received.append(message)
                self._notify()
                if message == "PING":
                    if not self.silent:
                        await ws.send("PONG")
                    continue
                request = json.loads(message)
                tokens = request.get("assets_ids", [])
                if request.get("operation") == "unsubscribe":
                    conn.tokens.difference_update(tokens)
                    continue
                conn.tokens.update(tokens)
                if not self.silent and tokens:
                    await ws.send(json.dumps([self.book_frame(t) for t in tokens]))
        except Exception:  # a dropped client is normal here
            pass

    def _notify(self) -> None:
        self.changed.set()

    async def wait_for(self, predicate, timeout: float = 5.0) -> None:
        async def loop():
            while not predicate():
                self.changed.clear()
                await self.changed.wait()
        await asyncio.wait_for(loop(), timeout)

    def open(self) -> list[FakeConnection]:
        return [c for c in self.connections if c.ws.state.name == "OPEN"]

    async def send_all(self, frame: dict | list | str) -> None:
        text = frame if isinstance(frame, str) else json.dumps(frame)
        for conn in self.open():
            await conn.ws.send(text)

    async def drop_all(self) -> None:
        for conn in self.open():
            await conn.ws.close()
