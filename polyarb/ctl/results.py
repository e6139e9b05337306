"""Reading the executor's trade results: up to a known seq and stop, or follow across reconnects.

The journal answers `StreamTradeResults(from_seq)` with every result after `from_seq`, then live
ones. So a reader that remembers the last seq it printed can reconnect after any failure, ask again
from there, and neither skip nor repeat a result; `Cursor` is that memory, and it also drops
anything at or below it in case a server ever replays.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import grpc

from polyarb.v1 import executor_pb2

__all__ = ["FATAL_CODES", "Cursor", "ResultsStalled", "backoff", "follow", "read_until"]

# Retrying these cannot help: the operator has to change something first.
FATAL_CODES = frozenset(
    {
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.UNIMPLEMENTED,
    }
)
# A stream that stayed up this long was healthy: the next failure starts the backoff over.
HEALTHY_AFTER_S = 10.0

OpenStream = Callable[[int], AsyncIterator[executor_pb2.TradeResult]]  # from_seq → results after it


class ResultsStalled(Exception):
    """The stream went quiet before reaching the seq the journal reported."""


class Cursor:
    """The last seq printed: where a reconnect resumes, and the line nothing at or below is printed again."""

    def __init__(self, after_seq: int) -> None:
        self.last_seq = after_seq

    def admit(self, result: executor_pb2.TradeResult) -> bool:
        if result.seq <= self.last_seq:
            return False
        self.last_seq = result.seq
        return True


def backoff(initial_s: float = 0.25, cap_s: float = 5.0) -> Iterator[float]:
    """0.25, 0.5, 1, 2, 4, 5, 5, ... seconds."""
    delay = initial_s
    while True:
        yield delay
        delay = min(cap_s, delay * 2)


async def read_until(
    open_stream: OpenStream,
    cursor: Cursor,
    until_seq: int,
    emit: Callable[[executor_pb2.TradeResult], None],
    idle_timeout_s: float,
) -> None:
    """Emit results after the cursor up to `until_seq` (the journal's last seq when asked), then stop."""
    if until_seq <= cursor.last_seq:
        return
    async with contextlib.aclosing(open_stream(cursor.last_seq)) as stream:
        results = aiter(stream)
        while cursor.last_seq < until_seq:
            try:
                result = await asyncio.wait_for(anext(results), idle_timeout_s)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise ResultsStalled(
                    f"no result for {idle_timeout_s:g}s after seq {cursor.last_seq} (journal is at {until_seq})"
                ) from None
            if cursor.admit(result):
                emit(result)


async def follow(
    open_stream: OpenStream,
    cursor: Cursor,
    emit: Callable[[executor_pb2.TradeResult], None],
    report: Callable[[str], None],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
    delays: Callable[[], Iterator[float]] = backoff,
) -> None:
    """Emit results after the cursor forever, reconnecting with backoff; FATAL_CODES end it (raised)."""
    pending = delays()
    while True:
        started = clock()
        received = False
        try:
            async with contextlib.aclosing(open_stream(cursor.last_seq)) as stream:
                async for result in stream:
                    received = True
                    if cursor.admit(result):
                        emit(result)
            reason = "the stream ended"
        except grpc.aio.AioRpcError as exc:
            if exc.code() in FATAL_CODES:
                raise
            reason = f"{exc.code().name}: {exc.details()}"
        if received or clock() - started >= HEALTHY_AFTER_S:
            pending = delays()
        delay = next(pending)
        report(f"results stream lost ({reason}); reconnecting in {delay:g}s, resuming after seq {cursor.last_seq}")
        await sleep(delay)
