"""The paper venue's state: markets, one book per token, accounts, the order registry and counters.

Pure: no sockets and no clock (times are arguments). Every operation returns what changed as typed
events (`BookChanged`, `Traded`, `SnapshotDue`, `TickChanged`, `Resolved`), which the WebSocket
shell turns into Polymarket frames. Order flow for a posted order (protocol 2.5):
parse → the token's market → count the post under its hash → duplicate? → owner/signer match the
API key → EIP-712 signer and amounts (orders.verify) → size minimum → marketable BUY minimum → free
balance → post-only check → match → settle fills → rest the remainder (GTC/GTD) with its collateral or shares held back.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from paper_venue import accounts as acct
from paper_venue import orders
from paper_venue.accounts import VENUE, Accounts, BalanceError
from paper_venue.matching import PRICE_SCALE, SHARE_SCALE, LevelChange, MatchResult, OrderBook, Side, diff_levels
from paper_venue.orders import OrderRejected, VerifiedOrder
from paper_venue.wire import decimal_text

# Error texts of the real CLOB where known (docs.polymarket.com create-order / error-codes pages).
ERR_DUPLICATE = "order {order_id} is invalid. Duplicated. Same order has already been placed, can't be placed again"
ERR_FOK = "order couldn't be fully filled. FOK orders are fully filled or killed."
ERR_FAK = "no orders found to match with FAK order. FAK orders are partially filled or killed if no match is found."
ERR_MIN_SIZE = "order {order_id} is invalid. Size ({size}) lower than the minimum: {minimum}"
ERR_OWNER = "the order owner has to be the same as the API KEY"
ERR_SIGNER = "order signer address has to be the address of the API KEY"
ERR_CROSSES = "invalid post-only order: order crosses book"
ERR_NO_MARKET = "Invalid token id"
ERR_CLOSED = "market {market} is closed: it has been resolved"
ERR_EXPIRATION = "invalid expiration"
# A marketable BUY (FOK/FAK, or a limit BUY that crosses the book) must spend at least $1, its pUSD side
# (makerAmount) counted; resting orders have only the share minimum. The text as clients quote it
# (NautilusTrader docs/integrations/polymarket.md, its issue 3874; third-party bot notes quote
# "invalid amount for a marketable BUY order ($0.9982), min size: $1").
ERR_MARKETABLE_MIN = "invalid amount for a marketable BUY order (${amount}), min size: $1"
MARKETABLE_BUY_MIN_UNITS = 1_000_000  # $1 in pUSD units
GTD_SAFETY_S = 60


@dataclass(frozen=True, slots=True)
class Market:
    """A binary market (one condition, two outcome tokens) as the venue knows it."""

    condition_id: str
    yes_token_id: str
    no_token_id: str
    tick_size: str = "0.01"  # decimal text, a key of PCC2's ROUNDING_CONFIG
    min_order_size: float = 5.0
    neg_risk: bool | None = False  # None: unknown (markets learnt from a replayed recording)
    fee_rate_bps: float = 0.0
    question: str = ""
    resolved: bool = False

    @property
    def tokens(self) -> tuple[str, str]:
        return self.yes_token_id, self.no_token_id

    def outcome(self, token_id: str) -> str:
        return "Yes" if token_id == self.yes_token_id else "No"

    def rules(self) -> orders.MarketRules:
        return orders.MarketRules(self.tick_size, self.neg_risk)


# -- events -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BookChanged:
    market: str
    token_id: str
    changes: tuple[LevelChange, ...]
    best_bid: int | None
    best_ask: int | None


@dataclass(frozen=True, slots=True)
class Traded:
    market: str
    token_id: str
    price: int
    size: int
    taker_side: Side
    fee_rate_bps: float
    trade_id: str
    transaction_hash: str


@dataclass(frozen=True, slots=True)
class SnapshotDue:
    """Send a fresh `book` for this token: after a trade (docs: "when there is a trade that affects
    the book", protocol 1.2) and after a tick size change, so clients can trust their book again."""

    token_id: str


@dataclass(frozen=True, slots=True)
class TickChanged:
    market: str
    token_id: str
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class Resolved:
    market: str
    tokens: tuple[str, ...]
    winner: str
    outcome: str
    question: str


Event = BookChanged | Traded | SnapshotDue | TickChanged | Resolved


# -- orders and results ---------------------------------------------------------------------------


@dataclass
class OrderRecord:
    """An order the venue accepted (matched, resting, cancelled): what GET /data/order/{id} shows."""

    order_id: str
    owner: str  # API key
    maker: str  # funder address (the account)
    market: str
    token_id: str
    outcome: str
    side: Side
    price: int
    original_size: int
    order_type: str
    created_at_s: int
    expiration: int
    size_matched: int = 0
    status: str = "LIVE"  # LIVE, MATCHED, CANCELED, CANCELED_MARKET_RESOLVED
    trade_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Submission:
    """The outcome of one posted order."""

    ok: bool
    error: str = ""
    order_id: str = ""
    status: str = ""  # matched / live (protocol 2.5)
    making_units: int = 0
    taking_units: int = 0
    trade_ids: tuple[str, ...] = ()
    transaction_hashes: tuple[str, ...] = ()
    events: tuple[Event, ...] = ()

    @property
    def making(self) -> str:
        return decimal_text(self.making_units, SHARE_SCALE) if self.status == "matched" else ""

    @property
    def taking(self) -> str:
        return decimal_text(self.taking_units, SHARE_SCALE) if self.status == "matched" else ""


@dataclass
class Counters:
    orders_received: int = 0
    orders_accepted: int = 0
    orders_filled: int = 0  # accepted orders that matched at least partly on entry
    orders_rejected: int = 0
    duplicates: int = 0
    order_posts: int = 0  # authenticated POST /order and POST /orders requests, faults included
    trades: int = 0
    volume_units: int = 0  # shares traded
    posts_by_hash: Counter[str] = field(default_factory=Counter)
    rejections: Counter[str] = field(default_factory=Counter)


class Exchange:
    def __init__(self, chain_id: int = orders.DEFAULT_CHAIN_ID,
                 starting_collateral: int = acct.DEFAULT_STARTING_COLLATERAL) -> None:
        self.chain_id = chain_id
        self.accounts = Accounts(starting_collateral)
        self.markets: dict[str, Market] = {}
        self.by_token: dict[str, str] = {}  # token → condition id
        self.books: dict[str, OrderBook] = {}
        self.records: dict[str, OrderRecord] = {}
        self.seen: set[str] = set()  # every order hash ever processed (accepted or killed)
        self.last_trade: dict[str, int] = {}
        self.counters = Counters()
        self._held: dict[str, tuple[int, int]] = {}  # resting order → (collateral, shares) held back
        self._venue_seq = 0
        self._trade_seq = 0

    # -- markets ----------------------------------------------------------------------------------

    def add_market(self, market: Market) -> None:
        self.markets[market.condition_id] = market
        for token in market.tokens:
            self.by_token[token] = market.condition_id
            self.books.setdefault(token, OrderBook())

    def market_of(self, token_id: str) -> Market | None:
        condition = self.by_token.get(token_id)
        return self.markets.get(condition) if condition is not None else None

    def tokens(self) -> list[str]:
        return list(self.by_token)

    # -- posting orders ---------------------------------------------------------------------------

    def submit(self, raw: Any, *, api_key: str, address: str, now_ms: int) -> Submission:
        """One element of a POST /order(s) body, authenticated as (api_key, address)."""
        c = self.counters
        c.orders_received += 1
        try:
            return self._submit(raw, api_key, address, now_ms)
        except OrderRejected as exc:
            c.orders_rejected += 1
            c.rejections[_reason_key(str(exc))] += 1
            return Submission(ok=False, error=str(exc))

    def _submit(self, raw: Any, api_key: str, address: str, now_ms: int) -> Submission:
        posted = orders.parse_posted_order(raw)
        market = self.market_of(posted.order.token_id)
        if market is None:
            raise OrderRejected(ERR_NO_MARKET)
        # The hash under which the post is counted, before anything can fail: tests prove "no double
        # submit" by these counts.
        post_hash = "0x" + orders.order_digest(posted.order, self.chain_id, bool(market.neg_risk)).hex()
        self.counters.posts_by_hash[post_hash] += 1
        if post_hash in self.seen:
            self.counters.duplicates += 1
            raise OrderRejected(ERR_DUPLICATE.format(order_id=post_hash))
        if posted.owner != api_key:
            raise OrderRejected(ERR_OWNER)
        if posted.order.signer.lower() != address.lower():
            raise OrderRejected(ERR_SIGNER)
        verified = orders.verify(posted, market.rules(), self.chain_id)
        if verified.order_id != post_hash and verified.order_id in self.seen:  # neg_risk unknown: other domain
            self.counters.duplicates += 1
            raise OrderRejected(ERR_DUPLICATE.format(order_id=verified.order_id))
        return self.execute(verified, api_key, now_ms)

    def execute(self, verified: VerifiedOrder, api_key: str, now_ms: int) -> Submission:
        """A verified order (signature and amounts checked) against the market's rules, balances and book.

        Raises OrderRejected; submit() counts it. Tests call this directly with unsigned orders.
        """
        market = self.market_of(verified.order.token_id)
        if market is None:
            raise OrderRejected(ERR_NO_MARKET)
        if market.resolved:
            raise OrderRejected(ERR_CLOSED.format(market=market.condition_id))
        expiration = verified.order.expiration
        if verified.order_type == "GTD" and expiration < now_ms // 1000 + GTD_SAFETY_S:
            # GTD needs an expiration at least a minute ahead (protocol 2.5); resting GTD orders are not
            # expired later on: the paper venue treats them as GTC once accepted.
            raise OrderRejected(ERR_EXPIRATION)
        minimum = round(market.min_order_size * SHARE_SCALE)
        if verified.size < minimum:
            raise OrderRejected(ERR_MIN_SIZE.format(
                order_id=verified.order_id, size=decimal_text(verified.size, SHARE_SCALE),
                minimum=decimal_text(minimum, SHARE_SCALE)))
        book = self.books[verified.order.token_id]
        if verified.side is Side.BUY and verified.order.maker_amount < MARKETABLE_BUY_MIN_UNITS and (
                verified.order_type in ("FOK", "FAK") or book.crosses(Side.BUY, verified.price)):
            raise OrderRejected(ERR_MARKETABLE_MIN.format(
                amount=decimal_text(verified.order.maker_amount, SHARE_SCALE)))
        self._check_balance(verified, market)
        if verified.post_only and book.crosses(verified.side, verified.price):
            raise OrderRejected(ERR_CROSSES)
        self.seen.add(verified.order_id)
        return self._place(verified, market, api_key, now_ms)

    def _check_balance(self, v: VerifiedOrder, market: Market) -> None:
        account = v.order.maker
        try:
            if v.side is Side.BUY:
                fee = acct.max_taker_fee(v.price, v.size, market.fee_rate_bps, buy=True)
                self.accounts.require_collateral(account, v.order.maker_amount + fee)
            else:
                self.accounts.require_shares(account, v.order.token_id, v.size)
        except BalanceError as exc:
            raise OrderRejected(str(exc)) from None

    def _place(self, v: VerifiedOrder, market: Market, api_key: str, now_ms: int) -> Submission:
        token = v.order.token_id
        book = self.books[token]
        account = v.order.maker.lower()
        result = book.match(v.order_id, account, v.side, v.price, v.size, v.order_type)
        if result.filled == 0 and result.rested == 0:
            raise OrderRejected(ERR_FOK if v.order_type == "FOK" else ERR_FAK)
        record = OrderRecord(
            order_id=v.order_id, owner=api_key, maker=account, market=market.condition_id, token_id=token,
            outcome=market.outcome(token), side=v.side, price=v.price, original_size=v.size,
            order_type=v.order_type, created_at_s=now_ms // 1000, expiration=v.order.expiration,
        )
        self.records[v.order_id] = record
        events, value, trade_ids, tx_hashes = self._settle(result, market, token, account, v.side, record)
        if result.rested:
            self._hold(v.order_id, account, token, v.side, v.price, result.rested)
        record.status = "LIVE" if result.rested else "MATCHED"
        c = self.counters
        c.orders_accepted += 1
        filled = result.filled
        if filled:
            c.orders_filled += 1
        making, taking = (value, filled) if v.side is Side.BUY else (filled, value)
        return Submission(
            ok=True, order_id=v.order_id, status="matched" if filled else "live",
            making_units=making, taking_units=taking, trade_ids=tuple(trade_ids),
            transaction_hashes=tuple(tx_hashes), events=tuple(events),
        )

    def _settle(self, result: MatchResult, market: Market, token: str, taker: str, taker_side: Side,
                taker_record: OrderRecord | None) -> tuple[list[Event], int, list[str], list[str]]:
        """Move money and shares for each fill; update maker orders; the events to publish."""
        events: list[Event] = []
        trade_ids: list[str] = []
        tx_hashes: list[str] = []
        total_value = 0
        book = self.books[token]
        for fill in result.fills:
            buyer, seller = (taker, fill.maker_owner) if taker_side is Side.BUY else (fill.maker_owner, taker)
            fee = 0 if taker == VENUE else acct.taker_fee(fill.price, fill.size, market.fee_rate_bps)
            maker_record = self.records.get(fill.maker_order_id)
            if maker_record is not None:
                maker_record.size_matched += fill.size
                remaining = 0 if fill.maker_done else book.get(fill.maker_order_id).remaining
                self._hold(fill.maker_order_id, fill.maker_owner, token, taker_side.opposite, fill.price, remaining)
                if fill.maker_done:
                    maker_record.status = "MATCHED"
            total_value += self.accounts.settle_fill(buyer, seller, token, fill.price, fill.size, fee, taker)
            trade_id, tx_hash = self._trade_ids(fill.maker_order_id, taker_record)
            trade_ids.append(trade_id)
            tx_hashes.append(tx_hash)
            if maker_record is not None:
                maker_record.trade_ids.append(trade_id)
            if taker_record is not None:
                taker_record.size_matched += fill.size
                taker_record.trade_ids.append(trade_id)
            self.last_trade[token] = fill.price
            self.counters.trades += 1
            self.counters.volume_units += fill.size
            events.append(Traded(market.condition_id, token, fill.price, fill.size, taker_side,
                                 market.fee_rate_bps, trade_id, tx_hash))
        if result.changes:
            events.insert(0, BookChanged(market.condition_id, token, result.changes, book.best_bid(), book.best_ask()))
        if result.fills:
            events.append(SnapshotDue(token))
        return events, total_value, trade_ids, tx_hashes

    def _trade_ids(self, maker_order_id: str, taker_record: OrderRecord | None) -> tuple[str, str]:
        self._trade_seq += 1
        seed = f"{maker_order_id}:{taker_record.order_id if taker_record else 'venue'}:{self._trade_seq}"
        digest = hashlib.sha256(seed.encode()).digest()
        return str(uuid.UUID(bytes=digest[:16], version=4)), "0x" + hashlib.sha256(digest).hexdigest()

    def _hold(self, order_id: str, owner: str, token: str, side: Side, price: int, remaining: int) -> None:
        """Hold back exactly what a resting order still needs; release the rest."""
        old_collateral, old_shares = self._held.pop(order_id, (0, 0))
        self.accounts.release(owner, token, old_collateral, old_shares)
        if remaining <= 0:
            return
        held = (-(-price * remaining // PRICE_SCALE), 0) if side is Side.BUY else (0, remaining)
        self.accounts.reserve(owner, token, *held)
        self._held[order_id] = held

    # -- cancelling -------------------------------------------------------------------------------

    def cancel(self, order_id: str, api_key: str) -> tuple[str | None, list[Event]]:
        """(None, events) when cancelled, else (reason, [])."""
        record = self.records.get(order_id)
        if record is None or record.owner != api_key:
            return "order not found", []
        if record.status != "LIVE":
            return f"order already {record.status.lower()}", []
        book = self.books[record.token_id]
        removed = book.cancel(order_id)
        self._hold(order_id, record.maker, record.token_id, record.side, record.price, 0)
        record.status = "CANCELED"
        if removed is None:
            return None, []
        _, change = removed
        return None, [BookChanged(record.market, record.token_id, (change,), book.best_bid(), book.best_ask())]

    def live_orders(self, api_key: str) -> list[str]:
        return [r.order_id for r in self.records.values() if r.owner == api_key and r.status == "LIVE"]

    # -- the venue's own quotes -------------------------------------------------------------------

    def set_venue_quotes(self, token: str, bids: Mapping[int, int], asks: Mapping[int, int]) -> list[Event]:
        """Make the venue's resting liquidity on a token exactly `bids`/`asks` ({price: size}).

        Only the difference is applied, so unchanged levels keep their queue position. New venue
        quotes that cross an account's resting order trade with it (the venue is the taker).
        """
        market = self.market_of(token)
        if market is None:
            raise KeyError(token)
        if market.resolved:
            return []  # a resolved market has no book; the scenario may still be quoting it
        tick = orders.tick_units(market.tick_size)
        bids = {p: s for p, s in bids.items() if p % tick == 0}  # after a tick change to a coarser grid
        asks = {p: s for p, s in asks.items() if p % tick == 0}
        book = self.books[token]
        before = {side: book.sizes(side) for side in Side}
        events: list[Event] = []
        targets = {Side.BUY: bids, Side.SELL: asks}
        for side, target in targets.items():  # shrink first: the old quotes never cross the new ones
            for price, size in book.owner_sizes(VENUE, side).items():
                if target.get(price, 0) < size:
                    book.reduce(VENUE, side, price, size - target.get(price, 0))
        for side in (Side.SELL, Side.BUY):
            current = book.owner_sizes(VENUE, side)
            for price, size in sorted(targets[side].items()):
                extra = size - current.get(price, 0)
                if extra <= 0:
                    continue
                self._venue_seq += 1
                result = book.match(f"venue-{self._venue_seq}", VENUE, side, price, extra, "GTC")
                if result.fills:
                    trade_events, _, _, _ = self._settle(result, market, token, VENUE, side, None)
                    events.extend(e for e in trade_events if not isinstance(e, BookChanged))
        changes = [ch for side in Side for ch in diff_levels(before[side], book.sizes(side), side)]
        if changes:
            events.insert(0, BookChanged(market.condition_id, token, tuple(changes), book.best_bid(), book.best_ask()))
        return events

    def venue_size(self, token: str, side: Side, price: int) -> int:
        return self.books[token].owner_sizes(VENUE, side).get(price, 0)

    # -- market life ------------------------------------------------------------------------------

    def set_tick_size(self, condition_id: str, tick_size: str) -> list[Event]:
        """Change a market's tick; resting orders off the new grid are cancelled (protocol 1.2)."""
        market = self.markets[condition_id]
        tick = orders.tick_units(tick_size)
        old = market.tick_size
        self.markets[condition_id] = replace(market, tick_size=tick_size)
        events: list[Event] = []
        for token in market.tokens:
            events.append(TickChanged(condition_id, token, old, tick_size))
            book = self.books[token]
            before = {side: book.sizes(side) for side in Side}
            for order in book.orders():
                if order.price % tick:
                    book.cancel(order.order_id)
                    record = self.records.get(order.order_id)
                    if record is not None:
                        self._hold(order.order_id, record.maker, token, record.side, record.price, 0)
                        record.status = "CANCELED"
            changes = [ch for side in Side for ch in diff_levels(before[side], book.sizes(side), side)]
            if changes:
                events.append(BookChanged(condition_id, token, tuple(changes), book.best_bid(), book.best_ask()))
            events.append(SnapshotDue(token))
        return events

    def resolve(self, condition_id: str, winning_token: str) -> list[Event]:
        """Resolve a market: cancel its orders, pay 1 per winning share, close positions."""
        market = self.markets[condition_id]
        if winning_token not in market.tokens:
            raise ValueError(f"token {winning_token} is not an outcome of market {condition_id}")
        for token in market.tokens:
            for order in self.books[token].clear():
                record = self.records.get(order.order_id)
                if record is not None:
                    self._hold(order.order_id, record.maker, token, record.side, record.price, 0)
                    record.status = "CANCELED_MARKET_RESOLVED"
        self.accounts.resolve(winning_token, market.tokens)
        self.markets[condition_id] = replace(market, resolved=True)
        return [Resolved(condition_id, market.tokens, winning_token, market.outcome(winning_token), market.question)]


def _reason_key(message: str) -> str:
    # "order 0x… is invalid. Duplicated…" → one counter per kind of reason, not per order (or amount)
    if message.startswith("invalid amount for a marketable BUY order ("):
        return "invalid amount for a marketable BUY order"
    if message.startswith("order 0x"):
        return message.split(". ", 1)[1][:60] if ". " in message else message[:60]
    return message[:60]
