"""Signals as the engine sends them, for the executor's risk-core tests (deny, pricing, sizing, plan)."""

from __future__ import annotations

from collections.abc import Sequence

from polyarb.v1 import common_pb2, executor_pb2

NOW_NS = 1_700_000_000_000_000_000
MS = 1_000_000

TRIO = executor_pb2.STRATEGY_TRIO
COMPLEMENT = executor_pb2.STRATEGY_COMPLEMENT_TRIO
BUNDLE = executor_pb2.STRATEGY_BUNDLE
UNBUNDLE = executor_pb2.STRATEGY_UNBUNDLE
BUY = executor_pb2.SIDE_BUY
SELL = executor_pb2.SIDE_SELL

# The engine's conventions (engine_svc/strategies.py): payout per set and the side of every leg.
PAYOUT = {TRIO: 2.0, COMPLEMENT: 1.0, BUNDLE: 1.0, UNBUNDLE: -1.0}
SIDE = {TRIO: BUY, COMPLEMENT: BUY, BUNDLE: BUY, UNBUNDLE: SELL}

# Every gate open: trading on, circuit closed, nothing in flight.
OPEN = {"now_ns": NOW_NS, "trading_enabled": True, "circuit_open": False, "in_flight_instances": frozenset()}


def make_signal(
    prices: Sequence[float] = (0.30, 0.30, 0.35),
    *,
    strategy: int = COMPLEMENT,
    size: float = 10.0,
    tick_size: float | Sequence[float] = 0.01,
    min_order_size: float = 5.0,
    fee_rate_bps: float | Sequence[float] = 0.0,
    min_profit_abs: float = 0.01,
    payout: float | None = None,
    side: int | None = None,
    token_ids: Sequence[str] | None = None,
    signal_id: str = "sig-1",
    instance_id: str = "inst-1",
    sent_ns: int = NOW_NS - MS,
) -> executor_pb2.Signal:
    n = len(prices)
    ticks = [tick_size] * n if isinstance(tick_size, float | int) else list(tick_size)
    fees = [fee_rate_bps] * n if isinstance(fee_rate_bps, float | int) else list(fee_rate_bps)
    tokens = list(token_ids) if token_ids is not None else [str(1000 + i) for i in range(n)]
    signal = executor_pb2.Signal(
        signal_id=signal_id,
        instance_id=instance_id,
        strategy=strategy,
        payout=PAYOUT.get(strategy, 1.0) if payout is None else payout,
        expected_profit=0.0,
        min_profit_abs=min_profit_abs,
        trace=common_pb2.Trace(signal_sent_ns=sent_ns),
    )
    for token, price, tick, fee in zip(tokens, prices, ticks, fees, strict=True):
        signal.legs.add(
            token_id=token,
            side=SIDE.get(strategy, BUY) if side is None else side,
            price=price,
            size=size,
            tick_size=tick,
            min_order_size=min_order_size,
            neg_risk=False,
            fee_rate_bps=fee,
        )
    return signal
