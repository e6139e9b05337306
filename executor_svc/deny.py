"""Deny reasons and the checks decidable before sizing.

Pure: no I/O, no clock (`now_ns` comes in). A denial is an ack with a reason code, not a trade
result (CONTRACT.md); the code is the SignalAck.reason and the `reason` label of
polyarb_signals_denied_total, so the values below are part of the interface.

Order of the checks in `check_signal` (the first that fails is the reason given):
 1. trading_disabled, 2. circuit_open: the operator's switches, whatever the signal says.
    balance_unknown: with CLOB polling, no good GET /balance-allowance for 30 s (executor_svc/balance.py).
 3. bad_signal, signal level: ids, strategy, payout for the strategy, min_profit_abs, a timestamp.
 4. too_many_legs: before reading the legs, so a huge message costs nothing more.
 5. bad_signal, per leg: token ids, sides for the strategy, prices, sizes, ticks, fees, duplicates.
 6. off_tick: a well-formed price that is not on its leg's tick grid.
 7. signal_too_old, 8. in_flight, 9. outcome_unknown: the state of the world, after the faults of
    the signal itself, so a broken engine is reported as broken and never hidden behind a slow clock.
plan_trade (executor_svc/plan.py) continues with duplicate_signal, unprofitable (pricing) and the
sizing reasons (executor_svc/sizing.py: below_min_size, below_min_notional, inventory_short,
collateral_short, exposure_cap) and allowance.
"""

from __future__ import annotations

import math
from collections.abc import Container
from enum import StrEnum
from typing import NamedTuple

from executor_svc.orders import MAX_ORDERS_PER_BATCH
from executor_svc.pricing import BPS, EPS, GRIDS, LegQuote, price_ticks
from polyarb.v1 import executor_pb2

__all__ = ["CheckedSignal", "Denial", "DenyReason", "check_signal", "hundredths_of", "signal_sent_ns"]

_NS_PER_MS = 1_000_000
_MAX_TOKEN_DIGITS = 78  # 2^256 has 78 digits; orders.build_order checks the exact bound
BUY = executor_pb2.SIDE_BUY
SELL = executor_pb2.SIDE_SELL


class DenyReason(StrEnum):
    """Why a signal was not executed. str(reason) is the code sent in SignalAck.reason."""

    TRADING_DISABLED = "trading_disabled"  # SetTradingEnabled(false), or never enabled since start
    CIRCUIT_OPEN = "circuit_open"  # a run of HTTP failures; closes only with SetTradingEnabled(true)
    # Malformed: no legs or a wrong leg count for the strategy, unknown strategy or side, empty ids,
    # a token id that is not decimal digits (or longer than a uint256), the same token twice, payout
    # or side not the strategy's, NaN/inf/negative/zero price or size, legs of different sizes, a
    # price outside [tick, 1 - tick], a tick not among the six the venue uses, a negative or NaN min
    # size, fee rate (or above 10 000 bps) or min_profit_abs, a trace without any timestamp (its age
    # cannot be known).
    BAD_SIGNAL = "bad_signal"
    TOO_MANY_LEGS = "too_many_legs"  # more legs than one POST /orders batch holds (15)
    OFF_TICK = "off_tick"  # a leg price not on its tick grid
    SIGNAL_TOO_OLD = "signal_too_old"  # |now - frame arrival| > max_signal_age_ms (a future stamp is clock skew)
    IN_FLIGHT = "in_flight"  # the instance already has a set being executed
    OUTCOME_UNKNOWN = "outcome_unknown"  # an earlier batch of the instance has an unknown outcome, not yet settled
    DUPLICATE_SIGNAL = "duplicate_signal"  # this signal id already holds a reservation
    UNPROFITABLE = "unprofitable"  # even at the signal's own prices, fees make the set miss min_profit_abs
    BELOW_MIN_SIZE = "below_min_size"  # the signal's size is under a leg's minimum or FOK-precision size
    # the signal's size is under the size at which every buy leg, at its limit price, is worth the venue's
    # minimum for a marketable BUY (ExecutorConfig.min_marketable_buy_pusd, $1), FOK precision on top
    BELOW_MIN_NOTIONAL = "below_min_notional"
    INVENTORY_SHORT = "inventory_short"  # unbundle: a leg token's free inventory is under the minimum
    COLLATERAL_SHORT = "collateral_short"  # collateral minus reservations buys less than the minimum
    EXPOSURE_CAP = "exposure_cap"  # the minimum set would take exposure past max_exposure
    # issue 16, CLOB polling (executor_svc/balance.py):
    BALANCE_UNKNOWN = "balance_unknown"  # no good GET /balance-allowance for 30 s (or none yet)
    ALLOWANCE = "allowance"  # the set's cost plus what open signals reserve exceeds the CLOB's allowance


