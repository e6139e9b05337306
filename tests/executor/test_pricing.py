"""Limit prices: integer ticks, the fee, slippage capped by the profit threshold (examples and properties)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine_svc import fees as engine_fees  # the tests may compare services; the services may not import each other
from executor_svc.orders import ROUNDING_CONFIG, check_price, round_normal
from executor_svc.pricing import (
    EPS,
    GRIDS,
    LegQuote,
    fee_per_share,
    limit_ticks,
    meets_threshold,
    price_ticks,
    set_profit,
    share_cost,
    slippage_room,
    tick_price,
)
from polyarb.v1 import executor_pb2

BUY, SELL = executor_pb2.SIDE_BUY, executor_pb2.SIDE_SELL


def quote(price: float, tick: float = 0.01, side: int = BUY, fee_rate_bps: float = 0.0, token: str = "1") -> LegQuote:
    grid = GRIDS[tick]
    ticks = price_ticks(price, grid)
    assert ticks is not None
    return LegQuote(token, side, side == BUY, price, ticks, grid, 0, fee_rate_bps / 10_000, fee_rate_bps, False)


def prices(legs, limits) -> list[float]:
    return [tick_price(t, leg.grid) for leg, t in zip(legs, limits, strict=True)]


# --- the grid --------------------------------------------------------------------------------------


def test_grids_cover_the_six_ticks():
    assert sorted(GRIDS) == sorted(float(k) for k in ROUNDING_CONFIG)
    assert {g.tick: (g.per_tick, g.top) for g in GRIDS.values()} == {
        0.1: (1, 9), 0.01: (1, 99), 0.005: (5, 199), 0.0025: (25, 399), 0.001: (1, 999), 0.0001: (1, 9999),
    }


@pytest.mark.parametrize("key", list(ROUNDING_CONFIG))
def test_every_grid_price_is_the_decimal_float_and_passes_check_price(key):
    grid = GRIDS[float(key)]
    step = Decimal(key)
    for t in range(1, grid.top + 1):
        price = tick_price(t, grid)
        assert price == float(step * t)  # the float the decimal text gives: signs as "0.58", not 0.5800000000000001
        assert price_ticks(price, grid) == t
        assert round_normal(price, ROUNDING_CONFIG[key].price) == price
        check_price(price, key)  # raises if the venue client would refuse it


def test_price_ticks_refuses_off_grid_and_accepts_float_noise():
    g01, g005, g0025 = GRIDS[0.01], GRIDS[0.005], GRIDS[0.0025]
    assert price_ticks(0.57 + 0.01, g01) == 58
    assert price_ticks(0.1 * 3, g01) == 30
    assert price_ticks(0.575, g01) is None
    assert price_ticks(0.575, g005) == 115
    assert price_ticks(0.123, g005) is None
    assert price_ticks(0.0075, g0025) == 3
    assert price_ticks(0.0026, g0025) is None


def test_fee_is_the_engines_curve():
    for price in (0.01, 0.3, 0.5, 0.77, 0.9999):
        for bps in (0.0, 100.0, 700.0, 10_000.0):
            rate = bps / 10_000
            engine = engine_fees.fee_per_share(price, engine_fees.rate_from_bps(bps))
            assert fee_per_share(price, rate) == pytest.approx(engine)


@given(st.sampled_from(sorted(GRIDS)), st.data(), st.sampled_from([0.0, 100.0, 700.0, 10_000.0]))
@settings(max_examples=200, deadline=None)
def test_worst_fill_is_the_limit(tick, data, bps):
    """The signed cost of a share, fee included, rises with the price for a buy and falls for a sell,
    so the limit is the worst fill (module doc)."""
    grid = GRIDS[tick]
    t = data.draw(st.integers(1, grid.top - 1))
    buy = quote(tick_price(t, grid), tick, BUY, bps)
    sell = quote(tick_price(t, grid), tick, SELL, bps)
    assert share_cost(buy, t + 1) > share_cost(buy, t)
    assert share_cost(sell, t + 1) < share_cost(sell, t)


# --- slippage examples -----------------------------------------------------------------------------


def test_full_slippage_when_the_margin_allows():
    legs = [quote(0.30), quote(0.30), quote(0.35)]
    assert prices(legs, limit_ticks(legs, 1.0, 0.01, 1)) == [0.31, 0.31, 0.36]
    assert prices(legs, limit_ticks(legs, 1.0, 0.01, 0)) == [0.30, 0.30, 0.35]


def test_sells_slip_down():
    legs = [quote(0.40, side=SELL), quote(0.35, side=SELL), quote(0.30, side=SELL)]
    assert prices(legs, limit_ticks(legs, -1.0, 0.01, 1)) == [0.39, 0.34, 0.29]


def test_uniform_then_one_more_tick_leg_by_leg():
    # margin 0.03 over a 0.01 threshold at 0.97: uniform 1 tick would take 0.03 (profit 0), so 0 ticks,
    # then one leg at a time: 0.98 (0.02 left) and 0.99 (0.01 left); the third tick would break it
    legs = [quote(0.30), quote(0.30), quote(0.37)]
    assert limit_ticks(legs, 1.0, 0.01, 1) == (31, 31, 37)
    # with room for 2 ticks: the margin fits 4 ticks over 3 legs: 1 each, then 1 more on leg 0
    legs = [quote(0.30), quote(0.30), quote(0.35)]
    assert limit_ticks(legs, 1.0, 0.01, 2) == (32, 31, 36)


def test_fees_count_against_the_slippage():
    legs = [quote(0.30, fee_rate_bps=700.0), quote(0.30, fee_rate_bps=700.0), quote(0.30, fee_rate_bps=700.0)]
    # 0.90 + 3 x 0.07 x 0.21 = 0.9441 (profit 0.0559); one tick costs 0.31 + 0.07 x 0.2139 - 0.3147 = 0.010273 a leg
    assert limit_ticks(legs, 1.0, 0.05, 1) == (30, 30, 30)
    assert limit_ticks(legs, 1.0, 0.03, 1) == (31, 31, 30)  # 0.0456, 0.0354, then 0.0251 misses
    assert limit_ticks(legs, 1.0, 0.025, 1) == (31, 31, 31)
    free = [quote(0.30), quote(0.30), quote(0.30)]
    assert limit_ticks(free, 1.0, 0.05, 1) == (31, 31, 31)  # without fees the same margin takes all three


def test_clamped_at_the_edge_of_the_grid():
    legs = [quote(0.99), quote(0.01), quote(0.9)]
    assert prices(legs, limit_ticks(legs, 2.0, 0.0, 5)) == [0.99, 0.06, 0.94]  # 0.95 would make 2.00: break-even
    assert prices(legs, limit_ticks(legs, 2.0, 0.01, 5)) == [0.99, 0.06, 0.94]  # 4 ticks uniform, one more on leg 1
    sells = [quote(0.01, side=SELL), quote(0.995, tick=0.005, side=SELL), quote(0.5, side=SELL)]
    assert prices(sells, limit_ticks(sells, -1.0, 0.01, 3)) == [0.01, 0.98, 0.47]


def test_huge_slippage_config_is_bounded_by_the_grid():
    legs = [quote(0.0001, tick=0.0001), quote(0.0002, tick=0.0001)]
    limits = limit_ticks(legs, 1.0, 0.01, 4_000_000_000)
    assert meets_threshold(set_profit(legs, limits, 1.0), 0.01)
    assert limits == (4950, 4950)  # 4948 ticks each, one more on leg 0: the pair costs 0.99, profit 0.01 exactly


def test_none_when_even_the_signal_prices_miss():
    assert limit_ticks([quote(0.5), quote(0.5)], 1.0, 0.0, 3) is None
    assert limit_ticks([quote(0.5, fee_rate_bps=100.0), quote(0.49, fee_rate_bps=100.0)], 1.0, 0.0, 0) == (50, 49)
    assert limit_ticks([quote(0.5, fee_rate_bps=300.0), quote(0.49, fee_rate_bps=300.0)], 1.0, 0.0, 3) is None


# --- slippage properties ---------------------------------------------------------------------------


@st.composite
def priced_sets(draw):
    """Legs of one side on random grids, payout and threshold as the engine would send them."""
    sell = draw(st.booleans())
    n = draw(st.integers(2, 6))
    legs = []
    for i in range(n):
        grid = GRIDS[draw(st.sampled_from(sorted(GRIDS)))]
        t = draw(st.integers(1, grid.top))
        bps = draw(st.sampled_from([0.0, 0.0, 100.0, 700.0]))
        legs.append(quote(tick_price(t, grid), grid.tick, SELL if sell else BUY, bps, token=str(i)))
    payout = -1.0 if sell else draw(st.sampled_from([1.0, 2.0]))
    min_profit_abs = draw(st.sampled_from([0.0, 0.001, 0.01, 0.05]))
    slippage = draw(st.sampled_from([0, 1, 2, 3, 10, 1000]))
    return legs, payout, min_profit_abs, slippage


@given(priced_sets())
@settings(max_examples=600, deadline=None)
def test_slippage_properties(case):
    legs, payout, min_profit_abs, slippage = case
    limits = limit_ticks(legs, payout, min_profit_abs, slippage)
    at_signal = [leg.ticks for leg in legs]
    if limits is None:
        assert not meets_threshold(set_profit(legs, at_signal, payout), min_profit_abs)
        return
    slips = []
    for leg, t in zip(legs, limits, strict=True):
        assert 1 <= t <= leg.grid.top  # in [tick, 1 - tick]
        slip = t - leg.ticks if leg.buy else leg.ticks - t
        assert 0 <= slip <= min(slippage, slippage_room(leg))  # the safe direction, never past the config
        slips.append(slip)
    # the worst fill still meets the threshold, recomputed independently of set_profit
    cost = sum((p + leg.fee_rate * p * (1 - p)) if leg.buy else (leg.fee_rate * p * (1 - p) - p)
               for leg, p in zip(legs, prices(legs, limits), strict=True))
    assert payout - cost >= min_profit_abs - EPS - 1e-12 and payout - cost > 0
    # the rule: a uniform s (clamped per leg), plus at most one more tick on some legs ...
    rooms = [min(slippage, slippage_room(leg)) for leg in legs]
    unsaturated = [i for i, (sl, room) in enumerate(zip(slips, rooms, strict=True)) if sl < room]
    if not unsaturated:
        return  # every leg took all the slippage it may
    s = min(slips[i] for i in unsaturated)
    assert all(slips[i] in (s, s + 1) for i in unsaturated)
    assert all(room <= s + 1 for sl, room in zip(slips, rooms, strict=True) if sl == room)
    # ... where s + 1 on every leg misses the threshold ...
    uniform = [leg.ticks + (min(s + 1, r) if leg.buy else -min(s + 1, r)) for leg, r in zip(legs, rooms, strict=True)]
    assert not meets_threshold(set_profit(legs, uniform, payout), min_profit_abs)
    # ... and no leg left at s can take one more tick
    for i in unsaturated:
        if slips[i] == s:
            trial = list(limits)
            trial[i] += 1 if legs[i].buy else -1
            assert not meets_threshold(set_profit(legs, trial, payout), min_profit_abs)
