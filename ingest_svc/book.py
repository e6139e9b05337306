"""L2 books per token and their top of book (CONTRACT.md, ingest.proto ``TopOfBook``).

Usage from the stream shell::

    books = Books()
    books.add(token_id)                              # on subscribe: stale, zeros, tick 0
    changed, errors = books.apply_events(events)     # events from parse.make_parser(...)(frame)
    for token_id in changed: send(books.top_of_book(token_id))
    books.mark_stale(token_ids_of_the_lost_connection)

Rules (venue facts from polymarket-protocol.md §1.2):

- ``book`` replaces the book; a level update carries the new absolute size, size 0 removes it.
  Resent ``price_change`` entries (same hash) are therefore harmless and need no dedupe here.
- The top of book follows each update without scanning the book: each side keeps its best price,
  and a lazy heap finds the next best when the best level goes (O(log n) amortised).
- Crossed or locked books are reported as they are; nothing here assumes bid < ask.
- ``stale`` is true until the first snapshot, after a ``tick_size_change`` (the venue re-rounds the
  book; NautilusTrader drops its book until the next snapshot) and after ``mark_stale``; only a
  snapshot clears it. Level updates are still applied while stale: the snapshot replaces them.
- A snapshot older than the last update a fresh book applied arrived out of order: applying it would
  take the book back in time, keeping the book would trust updates the venue's own snapshot contradicts.
  Neither is safe, so the book turns stale (unchanged otherwise) and the shell asks for a fresh
  snapshot; a stale book takes the next snapshot whatever its timestamp, so a venue with an odd clock
  cannot keep a book stale for ever.
"""

from heapq import heapify, heappop, heappush
from operator import neg
from typing import NamedTuple

from ingest_svc.parse import BookSnapshot, Event, ParseError, PriceChange, TickSizeChange


class TopOfBook(NamedTuple):
    """Field for field ``ingest_pb2.TopOfBook`` (feed._message makes the one from the other)."""

    token_id: str
    bid_price: float  # 0 and 0 when the book has no bids
    bid_size: float
    ask_price: float  # 0 and 0 when the book has no asks
    ask_size: float
    stale: bool
    tick_size: float  # 0 while unknown
    venue_ts_ms: int  # the timestamp of the last frame that touched the book


# The lazy heap keeps prices whose level has gone until they reach the top; rebuild it when it
# holds this many more entries than there are levels.
_HEAP_SLACK = 64


class Ladder:
    """One side of a book: price → size, plus the best price (highest bid or lowest ask)."""

    __slots__ = ("_heap", "_sign", "best", "levels")

    def __init__(self, sign: float) -> None:
        self._sign = sign  # -1.0 for bids (heapq is a min-heap), +1.0 for asks
        self.levels: dict[float, float] = {}
        self._heap: list[float] = []  # sign * price for every level, plus some gone ones
        self.best: float | None = None

    def replace(self, levels: list[tuple[float, float]]) -> None:
        self.levels = book = dict(levels)  # dict() and map() run in C: a 30-level side in ~1 µs
        if 0.0 in book.values():  # a zero size means no level (sizes are validated ≥ 0)
            self.levels = book = {price: size for price, size in levels if size > 0.0}
        self._heap = heap = list(map(neg, book)) if self._sign < 0.0 else list(book)
        heapify(heap)
        self.best = self._sign * heap[0] if heap else None

    def set(self, price: float, size: float) -> bool:
        """Set the absolute size at ``price`` (0 removes it); True when this side's top changed."""
        levels = self.levels
        old = levels.get(price)
        best = self.best
        if size > 0.0:
            levels[price] = size
            if old is None:
                self._push(price)
            if best is None or self._sign * price < self._sign * best:
                self.best = price
                return True
            return price == best and size != old
        if old is None:
            return False
        del levels[price]
        if price != best:
            return False
        self.best = self._next_best()
        return True

    def best_size(self) -> float:
        return 0.0 if self.best is None else self.levels[self.best]

    def _push(self, price: float) -> None:
        heap = self._heap
        heappush(heap, self._sign * price)
        if len(heap) > 2 * len(self.levels) + _HEAP_SLACK:
            sign = self._sign
            self._heap = heap = [sign * p for p in self.levels]
            heapify(heap)

    def _next_best(self) -> float | None:
        heap, levels, sign = self._heap, self.levels, self._sign
        while heap:
            price = sign * heap[0]
            if price in levels:
                return price
            heappop(heap)
        return None


