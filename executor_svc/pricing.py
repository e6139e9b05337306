"""Limit prices: the tick grid in integers, the taker fee, and slippage capped by the profit threshold.

Pure: no I/O, no clock. Prices are held as whole numbers of ticks so that adding slippage never
drifts off the grid (0.57 + 0.01 is 0.5800000000000001 as floats; 57 + 1 ticks is 58), and a limit
price is turned back into a float once, as `ticks x units_per_tick / 10^digits`: the integer over
a power of ten is the float nearest the decimal, i.e. exactly what the literal "0.58" gives.

Worst case per leg: a taker order fills at its limit or better, and the signed cost of a share,
`price + fee` for a buy and `fee - price` for a sell with `fee = rate x p(1 - p)`, has derivative
`1 + rate(1 - 2p)` resp. `-1 + rate(1 - 2p)` in p: with rate <= 1 the buy cost rises and the sell
cost falls as p rises. So the limit price is each leg's worst fill, fee included, and a set whose
limits meet the threshold meets it at any fill within them.

Slippage rule (documented choice): every leg first gets the same number of ticks, the largest
`s <= slippage_ticks` for which the set still meets `min_profit_abs` (the profit only falls as s
grows, so a bisection finds it); then, in leg order, each leg takes one tick more if the set still
meets the threshold with it. Legs near the edge of the grid are clamped to [tick, 1 - tick] and
simply get less room. This uses as many of the configured ticks as the threshold allows, spread
evenly, and is deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import NamedTuple

from executor_svc.orders import ROUNDING_CONFIG

__all__ = [
    "BPS",
    "EPS",
    "GRIDS",
    "LegQuote",
    "TickGrid",
    "fee_per_share",
    "limit_ticks",
    "meets_threshold",
    "price_ticks",
    "set_profit",
    "share_cost",
    "slippage_room",
    "tick_price",
]

# Float noise on sums of grid prices (0.30 + 0.30 + 0.39 is not exactly 0.99); the engine's EPS too,
# so a set the engine sent exactly at the threshold is not refused for the last bit.
EPS = 1e-9
BPS = 10_000.0


class TickGrid(NamedTuple):
    """One tick size as integers: a price is `ticks x per_tick` units of 10^-digits."""

    tick: float
    digits: int  # price decimals (ROUNDING_CONFIG "price")
    scale: int  # 10 ** digits
    per_tick: int  # price units per tick: 1, or 5 for 0.005, or 25 for 0.0025
    top: int  # ticks at 1 - tick, the highest valid price (PCC2 price_valid)


def _grid(key: str) -> TickGrid:
    digits = ROUNDING_CONFIG[key].price
    scale = 10**digits
    per_tick = round(float(key) * scale)
    return TickGrid(float(key), digits, scale, per_tick, scale // per_tick - 1)


# The six ticks the venue uses, keyed by the float a proto double carries (0.01 == float("0.01")).
GRIDS: Mapping[float, TickGrid] = MappingProxyType({float(k): _grid(k) for k in ROUNDING_CONFIG})


def price_ticks(price: float, grid: TickGrid) -> int | None:
    """The price as a whole number of ticks, or None when it is off the grid.

    The tolerance is orders.check_price's (1e-6 of a price digit), so a price accepted here is
    accepted there when the order is built. `price` must be finite (the caller checks).
    """
    scaled = price * grid.scale
    units = round(scaled)
    if abs(scaled - units) > 1e-6 or units % grid.per_tick:
        return None
    return units // grid.per_tick


def tick_price(ticks: int, grid: TickGrid) -> float:
    """The float a limit price of `ticks` is signed with (the nearest float to the decimal)."""
    return ticks * grid.per_tick / grid.scale


def fee_per_share(price: float, rate: float) -> float:
    """Taker fee in pUSD per share: rate x p(1 - p), rate = fee_rate_bps / 10 000.

    The same curve as engine_svc/fees.py (py-clob-client-v2 fees.py, exponent 1; protocol doc 2.5,
    last bullet); written again here because services share only polyarb.v1 and polyarb.runtime.
    The venue floors the charge to 5 decimals, so this never understates it.
    """
    return rate * price * (1.0 - price)


class LegQuote(NamedTuple):
    """One validated leg of a signal: the signal's price as ticks on its grid, plus what sizing needs.
    (NamedTuples throughout the plan: built on every signal, 6x cheaper than frozen dataclasses.)"""

    token_id: str
    side: int  # polyarb.v1.Side: SIDE_BUY or SIDE_SELL
    buy: bool
    price: float  # the signal's price, on the grid
    ticks: int  # the same price in ticks, 1 <= ticks <= grid.top
    grid: TickGrid
    min_hundredths: int  # the market's minimum order size, in hundredths of a share (rounded up)
    fee_rate: float  # fee_rate_bps / 10 000
    fee_rate_bps: float
    neg_risk: bool


def share_cost(leg: LegQuote, ticks: int) -> float:
    """Signed collateral per share at `ticks`, fee included: paid for a buy, minus received for a sell."""
    price = tick_price(ticks, leg.grid)
    fee = leg.fee_rate * price * (1.0 - price)
    return price + fee if leg.buy else fee - price


def set_profit(legs: Sequence[LegQuote], ticks: Sequence[int], payout: float) -> float:
    """Profit per set of one share per leg at these prices: payout - cost (the engine's convention)."""
    cost = 0.0
    for leg, t in zip(legs, ticks, strict=True):
        cost += share_cost(leg, t)
    return payout - cost


def meets_threshold(profit: float, min_profit_abs: float) -> bool:
    """At least min_profit_abs per set and never break-even or worse (NaN fails both)."""
    return profit > EPS and profit >= min_profit_abs - EPS


def slippage_room(leg: LegQuote) -> int:
    """Ticks of slippage the grid allows before the price leaves [tick, 1 - tick]."""
    return leg.grid.top - leg.ticks if leg.buy else leg.ticks - 1


def _slipped(leg: LegQuote, room: int, slip: int) -> int:
    slip = min(slip, room)
    return leg.ticks + slip if leg.buy else leg.ticks - slip


def limit_ticks(
    legs: Sequence[LegQuote], payout: float, min_profit_abs: float, slippage_ticks: int
) -> tuple[int, ...] | None:
    """Each leg's limit price in ticks (see the module doc for the rule), or None when even the
    signal's own prices, with fees, miss the threshold."""
    rooms = [slippage_room(leg) for leg in legs]
    top = min(slippage_ticks, max(rooms))

    def uniform(slip: int) -> list[int]:
        return [_slipped(leg, room, slip) for leg, room in zip(legs, rooms, strict=True)]

    limits = uniform(top)
    if meets_threshold(set_profit(legs, limits, payout), min_profit_abs):
        return tuple(limits)  # the usual case: the full slippage fits
    if not meets_threshold(set_profit(legs, [leg.ticks for leg in legs], payout), min_profit_abs):
        return None
    ok, bad = 0, top  # invariant: uniform(ok) meets the threshold, uniform(bad) does not
    while bad - ok > 1:
        mid = (ok + bad) // 2
        if meets_threshold(set_profit(legs, uniform(mid), payout), min_profit_abs):
            ok = mid
        else:
            bad = mid
    limits = uniform(ok)
    # One more tick, leg by leg, while the set still meets the threshold (bad = ok + 1 <= slippage_ticks).
    for i, (leg, room) in enumerate(zip(legs, rooms, strict=True)):
        if room > ok:
            trial = limits.copy()
            trial[i] = _slipped(leg, room, bad)
            if meets_threshold(set_profit(legs, trial, payout), min_profit_abs):
                limits = trial
    return tuple(limits)
