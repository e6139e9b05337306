"""From a signal to the orders to sign, or a denial: the one call the servicer makes before signing.

Pure: no I/O, no clock (`now_ns` comes in); the ledger is read, never changed. The servicer then
reserves exactly what the plan says, with no await in between (one event loop, so plan and reserve
see the same ledger):

    plan = plan_trade(signal, ledger, config, now_ns=..., trading_enabled=..., circuit_open=...,
                      in_flight_instances=...)
    if isinstance(plan, Denial): ack(accepted=False, reason=str(plan.reason)); return
    ledger.reserve(plan.signal_id, plan.collateral, plan.inventory)
    for leg in plan.legs: build_order(side=leg.venue_side, token_id=leg.token_id, price=leg.price,
                                      size=leg.size, tick_size=leg.tick_size, ...)  # neg_risk picks the exchange

Steps: deny.check_signal (operator switches, malformed, too many legs, off tick, age, in flight,
outcome unknown),
duplicate_signal, pricing.limit_ticks (slippage capped by min_profit_abs, else unprofitable),
sizing.size_set (below_min_size, below_min_notional, inventory_short, collateral_short, exposure_cap), allowance.
"""

from __future__ import annotations

import math
from collections.abc import Container, Mapping
from types import MappingProxyType
from typing import NamedTuple

from executor_svc.deny import CheckedSignal, Denial, DenyReason, check_signal
from executor_svc.ledger import Ledger
from executor_svc.orders import OrderSide
from executor_svc.pricing import fee_per_share, limit_ticks, tick_price
from executor_svc.sizing import SetSize, pusd_units, size_set
from polyarb.v1 import executor_pb2

__all__ = ["PlannedLeg", "TradePlan", "plan_trade"]

_AMOUNT_UNITS = 1e6


class PlannedLeg(NamedTuple):
    token_id: str
    side: int  # polyarb.v1.Side (LegResult.side)
    venue_side: OrderSide  # what orders.build_order signs
    price: float  # the limit price, on the grid, within [tick, 1 - tick]
    size: float  # orders.exact_size of the set's hundredths: signs exactly that many shares
    tick_size: float
    neg_risk: bool
    fee_rate_bps: float
    signal_price: float
    slippage_ticks: int  # ticks between the signal's price and the limit
    maker_amount: int  # 6-decimal units, exactly what build_order will compute
    taker_amount: int


class TradePlan(NamedTuple):
    signal_id: str
    instance_id: str
    strategy: int  # polyarb.v1.Strategy
    order_type: str  # "FOK" or "FAK", from the config
    legs: tuple[PlannedLeg, ...]
    shares: float  # per leg, the same on every leg (hundredths / 100)
    hundredths: int
    payout: float  # per set
    collateral: float  # to reserve: the buy legs' pUSD at their limits, fees included
    inventory: Mapping[str, float]  # to reserve: shares per sold token (unbundle), read-only
    cost: float  # expected, at the signal's prices: collateral spent (received: negative) incl. fees
    expected_pnl: float  # payout x shares - cost
    worst_cost: float  # at the limit prices, fees included: the most the set can cost
    worst_pnl: float  # payout x shares - worst_cost; >= min_profit_abs x shares by construction


def plan_trade(
    signal: executor_pb2.Signal,
    ledger: Ledger,
    config: executor_pb2.ExecutorConfig,
    *,
    now_ns: int,
    trading_enabled: bool,
    circuit_open: bool,
    in_flight_instances: Container[str],
    unknown_instances: Container[str] = frozenset(),
    balance_known: bool = True,
    allowance: float = math.inf,
) -> TradePlan | Denial:
    """The orders for a signal, priced and sized, or the first reason not to trade it.

    balance_known and allowance come from the CLOB balance poll (executor_svc/balance.py); without
    polling they stay at their defaults."""
    checked = check_signal(
        signal,
        now_ns=now_ns,
        trading_enabled=trading_enabled,
        circuit_open=circuit_open,
        in_flight_instances=in_flight_instances,
        unknown_instances=unknown_instances,
        max_signal_age_ms=config.max_signal_age_ms,
        balance_known=balance_known,
    )
    if isinstance(checked, Denial):
        return checked
    if ledger.holds(checked.signal_id):
        return Denial(DenyReason.DUPLICATE_SIGNAL, f"signal {checked.signal_id} is already reserved")
    limits = limit_ticks(checked.legs, checked.payout, checked.min_profit_abs, config.slippage_ticks)
    if limits is None:
        return Denial(DenyReason.UNPROFITABLE, f"fees take the set below min_profit_abs {checked.min_profit_abs}")
    free_inventory = {leg.token_id: ledger.available_inventory(leg.token_id) for leg in checked.legs if not leg.buy}
    exposure = ledger.exposure()
    sized = size_set(
        checked.legs,
        limits,
        cap_hundredths=checked.cap_hundredths,
        available_collateral=ledger.collateral - exposure,  # == ledger.available(), one sum instead of two
        exposure=exposure,
        max_exposure=config.max_exposure,
        free_inventory=free_inventory,
        min_buy_units=pusd_units(config.min_marketable_buy_pusd),
    )
    if isinstance(sized, Denial):
        return sized
    if sized.collateral > 0 and sized.collateral + exposure > allowance:
        # the exchange pulls the pUSD of every matched buy: past the approval the batch would fail
        return Denial(DenyReason.ALLOWANCE, f"the set costs up to {sized.collateral:.6f} pUSD, {exposure:.6f} is "
                      f"reserved, the CLOB allowance is {allowance:.6f}")
    return _plan(checked, limits, sized, config.order_type)


def _plan(checked: CheckedSignal, limits: tuple[int, ...], sized: SetSize, order_type: str) -> TradePlan:
    shares = sized.hundredths / 100
    legs = []
    cost = worst_cost = 0.0
    inventory: dict[str, float] = {}
    for quote, ticks, (maker, taker) in zip(checked.legs, limits, sized.amounts, strict=True):
        limit = tick_price(ticks, quote.grid)
        expected_fee = fee_per_share(quote.price, quote.fee_rate) * shares
        worst_fee = fee_per_share(limit, quote.fee_rate) * shares
        if quote.buy:
            cost += quote.price * shares + expected_fee
            worst_cost += maker / _AMOUNT_UNITS + worst_fee
        else:
            cost += expected_fee - quote.price * shares
            worst_cost += worst_fee - taker / _AMOUNT_UNITS
            inventory[quote.token_id] = shares
        legs.append(
            PlannedLeg(  # positional: built per leg on every plan
                quote.token_id, quote.side, OrderSide.BUY if quote.buy else OrderSide.SELL, limit,
                sized.size, quote.grid.tick, quote.neg_risk, quote.fee_rate_bps, quote.price,
                abs(ticks - quote.ticks), maker, taker,
            )
        )
    payout_total = checked.payout * shares
    return TradePlan(
        signal_id=checked.signal_id,
        instance_id=checked.instance_id,
        strategy=checked.strategy,
        order_type=order_type,
        legs=tuple(legs),
        shares=shares,
        hundredths=sized.hundredths,
        payout=checked.payout,
        collateral=sized.collateral,
        inventory=MappingProxyType(inventory),
        cost=cost,
        expected_pnl=payout_total - cost,
        worst_cost=worst_cost,
        worst_pnl=payout_total - worst_cost,
    )
