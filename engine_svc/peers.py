"""The engine's two outbound streams, each reconnecting with backoff when its peer restarts.

IngestLink: StreamTopOfBook. On every (re)connect it asks for the whole token set of the running
structure; a structure swap sends only the difference on the open stream. While ingest is away every
token counts as stale.

ExecutorLink: ExecuteSignals. Signals found while the executor is away are dropped (never queued:
they would be stale by the time it is back) and their instances freed. It also polls the executor's
status, so sizing and unbundles follow the executor's balance, and instances whose batch has an
unknown outcome stay held until the executor settles it (read first thing on every connect, so a
restarted engine never trades such an instance either).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from grpc import aio

from engine_svc import metrics
from engine_svc.pipeline import Pipeline
from polyarb.runtime import auth
from polyarb.runtime.metrics import ErrorCounter
from polyarb.runtime.tls import ClientTLS
from polyarb.v1 import executor_pb2, executor_pb2_grpc, ingest_pb2, ingest_pb2_grpc

log = logging.getLogger("engine.peers")
errors = ErrorCounter("engine")

BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 10.0
STATUS_POLL_S = 1.0


def backoff_delay(attempt: int, rng: random.Random) -> float:
    return min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** attempt) * (1.0 + 0.2 * rng.random())


class _Link(abc.ABC):
    """A stream to one peer: a task that connects, runs one stream until it breaks, backs off, repeats."""

    name = "peer"

    def __init__(self, address: str, token: str | None, tls: ClientTLS | None = None) -> None:
        self.address = address
        self.token = token
        self.tls = tls
        self.connected = False
        self.reconnects = 0
        self.last_error = ""
        self._task: asyncio.Task | None = None
        self._rng = random.Random()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"link-{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _set_connected(self, value: bool) -> None:
        self.connected = value
        metrics.PEER_CONNECTED.labels(self.name).set(1 if value else 0)

    async def _run(self) -> None:
        attempt = 0
        while True:
            started = time.monotonic()
            try:
                async with auth.channel(self.address, self.token, self.tls) as channel:
                    await self._stream(channel)
                self.last_error = "stream ended"
            except asyncio.CancelledError:
                raise
            except aio.AioRpcError as exc:
                self.last_error = f"{exc.code().name}: {exc.details()}"[:200]
            except Exception as exc:  # a bug must not end the link: count it, log it, reconnect
                self.last_error = repr(exc)[:200]
                errors(f"{self.name}_link", "peer stream failed", level=logging.ERROR, error=self.last_error)
            finally:
                if self.connected:
                    self._set_connected(False)
                    self._lost()
            if time.monotonic() - started > 5.0:
                attempt = 0  # it ran for a while: start the backoff over
            self.reconnects += 1
            log.info("peer stream down, reconnecting", extra={"peer": self.name, "error": self.last_error})
            await asyncio.sleep(backoff_delay(attempt, self._rng))
            attempt = min(attempt + 1, 8)

    @abc.abstractmethod
    async def _stream(self, channel: aio.Channel) -> None:
        """Run one stream on a fresh channel until it breaks."""

    def _lost(self) -> None:  # noqa: B027 - an optional hook: not every link has state to drop
        """Called once when a connected stream breaks."""


class IngestLink(_Link):
    name = "ingest"

    def __init__(self, address: str, token: str | None, pipeline: Pipeline,
                 send_signals: Callable[[list[executor_pb2.Signal]], Awaitable[None]],
                 tls: ClientTLS | None = None) -> None:
        super().__init__(address, token, tls)
        self.pipeline = pipeline
        self.send_signals = send_signals
        self._requests: asyncio.Queue[ingest_pb2.BookSubscription] | None = None

    def change(self, added: tuple[str, ...], removed: tuple[str, ...]) -> None:
        """A structure swap: the difference goes on the open stream (a reconnect sends the whole set)."""
        if self._requests is not None and (added or removed):
            self._requests.put_nowait(ingest_pb2.BookSubscription(add_token_ids=added, remove_token_ids=removed,
                                                                  coalesce=True))

    async def _stream(self, channel: aio.Channel) -> None:
        requests: asyncio.Queue[ingest_pb2.BookSubscription] = asyncio.Queue()
        # coalesce: frames that queue up while the stream is busy come as one batch (the engine evaluates
        # the state a batch leaves, so it loses nothing, and one gRPC message costs more than its updates)
        requests.put_nowait(ingest_pb2.BookSubscription(add_token_ids=sorted(self.pipeline.structure.tokens),
                                                        coalesce=True))
        self._requests = requests

        async def request_stream() -> AsyncIterator[ingest_pb2.BookSubscription]:
            while True:
                yield await requests.get()

        call = ingest_pb2_grpc.IngestStub(channel).StreamTopOfBook(request_stream())
        try:
            await call.wait_for_connection()
            self._set_connected(True)
            on_batch = self.pipeline.on_batch
            send = self.send_signals
            async for batch in call:
                signals = on_batch(batch, time.time_ns())
                if signals:
                    await send(signals)  # written on the executor stream before the next frame is read
        finally:
            self._requests = None
            call.cancel()

    def _lost(self) -> None:
        self.pipeline.ingest_lost()


class ExecutorLink(_Link):
    name = "executor"

    def __init__(self, address: str, token: str | None, pipeline: Pipeline, tls: ClientTLS | None = None) -> None:
        super().__init__(address, token, tls)
        self.pipeline = pipeline
        self._call: aio.StreamStreamCall | None = None
        self._write_lock = asyncio.Lock()  # one write in flight on the stream

    async def send(self, signals: list[executor_pb2.Signal]) -> None:
        """Write signals straight onto the open stream (call.write: no queue, no request generator between
        the evaluation and the socket). Those that cannot be written never left: their instances are freed."""
        if not signals:
            return
        call = self._call
        if call is None or not self.connected:
            self.pipeline.not_sent(signals)
            return
        async with self._write_lock:
            for i, signal in enumerate(signals):
                try:
                    await call.write(signal)
                except Exception as exc:  # the stream broke under the write: the rest never left
                    errors("executor_link", "signal not written: the executor stream is down", error=repr(exc)[:200])
                    self.pipeline.not_sent(signals[i:])
                    return

    async def _stream(self, channel: aio.Channel) -> None:
        stub = executor_pb2_grpc.ExecutorStub(channel)
        status = await stub.GetStatus(executor_pb2.GetExecutorStatusRequest(), timeout=5)
        call = stub.ExecuteSignals()
        poller = asyncio.create_task(self._poll_status(stub))
        self._call = call
        self._set_connected(True)
        await self.send(self.pipeline.set_executor_holds(status, connecting=True))
        await self.send(self.pipeline.set_balance(status.balance))
        try:
            on_ack = self.pipeline.on_ack
            send = self.send
            async for ack in call:
                signals = on_ack(ack)
                if signals:
                    await send(signals)
        finally:
            self._call = None
            poller.cancel()
            call.cancel()

    async def _poll_status(self, stub: executor_pb2_grpc.ExecutorStub) -> None:
        while True:
            await asyncio.sleep(STATUS_POLL_S)
            try:
                status = await stub.GetStatus(executor_pb2.GetExecutorStatusRequest(), timeout=2)
            except aio.AioRpcError as exc:
                errors("executor_status", "executor status poll failed", error=exc.code().name)
                continue
            await self.send(self.pipeline.set_executor_holds(status))
            await self.send(self.pipeline.set_balance(status.balance))

    def _lost(self) -> None:
        # acks for signals sent on the old stream will not come: their instances wait out the in-flight timeout
        self.pipeline.forget_pending()
