"""One share size for every leg of a set: the largest the signal, inventory, collateral and exposure
allow that also meets each leg's minimum, the venue's minimum for a marketable BUY and the FOK/FAK
amount precision.

Pure: no I/O, no clock; the ledger's figures come in as numbers.

FOK/FAK precision (protocol doc 2.5, orders.fok_size): with shares in hundredths N and a leg's limit
price as P units of 10^-d, the pUSD side N x P / 10^(2 + d) may have at most 2 decimals (a buy's
maker side) or 4 (a sell's taker side). That holds exactly when N is a multiple of the leg's step
10^k / gcd(P, 10^k), k = 2 + d - pUSD decimals. Every leg signs the same N, so N must be a multiple
of the lcm of the legs' steps (all divide a power of ten, so the lcm is one too). The search is then
arithmetic, not a loop over the 2-decimal grid: the largest multiple of the step under the caps,
checked exactly and stepped down on a float edge of the collateral sum (bounded loop).

Amounts are integers here: N x P x 10^(4 - d) pUSD units and N x 10^4 share units, which is what
orders.order_amounts computes from (tick_price, exact_size(N)) for every N <= MAX_SET_HUNDREDTHS
(property-tested; at 3 us a leg it was a third of the planning time). Above about 480 000 shares
PCC2's float rounding starts to differ from the exact amount by a unit, so a set is capped at
100 000 shares: far above any book on the venue, and inside the range where both agree.

Shares sign as orders.exact_size(N): PCC2 cuts 0.29 to 0.28 (0.29 * 100 == 28.999999999999996).

Marketable BUY minimum: the venue refuses a FOK/FAK BUY whose pUSD side (maker amount, shares x limit
price, fees not included) is under $1: "invalid amount for a marketable BUY order ($0.3), min size: $1"
(NautilusTrader docs/integrations/polymarket.md and its issue 3874). The limit price is the one signed
here, slippage included. Equal shares mean the cheapest buy leg sets the floor for the whole set:
N x P x 10^(4 - d) >= the minimum in pUSD units, N rounded up to the common FOK step, so the smallest
valid set meets every leg's minimum size, every buy leg's minimum notional and the precision at once.
Sells have no such minimum.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from executor_svc.deny import Denial, DenyReason
from executor_svc.ledger import share_units
from executor_svc.orders import FOK_MAKER_DECIMALS, FOK_TAKER_DECIMALS, TOKEN_DECIMALS, exact_size, meets_fok_precision
from executor_svc.pricing import LegQuote, TickGrid, share_cost, tick_price

__all__ = ["MAX_SET_HUNDREDTHS", "SetSize", "fok_step", "leg_amounts", "notional_hundredths", "pusd_units", "size_set"]

_SHARE_DECIMALS = 2  # ROUNDING_CONFIG "size" for every tick
_UNITS_PER_HUNDREDTH = 10 ** (TOKEN_DECIMALS - _SHARE_DECIMALS)  # 6-decimal units in 0.01 share
_AMOUNT_UNITS = 10.0**TOKEN_DECIMALS
MAX_SET_HUNDREDTHS = 10_000_000  # 100 000 shares: see the module doc
# Caps computed in floats are nudged up by this many hundredths and the exact check steps down, so a
# quotient like 299.99999999999994 for 300 does not lose a step.
_CAP_NUDGE = 1e-6
_MAX_STEPS = 8  # float edges cost one step down at most in practice; more means something is wrong
# A minimum notional is read up to this many pUSD: far above any collateral, and x 10^6 stays finite.
_MAX_MIN_PUSD = 1e12


class SetSize(NamedTuple):
    hundredths: int  # shares per leg x 100
    size: float  # exact_size(hundredths): the float that signs exactly that many shares
    amounts: tuple[tuple[int, int], ...]  # (maker_units, taker_units) per leg, as orders.order_amounts gives
    collateral: float  # pUSD the buy legs may spend at their limits, fees included: what to reserve


def fok_step(buy: bool, price_units: int, grid: TickGrid) -> int:
    """The leg's FOK/FAK step in hundredths of a share; price_units = the limit in 10^-digits units."""
    pusd_decimals = FOK_MAKER_DECIMALS if buy else FOK_TAKER_DECIMALS
    modulus = 10 ** max(_SHARE_DECIMALS + grid.digits - pusd_decimals, 0)
    return modulus // math.gcd(price_units, modulus)