class Book:
    __slots__ = ("asks", "bids", "stale", "tick_size", "venue_ts_ms")

    def __init__(self) -> None:
        self.bids = Ladder(-1.0)
        self.asks = Ladder(1.0)
        self.stale = True  # until the first snapshot
        self.tick_size = 0.0  # unknown
        self.venue_ts_ms = 0

    def top_key(self) -> tuple:
        """What a subscriber sees change: everything in TopOfBook but the token and timestamp."""
        return (self.bids.best, self.bids.best_size(), self.asks.best, self.asks.best_size(), self.stale,
                self.tick_size)


class Books:
    """The books of the subscribed tokens. Events for other tokens are reported, not applied."""

    def __init__(self) -> None:
        self._books: dict[str, Book] = {}
        self._apply_by_type = {
            PriceChange: self._apply_level,
            BookSnapshot: self._apply_snapshot,
            TickSizeChange: self._apply_tick_size,
        }

    def add(self, token_id: str) -> bool:
        """Start tracking a token (stale, no levels); False if it was already tracked."""
        if token_id in self._books:
            return False
        self._books[token_id] = Book()
        return True

    def remove(self, token_id: str) -> bool:
        return self._books.pop(token_id, None) is not None

    def __contains__(self, token_id: str) -> bool:
        return token_id in self._books

    def __len__(self) -> int:
        return len(self._books)

    def token_ids(self) -> list[str]:
        return list(self._books)

    def stale_count(self) -> int:
        """For the ``polyarb_book_stale_tokens`` gauge."""
        return sum(1 for book in self._books.values() if book.stale)

    def book(self, token_id: str) -> Book:
        return self._books[token_id]

    def apply(self, event: Event) -> str | ParseError | None:
        """Apply one event. Returns the token id whose top of book changed, None when no top
        changed (or the event is not about a book), or ParseError("unknown_token") when the
        event is for a token that is not tracked (it is skipped)."""
        apply = self._apply_by_type.get(type(event))
        if apply is None:
            return None  # trades, best_bid_ask, market announcements, pongs
        book = self._books.get(event.asset_id)
        if book is None:
            return ParseError("unknown_token", type(event).__name__, event.asset_id[:80])
        return event.asset_id if apply(book, event) else None

    def apply_events(self, events: list[Event]) -> tuple[list[str], list[ParseError]]:
        """Apply a frame's events in order. Returns the tokens whose top of book changed at some
        point in the frame (each once, first-change order) and the unknown_token errors."""
        changed: list[str] = []
        errors: list[ParseError] = []
        apply = self.apply
        for event in events:
            outcome = apply(event)
            if outcome is None:
                continue
            if type(outcome) is str:
                if outcome not in changed:  # frames touch one or two tokens: a list beats a set
                    changed.append(outcome)
            else:
                errors.append(outcome)
        return changed, errors

    def mark_stale(self, token_ids: list[str] | None = None) -> list[str]:
        """The connection carrying these tokens (default: all) was lost; their books may miss
        updates until the next snapshot. Returns the tokens that were not stale yet."""
        changed = []
        for token_id in self._books if token_ids is None else token_ids:
            book = self._books.get(token_id)
            if book is not None and not book.stale:
                book.stale = True
                changed.append(token_id)
        return changed

    def top_of_book(self, token_id: str) -> TopOfBook:
        """KeyError for a token that is not tracked."""
        book = self._books[token_id]
        bids, asks = book.bids, book.asks
        return TopOfBook(
            token_id,
            bids.best or 0.0, bids.best_size(),
            asks.best or 0.0, asks.best_size(),
            book.stale, book.tick_size, book.venue_ts_ms,
        )

    # -- one function per event type; each returns True when the top of book changed ----------

    @staticmethod
    def _apply_level(book: Book, change: PriceChange) -> bool:
        book.venue_ts_ms = change.timestamp_ms
        ladder = book.bids if change.side == "BUY" else book.asks
        return ladder.set(change.price, change.size)

    @staticmethod
    def _apply_snapshot(book: Book, snapshot: BookSnapshot) -> bool:
        if snapshot.timestamp_ms < book.venue_ts_ms and not book.stale:
            book.stale = True  # out of order: not applied, stale until a fresh snapshot (module doc)
            return True
        before = book.top_key()
        book.bids.replace(snapshot.bids)
        book.asks.replace(snapshot.asks)
        book.stale = False
        if snapshot.tick_size is not None:
            book.tick_size = snapshot.tick_size
        book.venue_ts_ms = snapshot.timestamp_ms
        return book.top_key() != before

    @staticmethod
    def _apply_tick_size(book: Book, change: TickSizeChange) -> bool:
        # Stale even when the tick is unchanged: cheap, and only a snapshot proves the book right.
        before = book.top_key()
        book.tick_size = change.new_tick_size
        book.stale = True
        book.venue_ts_ms = change.timestamp_ms
        return book.top_key() != before
