"""Market WebSocket connections: tokens sharded over connections, subscribe, PING, watchdog, backoff.

Protocol facts (polymarket-protocol.md 1.1): the first frame after connect is
`{"assets_ids": [...], "type": "market", "custom_feature_enabled": true}`; later changes on the live
socket are `{"operation": "subscribe"|"unsubscribe", "assets_ids": [...]}`; keepalive is the text
frame `PING` every 10 s (answered by `PONG`); subscriptions do not survive a reconnect.

The watchdog (reference-designs.md section 5: the venue's silent freeze, "WS open and PING/PONG
fine, but no book / price_change for minutes"): a socket that sends nothing at all, not even PONG,
for `stale_after_s` is dead and is cut at once. A socket that answers PONGs but has sent no market
data for `stale_after_s` may be a quiet market or a frozen feed: it is probed by resubscribing its
tokens on the same socket, which a live venue answers with fresh `book` snapshots; no data within
`PROBE_S` either and it is cut. With the default flags (30 s, PING every 10 s) a dead socket is cut
after 30 s, a frozen one after 32 s, and the reconnect follows 1-1.2 s later: within 35 s.

The pool knows nothing about books: it hands every raw frame with its receive time to a listener,
and tells it when a connection's tokens may have become wrong (connection lost), before any closing
handshake with a peer that may never answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Iterable
from typing import Protocol

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

log = logging.getLogger("ingest.ws")

BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0
MAX_FRAME_BYTES = 16 * 1024 * 1024  # an initial dump of 500 books with deep ladders stays well below
PROBE_S = 2.0  # a resubscribe's snapshots arrive in well under a second from a live venue
# Text frames that prove the socket is alive but carry no market data (protocol 1.1).
_KEEPALIVE = frozenset((b"PONG", b"NO NEW ASSETS"))


def backoff_delay(attempt: int, rng: random.Random) -> float:
    """1 s, 2 s, 4 s ... capped at 30 s, plus up to 20 % jitter so shards do not reconnect in lockstep."""
    base = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * (2 ** max(0, attempt)))
    return base * (1.0 + 0.2 * rng.random())


def initial_subscribe(tokens: Iterable[str]) -> str:
    return json.dumps({"assets_ids": sorted(tokens), "type": "market", "custom_feature_enabled": True})


def subscribe_update(operation: str, tokens: Iterable[str]) -> str:
    body: dict[str, object] = {"operation": operation, "assets_ids": sorted(tokens)}
    if operation == "subscribe":
        body["custom_feature_enabled"] = True  # toggles per asset, so send it with every add (PYSDK note)
    return json.dumps(body)


class PoolListener(Protocol):
    def on_frame(self, conn_id: int, data: bytes | str, recv_ns: int) -> None: ...
    def on_connection_lost(self, conn_id: int, tokens: frozenset[str], reason: str) -> None: ...
    def on_connected(self, conn_id: int) -> None: ...


class Connection:
    """One market WebSocket and the tokens it carries; reconnects by itself until closed."""

    def __init__(self, conn_id: int, pool: Pool) -> None:
        self.conn_id = conn_id
        self.pool = pool
        self.tokens: set[str] = set()
        self.ws: ClientConnection | None = None
        self.reconnects = 0
        self.last_error = ""
        self.last_frame_monotonic = 0.0
        self._task: asyncio.Task | None = None
        self._closed = False
        self._rng = random.Random()
        self._last_data = 0.0
        self._probe_deadline = 0.0
        self._watchdog_fired = False

    @property
    def connected(self) -> bool:
        return self.ws is not None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"ws-{self.conn_id}")

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def send_update(self, operation: str, tokens: set[str]) -> None:
        """Subscribe/unsubscribe on the live socket; when down, the reconnect sends the full set anyway."""
        if self.ws is None or not tokens:
            return
        try:
            await self.ws.send(subscribe_update(operation, tokens))
        except WebSocketException as exc:  # the reader notices the broken socket and reconnects
            log.debug("subscribe update failed", extra={"conn": self.conn_id, "error": str(exc)})

    async def resubscribe(self, token: str) -> None:
        await self.send_update("unsubscribe", {token})
        await self.send_update("subscribe", {token})

    async def _run(self) -> None:
        attempt = 0
        while not self._closed:
            try:
                async with connect(
                    self.pool.url,
                    ping_interval=None,  # Polymarket wants text PINGs (below), not protocol pings
                    max_size=MAX_FRAME_BYTES,
                    open_timeout=10,
                    close_timeout=2,
                    compression=None,
                    proxy=None,
                ) as ws:
                    if not self.tokens:
                        return
                    # set ws before the first await: an update racing this connect then goes on the socket
                    self.ws = ws
                    await ws.send(initial_subscribe(self.tokens))
                    self.last_frame_monotonic = time.monotonic()
                    attempt = 0
                    self.pool.listener.on_connected(self.conn_id)
                    await self._read(ws)
            except asyncio.CancelledError:
                raise
            except (OSError, WebSocketException, TimeoutError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"[:200]
            finally:
                if self._closed and self.ws is None:
                    self.pool.listener.on_connection_lost(self.conn_id, frozenset(self.tokens), self.last_error)
                self._lost()
            if self._closed:
                return
            self.reconnects += 1
            self.pool.on_reconnect(self.conn_id, self.last_error)
            await asyncio.sleep(backoff_delay(attempt, self._rng))
            attempt += 1

    async def _read(self, ws: ClientConnection) -> None:
        """Frames to the listener, one plain recv() each: the watchdog is a task of its own, so a frame
        costs no wait_for (a task, a timer and a cancellation per frame, measured ~10 µs of CPU)."""
        listener, conn_id = self.pool.listener, self.conn_id
        self._last_data = time.monotonic()  # the subscribe just sent is owed an answer from now
        self._probe_deadline = 0.0  # while a probe is out: when it has failed
        self._watchdog_fired = False
        pinger = asyncio.create_task(self._ping(ws))
        watchdog = asyncio.create_task(self._watch(ws))
        try:
            while True:
                try:
                    data = await ws.recv(decode=False)
                except ConnectionClosed:
                    if self._watchdog_fired:
                        return  # the watchdog cut it; its reason stands
                    raise
                recv_ns = time.time_ns()
                self.last_frame_monotonic = now = time.monotonic()
                if len(data) > 16 or data.strip() not in _KEEPALIVE:
                    self._last_data = now
                    self._probe_deadline = 0.0
                listener.on_frame(conn_id, data, recv_ns)
        finally:
            pinger.cancel()
            watchdog.cancel()

    async def _watch(self, ws: ClientConnection) -> None:
        """Nothing at all (not even a PONG) for stale_after_s: dead, cut it. PONGs but no market data for
        that long: probe with a resubscribe, which a quiet market answers and a frozen feed does not."""
        pool = self.pool
        while True:
            now = time.monotonic()
            dead_at = self.last_frame_monotonic + pool.stale_after_s
            deadline = min(dead_at, self._probe_deadline or self._last_data + pool.stale_after_s)
            if now < deadline:
                await asyncio.sleep(deadline - now)
                continue
            if now < dead_at and not self._probe_deadline:
                self._probe_deadline = now + min(PROBE_S, pool.stale_after_s)
                pool.probes += 1
                await self.send_update("unsubscribe", set(self.tokens))
                await self.send_update("subscribe", set(self.tokens))
                continue
            self.last_error = (f"no frame for {pool.stale_after_s:.0f}s" if now >= dead_at else
                               f"no market data for {pool.stale_after_s:.0f}s, nor after a resubscribe")
            pool.on_watchdog(self.conn_id)
            self._watchdog_fired = True
            self._lost()  # stale now: a dead peer would hold up a closing handshake
            ws.transport.abort()
            return

    def _lost(self) -> None:
        """Tell the listener once that this connection's tokens may be wrong."""
        if self.ws is not None:
            self.ws = None
            self.pool.listener.on_connection_lost(self.conn_id, frozenset(self.tokens), self.last_error)

    async def _ping(self, ws: ClientConnection) -> None:
        with contextlib.suppress(WebSocketException, OSError):
            while True:
                await asyncio.sleep(self.pool.ping_interval_s)
                await ws.send("PING")
                self.pool.pings_sent += 1