def leg_amounts(buy: bool, price_units: int, grid: TickGrid, hundredths: int) -> tuple[int, int]:
    """(maker_units, taker_units) of a leg signing `hundredths` shares at price_units / 10^digits."""
    shares = hundredths * _UNITS_PER_HUNDREDTH
    pusd = hundredths * price_units * 10 ** (TOKEN_DECIMALS - _SHARE_DECIMALS - grid.digits)
    return (pusd, shares) if buy else (shares, pusd)


def pusd_units(pusd: float) -> int:
    """A pUSD figure (finite, >= 0) in 6-decimal units, rounded up, tolerant of float noise: 1.0 is 10^6."""
    return max(math.ceil(min(pusd, _MAX_MIN_PUSD) * _AMOUNT_UNITS - 1e-6), 0)


def notional_hundredths(price_units: int, grid: TickGrid, min_units: int) -> int:
    """The fewest hundredths of a share for which a buy at price_units / 10^digits spends min_units
    (6-decimal pUSD) or more, exactly as leg_amounts computes the maker amount."""
    per_hundredth = price_units * 10 ** (TOKEN_DECIMALS - _SHARE_DECIMALS - grid.digits)
    return -(-min_units // per_hundredth)


def _cap(budget: float, per_share: float) -> int:
    """Hundredths of a share `budget` pays for at `per_share` (nudged up; the exact check decides), at most
    MAX_SET_HUNDREDTHS: a huge budget (max_exposure 1e308 meaning "no cap") overflows the quotient to inf."""
    if not budget > 0.0:
        return 0
    return math.floor(min(budget * 100.0 / per_share + _CAP_NUDGE, MAX_SET_HUNDREDTHS))


def size_set(
    legs: Sequence[LegQuote],
    limits: Sequence[int],
    *,
    cap_hundredths: int,
    available_collateral: float,
    exposure: float,
    max_exposure: float,
    free_inventory: Mapping[str, float],
    min_buy_units: int = 0,
) -> SetSize | Denial:
    """The set's size at these limit prices (ticks per leg), or the reason there is none.

    free_inventory: shares free to sell per token (held minus reserved); read for sell legs only.
    min_buy_units: the least every buy leg may spend at its limit, in pUSD units (pusd_units of
    ExecutorConfig.min_marketable_buy_pusd); 0 checks nothing.
    Reasons, in this order: below_min_size (the signal's own size is under every leg's minimum, rounded
    up to the common FOK step), below_min_notional (it is under the size at which every buy leg reaches
    min_buy_units, rounded up to the step), inventory_short, collateral_short, exposure_cap (each: that
    cap alone leaves less than the smallest valid size, the one meeting both minimums).
    """
    step = 1
    need = 1
    notional = 1  # hundredths at which every buy leg reaches min_buy_units at its limit
    buy_per_share = 0.0  # pUSD per share of the set on the buy legs, fees included
    signal_cap = min(cap_hundredths, MAX_SET_HUNDREDTHS)
    inventory_cap = signal_cap
    price_units: list[int] = []
    for leg, ticks in zip(legs, limits, strict=True):
        units = ticks * leg.grid.per_tick
        price_units.append(units)
        step = math.lcm(step, fok_step(leg.buy, units, leg.grid))
        need = max(need, leg.min_hundredths)
        if leg.buy:
            buy_per_share += share_cost(leg, ticks)
            if min_buy_units:
                notional = max(notional, notional_hundredths(units, leg.grid, min_buy_units))
        else:
            free_units = share_units(free_inventory.get(leg.token_id, 0.0))
            inventory_cap = min(inventory_cap, free_units // _UNITS_PER_HUNDREDTH)
    smallest_by_size = -(-need // step) * step
    smallest = -(-max(need, notional) // step) * step

    if signal_cap < smallest_by_size:
        return Denial(
            DenyReason.BELOW_MIN_SIZE,
            f"size {cap_hundredths / 100} under the smallest valid size {smallest_by_size / 100} "
            f"(leg minimum {need / 100}, FOK step {step / 100})",
        )
    if signal_cap < smallest:
        return Denial(
            DenyReason.BELOW_MIN_NOTIONAL,
            f"size {cap_hundredths / 100} under the smallest valid size {smallest / 100}: the cheapest buy leg "
            f"at its limit needs {notional / 100} sh to reach {min_buy_units / _AMOUNT_UNITS} pUSD "
            f"(FOK step {step / 100})",
        )
    if inventory_cap < smallest:
        return Denial(DenyReason.INVENTORY_SHORT, f"free inventory sells {inventory_cap / 100}, need {smallest / 100}")
    collateral_cap = exposure_cap = signal_cap
    if buy_per_share > 0.0:
        collateral_cap = _cap(available_collateral, buy_per_share)
        exposure_cap = _cap(max_exposure - exposure, buy_per_share)
    if collateral_cap < smallest:
        return _short(DenyReason.COLLATERAL_SHORT, available_collateral, smallest, buy_per_share)
    if exposure_cap < smallest:
        return _short(DenyReason.EXPOSURE_CAP, max_exposure - exposure, smallest, buy_per_share)

    n = min(signal_cap, inventory_cap, collateral_cap, exposure_cap)
    n -= n % step
    reason = DenyReason.BELOW_MIN_SIZE  # what stopped the last candidate
    for _ in range(_MAX_STEPS):
        if n < smallest:
            break
        amounts = [leg_amounts(leg.buy, units, leg.grid, n) for leg, units in zip(legs, price_units, strict=True)]
        collateral = _collateral(legs, limits, amounts, n)
        if not all([meets_fok_precision(maker, taker) for maker, taker in amounts]):
            reason = DenyReason.BELOW_MIN_SIZE  # unreachable with n a multiple of the step; the last word
        elif any([leg.buy and maker < min_buy_units for leg, (maker, _) in zip(legs, amounts, strict=True)]):
            reason = DenyReason.BELOW_MIN_NOTIONAL  # unreachable with n >= smallest; the last word too
        elif collateral > 0.0 and collateral > available_collateral:
            reason = DenyReason.COLLATERAL_SHORT
        elif collateral > 0.0 and exposure + collateral > max_exposure:
            reason = DenyReason.EXPOSURE_CAP
        else:
            return SetSize(n, exact_size(n), tuple(amounts), collateral)
        n -= step
    if reason is DenyReason.COLLATERAL_SHORT:
        return _short(reason, available_collateral, smallest, buy_per_share)
    if reason is DenyReason.EXPOSURE_CAP:
        return _short(reason, max_exposure - exposure, smallest, buy_per_share)
    return Denial(reason, f"no size from {min(signal_cap, inventory_cap) / 100} down meets every leg's FOK precision "
                          f"and minimum notional")


def _collateral(
    legs: Sequence[LegQuote], limits: Sequence[int], amounts: Sequence[tuple[int, int]], hundredths: int
) -> float:
    """The buy legs' pUSD as signed (maker amounts) plus their taker fees at the limit prices."""
    total = 0.0
    for leg, ticks, (maker, _taker) in zip(legs, limits, amounts, strict=True):
        if leg.buy:
            price = tick_price(ticks, leg.grid)
            total += maker / _AMOUNT_UNITS + leg.fee_rate * price * (1.0 - price) * hundredths / 100.0
    return total


def _short(reason: DenyReason, budget: float, smallest: int, per_share: float) -> Denial:
    return Denial(reason, f"{budget:.6f} pUSD room; the smallest valid set ({smallest / 100} sh) needs "
                          f"{smallest / 100 * per_share:.6f}")
