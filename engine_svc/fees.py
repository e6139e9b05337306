"""Polymarket's taker fee, as the engine prices it into every set.

CLOB V2 charges takers (our legs are always marketable FOK/FAK orders, so always takers)

    fee = shares * rate * (p * (1 - p)) ** exponent        (in pUSD)

Sources: py-clob-client-v2 1.2.1 `fees.py::adjust_buy_amount_for_fees`
(`platform_fee_rate = fee_rate * (price * (1 - price)) ** fee_exponent`, then
`platform_fee = (amount / price) * platform_fee_rate`, i.e. shares x that rate), with `rate` and
`exponent` from the market's fee info (`GET /clob-markets/{condition_id}` → `fd = {r, e}`, Gamma
`feeSchedule = {"rate": 0.07, "exponent": 1, "takerOnly": true, ...}`); polymarket-protocol.md 2.5,
last bullet. NautilusTrader's `compute_commission` documents the same curve (docs.polymarket.com/
trading/fees) and notes the venue floors the charge to 5 decimals; we do not round, which can only
overstate the fee (the safe side for a profit check).

How the fee is paid: a BUY pays it in collateral on top of price x shares (that is why
`adjust_buy_amount_for_fees` adds it to `total_cost`), so the shares received stay whole and the
equal-share payout of a set is untouched; a SELL receives price x shares minus the fee.

Mapping of the proto's `fee_rate_bps` (V2 orders no longer carry a fee field, so this number is
ours to define): `rate = fee_rate_bps / 10_000` with exponent 1, i.e. `fee_rate_bps` is Gamma's
`feeSchedule.rate` in basis points (crypto's 0.07 is 700; 0 for a market without fees). Exponent 1
is the schedule every category uses today; a market with another exponent needs a proto field.
It is *not* the legacy `GET /fee-rate` `base_fee` (reported as 1000 on fee-charging markets),
which would overstate the fee (1.4x to 3.3x today) and cost missed signals, never a loss.
"""

from __future__ import annotations

BPS = 10_000.0
DEFAULT_EXPONENT = 1.0


def rate_from_bps(fee_rate_bps: float) -> float:
    """The V2 `feeSchedule.rate` that a proto `fee_rate_bps` stands for."""
    return fee_rate_bps / BPS


def fee_per_share(price: float, rate: float, exponent: float = DEFAULT_EXPONENT) -> float:
    """Taker fee in pUSD for one share traded at `price` (0 outside the open interval (0, 1))."""
    if rate <= 0.0 or not 0.0 < price < 1.0:
        return 0.0
    return rate * (price * (1.0 - price)) ** exponent


def taker_fee(shares: float, price: float, rate: float, exponent: float = DEFAULT_EXPONENT) -> float:
    """Taker fee in pUSD for `shares` traded at `price`."""
    return shares * fee_per_share(price, rate, exponent)