class Denial(NamedTuple):
    """A reason code plus a short human detail for the log (never secret, never sent as the code)."""

    reason: DenyReason
    detail: str


class CheckedSignal(NamedTuple):
    """A signal that passed every check before sizing, its legs read once into LegQuotes."""

    signal_id: str
    instance_id: str
    strategy: int
    payout: float
    min_profit_abs: float
    legs: tuple[LegQuote, ...]
    cap_hundredths: int  # the signal's size, in hundredths of a share (the same on every leg)


class _Shape(NamedTuple):
    side: int
    payout: float
    min_legs: int
    max_legs: int


# The engine's conventions (engine_svc/strategies.py): buys pay out in every outcome, an unbundle
# sells every YES of a set it holds minted (payout -1).
_SHAPES = {
    executor_pb2.STRATEGY_TRIO: _Shape(BUY, 2.0, 3, 3),
    executor_pb2.STRATEGY_COMPLEMENT_TRIO: _Shape(BUY, 1.0, 3, 3),
    executor_pb2.STRATEGY_BUNDLE: _Shape(BUY, 1.0, 2, MAX_ORDERS_PER_BATCH),
    executor_pb2.STRATEGY_UNBUNDLE: _Shape(SELL, -1.0, 2, MAX_ORDERS_PER_BATCH),
}


def _bad(detail: str) -> Denial:
    return Denial(DenyReason.BAD_SIGNAL, detail)


def signal_sent_ns(signal: executor_pb2.Signal) -> int:
    """How old the market data behind a signal is measured from: when its WebSocket frame arrived,
    else when the engine received it, else when the engine sent the signal; 0 if none.

    The frame's arrival, not the engine's send time: under load a frame can queue in ingest and in
    the engine for longer than max_signal_age_ms, and a signal sent promptly from a frame that old is
    still a trade on an old book (measured at 5K frames/s: 0.4 s old, none denied, with the send time)."""
    trace = signal.trace
    return trace.ws_recv_ns or trace.engine_recv_ns or trace.signal_sent_ns


# Share counts are read up to this: a larger size or minimum (a signal's size is only a cap, sizing.py
# caps a set at 100 000 shares) changes nothing, and from about 1.8e306 on, x 100 overflows to inf.
_MAX_SHARES = 1e12


def hundredths_of(shares: float) -> int:
    """Whole hundredths of a share in `shares` (finite, >= 0), tolerant of float noise: 0.29 is 29."""
    return math.floor(min(shares, _MAX_SHARES) * 100.0 + 1e-6)