class Pool:
    """Shards tokens over connections of at most tokens_per_connection each."""

    def __init__(
        self,
        url: str,
        listener: PoolListener,
        tokens_per_connection: int = 50,
        ping_interval_s: float = 10.0,
        stale_after_s: float = 30.0,
    ) -> None:
        self.url = url
        self.listener = listener
        self.tokens_per_connection = tokens_per_connection
        self.ping_interval_s = ping_interval_s
        self.stale_after_s = stale_after_s
        self.connections: dict[int, Connection] = {}
        self.owner: dict[str, int] = {}  # token -> conn_id
        self.pings_sent = 0
        self.watchdog_fired = 0
        self.probes = 0  # resubscribes sent to sockets that were alive but quiet
        self._next_id = 1
        self._lock = asyncio.Lock()
        self.on_reconnect_hook = None  # metrics hook: (conn_id, reason) -> None
        self._tasks: set[asyncio.Task] = set()

    def on_reconnect(self, conn_id: int, reason: str) -> None:
        if self.on_reconnect_hook is not None:
            self.on_reconnect_hook(conn_id, reason)

    def on_watchdog(self, conn_id: int) -> None:
        self.watchdog_fired += 1
        log.warning("no frame within the watchdog window: reconnecting", extra={"conn": conn_id})

    @property
    def subscribed(self) -> int:
        return len(self.owner)

    def open_connections(self) -> int:
        return sum(1 for c in self.connections.values() if c.connected)

    async def update(self, add: Iterable[str], remove: Iterable[str]) -> None:
        """Subscribe add and unsubscribe remove, filling connections with room before opening new ones."""
        async with self._lock:
            updates: dict[int, tuple[set[str], set[str]]] = {}
            for token in set(remove):
                conn_id = self.owner.pop(token, None)
                if conn_id is None:
                    continue
                self.connections[conn_id].tokens.discard(token)
                updates.setdefault(conn_id, (set(), set()))[1].add(token)
            fresh: list[Connection] = []
            for token in add:
                if token in self.owner:
                    continue
                conn = self._with_room(fresh)
                conn.tokens.add(token)
                self.owner[token] = conn.conn_id
                if conn not in fresh:
                    updates.setdefault(conn.conn_id, (set(), set()))[0].add(token)
            for conn_id, (added, removed) in updates.items():
                conn = self.connections[conn_id]
                await conn.send_update("unsubscribe", removed)
                await conn.send_update("subscribe", added)
            for conn in [c for c in self.connections.values() if not c.tokens]:
                del self.connections[conn.conn_id]
                await conn.close()
            for conn in fresh:
                conn.start()

    def _with_room(self, fresh: list[Connection]) -> Connection:
        for conn in self.connections.values():
            if len(conn.tokens) < self.tokens_per_connection:
                return conn
        conn = Connection(self._next_id, self)
        self._next_id += 1
        self.connections[conn.conn_id] = conn
        fresh.append(conn)
        return conn

    def resubscribe_soon(self, token: str) -> None:
        """Unsubscribe and subscribe a token on its socket, so the venue sends a fresh `book` snapshot."""
        conn = self.connections.get(self.owner.get(token, -1))
        if conn is not None and conn.connected:
            task = asyncio.create_task(conn.resubscribe(token))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        async with self._lock:
            for conn in list(self.connections.values()):
                await conn.close()
            self.connections.clear()
            self.owner.clear()
