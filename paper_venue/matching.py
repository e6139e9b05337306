"""One order book per token: price levels of FIFO resting orders, and matching of FOK, FAK and GTC.

Pure: no I/O, no clock. Everything is an integer so that matching conserves shares exactly:
prices are micro-pUSD per share (`PRICE_SCALE` units = 1 pUSD) and sizes are share units of
1e-6 (outcome tokens have 6 decimals, polymarket-protocol.md 2.1). A tick of 0.0001 is 100 price
units, so every price on any Polymarket tick grid is an integer here.

Price-time priority: the best price first, then first in, first out within a level. A taker fills
at the resting order's price (price improvement goes to the taker). Liquidity the venue itself
provides (scenario ladders) is made of ordinary resting orders whose owner is the venue, so an
account's GTC order and the venue's quotes queue and match by the same rules.

Each token has its own book; a YES bid is not mirrored as a NO ask (no cross-token matching).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import IntEnum

PRICE_SCALE = 1_000_000  # price units per pUSD: 0.57 is 570_000
SHARE_SCALE = 1_000_000  # share units per share (6 decimals)

TIME_IN_FORCE = frozenset({"GTC", "GTD", "FOK", "FAK"})
RESTING_TIF = frozenset({"GTC", "GTD"})


class Side(IntEnum):
    """The side of an order; the ints are the V2 struct's uint8 (protocol 2.2). A BUY rests as a bid."""

    BUY = 0
    SELL = 1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


@dataclass(slots=True)
class Resting:
    """An order waiting in the book. `remaining` shrinks as it fills."""

    order_id: str
    owner: str
    side: Side
    price: int
    remaining: int


@dataclass(frozen=True, slots=True)
class Fill:
    """One match between the incoming (taker) order and one resting (maker) order, at the maker's price."""

    maker_order_id: str
    maker_owner: str
    price: int
    size: int
    maker_done: bool  # the maker order has nothing left


@dataclass(frozen=True, slots=True)
class LevelChange:
    """A price level's new aggregate size (0 = the level is gone), as `price_change` publishes it."""

    side: Side  # BUY: the bid side, SELL: the ask side (protocol 1.2)
    price: int
    size: int


@dataclass(frozen=True, slots=True)
class MatchResult:
    fills: tuple[Fill, ...]
    changes: tuple[LevelChange, ...]
    rested: int  # share units left resting in the book (GTC/GTD)
    killed: int  # share units neither filled nor rested (FOK/FAK remainder)

    @property
    def filled(self) -> int:
        return sum(f.size for f in self.fills)


class BookError(ValueError):
    """A request the book cannot take (a non-positive size or price, an unknown time in force)."""