def check_signal(
    signal: executor_pb2.Signal,
    *,
    now_ns: int,
    trading_enabled: bool,
    circuit_open: bool,
    in_flight_instances: Container[str],
    unknown_instances: Container[str] = frozenset(),
    max_signal_age_ms: int,
    balance_known: bool = True,
) -> CheckedSignal | Denial:
    """The signal's legs read and checked in the documented order, or the first denial."""
    if not trading_enabled:
        return Denial(DenyReason.TRADING_DISABLED, "trading is disabled")
    if circuit_open:
        return Denial(DenyReason.CIRCUIT_OPEN, "circuit open after consecutive HTTP failures")
    if not balance_known:
        return Denial(DenyReason.BALANCE_UNKNOWN, "no CLOB balance younger than 30 s")

    shape = _SHAPES.get(signal.strategy)
    if shape is None:
        return _bad(f"unknown strategy {signal.strategy}")
    if not signal.signal_id or not signal.instance_id:
        return _bad("empty signal_id or instance_id")
    payout = signal.payout
    if not abs(payout - shape.payout) <= EPS:
        return _bad(f"payout {payout!r} is not {shape.payout} for this strategy")
    min_profit_abs = signal.min_profit_abs
    if not 0.0 <= min_profit_abs < math.inf:
        return _bad(f"min_profit_abs {min_profit_abs!r} must be finite and >= 0")
    sent_ns = signal_sent_ns(signal)
    if sent_ns <= 0:
        return _bad("trace carries no timestamp: the signal's age is unknown")

    legs = signal.legs
    if len(legs) > MAX_ORDERS_PER_BATCH:
        return Denial(DenyReason.TOO_MANY_LEGS, f"{len(legs)} legs, one batch holds {MAX_ORDERS_PER_BATCH}")
    if not shape.min_legs <= len(legs) <= shape.max_legs:
        return _bad(f"{len(legs)} legs; this strategy has {shape.min_legs}..{shape.max_legs}")

    quotes: list[LegQuote] = []
    seen: set[str] = set()
    off_tick: Denial | None = None  # reported only once every leg is known to be well formed
    size = legs[0].size
    if not 0.0 < size < math.inf:
        return _bad(f"leg size {size!r} must be a positive number of shares")
    for i, leg in enumerate(legs):
        token_id = leg.token_id
        if not (token_id.isascii() and token_id.isdigit() and len(token_id) <= _MAX_TOKEN_DIGITS):
            return _bad(f"leg {i}: token id {token_id!r} is not a uint256 in decimal digits")
        if token_id in seen:
            return _bad(f"leg {i}: token {token_id} appears twice")
        seen.add(token_id)
        if leg.side != shape.side:
            return _bad(f"leg {i}: side {leg.side} does not match the strategy")
        if leg.size != size:
            return _bad(f"leg {i}: size {leg.size!r} differs from leg 0's {size!r}")
        grid = GRIDS.get(leg.tick_size)
        if grid is None:
            return _bad(f"leg {i}: tick size {leg.tick_size!r} is not one the venue uses")
        price = leg.price
        if not 0.0 < price < 1.0:
            return _bad(f"leg {i}: price {price!r} outside [{grid.tick}, {1 - grid.tick}]")
        min_size = leg.min_order_size
        if not 0.0 <= min_size < math.inf:
            return _bad(f"leg {i}: min_order_size {min_size!r} must be finite and >= 0")
        fee_rate_bps = leg.fee_rate_bps
        if not 0.0 <= fee_rate_bps <= BPS:
            return _bad(f"leg {i}: fee_rate_bps {fee_rate_bps!r} must be in [0, 10000]")
        ticks = price_ticks(price, grid)
        if ticks is None:
            if off_tick is None:
                off_tick = Denial(DenyReason.OFF_TICK, f"leg {i}: price {price!r} is not on the {grid.tick} grid")
            continue
        if not 1 <= ticks <= grid.top:
            return _bad(f"leg {i}: price {price!r} outside [{grid.tick}, {1 - grid.tick}]")
        quotes.append(
            LegQuote(
                token_id,
                leg.side,
                leg.side == BUY,
                price,
                ticks,
                grid,
                math.ceil(min(min_size, _MAX_SHARES) * 100.0 - 1e-6),  # 5 shares is 500; 4.999999999 too
                fee_rate_bps / BPS,
                fee_rate_bps,
                leg.neg_risk,
            )
        )
    if off_tick is not None:
        return off_tick

    age_ns = now_ns - sent_ns
    if abs(age_ns) > max_signal_age_ms * _NS_PER_MS:
        age = f"{age_ns / _NS_PER_MS:.1f} ms" + ("" if age_ns > 0 else " (stamped in the future: clock skew)")
        return Denial(DenyReason.SIGNAL_TOO_OLD, f"age {age}, max {max_signal_age_ms} ms")
    if signal.instance_id in in_flight_instances:
        return Denial(DenyReason.IN_FLIGHT, f"instance {signal.instance_id} is in flight")
    if signal.instance_id in unknown_instances:
        return Denial(DenyReason.OUTCOME_UNKNOWN, f"instance {signal.instance_id} has a batch of unknown outcome")
    return CheckedSignal(
        signal.signal_id, signal.instance_id, signal.strategy, payout, min_profit_abs, tuple(quotes),
        hundredths_of(size),
    )
