"""The venue's $1 minimum for marketable BUYs, engine and executor together (issue 19, acceptance 1).

The engine sizes a set at its signal prices; the executor re-sizes it at its limit prices (slippage)
and FOK steps. The property: whatever trio or set the engine signals, the executor posts it with every
BUY leg worth the configured minimum at its signed limit, equal shares and FOK precision, and never
has to deny it as below_min_notional (the engine checks on the coarsest FOK grid, min_notional.py).
The two services share no code, so this test is where their rules meet.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from engine_svc import settings as engine_settings
from engine_svc.min_notional import FOK_SHARE_GRID, smallest_buy_set
from engine_svc.strategies import Evaluator, to_signal
from engine_svc.structure import compile_structure
from executor_svc import settings as executor_settings
from executor_svc.deny import Denial, DenyReason
from executor_svc.ledger import Ledger
from executor_svc.orders import OrderSide, exact_size, meets_fok_precision, order_amounts
from executor_svc.plan import TradePlan, plan_trade
from executor_svc.pricing import GRIDS, tick_price
from executor_svc.sizing import fok_step
from polyarb.v1 import common_pb2, engine_pb2, ingest_pb2

NOW = 1_700_000_000_000_000_000
TICKS = sorted(FOK_SHARE_GRID)


@pytest.mark.parametrize("tick", TICKS)
def test_the_engines_fok_grid_is_the_coarsest_step_any_buy_price_on_the_tick_needs(tick):
    grid = GRIDS[tick]
    steps = {fok_step(True, t * grid.per_tick, grid) for t in range(1, grid.top + 1)}
    assert all(FOK_SHARE_GRID[tick] % step == 0 for step in steps)  # the executor's step divides it...
    assert FOK_SHARE_GRID[tick] in steps  # ...and some price needs all of it


def test_smallest_buy_set_examples():
    assert smallest_buy_set([0.03, 0.97, 0.97], [0.01] * 3, 1.0) == 34.0  # 33.34 rounded up to whole shares
    assert smallest_buy_set([0.50, 0.25], [0.01, 0.01], 1.0) == 4.0
    assert smallest_buy_set([0.031, 0.5], [0.001, 0.01], 1.0) == 40.0  # 32.26 on a 10-share grid
    assert smallest_buy_set([0.03, 0.5], [0.01, 0.01], 0.0) == 0.0
    assert smallest_buy_set([0.03, 0.5], [0.01, 0.02], 1.0) == math.inf  # not a tick the venue uses


# -- the property ------------------------------------------------------------------------------------


def _market(name: str, tick: float, min_order_size: float, neg_risk: bool) -> engine_pb2.Market:
    # token ids are decimal digits, as the executor checks: 1<i>1 for YES, 1<i>2 for NO
    return engine_pb2.Market(condition_id=f"c-{name}", yes_token_id=f"1{name}1", no_token_id=f"1{name}2",
                             tick_size=tick, min_order_size=min_order_size, neg_risk=neg_risk, fee_rate_bps=0.0)


@st.composite
def books(draw):
    """A trio (its trio direction: YES lower, NO upper, NO range, pays 2) or a bundle set (pays 1),
    priced under its payout, with one leg cheap, and the asks' sizes."""
    kind = draw(st.sampled_from(["trio", "set"]))
    n = 3 if kind == "trio" else draw(st.integers(2, 6))
    payout = 2.0 if kind == "trio" else 1.0
    common = draw(st.sampled_from([0.01, 0.01, 0.01, *TICKS]))  # 0.01 is the venue's usual tick
    ticks = [common if draw(st.integers(0, 3)) else draw(st.sampled_from(TICKS)) for _ in range(n)]
    weights = [draw(st.integers(1, 20)) for _ in range(n)]
    total = payout * draw(st.floats(0.5, 0.98))
    prices = []
    for i, (tick, w) in enumerate(zip(ticks, weights, strict=True)):
        grid = GRIDS[tick]
        if i == 0:  # the cheap leg: a few ticks, or a few cents
            t = draw(st.one_of(st.integers(1, 10), st.integers(1, max(grid.top // 20, 1))))
        else:
            t = round(total * w / sum(weights) / tick)
        prices.append(tick_price(min(max(t, 1), grid.top), grid))
    # sizes around what the cheap leg needs: 1 / price shares
    need = 1.0 / prices[0]
    sizes = [round(draw(st.floats(0.3, 3.0)) * need + draw(st.floats(0.0, 50.0)), 2) for _ in range(n)]
    return kind, ticks, prices, sizes


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=books(),
    min_pusd=st.sampled_from([1.0, 1.0, 0.5, 2.0]),
    min_order_size=st.sampled_from([0.0, 5.0]),
    max_set_size=st.sampled_from([100.0, 1000.0, 100_000.0]),
    slippage_ticks=st.sampled_from([0, 1, 1, 3]),
)
def test_every_set_the_engine_signals_the_executor_posts_at_the_minimum(
    case, min_pusd, min_order_size, max_set_size, slippage_ticks
):
    kind, ticks, prices, sizes = case
    markets = [_market(f"{i}", tick, min_order_size, kind == "set") for i, tick in enumerate(ticks)]
    if kind == "trio":
        structure = engine_pb2.MarketStructure(trios=[engine_pb2.Trio(
            id="i", lower=markets[0], upper=markets[1], range=markets[2], lower_bound=1.0, upper_bound=2.0)])
        tokens = [markets[0].yes_token_id, markets[1].no_token_id, markets[2].no_token_id]
    else:
        structure = engine_pb2.MarketStructure(sets=[engine_pb2.OutcomeSet(id="i", members=markets)])
        tokens = [m.yes_token_id for m in markets]
    engine_config = engine_settings.default_config()
    engine_config.min_profit_abs = engine_config.min_profit_bps = engine_config.min_expected_pnl = 0.0
    engine_config.cooldown_ms = 0
    engine_config.max_set_size = max_set_size
    engine_config.min_marketable_buy_pusd = min_pusd
    engine_config.complement_trio = engine_config.unbundle = False
    ev = Evaluator(compile_structure(structure), engine_settings.validate_config(engine_config))
    found = []
    for token, price, size, tick in zip(tokens, prices, sizes, ticks, strict=True):
        found.extend(ev.on_top_of_book(ingest_pb2.TopOfBook(
            token_id=token, ask_price=price, ask_size=size, bid_price=0.0, bid_size=0.0, tick_size=tick), NOW))
    event("signalled" if found else "not signalled")
    # the converse, in plain terms: a profitable set is signalled when its size (the thinnest ask, the cap)
    # reaches the smallest set the rule allows, and the leg minimum lets it through
    payout = 2.0 if kind == "trio" else 1.0
    size = math.floor(min(min(sizes), max_set_size) * 100 + 1e-9) / 100
    smallest = smallest_buy_set(prices, ticks, min_pusd)
    if size < smallest - 1e-9:
        assert not found
    elif size >= max(smallest, min_order_size) and size > 0 and sum(prices) < payout - 1e-6:
        assert found

    executor_config = executor_settings.default_config()
    executor_config.slippage_ticks = slippage_ticks
    executor_config.min_marketable_buy_pusd = min_pusd
    executor_config.max_exposure = 1e12
    executor_config = executor_settings.validate_config(executor_config)
    for opportunity in found:
        assert opportunity.size * min(opportunity.prices) >= min_pusd - 1e-9
        signal = to_signal(opportunity, "sig", common_pb2.Trace(ws_recv_ns=NOW))
        plan = plan_trade(signal, Ledger(1e12), executor_config, now_ns=NOW, trading_enabled=True,
                          circuit_open=False, in_flight_instances=())
        if isinstance(plan, Denial):
            # never for the minimum; a leg minimum on a fine tick's FOK step can still bite (an older rule)
            event(f"denied: {plan.reason}")
            assert plan.reason is not DenyReason.BELOW_MIN_NOTIONAL, plan
            assert plan.reason is DenyReason.BELOW_MIN_SIZE, plan
            continue
        assert isinstance(plan, TradePlan)
        event("posted")
        assert {leg.size for leg in plan.legs} == {exact_size(plan.hundredths)}  # equal shares
        assert plan.shares <= opportunity.size
        for leg in plan.legs:
            maker, taker = order_amounts(leg.venue_side, leg.price, leg.size, leg.tick_size)
            assert (maker, taker) == (leg.maker_amount, leg.taker_amount)
            assert meets_fok_precision(maker, taker)
            assert leg.venue_side is OrderSide.BUY
            assert maker >= min_pusd * 1e6 - 1e-6  # shares x signed limit price, in pUSD units
            assert leg.price >= leg.signal_price
