"""Set sizing and the whole plan: FOK steps against the venue client's own arithmetic, examples, and
properties of plan_trade over random signals, ledgers and configs."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from executor_svc.deny import Denial, DenyReason
from executor_svc.ledger import Ledger
from executor_svc.orders import (
    OrderSide,
    check_price,
    exact_size,
    fok_size,
    meets_fok_precision,
    order_amounts,
    round_down,
)
from executor_svc.plan import TradePlan, plan_trade
from executor_svc.pricing import EPS, GRIDS, tick_price
from executor_svc.settings import default_config
from executor_svc.sizing import MAX_SET_HUNDREDTHS, fok_step, leg_amounts
from tests.executor.risk_signals import BUNDLE, COMPLEMENT, OPEN, PAYOUT, TRIO, UNBUNDLE, make_signal

GRID_TICKS = sorted(GRIDS)


def plan(signal, ledger, config=None) -> TradePlan | Denial:
    return plan_trade(signal, ledger, config or default_config(), **OPEN)


def _fok_ok(side: OrderSide, price: float, hundredths: int, tick: float) -> bool:
    return meets_fok_precision(*order_amounts(side, price, exact_size(hundredths), tick))


# --- the FOK step and the amounts, against orders.order_amounts ------------------------------------


def _proper_divisors(m: int) -> list[int]:
    return [d for d in range(1, m) if m % d == 0]


@given(st.sampled_from(GRID_TICKS), st.data(), st.sampled_from([OrderSide.BUY, OrderSide.SELL]))
@settings(max_examples=300, deadline=None)
def test_fok_step_is_the_smallest_valid_share_count(tick, data, side):
    """The valid counts form a lattice (k valid and m valid => gcd valid), so the step is its generator
    when it is valid and none of its proper divisors is."""
    grid = GRIDS[tick]
    t = data.draw(st.integers(1, grid.top))
    price = tick_price(t, grid)
    step = fok_step(side is OrderSide.BUY, t * grid.per_tick, grid)
    assert _fok_ok(side, price, step, tick)
    assert not any(_fok_ok(side, price, d, tick) for d in _proper_divisors(step))
    k = data.draw(st.integers(1, 50))
    assert _fok_ok(side, price, k * step, tick)
    assert fok_size(side, price, exact_size(k * step + step - 1), tick) == exact_size(k * step)


@pytest.mark.parametrize("tick", [0.1, 0.01])
def test_fok_step_exhaustively_on_coarse_ticks(tick):
    grid = GRIDS[tick]
    for t in range(1, grid.top + 1):
        price = tick_price(t, grid)
        for side in OrderSide:
            step = fok_step(side is OrderSide.BUY, t * grid.per_tick, grid)
            assert [n for n in range(1, 101) if _fok_ok(side, price, n, tick)] == list(range(step, 101, step))


@given(
    st.sampled_from(GRID_TICKS), st.data(), st.booleans(),
    st.one_of(st.integers(1, 10_000), st.integers(1, MAX_SET_HUNDREDTHS), st.just(MAX_SET_HUNDREDTHS)),
)
@settings(max_examples=500, deadline=None)
def test_leg_amounts_are_what_the_order_will_sign(tick, data, buy, hundredths):
    grid = GRIDS[tick]
    t = data.draw(st.integers(1, grid.top))
    side = OrderSide.BUY if buy else OrderSide.SELL
    expected = order_amounts(side, tick_price(t, grid), exact_size(hundredths), tick)
    assert leg_amounts(buy, t * grid.per_tick, grid, hundredths) == expected


# --- examples --------------------------------------------------------------------------------------


def test_sizes_that_pcc2_would_cut_sign_the_intended_shares():
    for size in (0.29, 1.13, 10.29, 4.35, 0.57):
        signal = make_signal((0.40, 0.35, 0.30), strategy=UNBUNDLE, size=size, min_order_size=0.0, min_profit_abs=0.0)
        result = plan(signal, Ledger(0.0, {"1000": 100.0, "1001": 100.0, "1002": 100.0}))
        hundredths = round(size * 100)
        assert result.hundredths == hundredths and result.shares == size
        for leg in result.legs:
            assert round_down(leg.size, 2) == size
            assert order_amounts(leg.venue_side, leg.price, leg.size, leg.tick_size)[0] == hundredths * 10_000


def test_one_common_fok_step_for_all_legs():
    # BUY at 0.37 needs whole shares (pUSD 2 decimals), at 0.50 even hundredths: lcm = whole shares
    signal = make_signal((0.37, 0.50, 0.10), strategy=TRIO, size=10.57, min_order_size=0.0, min_profit_abs=0.0)
    config = default_config()
    config.slippage_ticks = 0
    result = plan(signal, Ledger(1000.0), config)
    assert result.shares == 10.0
    for leg in result.legs:
        assert meets_fok_precision(leg.maker_amount, leg.taker_amount)


# --- the venue's minimum for a marketable BUY: $1 at the signed limit price ---------------------------


def _no_slippage():
    config = default_config()
    config.slippage_ticks = 0
    return config


def test_a_cheap_leg_raises_the_smallest_set_to_its_dollar():
    # 10 shares of a leg at 0.03 is $0.30: the venue refuses that leg and the batch would end PARTIAL
    denial = plan(make_signal((0.03, 0.97, 0.97), strategy=TRIO, size=10.0), Ledger(1000.0), _no_slippage())
    assert denial.reason is DenyReason.BELOW_MIN_NOTIONAL and "smallest valid size 34.0" in denial.detail
    # 33.34 x 0.03 = 1.0002 pUSD has 4 decimals: at 0.03 the FOK precision wants whole shares, so 34 it is
    signal = make_signal((0.03, 0.97, 0.97), strategy=TRIO, size=33.99)
    assert plan(signal, Ledger(1000.0), _no_slippage()).reason is DenyReason.BELOW_MIN_NOTIONAL
    result = plan(make_signal((0.03, 0.97, 0.97), strategy=TRIO, size=34.0), Ledger(1000.0), _no_slippage())
    assert result.shares == 34.0 and [leg.maker_amount for leg in result.legs] == [1_020_000, 32_980_000, 32_980_000]


def test_the_minimum_is_the_configured_one():
    config = _no_slippage()
    config.min_marketable_buy_pusd = 0.25
    assert plan(make_signal((0.03, 0.97, 0.97), strategy=TRIO, size=10.0), Ledger(1000.0), config).shares == 10.0
    config.min_marketable_buy_pusd = 5.0  # 5 / 0.03 = 166.67 shares: 167
    denial = plan(make_signal((0.03, 0.97, 0.97), strategy=TRIO, size=100.0), Ledger(1000.0), config)
    assert denial.reason is DenyReason.BELOW_MIN_NOTIONAL and "smallest valid size 167.0" in denial.detail


def test_the_minimum_is_checked_at_the_executors_own_limit_price():
    # 25 shares at the signal's 0.03 are $0.75; one tick of slippage signs the leg at 0.04: $1.00
    signal = make_signal((0.03, 0.90, 0.90), strategy=TRIO, size=25.0)
    assert plan(signal, Ledger(1000.0), _no_slippage()).reason is DenyReason.BELOW_MIN_NOTIONAL
    config = default_config()
    config.slippage_ticks = 1
    result = plan(signal, Ledger(1000.0), config)
    assert result.legs[0].price == 0.04 and result.shares == 25.0 and result.legs[0].maker_amount == 1_000_000


def test_a_short_collateral_is_named_for_the_raised_set():
    # 34 sets at 1.97 cost 66.98: 50 pUSD cannot pay the smallest set the minimum allows
    denial = plan(make_signal((0.03, 0.97, 0.97), strategy=TRIO, size=40.0), Ledger(50.0), _no_slippage())
    assert denial.reason is DenyReason.COLLATERAL_SHORT and "(34.0 sh)" in denial.detail


def test_sells_have_no_minimum_notional():
    ledger = Ledger(0.0, {"1000": 50.0, "1001": 50.0, "1002": 50.0})
    result = plan(make_signal((0.03, 0.50, 0.50), strategy=UNBUNDLE, size=10.0), ledger, _no_slippage())
    assert result.shares == 10.0 and result.legs[0].taker_amount == 300_000  # $0.30 received is fine


def test_collateral_caps_the_size_fees_included():
    signal = make_signal((0.30, 0.30, 0.30), size=100.0, fee_rate_bps=700.0)
    config = default_config()
    config.slippage_ticks = 0
    result = plan(signal, Ledger(50.0), config)
    per_share = 0.90 + 0.07 * 3 * 0.21  # 0.9441 a set, fees included
    # a BUY at 0.30 signs pUSD with 2 decimals only in steps of 0.1 share
    assert result.hundredths == math.floor(50.0 / per_share * 10) * 10 == 5290
    assert result.collateral == pytest.approx(52.9 * per_share) and result.collateral <= 50.0


def test_exposure_counts_open_reservations():
    config = default_config()
    config.max_exposure = 100.0
    ledger = Ledger(1000.0)
    ledger.reserve("other", 80.0)
    result = plan(make_signal(size=100.0), ledger, config)
    assert 80.0 + result.collateral <= 100.0 < 80.0 + result.collateral + 0.98  # one more share would breach


def test_unbundle_sells_at_most_the_free_inventory():
    ledger = Ledger(0.0, {"1000": 30.0, "1001": 30.0, "1002": 30.0})
    ledger.reserve("earlier", 0.0, {"1001": 12.5})
    result = plan(make_signal((0.40, 0.35, 0.30), strategy=UNBUNDLE, size=50.0), ledger)
    assert result.shares == 17.5 and dict(result.inventory) == {"1000": 17.5, "1001": 17.5, "1002": 17.5}
    ledger.reserve(result.signal_id, result.collateral, result.inventory)
    assert ledger.available_inventory("1001") == 0.0


def test_a_set_is_capped_at_max_set_hundredths():
    signal = make_signal((0.5, 0.5, 0.5), strategy=UNBUNDLE, size=1e7, min_order_size=0.0)
    held = {"1000": 1e7, "1001": 1e7, "1002": 1e7}
    assert plan(signal, Ledger(0.0, held)).hundredths == MAX_SET_HUNDREDTHS


def test_a_huge_exposure_cap_or_collateral_means_no_cap_not_an_overflow():
    # found by tests/security/test_rpc_fuzz.py: max_exposure 1e308 is a valid config, and the exposure
    # cap's quotient overflowed to inf inside math.floor, killing the signal stream
    config = default_config()
    config.max_exposure = 1.7e308
    assert plan(make_signal(size=10.0), Ledger(1e12), config).shares == 10.0


def test_plan_fields_for_the_servicer():
    signal = make_signal((0.30, 0.30, 0.35), size=10.0, fee_rate_bps=100.0, min_profit_abs=0.01)
    result = plan(signal, Ledger(1000.0))
    assert (result.signal_id, result.instance_id, result.strategy) == ("sig-1", "inst-1", COMPLEMENT)
    assert result.order_type == "FOK"
    assert [(leg.token_id, leg.price, leg.signal_price, leg.slippage_ticks) for leg in result.legs] == [
        ("1000", 0.31, 0.30, 1), ("1001", 0.31, 0.30, 1), ("1002", 0.36, 0.35, 1),
    ]
    fees = 0.01 * (0.21 + 0.21 + 0.2275) * 10
    assert result.cost == pytest.approx(9.5 + fees)
    assert result.expected_pnl == pytest.approx(10.0 - result.cost)
    assert result.worst_cost == pytest.approx(result.collateral)
    assert result.worst_pnl >= signal.min_profit_abs * result.shares - EPS
    assert dict(result.inventory) == {}


# --- properties of the whole plan ------------------------------------------------------------------


@st.composite
def cases(draw):
    strategy = draw(st.sampled_from([TRIO, COMPLEMENT, BUNDLE, UNBUNDLE]))
    n = 3 if strategy in (TRIO, COMPLEMENT) else draw(st.integers(2, 6))
    sell = strategy == UNBUNDLE
    payout = PAYOUT[strategy]
    common_tick = draw(st.sampled_from([0.01, 0.01, 0.01, *GRID_TICKS]))  # 0.01 is the usual tick on the venue
    ticks = [draw(st.sampled_from(GRID_TICKS)) if draw(st.integers(0, 4)) == 0 else common_tick for _ in range(n)]
    # a price total near what makes a set worth sending: under the payout for buys, over 1 for sells
    total = draw(st.floats(1.0005, 1.3)) if sell else payout * draw(st.floats(0.6, 0.9995))
    weights = [draw(st.integers(1, 20)) for _ in range(n)]
    prices = []
    for tick, w in zip(ticks, weights, strict=True):
        grid = GRIDS[tick]
        t = min(max(round(total * w / sum(weights) / tick), 1), grid.top)
        prices.append(tick_price(t, grid))
    min_order_size = draw(st.sampled_from([0.0, 1.0, 5.0, 5.0, 15.0]))
    at_least_min = round(min_order_size * 100) or 1
    hundredths = draw(st.one_of(st.integers(1, 3_000), st.integers(at_least_min, 30_000), st.integers(10_000, 300_000)))
    signal = make_signal(
        prices,
        strategy=strategy,
        size=hundredths / 100,
        tick_size=ticks,
        fee_rate_bps=[draw(st.sampled_from([0.0, 0.0, 100.0, 700.0])) for _ in range(n)],
        min_order_size=min_order_size,
        min_profit_abs=draw(st.sampled_from([0.0, 0.001, 0.01, 0.05])),
    )
    config = default_config()
    config.slippage_ticks = draw(st.sampled_from([0, 1, 1, 2, 5]))
    config.min_marketable_buy_pusd = draw(st.sampled_from([1.0, 1.0, 1.0, 0.5, 5.0, 1e-6]))
    # collateral and the exposure cap around what the signal's size would take, so that each cap
    # sometimes binds, sometimes not
    shares = hundredths / 100
    set_value = shares * max(payout, 1.0)

    def budget(full: float) -> float:  # plenty half the time, else around what the full size takes
        return draw(st.one_of(st.just(10 * full), st.floats(0.0, 1.5).map(lambda f: f * full)))

    config.max_exposure = 0.0 if draw(st.integers(0, 5)) == 0 else budget(set_value)
    held = {leg.token_id: budget(shares) for leg in signal.legs if sell or draw(st.booleans())}
    ledger = Ledger(budget(set_value), held)
    for i in range(draw(st.integers(0, 2))):  # other signals' open reservations
        share = draw(st.floats(0.0, 1.0))
        inventory = {t: ledger.available_inventory(t) * share for t in ledger.inventory if draw(st.booleans())}
        ledger.reserve(f"open-{i}", max(ledger.available(), 0.0) * share, inventory)
    return signal, ledger, config


def _collateral_at(plan_: TradePlan, hundredths: int) -> float:
    total = 0.0
    for leg in plan_.legs:
        if leg.venue_side is OrderSide.BUY:
            maker, _ = order_amounts(leg.venue_side, leg.price, exact_size(hundredths), leg.tick_size)
            total += maker / 1e6 + leg.fee_rate_bps / 1e4 * leg.price * (1 - leg.price) * hundredths / 100
    return total


@given(cases())
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_plan_properties(case):
    signal, ledger, config = case
    result = plan(signal, ledger, config)
    available, exposure = ledger.available(), ledger.exposure()
    event(f"{_strategy_name(signal.strategy)}: {result.reason if isinstance(result, Denial) else 'plan'}")
    if isinstance(result, Denial):
        _check_denial_reason(result, signal, ledger, config)
        return
    legs = result.legs
    n = result.hundredths
    # equal sizes, within the signal's size, at least every leg's minimum
    assert {leg.size for leg in legs} == {exact_size(n)} and n <= round(signal.legs[0].size * 100)
    assert all(n >= math.ceil(leg.min_order_size * 100 - 1e-6) for leg in signal.legs)
    for leg, sent in zip(legs, signal.legs, strict=True):
        check_price(leg.price, leg.tick_size)  # on the grid, within [tick, 1 - tick]
        assert leg.price >= sent.price if leg.venue_side is OrderSide.BUY else leg.price <= sent.price
        assert leg.slippage_ticks <= config.slippage_ticks
        maker, taker = order_amounts(leg.venue_side, leg.price, leg.size, leg.tick_size)
        assert (maker, taker) == (leg.maker_amount, leg.taker_amount)  # what build_order will sign
        assert meets_fok_precision(maker, taker)
        assert fok_size(leg.venue_side, leg.price, leg.size, leg.tick_size) == leg.size
        assert (taker if leg.venue_side is OrderSide.BUY else maker) == n * 10_000  # the intended shares
        if leg.venue_side is OrderSide.BUY:  # the venue's minimum for a marketable BUY, at the signed limit
            assert maker >= config.min_marketable_buy_pusd * 1e6 - 1e-6
            assert leg.price * n / 100 >= config.min_marketable_buy_pusd - 1e-9
    # never spends beyond the available collateral, never past max_exposure, never sells what is not free
    assert result.collateral <= max(available, 0.0)
    assert result.collateral == 0.0 or exposure + result.collateral <= config.max_exposure
    for token, shares in result.inventory.items():
        assert shares <= ledger.available_inventory(token) + 5e-7
    # the set still meets min_profit_abs at the limits, fees included
    worst = sum(_signed_cost(leg.venue_side is OrderSide.BUY, leg.price, leg.fee_rate_bps) for leg in legs)
    assert signal.payout - worst >= signal.min_profit_abs - 1e-9 and signal.payout - worst > 0
    assert result.worst_pnl >= signal.min_profit_abs * result.shares - 1e-6
    # the servicer can reserve it as is
    ledger.reserve(result.signal_id, result.collateral, result.inventory)
    # the largest: the next size every leg can sign breaks a cap
    step = math.lcm(*(fok_step(leg.venue_side is OrderSide.BUY, round(leg.price * GRIDS[leg.tick_size].scale),
                               GRIDS[leg.tick_size]) for leg in legs))
    bigger = n + step
    collateral = _collateral_at(result, bigger)
    assert (
        bigger > min(round(signal.legs[0].size * 100), MAX_SET_HUNDREDTHS)
        or (collateral > 0 and (collateral > available or exposure + collateral > config.max_exposure))
        or any(bigger * 10_000 > round((ledger.available_inventory(t) + shares) * 1e6)
               for t, shares in result.inventory.items())
    )


def _check_denial_reason(denial: Denial, signal, ledger: Ledger, config) -> None:
    """A sizing denial names the cap that bites: relaxing exactly that cap lets the set through."""
    rich = dict.fromkeys((leg.token_id for leg in signal.legs), 1e9)
    relaxed = default_config()
    relaxed.CopyFrom(config)
    relaxed.max_exposure = 1e12
    reason = denial.reason
    assert reason in {DenyReason.UNPROFITABLE, DenyReason.BELOW_MIN_SIZE, DenyReason.BELOW_MIN_NOTIONAL,
                      DenyReason.INVENTORY_SHORT, DenyReason.COLLATERAL_SHORT, DenyReason.EXPOSURE_CAP}, denial
    if reason is DenyReason.UNPROFITABLE:
        buy = signal.payout > 0
        profit = signal.payout - sum(_signed_cost(buy, leg.price, leg.fee_rate_bps) for leg in signal.legs)
        assert not (profit > EPS and profit >= signal.min_profit_abs - EPS)
    elif reason is DenyReason.BELOW_MIN_SIZE:
        assert plan(signal, Ledger(1e9, rich), relaxed).reason is DenyReason.BELOW_MIN_SIZE
    elif reason is DenyReason.BELOW_MIN_NOTIONAL:
        assert signal.payout > 0  # sells have no minimum notional
        assert plan(signal, Ledger(1e9, rich), relaxed).reason is DenyReason.BELOW_MIN_NOTIONAL
        relaxed.min_marketable_buy_pusd = 1e-6  # the minimum alone was in the way
        assert isinstance(plan(signal, Ledger(1e9, rich), relaxed), TradePlan)
    elif reason is DenyReason.INVENTORY_SHORT:
        assert isinstance(plan(signal, Ledger(ledger.collateral + 1e9, rich), config), TradePlan)
    elif reason is DenyReason.COLLATERAL_SHORT:
        assert isinstance(plan(signal, Ledger(1e9, rich), relaxed), TradePlan)
    else:  # exposure: the same free collateral passes once the cap is lifted
        assert isinstance(plan(signal, Ledger(ledger.available(), rich), relaxed), TradePlan)


def _strategy_name(strategy: int) -> str:
    return {TRIO: "trio", COMPLEMENT: "complement", BUNDLE: "bundle", UNBUNDLE: "unbundle"}[strategy]


def _signed_cost(buy: bool, price: float, fee_rate_bps: float) -> float:
    fee = fee_rate_bps / 1e4 * price * (1 - price)
    return price + fee if buy else fee - price