class OrderBook:
    """Bids and asks of one token. Mutated only through its methods."""

    __slots__ = ("_index", "_levels")

    def __init__(self) -> None:
        self._levels: dict[Side, dict[int, deque[Resting]]] = {Side.BUY: {}, Side.SELL: {}}
        self._index: dict[str, Resting] = {}

    # -- reading ----------------------------------------------------------------------------------

    def best(self, side: Side) -> int | None:
        levels = self._levels[side]
        if not levels:
            return None
        return max(levels) if side is Side.BUY else min(levels)

    def best_bid(self) -> int | None:
        return self.best(Side.BUY)

    def best_ask(self) -> int | None:
        return self.best(Side.SELL)

    def level_size(self, side: Side, price: int) -> int:
        queue = self._levels[side].get(price)
        return sum(o.remaining for o in queue) if queue else 0

    def depth(self, side: Side) -> list[tuple[int, int]]:
        """(price, size) per level with the best level LAST: bids ascending, asks descending (protocol 1.2)."""
        levels = self._levels[side]
        prices = sorted(levels, reverse=side is Side.SELL)
        return [(p, sum(o.remaining for o in levels[p])) for p in prices]

    def sizes(self, side: Side) -> dict[int, int]:
        return {p: sum(o.remaining for o in q) for p, q in self._levels[side].items()}

    def get(self, order_id: str) -> Resting | None:
        return self._index.get(order_id)

    def orders(self) -> Iterator[Resting]:
        return iter(list(self._index.values()))

    def owner_sizes(self, owner: str, side: Side) -> dict[int, int]:
        """Size per price of one owner's resting orders on a side (the venue's own quotes)."""
        out: dict[int, int] = {}
        for price, queue in self._levels[side].items():
            size = sum(o.remaining for o in queue if o.owner == owner)
            if size:
                out[price] = size
        return out

    def available(self, side: Side, limit: int) -> int:
        """Share units an incoming order of `side` could take at `limit` or better."""
        book_side = side.opposite
        return sum(
            o.remaining
            for price, queue in self._levels[book_side].items()
            if _acceptable(side, price, limit)
            for o in queue
        )

    def crosses(self, side: Side, price: int) -> bool:
        """True when an order at this price would take liquidity (post-only must not)."""
        best = self.best(side.opposite)
        return best is not None and _acceptable(side, best, price)

    # -- matching ---------------------------------------------------------------------------------

    def match(self, order_id: str, owner: str, side: Side, price: int, size: int, tif: str) -> MatchResult:
        """Match an incoming order at limit `price` for `size` share units, then rest or kill the rest.

        FOK: all or nothing at the limit; FAK: fill what is there, kill the rest; GTC/GTD: fill,
        then rest the remainder at the limit price.
        """
        if tif not in TIME_IN_FORCE:
            raise BookError(f"unknown time in force {tif!r}")
        if size <= 0 or price <= 0:
            raise BookError(f"size and price must be positive, got size={size} price={price}")
        if order_id in self._index:
            raise BookError(f"order {order_id} is already resting")
        if tif == "FOK" and self.available(side, price) < size:
            return MatchResult((), (), 0, size)

        fills: list[Fill] = []
        touched: list[tuple[Side, int]] = []
        remaining = size
        book_side = self._levels[side.opposite]
        while remaining > 0:
            best = self.best(side.opposite)
            if best is None or not _acceptable(side, best, price):
                break
            queue = book_side[best]
            touched.append((side.opposite, best))
            while remaining > 0 and queue:
                maker = queue[0]
                take = min(remaining, maker.remaining)
                maker.remaining -= take
                remaining -= take
                done = maker.remaining == 0
                if done:
                    queue.popleft()
                    del self._index[maker.order_id]
                fills.append(Fill(maker.order_id, maker.owner, best, take, done))
            if not queue:
                del book_side[best]

        rested = killed = 0
        if remaining > 0:
            if tif in RESTING_TIF:
                self._add(Resting(order_id, owner, side, price, remaining))
                touched.append((side, price))
                rested = remaining
            else:
                killed = remaining
        changes = tuple(LevelChange(s, p, self.level_size(s, p)) for s, p in touched)
        return MatchResult(tuple(fills), changes, rested, killed)

    def cancel(self, order_id: str) -> tuple[Resting, LevelChange] | None:
        """Remove a resting order; None when it is not in the book."""
        order = self._index.pop(order_id, None)
        if order is None:
            return None
        queue = self._levels[order.side][order.price]
        queue.remove(order)
        if not queue:
            del self._levels[order.side][order.price]
        return order, LevelChange(order.side, order.price, self.level_size(order.side, order.price))

    def reduce(self, owner: str, side: Side, price: int, amount: int) -> list[Resting]:
        """Take `amount` share units off one owner's orders at a level, newest first; return emptied orders."""
        queue = self._levels[side].get(price)
        emptied: list[Resting] = []
        if not queue:
            return emptied
        for order in reversed(list(queue)):
            if amount <= 0:
                break
            if order.owner != owner:
                continue
            take = min(amount, order.remaining)
            order.remaining -= take
            amount -= take
            if order.remaining == 0:
                queue.remove(order)
                del self._index[order.order_id]
                emptied.append(order)
        if not queue:
            del self._levels[side][price]
        return emptied

    def clear(self) -> list[Resting]:
        """Empty the book (market resolved); return what was resting."""
        gone = list(self._index.values())
        self._levels = {Side.BUY: {}, Side.SELL: {}}
        self._index = {}
        return gone

    def _add(self, order: Resting) -> None:
        self._levels[order.side].setdefault(order.price, deque()).append(order)
        self._index[order.order_id] = order


def _acceptable(side: Side, resting_price: int, limit: int) -> bool:
    """A BUY takes asks at or below its limit; a SELL takes bids at or above it."""
    return resting_price <= limit if side is Side.BUY else resting_price >= limit


def diff_levels(before: Mapping[int, int], after: Mapping[int, int], side: Side) -> list[LevelChange]:
    """Level changes between two snapshots of one side (for operations that touch many levels)."""
    out = []
    for price in sorted(set(before) | set(after)):
        old, new = before.get(price, 0), after.get(price, 0)
        if old != new:
            out.append(LevelChange(side, price, new))
    return out
