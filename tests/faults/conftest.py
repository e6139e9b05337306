"""Shared pieces of the fault tests: a market WebSocket that misbehaves on demand, ingest in process on
its real gRPC stream, and helpers for pipelines of real processes (restart on the same port, health,
an arbitrage driver, a trade-result follower that reconnects)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from websockets.asyncio.server import ServerConnection, serve

from ingest_svc.feed import MarketFeed
from ingest_svc.service import IngestServicer
from polyarb.v1 import executor_pb2, executor_pb2_grpc, ingest_pb2, ingest_pb2_grpc
from tests.e2e.conftest import pipeline_factory  # noqa: F401 - the four-process pipeline, shared

# -- a market WebSocket with fault switches --------------------------------------------------------


@dataclass(eq=False)
class MarketSocket:
    ws: ServerConnection
    opened: float = field(default_factory=time.monotonic)
    received: list[str] = field(default_factory=list)
    mute: bool = False  # half-open: reads nothing, sends nothing, never closes


class FaultyMarket:
    """Polymarket's market channel (subscribe, dynamic subscribe, PING/PONG, `book` answers) with switches:

    - answer_pings=False: PING gets no PONG;
    - answer_subscribes=False: subscriptions get no `book` (with answer_pings, the silent data freeze:
      the socket looks alive, the feed is frozen);
    - half_open(): every open socket stops reading and writing without a FIN, like a peer gone behind a
      dead NAT; sockets opened afterwards work normally.
    """

    def __init__(self) -> None:
        self.sockets: list[MarketSocket] = []
        self.books: dict[str, dict] = {}
        self.answer_pings = True
        self.answer_subscribes = True
        self.timestamp_ms = 1786728432337
        self.url = ""
        self._server = None
        self._changed = asyncio.Event()

    def set_book(self, token: str, bid: str = "0.40", ask: str = "0.60", size: str = "10") -> None:
        self.books[token] = {"bids": [{"price": bid, "size": size}], "asks": [{"price": ask, "size": size}]}

    def book_frame(self, token: str, timestamp_ms: int | None = None) -> dict:
        book = self.books.get(token, {"bids": [], "asks": []})
        return {"market": "0xm", "asset_id": token, "timestamp": str(timestamp_ms or self.timestamp_ms),
                "hash": "h", **book, "tick_size": "0.01", "event_type": "book"}

    async def __aenter__(self) -> FaultyMarket:
        self._server = await serve(self._handle, "127.0.0.1", 0, compression=None, max_size=None)
        self.url = f"ws://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/ws/market"
        return self

    async def __aexit__(self, *exc) -> None:
        for sock in self.sockets:
            sock.ws.transport.abort()
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _handle(self, ws: ServerConnection) -> None:
        sock = MarketSocket(ws)
        self.sockets.append(sock)
        self._notify()
        with contextlib.suppress(Exception):  # a client going away is normal here
            async for message in ws:
                if sock.mute:
                    continue
                sock.received.append(message)
                self._notify()
                if message == "PING":
                    if self.answer_pings:
                        await ws.send("PONG")
                    continue
                request = json.loads(message)
                tokens = request.get("assets_ids", [])
                if request.get("operation") == "unsubscribe" or not self.answer_subscribes or not tokens:
                    continue
                await ws.send(json.dumps([self.book_frame(t) for t in tokens]))
        # a muted socket never closes by itself: wait for the client to give up on it
        while sock.mute and ws.state.name != "CLOSED":
            await asyncio.sleep(0.05)

    def _notify(self) -> None:
        self._changed.set()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        async def loop():
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(loop(), timeout)

    def open_sockets(self) -> list[MarketSocket]:
        return [s for s in self.sockets if s.ws.state.name == "OPEN" and not s.mute]

    def half_open(self) -> None:
        for sock in self.open_sockets():
            sock.mute = True
            sock.ws.transport.pause_reading()  # the client's frames pile up in the kernel, unanswered

    async def send_all(self, frame: dict | list | str | bytes) -> None:
        text = frame if isinstance(frame, str | bytes) else json.dumps(frame)
        for sock in self.open_sockets():
            await sock.ws.send(text)


@pytest.fixture
async def market():
    async with FaultyMarket() as fake:
        yield fake


# -- ingest in process, read through its gRPC stream ----------------------------------------------


class TopOfBookWatch:
    """One StreamTopOfBook client kept reading in the background: the latest state per token, with the
    monotonic time of every change it saw."""

    def __init__(self, stub: ingest_pb2_grpc.IngestStub, tokens: list[str]) -> None:
        self.tokens = tokens
        self.latest: dict[str, ingest_pb2.TopOfBook] = {}
        self.history: list[tuple[float, ingest_pb2.TopOfBook]] = []  # (monotonic, update), every update seen
        self.batches = 0
        self._changed = asyncio.Event()
        self._call = stub.StreamTopOfBook(self._requests())
        self._task = asyncio.create_task(self._read())

    async def _requests(self):
        yield ingest_pb2.BookSubscription(add_token_ids=self.tokens)
        await asyncio.Event().wait()

    async def _read(self) -> None:
        async for batch in self._call:
            now = time.monotonic()
            self.batches += 1
            for update in batch.updates:
                self.latest[update.token_id] = update
                self.history.append((now, update))
            self._changed.set()

    def all_fresh(self) -> bool:
        return len(self.latest) == len(self.tokens) and not any(u.stale for u in self.latest.values())

    def all_stale(self) -> bool:
        return len(self.latest) == len(self.tokens) and all(u.stale for u in self.latest.values())

    def updates_since(self, since: float) -> list[ingest_pb2.TopOfBook]:
        return [update for t, update in self.history if t >= since]

    async def until(self, predicate: Callable[[], bool], timeout: float) -> float:
        """Wait until predicate holds; return the monotonic time it first held."""
        async def loop():
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(loop(), timeout)
        return time.monotonic()

    async def close(self) -> None:
        self._call.cancel()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, aio.AioRpcError):
            await self._task


@dataclass
class IngestInProcess:
    feed: MarketFeed
    stub: ingest_pb2_grpc.IngestStub

    def watch(self, tokens: list[str]) -> TopOfBookWatch:
        return TopOfBookWatch(self.stub, tokens)

    async def status(self) -> ingest_pb2.IngestStatus:
        return await self.stub.GetStatus(ingest_pb2.GetIngestStatusRequest(), timeout=5)


@contextlib.asynccontextmanager
async def ingest_on(url: str, stale_after_s: float = 30.0, ping_interval_s: float = 10.0):
    """The real MarketFeed and IngestServicer behind an in-process gRPC server (defaults: the flags')."""
    feed = MarketFeed(url, 50, ping_interval_s, stale_after_s)
    server = aio.server()
    ingest_pb2_grpc.add_IngestServicer_to_server(IngestServicer(feed, url, False), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield IngestInProcess(feed, ingest_pb2_grpc.IngestStub(channel))
    finally:
        await channel.close()
        await server.stop(None)
        await feed.pool.close()


# -- pipelines of real processes ---------------------------------------------------------------------


def restart_same_port(start_service, service, env: dict[str, str]):
    """A killed `service` started again with its arguments, on the gRPC port it had (its peers dial that
    address); metrics on a fresh port."""
    cmd = list(service.proc.args)
    extra = cmd[cmd.index(service.module) + 1:]
    return start_service(service.module, [*extra, "--grpc-addr", service.grpc_addr], env)


async def health(addr: str, timeout: float = 2.0) -> int:
    """The overall health status of a service (no token: health is open), or -1 when it cannot answer."""
    async with aio.insecure_channel(addr) as channel:
        try:
            reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=timeout)
        except aio.AioRpcError:
            return -1
        return reply.status


SERVING = health_pb2.HealthCheckResponse.SERVING


async def until(predicate, timeout: float, step: float = 0.05):
    """Poll an async predicate until it returns something truthy; that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(step)


class ArbitrageDriver:
    """POST /admin/arbitrage round-robin over the venue's instances every `every_s`, until stopped."""

    def __init__(self, pipeline, instance_ids: list[str], every_s: float = 0.25, size: float = 10) -> None:
        self.pipeline = pipeline
        self.instance_ids = instance_ids
        self.every_s = every_s
        self.size = size
        self.injected = 0
        self.refused = 0
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        i = 0
        while True:
            instance_id = self.instance_ids[i % len(self.instance_ids)]
            i += 1
            body = {"instance_id": instance_id, "gap": 0.05, "size": self.size, "ttl_s": None}
            try:
                await asyncio.to_thread(self.pipeline.venue_post, "/admin/arbitrage", body)
                self.injected += 1
            except (urllib.error.URLError, OSError):
                self.refused += 1  # e.g. 409 when the legs cannot move further: try the next one
            await asyncio.sleep(self.every_s)

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class ResultFollower:
    """StreamTradeResults like the shell follows it: from the last seq it holds, reconnecting when the
    executor goes away. Keeps every result received, duplicates included, so a test can prove there were
    none."""

    def __init__(self, pipeline) -> None:
        self.pipeline = pipeline
        self.received: list[executor_pb2.TradeResult] = []
        self.reconnects = 0
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    @property
    def last_seq(self) -> int:
        return max((r.seq for r in self.received), default=0)

    async def _run(self) -> None:
        while True:
            try:
                async with self.pipeline.channel(self.pipeline.executor) as channel:
                    call = executor_pb2_grpc.ExecutorStub(channel).StreamTradeResults(
                        executor_pb2.StreamTradeResultsRequest(from_seq=self.last_seq))
                    async for result in call:
                        self.received.append(result)
                        self._changed.set()
            except aio.AioRpcError:
                pass
            self.reconnects += 1
            await asyncio.sleep(0.2)

    async def until(self, predicate: Callable[[list[executor_pb2.TradeResult]], bool], timeout: float) -> None:
        async def loop():
            while not predicate(self.received):
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(loop(), timeout)

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
