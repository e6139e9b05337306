"""Frames → books → streams: what ingest does with each WebSocket frame, and with each subscription.

The one place where the pure parts (parse, book, stream) meet the pool's events. Per frame: parse,
apply to the books, turn the tokens whose top of book changed into TopOfBook messages once, and
offer them to every stream as one batch. No logging on this path below debug.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterable

from ingest_svc import metrics
from ingest_svc.book import Books, TopOfBook
from ingest_svc.parse import BookSnapshot, MarketResolved, TickSizeChange, make_parser
from ingest_svc.record import FrameWriter
from ingest_svc.stream import Hub, Subscriber
from ingest_svc.ws_pool import Pool
from polyarb.v1 import ingest_pb2

log = logging.getLogger("ingest.feed")


def _message(top: TopOfBook) -> ingest_pb2.TopOfBook:
    """book.TopOfBook → the wire message, field for field (keywords: no dict per update, as _asdict makes)."""
    token_id, bid_price, bid_size, ask_price, ask_size, stale, tick_size, venue_ts_ms = top
    return ingest_pb2.TopOfBook(token_id=token_id, bid_price=bid_price, bid_size=bid_size, ask_price=ask_price,
                                ask_size=ask_size, stale=stale, tick_size=tick_size, venue_ts_ms=venue_ts_ms)


class MarketFeed:
    """Implements ws_pool.PoolListener; owns the books, the hub of streams and the pool."""

    def __init__(
        self,
        ws_url: str,
        tokens_per_connection: int,
        ping_interval_s: float,
        stale_after_s: float,
        parser_backend: str = "simdjson",
        recorder: FrameWriter | None = None,
    ) -> None:
        self.books = Books()
        self.hub = Hub()
        self.parse = make_parser(parser_backend)
        self.recorder = recorder
        self.pool = Pool(ws_url, self, tokens_per_connection, ping_interval_s, stale_after_s)
        self.pool.on_reconnect_hook = lambda _conn, _reason: metrics.WS_RECONNECTS.inc()
        self.frames = 0
        self.last_frame_monotonic = 0.0
        self._rate_samples: deque[tuple[float, int]] = deque(maxlen=11)

    # -- PoolListener ------------------------------------------------------------------------------

    def on_frame(self, conn_id: int, data: bytes | str, recv_ns: int) -> None:
        self.frames += 1
        self.last_frame_monotonic = time.monotonic()
        metrics.WS_MESSAGES.inc()
        if self.recorder is not None:
            self.recorder.write(recv_ns, data)
        events, errors = self.parse(data)
        changed, unknown = self.books.apply_events(events)
        for error in (*errors, *unknown):
            metrics.PARSE_ERRORS.labels(error.kind).inc()
            if log.isEnabledFor(logging.DEBUG):
                log.debug("skipped", extra={"kind": error.kind, "detail": error.detail, "sample": error.sample})
        for event in events:
            kind = type(event)
            if kind is TickSizeChange and event.asset_id in self.books:
                # stale until a new snapshot, which the venue only sends on (re)subscribe or after a trade
                self.pool.resubscribe_soon(event.asset_id)
            elif kind is BookSnapshot and event.asset_id in self.books and self.books.book(event.asset_id).stale:
                # a snapshot that left its book stale came out of order (book.py): ask for a fresh one
                self.pool.resubscribe_soon(event.asset_id)
            elif kind is MarketResolved:
                # a resolved market trades no more: its books are never fresh again
                resolved = [t for t in event.assets_ids if t in self.books]
                changed.extend(t for t in self.books.mark_stale(resolved) if t not in changed)
        if changed:
            self._publish(recv_ns, changed)

    def on_connection_lost(self, conn_id: int, tokens: frozenset[str], reason: str) -> None:
        log.warning("market connection lost: its tokens are stale", extra={"conn": conn_id, "tokens": len(tokens),
                                                                           "reason": reason})
        changed = self.books.mark_stale(list(tokens))
        if changed:
            self._publish(time.time_ns(), changed)

    def on_connected(self, conn_id: int) -> None:
        log.info("market connection open", extra={"conn": conn_id})

    # -- streams -----------------------------------------------------------------------------------

    def _publish(self, recv_ns: int, token_ids: Iterable[str]) -> None:
        top_of_book = self.books.top_of_book
        updates = [_message(top_of_book(t)) for t in token_ids]
        metrics.TOB_UPDATES.inc(len(updates))
        conflated = self.hub.publish(recv_ns, updates)
        if conflated:
            metrics.CONFLATED.inc(conflated)

    async def change_subscription(self, sub: Subscriber, add: Iterable[str], remove: Iterable[str]) -> None:
        """One BookSubscription from a stream: answer the added tokens' current state first, then
        subscribe on the venue what nobody had and unsubscribe what nobody needs any more."""
        add, remove = [t for t in add if t], [t for t in remove if t]
        first, last = self.hub.change(sub, add, remove)
        for token in first:
            self.books.add(token)
        # snapshot-first: stale with zeros for a token that never had a snapshot (CONTRACT.md)
        known = [_message(self.books.top_of_book(t)) for t in add if t in self.books]
        if known:
            sub.offer(time.time_ns(), known, snapshot=True)
        for token in last:
            self.books.remove(token)
        if first or last:
            await self.pool.update(first, last)

    async def drop_stream(self, sub: Subscriber) -> None:
        last = self.hub.detach(sub)
        for token in last:
            self.books.remove(token)
        if last:
            await self.pool.update((), last)

    # -- status ------------------------------------------------------------------------------------

    def sample(self) -> None:
        """Once a second: refresh gauges and the frame-rate window."""
        now = time.monotonic()
        self._rate_samples.append((now, self.frames))
        metrics.WS_CONNECTIONS.set(self.pool.open_connections())
        metrics.STALE_TOKENS.set(self.books.stale_count())
        metrics.BOOK_TOKENS.set(len(self.books))
        if self.last_frame_monotonic:
            metrics.LAST_MESSAGE_AGE.set(now - self.last_frame_monotonic)

    def messages_per_s(self) -> float:
        if len(self._rate_samples) < 2:
            return 0.0
        (t0, n0), (t1, n1) = self._rate_samples[0], self._rate_samples[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0

    def last_frame_age_s(self) -> float:
        return time.monotonic() - self.last_frame_monotonic if self.last_frame_monotonic else -1.0
