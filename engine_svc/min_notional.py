"""The venue's minimum for a marketable BUY, applied to an equal-share set before it is signalled.

Pure. The venue refuses a FOK/FAK BUY whose pUSD side (shares x limit price, fees not included) is
under $1: "invalid amount for a marketable BUY order ($0.3), min size: $1" (NautilusTrader
docs/integrations/polymarket.md and its issue 3874). Every leg of a set has the same shares, so the
cheapest leg sets the floor for the whole set. Sells have no such minimum.

The executor has the last word (executor_svc/sizing.py, deny reason below_min_notional): it signs
each buy leg at its limit price, the signal's price plus slippage, never lower; and it rounds the
shares down to the FOK/FAK precision step of those limits. The higher price only raises a leg's
notional, so checking at the signal's price is on the safe side; the rounding is not, and the engine
does not know the limits (the slippage is the executor's config). So the engine checks the size the
executor could round down to in the worst case: the set's size on the coarsest FOK share grid of its
legs' ticks, a multiple of every step that any price on those ticks can need. A set that meets the
minimum there meets it at whatever limits the executor picks, and, with the same figure in both
configs, the engine never signals what the executor must deny for this reason (property-tested in
tests/test_min_notional.py). The cost is a little more caution than the executor needs: up to one
share more on a 0.01 tick (a leg at 0.03 needs 34 shares, as the executor's own rule at 0.03 gives),
up to 10 on a 0.001 tick and 100 on a 0.0001 tick.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["FOK_SHARE_GRID", "smallest_buy_set"]

# Per tick, in hundredths of a share: the step on which a BUY at any price of the tick meets the FOK/FAK
# precision (pUSD side at most 2 decimals, protocol doc 2.5). With the price as P units of 10^-d
# (d = its decimals), N hundredths x P must be a multiple of 10^d; P is a multiple of the tick's units
# (1, or 5 for 0.005, 25 for 0.0025), so N a multiple of 10^d / units always works, and the price of
# one tick needs all of it.
FOK_SHARE_GRID = {0.1: 10, 0.01: 100, 0.005: 200, 0.0025: 400, 0.001: 1_000, 0.0001: 10_000}


def smallest_buy_set(prices: Sequence[float], ticks: Sequence[float], min_pusd: float) -> float:
    """Shares of the smallest set, on the legs' coarsest FOK share grid, in which every leg bought at
    its price is worth at least `min_pusd`; 0 when `min_pusd` is not positive, inf when a tick is not
    one the venue uses (the executor would refuse the signal anyway)."""
    if not min_pusd > 0.0:
        return 0.0
    grid = 1
    need = 0
    for price, tick in zip(prices, ticks, strict=True):
        step = FOK_SHARE_GRID.get(tick)
        if step is None or not price > 0.0:
            return math.inf
        grid = math.lcm(grid, step)
        # Float noise must not add a hundredth: 1.1 x 100 / 0.1 is 1100.0000000000002, not 1101.
        need = max(need, math.ceil(min_pusd * 100.0 / price - 1e-6))
    return -(-need // grid) * grid / 100.0
