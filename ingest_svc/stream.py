"""StreamTopOfBook fan-out: subscriptions reference-counted across streams, snapshot-first answers,
one batch per WebSocket frame, and conflation for a consumer that reads slowly.

A stream that asks for it (BookSubscription.coalesce, as the engine does) gets the frames that
queued up while it was writing as one message: every frame is applied whole and in order, the latest
top of book per token wins, and the batch stands for the state after the newest of them (its
ws_recv_ns). A gRPC message costs far more than its updates, so under load this turns N messages into
one; at a low rate nothing queues and each frame is its own batch. Other streams (a recorder, the
shell's market data) keep one batch per frame.

A subscriber's queue holds at most `max_batches` batches. When it is full, a new frame's updates are
merged into the newest queued batch (latest top of book per token wins, each overwrite counted), so a
slow consumer costs bounded memory and still ends up with the current state of every token.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import Iterable

from polyarb.v1 import ingest_pb2

DEFAULT_MAX_BATCHES = 256


class _Pending:
    __slots__ = ("recv_ns", "snapshot", "updates")

    def __init__(self, recv_ns: int, snapshot: bool, updates: dict[str, ingest_pb2.TopOfBook]) -> None:
        self.recv_ns = recv_ns
        self.snapshot = snapshot
        self.updates = updates


class Subscriber:
    """One open StreamTopOfBook stream: the tokens it asked for and what it has yet to read."""

    def __init__(self, max_batches: int = DEFAULT_MAX_BATCHES) -> None:
        self.tokens: set[str] = set()
        self.max_batches = max_batches
        self.conflated = 0
        self.coalesce = False  # BookSubscription.coalesce: queued frames may go as one batch
        self.coalesced = 0  # frames sent in the same message as an earlier one
        self._queue: deque[_Pending] = deque()
        self._wake = asyncio.Event()
        self._seq = 0
        self._closed_reason: str | None = None

    def offer(self, recv_ns: int, updates: Iterable[ingest_pb2.TopOfBook], snapshot: bool = False) -> int:
        """Queue this frame's updates for the tokens this stream wants; return how many were conflated."""
        wanted = {u.token_id: u for u in updates if u.token_id in self.tokens}
        if not wanted:
            return 0
        conflated = 0
        if len(self._queue) >= self.max_batches:
            newest = self._queue[-1]
            for token_id, update in wanted.items():
                if token_id in newest.updates:
                    conflated += 1
                newest.updates[token_id] = update
            newest.recv_ns = recv_ns
            newest.snapshot = newest.snapshot and snapshot
            self.conflated += conflated
        else:
            self._queue.append(_Pending(recv_ns, snapshot, wanted))
        self._wake.set()
        return conflated

    def close(self, reason: str) -> None:
        self._closed_reason = reason
        self._wake.set()

    @property
    def queued(self) -> int:
        return len(self._queue)

    async def next_batch(self) -> ingest_pb2.TopOfBookBatch | None:
        """The next batch to send, waiting if there is none; None once the subscriber is closed."""
        while not self._queue:
            if self._closed_reason is not None:
                return None
            self._wake.clear()
            await self._wake.wait()
        queue = self._queue
        pending = queue.popleft()
        updates, recv_ns, snapshot = pending.updates, pending.recv_ns, pending.snapshot
        if queue and self.coalesce:
            updates = dict(updates)  # frames queued behind it: one message for all, latest per token wins
            while queue:
                later = queue.popleft()
                updates.update(later.updates)
                recv_ns = later.recv_ns
                snapshot = snapshot and later.snapshot
                self.coalesced += 1
        self._seq += 1
        return ingest_pb2.TopOfBookBatch(
            updates=updates.values(),
            ws_recv_ns=recv_ns,
            sent_ns=time.time_ns(),
            seq=self._seq,
            snapshot=snapshot,
        )


class Hub:
    """Every open stream, and how many of them want each token."""

    def __init__(self) -> None:
        self.subscribers: set[Subscriber] = set()
        self.refcount: Counter[str] = Counter()

    def attach(self, max_batches: int = DEFAULT_MAX_BATCHES) -> Subscriber:
        sub = Subscriber(max_batches)
        self.subscribers.add(sub)
        return sub

    def change(self, sub: Subscriber, add: Iterable[str], remove: Iterable[str]) -> tuple[list[str], list[str]]:
        """Apply one BookSubscription; return (tokens nobody wanted before, tokens nobody wants now)."""
        first, last = [], []
        for token in remove:
            if token in sub.tokens:
                sub.tokens.discard(token)
                self.refcount[token] -= 1
                if self.refcount[token] <= 0:
                    del self.refcount[token]
                    last.append(token)
        for token in add:
            if token and token not in sub.tokens:
                sub.tokens.add(token)
                self.refcount[token] += 1
                if self.refcount[token] == 1:
                    first.append(token)
        return first, last

    def detach(self, sub: Subscriber) -> list[str]:
        """Forget a stream; return the tokens nobody wants any more."""
        self.subscribers.discard(sub)
        _, last = self.change(sub, (), list(sub.tokens))
        sub.close("detached")
        return last

    def publish(self, recv_ns: int, updates: list[ingest_pb2.TopOfBook]) -> int:
        """Offer one frame's changed tops of book to every stream; return the conflation count."""
        conflated = 0
        for sub in self.subscribers:
            conflated += sub.offer(recv_ns, updates)
        return conflated
