"""Arbitrage evaluation on every top-of-book change: trio, complement trio, bundle, unbundle.

Pure: no I/O, no clock (time comes in as `now_ns`), no globals but constants. One `Evaluator` per
structure holds the live state: a small mutable `TokenState` per token (updated in place), and per
instance its cooldown, in-flight and held marks. `on_batch` takes one WebSocket frame's top-of-book
changes: it applies them all first, then evaluates once each strategy direction whose traded side
(asks for trio / complement / bundle, bids for unbundle) changed, on the state the whole frame left.
A half-applied frame is a book the venue never showed, so nothing is evaluated in the middle of one.

Liquidity we took is gone until the venue shows the level again: a signal adds its size to each
leg's `ask_taken` (or `bid_taken` for a sale) and evaluation sees the displayed size minus that,
until a newer update changes that side (price or size) or a fresh snapshot arrives. An outcome that
took nothing (skipped, rejected) gives it back (`give_back`). A direction that signalled is also
"awaiting fresh": re-evaluations that no book change asked for (balance, inventory) skip it until
one of its legs shows a newer update, so our own fill, seen through the balance, never re-signals
the book we just traded.

Conventions, per set of one share per leg:
- `payout` is what the legs pay together in *every* outcome, signed by side: a bought share pays
  what its token pays, a sold share "pays" minus that (we give it up). Trio 2, complement 1,
  bundle 1, unbundle -1 (the sold set would have paid 1 whatever happens).
- `cost` is the collateral the set takes, fees included, negative when we receive collateral
  (unbundle); `profit = payout - cost`. This makes the contract's `expected_pnl = payout x size -
  cost` (TradeResult) hold for all four strategies.
- `profit_bps = profit / notional x 10 000`, notional = the cost of a bought set, or 1 for an
  unbundle (the collateral a minted set stands for).

Every comparison is written so that a NaN from a bad book fails it (`not x > 0`, never `x <= 0`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from engine_svc.fees import BPS
from engine_svc.min_notional import smallest_buy_set
from engine_svc.structure import COMPLEMENT_ROLES, TRIO_ROLES, Market, OutcomeSet, Structure, Trio
from polyarb.v1 import common_pb2, engine_pb2, executor_pb2, ingest_pb2

__all__ = [
    "Evaluator",
    "LegSpec",
    "Opportunity",
    "Take",
    "TokenState",
    "to_signal",
]

BUY = executor_pb2.SIDE_BUY
SELL = executor_pb2.SIDE_SELL

# Float noise on tick-grid prices (0.30 + 0.30 + 1.39 is not exactly 1.99); far below a cent.
EPS = 1e-9
_NS_PER_MS = 1_000_000
_NONE: tuple = ()  # returned on the no-signal path: no allocation


class TokenState:
    """Top of book of one token as the engine last saw it. Starts stale with zeros (never seen).

    `ask_taken` / `bid_taken`: shares our signals took at the displayed level and the venue has not
    shown as gone yet; `ask_gen` / `bid_gen` count the level's resets, so a late give-back of an old
    take never touches a newer level."""

    __slots__ = ("ask", "ask_gen", "ask_size", "ask_taken", "bid", "bid_gen", "bid_size", "bid_taken", "stale",
                 "tick_size")

    def __init__(self) -> None:
        self.bid = 0.0
        self.bid_size = 0.0
        self.ask = 0.0
        self.ask_size = 0.0
        self.stale = True
        self.tick_size = 0.0  # 0 while unknown (ingest's convention)
        self.ask_taken = 0.0
        self.bid_taken = 0.0
        self.ask_gen = 0
        self.bid_gen = 0

    def reset_ask(self) -> None:
        self.ask_taken = 0.0
        self.ask_gen += 1

    def reset_bid(self) -> None:
        self.bid_taken = 0.0
        self.bid_gen += 1


@dataclass(frozen=True, slots=True)
class LegSpec:
    """The static part of a leg; the price and the live tick come with each opportunity."""

    token_id: str
    side: int  # executor_pb2.Side
    tick_size: float  # from the structure; the live tick wins when known
    min_order_size: float
    neg_risk: bool
    fee_rate_bps: float


@dataclass(slots=True)
class Opportunity:
    """An equal-share set worth trading, as found at `detected_ns`. Per-set figures, see module doc."""

    instance_id: str
    strategy: int  # executor_pb2.Strategy
    legs: tuple[LegSpec, ...]
    prices: tuple[float, ...]  # top of book on the traded side, one per leg
    tick_sizes: tuple[float, ...]
    size: float  # shares, the same for every leg
    payout: float
    cost: float
    fees: float
    profit: float
    profit_bps: float
    expected_pnl: float  # profit x size
    min_profit_abs: float
    detected_ns: int
    taken: tuple[Take, ...] = ()  # what the signal took of each leg's displayed size (give_back undoes it)


class Take(NamedTuple):
    state: TokenState
    ask: bool  # True: taken from the ask (a buy leg); False: from the bid (a sale)
    size: float
    gen: int  # the side's generation when taken


class _Clock:
    """Per instance (a trio and its complement, or a set's bundle and unbundle, share one).

    `held`: an earlier batch of the instance has an unknown outcome (or is in flight at an executor
    this engine did not send it from): no new signal, and no time-out, until the executor says it
    settled."""

    __slots__ = ("cooldown_until_ns", "held", "in_flight", "in_flight_since_ns")

    def __init__(self) -> None:
        self.cooldown_until_ns = 0
        self.in_flight = False
        self.in_flight_since_ns = 0
        self.held = False


class _Direction:
    """One strategy on one instance: its legs, their live states and its evaluation."""

    __slots__ = (
        "awaiting_fresh",
        "clock",
        "enabled",
        "epoch",
        "fee_rates",
        "has_fees",
        "instance_id",
        "inventory",
        "legs",
        "limit",
        "min_size",
        "payout",
        "states",
        "strategy",
    )

    def __init__(
        self, instance_id: str, strategy: int, payout: float, legs: list[LegSpec], markets: list[Market],
        states: list[TokenState], clock: _Clock,
    ) -> None:
        self.instance_id = instance_id
        self.strategy = strategy
        self.payout = payout
        self.legs = tuple(legs)
        self.states = tuple(states)
        self.fee_rates = tuple(m.fee_rate for m in markets)
        self.has_fees = any(r > 0.0 for r in self.fee_rates)
        self.min_size = max(m.min_order_size for m in markets)
        self.clock = clock
        self.enabled = True
        self.epoch = 0  # the last batch that touched it (one evaluation per direction per frame)
        self.awaiting_fresh = False  # signalled; no legs' newer update seen since
        self.inventory = 0.0  # unbundle only: minted sets held (min over the set's YES tokens)
        # The fee-free price sum past which no set can meet min_profit_abs (set with the config).
        self.limit = 0.0

    def evaluate(self, ev: Evaluator, now_ns: int) -> Opportunity | None:
        raise NotImplementedError  # abstract: each direction below (trio, bundle, unbundle) defines it


class _TrioBuy(_Direction):
    """Trio (payout 2) or complement trio (payout 1): buy three asks. Unrolled for speed."""

    __slots__ = ()

    def evaluate(self, ev: Evaluator, now_ns: int) -> Opportunity | None:
        if not self.enabled:
            return None
        a, b, c = self.states
        if a.stale or b.stale or c.stale:
            return None
        pa = a.ask
        pb = b.ask
        pc = c.ask
        if not (0.0 < pa < 1.0 and 0.0 < pb < 1.0 and 0.0 < pc < 1.0):
            return None  # one-sided (no asks) or nonsense
        # Fees only lower the profit, so the fee-free sum decides most updates on its own.
        if not pa + pb + pc <= self.limit:
            return None
        sa = a.ask_size - a.ask_taken
        sb = b.ask_size - b.ask_taken
        sc = c.ask_size - c.ask_taken
        if not (sa > 0.0 and sb > 0.0 and sc > 0.0):
            return None
        fees = 0.0
        if self.has_fees:
            ra, rb, rc = self.fee_rates
            fees = ra * pa * (1.0 - pa) + rb * pb * (1.0 - pb) + rc * pc * (1.0 - pc)
        shown = min(sa, sb, sc)
        return _buy_set(self, ev, now_ns, (pa, pb, pc), pa + pb + pc + fees, fees, shown)


class _BundleBuy(_Direction):
    """Bundle: buy every YES ask of a complete set (payout 1)."""

    __slots__ = ()

    def evaluate(self, ev: Evaluator, now_ns: int) -> Opportunity | None:
        if not self.enabled:
            return None
        total = 0.0
        for s in self.states:
            price = s.ask
            if s.stale or not 0.0 < price < 1.0:
                return None
            total += price
        if not total <= self.limit:
            return None
        states = self.states
        prices = tuple(s.ask for s in states)
        fees = _fees(self, prices)
        shown = math.inf
        for s in states:
            left = s.ask_size - s.ask_taken
            if not left > 0.0:
                return None
            shown = min(shown, left)
        return _buy_set(self, ev, now_ns, prices, total + fees, fees, shown)


class _UnbundleSell(_Direction):
    """Unbundle: sell every YES bid of a complete set we hold minted (payout -1, see module doc)."""

    __slots__ = ()

    def evaluate(self, ev: Evaluator, now_ns: int) -> Opportunity | None:
        if not self.enabled or not self.inventory > 0.0:
            return None
        total = 0.0
        for s in self.states:
            price = s.bid
            if s.stale or not 0.0 < price < 1.0:
                return None
            total += price
        if not total >= self.limit:
            return None
        prices = tuple(s.bid for s in self.states)
        fees = _fees(self, prices)
        cost = fees - total  # negative: collateral received, net of fees
        profit = self.payout - cost
        if not _meets_per_set(ev, profit, 1.0):
            return None
        shown = math.inf
        for s in self.states:
            left = s.bid_size - s.bid_taken
            if not left > 0.0:
                return None
            shown = min(shown, left)
        size = _floor_shares(min(shown, ev.max_set_size, self.inventory))
        return _finish(self, ev, now_ns, prices, size, cost, fees, profit, 1.0)


def _fees(d: _Direction, prices: tuple[float, ...]) -> float:
    if not d.has_fees:
        return 0.0
    return sum(r * p * (1.0 - p) for r, p in zip(d.fee_rates, prices, strict=True))


def _buy_set(
    d: _Direction, ev: Evaluator, now_ns: int, prices: tuple[float, ...], cost: float, fees: float,
    shown: float,
) -> Opportunity | None:
    profit = d.payout - cost
    if not _meets_per_set(ev, profit, cost):
        return None
    # Equal shares: the thinnest leg, the configured cap and what the capital buys.
    size = _floor_shares(min(shown, ev.max_set_size, ev.capital / cost))
    # ...and at least what makes every leg a marketable BUY the venue accepts (min_notional.py).
    ticks = [s.tick_size or leg.tick_size for s, leg in zip(d.states, d.legs, strict=True)]
    if not size >= smallest_buy_set(prices, ticks, ev.config.min_marketable_buy_pusd) - EPS:
        return None
    return _finish(d, ev, now_ns, prices, size, cost, fees, profit, cost)


def _meets_per_set(ev: Evaluator, profit: float, notional: float) -> bool:
    return (
        profit > 0.0
        and profit >= ev.min_profit_abs - EPS
        and profit * BPS >= ev.min_profit_bps * notional - EPS
    )


def _floor_shares(size: float) -> float:
    # Share sizes on the CLOB have 2 decimals (py-clob-client-v2 ROUNDING_CONFIG "size": 2); round
    # down so every leg can really be filled at this size. The EPS keeps 0.29 from becoming 0.28.
    if not size > 0.0:
        return 0.0
    if size == math.inf:
        return size
    return math.floor(size * 100.0 + EPS) / 100.0


def _finish(
    d: _Direction, ev: Evaluator, now_ns: int, prices: tuple[float, ...], size: float, cost: float,
    fees: float, profit: float, notional: float,
) -> Opportunity | None:
    if not (size >= d.min_size and size > 0.0 and size < math.inf):
        return None
    expected_pnl = profit * size
    if not expected_pnl >= ev.min_expected_pnl - EPS:
        return None
    clock = d.clock
    if now_ns < clock.cooldown_until_ns or clock.held:
        return None
    if clock.in_flight:
        if now_ns - clock.in_flight_since_ns < ev.in_flight_timeout_ns:
            return None
        clock.in_flight = False  # the outcome never came: give up waiting
    # Emitting puts the instance in flight and starts its cooldown at once, so a second update in
    # the same batch cannot signal it again before the servicer has even sent the first.
    clock.cooldown_until_ns = now_ns + ev.cooldown_ns
    clock.in_flight = True
    clock.in_flight_since_ns = now_ns
    d.awaiting_fresh = True
    # The size is ours from here on: later evaluations (this frame's other instances sharing a leg
    # included) see the displayed size minus it, until the venue shows the level again.
    taken = []
    for s in d.states:
        if d.payout > 0.0:  # buys take asks; an unbundle (payout -1) sells into bids
            s.ask_taken += size
            taken.append(Take(s, True, size, s.ask_gen))
        else:
            s.bid_taken += size
            taken.append(Take(s, False, size, s.bid_gen))
    ticks = tuple([s.tick_size or leg.tick_size for s, leg in zip(d.states, d.legs, strict=True)])
    # Positional: this is the signal path, and keyword construction costs about a microsecond more.
    return Opportunity(
        d.instance_id, d.strategy, d.legs, prices, ticks, size, d.payout, cost, fees, profit,
        profit / notional * BPS, expected_pnl, ev.min_profit_abs, now_ns, tuple(taken),
    )


class Evaluator:
    """Live evaluation state for one `Structure`; feed it every top-of-book change."""

    __slots__ = (
        "_by_instance",
        "_by_strategy",
        "_clocks",
        "_epoch",
        "_inventory",
        "_states",
        "_tokens",
        "_unbundles",
        "capital",
        "config",
        "cooldown_ns",
        "in_flight_timeout_ns",
        "max_set_size",
        "min_expected_pnl",
        "min_profit_abs",
        "min_profit_bps",
        "structure",
    )

    def __init__(
        self, structure: Structure, config: engine_pb2.EngineConfig, *, previous: Evaluator | None = None
    ) -> None:
        """`config` must come from `settings.validate_config`. With `previous`, the token states,
        the per-instance cooldowns and in-flight marks, the capital and the inventory carry over
        (ingest does not resend the book of a token that stays subscribed)."""
        self.structure = structure
        self.capital = previous.capital if previous is not None else math.inf
        self._inventory: dict[str, float] = dict(previous._inventory) if previous is not None else {}
        old_states = previous._states if previous is not None else {}
        old_clocks = previous._clocks if previous is not None else {}
        self._states = {token: old_states.get(token) or TokenState() for token in structure.tokens}
        self._clocks = {inst.id: old_clocks.get(inst.id) or _Clock() for inst in structure.instances}
        self._by_strategy: dict[int, list[_Direction]] = {s: [] for s in _STRATEGY_SWITCH}
        self._by_instance: dict[str, tuple[_Direction, ...]] = {}
        self._unbundles: list[_UnbundleSell] = []
        self._epoch = 0
        on_ask: dict[str, list[_Direction]] = {token: [] for token in structure.tokens}
        on_bid: dict[str, list[_Direction]] = {token: [] for token in structure.tokens}
        for instance in structure.instances:
            directions = tuple(self._directions(instance))
            self._by_instance[instance.id] = directions
            for direction in directions:
                self._by_strategy[direction.strategy].append(direction)
                watch = on_bid if isinstance(direction, _UnbundleSell) else on_ask
                for leg in direction.legs:
                    watch[leg.token_id].append(direction)
        # The jump table: token → (its state, directions that buy its ask, directions that sell its bid).
        self._tokens = {
            token: (self._states[token], tuple(on_ask[token]), tuple(on_bid[token]))
            for token in structure.tokens
        }
        self.set_config(config)
        self.set_inventory(self._inventory)

    # -- the hot path ------------------------------------------------------------------------------

    def on_batch(self, updates: Iterable[ingest_pb2.TopOfBook], now_ns: int) -> Sequence[Opportunity]:
        """Apply one frame's top-of-book changes whole, then evaluate each direction they touched once,
        on the state the frame left; return the opportunities (usually none: an empty tuple)."""
        self._epoch = epoch = self._epoch + 1
        tokens = self._tokens
        touched: list[_Direction] | None = None
        for tob in updates:
            entry = tokens.get(tob.token_id)
            if entry is None:
                continue  # not ours (a late update after a structure swap)
            state, on_ask, on_bid = entry
            bid = tob.bid_price
            bid_size = tob.bid_size
            ask = tob.ask_price
            ask_size = tob.ask_size
            if tob.stale:
                # Never trade on it; remember it as it is so the first fresh update re-evaluates.
                state.stale = True
                state.tick_size = tob.tick_size
                state.bid = bid
                state.bid_size = bid_size
                state.ask = ask
                state.ask_size = ask_size
                state.reset_ask()
                state.reset_bid()
                continue
            if state.stale:  # first snapshot, or fresh again: everything it touches may be tradeable now
                # The tick only changes through a stale update (CONTRACT.md: a tick_size_change is sent
                # at once, as stale), so it is read here and on stale updates, not on every change.
                state.stale = False
                state.tick_size = tob.tick_size
                ask_changed = bid_changed = True
            else:
                ask_changed = ask != state.ask or ask_size != state.ask_size
                bid_changed = bid != state.bid or bid_size != state.bid_size
            state.bid = bid
            state.bid_size = bid_size
            state.ask = ask
            state.ask_size = ask_size
            if ask_changed:
                if state.ask_taken:
                    state.reset_ask()  # the venue shows the level anew: what we took is in it
                for direction in on_ask:
                    if direction.epoch != epoch:
                        direction.epoch = epoch
                        if touched is None:
                            touched = []
                        touched.append(direction)
            if bid_changed:
                if state.bid_taken:
                    state.reset_bid()
                for direction in on_bid:
                    if direction.epoch != epoch:
                        direction.epoch = epoch
                        if touched is None:
                            touched = []
                        touched.append(direction)
        if touched is None:
            return _NONE
        found: list[Opportunity] | None = None
        for direction in touched:
            direction.awaiting_fresh = False
            opportunity = direction.evaluate(self, now_ns)
            if opportunity is not None:
                if found is None:
                    found = []
                found.append(opportunity)
        return found if found is not None else _NONE

    def on_top_of_book(self, tob: ingest_pb2.TopOfBook, now_ns: int) -> Sequence[Opportunity]:
        """A frame of one update."""
        return self.on_batch((tob,), now_ns)

    def reevaluate(self, instance_id: str, now_ns: int, *, fresh_only: bool = False) -> Sequence[Opportunity]:
        """Evaluate one instance on the books as they are (e.g. after its in-flight signal cleared).
        With `fresh_only`, skip directions that signalled and have seen no newer leg update since: what
        a balance or inventory change asks for, since our own fill shows there before on the book."""
        found = []
        for direction in self._by_instance.get(instance_id, _NONE):
            if fresh_only and direction.awaiting_fresh:
                continue
            opportunity = direction.evaluate(self, now_ns)
            if opportunity is not None:
                found.append(opportunity)
        return found

    def give_back(self, opportunity: Opportunity) -> None:
        """The signal took nothing at the venue (skipped, rejected, settled unfilled): its sizes are
        shown again, unless the venue has shown those levels anew meanwhile; its directions may signal
        again without waiting for a newer update."""
        for take in opportunity.taken:
            state = take.state
            if take.ask:
                if state.ask_gen == take.gen:
                    state.ask_taken = max(0.0, state.ask_taken - take.size)
            elif state.bid_gen == take.gen:
                state.bid_taken = max(0.0, state.bid_taken - take.size)
        for direction in self._by_instance.get(opportunity.instance_id, _NONE):
            if direction.strategy == opportunity.strategy:
                direction.awaiting_fresh = False

    # -- control -----------------------------------------------------------------------------------

    def set_config(self, config: engine_pb2.EngineConfig) -> None:
        """Thresholds, caps, cooldown and switches; takes effect on the next evaluation."""
        self.config = config
        self.min_profit_abs = config.min_profit_abs
        self.min_profit_bps = config.min_profit_bps
        self.min_expected_pnl = config.min_expected_pnl
        self.max_set_size = config.max_set_size
        self.cooldown_ns = config.cooldown_ms * _NS_PER_MS
        self.in_flight_timeout_ns = config.in_flight_timeout_ms * _NS_PER_MS
        for strategy, field in _STRATEGY_SWITCH.items():
            enabled = getattr(config, field)
            for direction in self._by_strategy[strategy]:
                direction.enabled = enabled
                if strategy == executor_pb2.STRATEGY_UNBUNDLE:  # bids must sum to at least this
                    direction.limit = 1.0 + config.min_profit_abs - EPS
                else:  # asks must sum to at most this
                    direction.limit = direction.payout - config.min_profit_abs + EPS

    def set_capital(self, collateral: float) -> None:
        """pUSD available (from the executor's balance): a bought set is sized to what it can pay."""
        self.capital = collateral if collateral > 0.0 and not math.isnan(collateral) else 0.0

    def set_inventory(self, inventory: Mapping[str, float]) -> None:
        """Shares held per token (the executor's balance). Unbundle sells only whole minted sets,
        so each set's inventory is the smallest holding among its YES tokens."""
        self._inventory = {t: float(q) for t, q in inventory.items() if q > 0.0 and math.isfinite(q)}
        for direction in self._unbundles:
            direction.inventory = min(self._inventory.get(leg.token_id, 0.0) for leg in direction.legs)

    def mark_in_flight(self, instance_id: str, now_ns: int) -> None:
        """No new signal for this instance until `clear_in_flight` or the in-flight timeout."""
        clock = self._clocks.get(instance_id)
        if clock is not None:
            clock.in_flight = True
            clock.in_flight_since_ns = now_ns

    def clear_in_flight(self, instance_id: str) -> None:
        """The executor finished (or refused) the instance's signal."""
        clock = self._clocks.get(instance_id)
        if clock is not None:
            clock.in_flight = False

    def set_held(self, instance_ids: Iterable[str]) -> None:
        """Exactly these instances are held (an unknown outcome at the executor): no signal, no time-out."""
        held = set(instance_ids)
        for instance_id, clock in self._clocks.items():
            clock.held = instance_id in held

    def is_held(self, instance_id: str) -> bool:
        clock = self._clocks.get(instance_id)
        return clock is not None and clock.held

    def held_count(self) -> int:
        return sum(1 for c in self._clocks.values() if c.held)

    def mark_all_stale(self) -> None:
        """Ingest is away: every book may be wrong until its next fresh top of book."""
        for state in self._states.values():
            state.stale = True

    # -- status ------------------------------------------------------------------------------------

    def state(self, token_id: str) -> TokenState | None:
        return self._states.get(token_id)

    def stale_token_count(self) -> int:
        return sum(1 for s in self._states.values() if s.stale)

    def is_in_flight(self, instance_id: str, now_ns: int) -> bool:
        clock = self._clocks.get(instance_id)
        return clock is not None and clock.in_flight and now_ns - clock.in_flight_since_ns < self.in_flight_timeout_ns

    def in_flight_count(self, now_ns: int) -> int:
        timeout = self.in_flight_timeout_ns
        clocks = self._clocks.values()
        return sum(1 for c in clocks if c.in_flight and now_ns - c.in_flight_since_ns < timeout)

    # -- building ----------------------------------------------------------------------------------

    def _directions(self, instance: Trio | OutcomeSet) -> Iterable[_Direction]:
        clock = self._clocks[instance.id]
        if isinstance(instance, Trio):
            for strategy, payout, roles in (
                (executor_pb2.STRATEGY_TRIO, 2.0, TRIO_ROLES),
                (executor_pb2.STRATEGY_COMPLEMENT_TRIO, 1.0, COMPLEMENT_ROLES),
            ):
                tokens = [instance.token(role) for role in roles]
                markets = [instance.market(role) for role in roles]
                yield _TrioBuy(
                    instance.id, strategy, payout, _legs(tokens, markets, BUY), markets,
                    [self._states[t] for t in tokens], clock,
                )
            return
        markets = list(instance.members)
        tokens = [m.yes_token_id for m in markets]
        states = [self._states[t] for t in tokens]
        yield _BundleBuy(
            instance.id, executor_pb2.STRATEGY_BUNDLE, 1.0, _legs(tokens, markets, BUY), markets, states,
            clock,
        )
        unbundle = _UnbundleSell(
            instance.id, executor_pb2.STRATEGY_UNBUNDLE, -1.0, _legs(tokens, markets, SELL), markets, states,
            clock,
        )
        self._unbundles.append(unbundle)
        yield unbundle


_STRATEGY_SWITCH = {
    executor_pb2.STRATEGY_TRIO: "trio",
    executor_pb2.STRATEGY_COMPLEMENT_TRIO: "complement_trio",
    executor_pb2.STRATEGY_BUNDLE: "bundle",
    executor_pb2.STRATEGY_UNBUNDLE: "unbundle",
}


def _legs(tokens: list[str], markets: list[Market], side: int) -> list[LegSpec]:
    return [
        LegSpec(
            token_id=token,
            side=side,
            tick_size=market.tick_size,
            min_order_size=market.min_order_size,
            neg_risk=market.neg_risk,
            fee_rate_bps=market.fee_rate_bps,
        )
        for token, market in zip(tokens, markets, strict=True)
    ]


def to_signal(
    opportunity: Opportunity, signal_id: str, trace: common_pb2.Trace | None = None
) -> executor_pb2.Signal:
    """The executor's view of an opportunity: one leg per token, all of the same size."""
    signal = executor_pb2.Signal(
        signal_id=signal_id,
        instance_id=opportunity.instance_id,
        strategy=opportunity.strategy,
        payout=opportunity.payout,
        expected_profit=opportunity.profit,
        min_profit_abs=opportunity.min_profit_abs,
    )
    if trace is not None:
        signal.trace.CopyFrom(trace)
    add_leg = signal.legs.add  # measured: adding in place beats building Leg messages and a list
    size = opportunity.size
    for leg, price, tick in zip(opportunity.legs, opportunity.prices, opportunity.tick_sizes, strict=True):
        add_leg(
            token_id=leg.token_id,
            side=leg.side,
            price=price,
            size=size,
            tick_size=tick,
            min_order_size=leg.min_order_size,
            neg_risk=leg.neg_risk,
            fee_rate_bps=leg.fee_rate_bps,
        )
    return signal
