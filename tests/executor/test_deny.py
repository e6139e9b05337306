"""Deny reasons: one test per reason, the documented order of the checks, and what a passing signal reads as."""

from __future__ import annotations

import math

import pytest

from executor_svc.deny import CheckedSignal, Denial, DenyReason, check_signal, signal_sent_ns
from executor_svc.ledger import Ledger
from executor_svc.plan import TradePlan, plan_trade
from executor_svc.settings import default_config
from polyarb.v1 import common_pb2, executor_pb2
from tests.executor.risk_signals import BUNDLE, BUY, MS, NOW_NS, OPEN, SELL, TRIO, UNBUNDLE, make_signal

D = DenyReason


def check(signal: executor_pb2.Signal, max_signal_age_ms: int = 250, **gates) -> CheckedSignal | Denial:
    return check_signal(signal, **{**OPEN, **gates}, max_signal_age_ms=max_signal_age_ms)


def reason(result) -> DenyReason | None:
    return result.reason if isinstance(result, Denial) else None


def plan(signal, ledger=None, config=None, **gates) -> TradePlan | Denial:
    ledger = Ledger(1000.0) if ledger is None else ledger
    return plan_trade(signal, ledger, config or default_config(), **{**OPEN, **gates})


def test_reason_codes_are_the_wire_values():
    assert {r.name: str(r) for r in DenyReason} == {
        "TRADING_DISABLED": "trading_disabled",
        "CIRCUIT_OPEN": "circuit_open",
        "BAD_SIGNAL": "bad_signal",
        "TOO_MANY_LEGS": "too_many_legs",
        "OFF_TICK": "off_tick",
        "SIGNAL_TOO_OLD": "signal_too_old",
        "IN_FLIGHT": "in_flight",
        "OUTCOME_UNKNOWN": "outcome_unknown",
        "DUPLICATE_SIGNAL": "duplicate_signal",
        "UNPROFITABLE": "unprofitable",
        "BELOW_MIN_SIZE": "below_min_size",
        "BELOW_MIN_NOTIONAL": "below_min_notional",
        "INVENTORY_SHORT": "inventory_short",
        "COLLATERAL_SHORT": "collateral_short",
        "EXPOSURE_CAP": "exposure_cap",
        "BALANCE_UNKNOWN": "balance_unknown",
        "ALLOWANCE": "allowance",
    }
    assert DenyReason("in_flight") is DenyReason.IN_FLIGHT
    assert f"{DenyReason.OFF_TICK}" == "off_tick"  # usable as a metrics label and an ack reason as is


def test_a_good_signal_passes_and_is_read_once_into_ticks():
    checked = check(make_signal((0.30, 0.30, 0.35), size=12.34, fee_rate_bps=700.0))
    assert isinstance(checked, CheckedSignal)
    assert (checked.signal_id, checked.instance_id, checked.payout) == ("sig-1", "inst-1", 1.0)
    assert checked.cap_hundredths == 1234
    assert [leg.ticks for leg in checked.legs] == [30, 30, 35]
    assert all(leg.buy and leg.min_hundredths == 500 and leg.fee_rate == 0.07 for leg in checked.legs)


# --- one test per reason ---------------------------------------------------------------------------


def test_trading_disabled():
    assert reason(check(make_signal(), trading_enabled=False)) is D.TRADING_DISABLED


def test_circuit_open():
    assert reason(check(make_signal(), circuit_open=True)) is D.CIRCUIT_OPEN


def _no_legs():
    s = make_signal()
    del s.legs[:]
    return s


def _no_trace():
    s = make_signal()
    s.ClearField("trace")
    return s


def _leg(field, value, index=1):
    s = make_signal()
    setattr(s.legs[index], field, value)
    return s


BAD_SIGNALS = {
    "no legs": _no_legs,
    "unknown strategy 0": lambda: make_signal(strategy=0, payout=1.0, side=BUY),
    "unknown strategy 9": lambda: make_signal(strategy=9, payout=1.0, side=BUY),
    "empty signal id": lambda: make_signal(signal_id=""),
    "empty instance id": lambda: make_signal(instance_id=""),
    "trio with payout 1": lambda: make_signal(strategy=TRIO, payout=1.0),
    "complement with payout 2": lambda: make_signal(payout=2.0),
    "unbundle with payout 1": lambda: make_signal((0.4, 0.4, 0.3), strategy=UNBUNDLE, payout=1.0),
    "NaN payout": lambda: make_signal(payout=math.nan),
    "unbundle buying": lambda: make_signal((0.4, 0.4, 0.3), strategy=UNBUNDLE, side=BUY),
    "bundle selling": lambda: make_signal((0.3, 0.3), strategy=BUNDLE, side=SELL),
    "mixed sides": lambda: _leg("side", SELL),
    "unspecified side": lambda: _leg("side", executor_pb2.SIDE_UNSPECIFIED),
    "trio of two legs": lambda: make_signal((0.3, 0.3), strategy=TRIO),
    "bundle of one leg": lambda: make_signal((0.3,), strategy=BUNDLE),
    "empty token id": lambda: make_signal(token_ids=["1", "", "3"]),
    "token id not digits": lambda: make_signal(token_ids=["1", "0x2", "3"]),
    "token id not ascii digits": lambda: make_signal(token_ids=["1", "٢", "3"]),
    "token id longer than a uint256": lambda: make_signal(token_ids=["1", "9" * 79, "3"]),
    "duplicate token": lambda: make_signal(token_ids=["7", "8", "7"]),
    "NaN price": lambda: _leg("price", math.nan),
    "inf price": lambda: _leg("price", math.inf),
    "negative price": lambda: _leg("price", -0.3),
    "zero price": lambda: _leg("price", 0.0),
    "price one": lambda: _leg("price", 1.0),
    "price above one": lambda: _leg("price", 1.5),
    "price a hair above zero, on no tick": lambda: _leg("price", 1e-9),
    "price a hair below one": lambda: _leg("price", 0.999999999),
    "NaN size": lambda: make_signal(size=math.nan),
    "inf size": lambda: make_signal(size=math.inf),
    "negative size": lambda: make_signal(size=-1.0),
    "zero size": lambda: make_signal(size=0.0),
    "legs of different sizes": lambda: _leg("size", 11.0),
    "tick 0.02": lambda: _leg("tick_size", 0.02),
    "tick 0 (unknown)": lambda: _leg("tick_size", 0.0),
    "tick NaN": lambda: _leg("tick_size", math.nan),
    "tick with float noise": lambda: _leg("tick_size", 0.010000000000000002),
    "negative min size": lambda: _leg("min_order_size", -1.0),
    "NaN min size": lambda: _leg("min_order_size", math.nan),
    "inf min size": lambda: _leg("min_order_size", math.inf),
    "negative fee": lambda: _leg("fee_rate_bps", -1.0),
    "NaN fee": lambda: _leg("fee_rate_bps", math.nan),
    "fee above 100%": lambda: _leg("fee_rate_bps", 10_001.0),
    "negative min_profit_abs": lambda: make_signal(min_profit_abs=-0.01),
    "NaN min_profit_abs": lambda: make_signal(min_profit_abs=math.nan),
    "inf min_profit_abs": lambda: make_signal(min_profit_abs=math.inf),
    "trace without timestamps": _no_trace,
}


@pytest.mark.parametrize("build", BAD_SIGNALS.values(), ids=BAD_SIGNALS.keys())
def test_bad_signal(build):
    result = check(build())
    assert reason(result) is D.BAD_SIGNAL, result
    assert result.detail


def test_too_many_legs():
    prices = [0.05] * 16
    assert reason(check(make_signal(prices, strategy=BUNDLE))) is D.TOO_MANY_LEGS
    assert isinstance(check(make_signal(prices[:15], strategy=BUNDLE, min_profit_abs=0.0)), CheckedSignal)


@pytest.mark.parametrize(
    ("price", "tick"),
    [(0.575, 0.01), (0.301, 0.01), (0.123, 0.005), (0.0026, 0.0025), (0.35, 0.1), (0.12345, 0.0001), (0.5005, 0.001)],
)
def test_off_tick(price, tick):
    signal = make_signal((0.30, price, 0.30), tick_size=tick, min_profit_abs=0.0)
    assert reason(check(signal)) is D.OFF_TICK


def test_on_tick_with_float_noise_passes():
    # what an engine adding ticks as floats sends: 0.57 + 0.01 and 0.1 * 3
    checked = check(make_signal((0.57 + 0.01, 0.1 * 3, 0.05), strategy=TRIO, payout=2.0))
    assert [leg.ticks for leg in checked.legs] == [58, 30, 5]


def test_signal_too_old():
    old = make_signal(sent_ns=NOW_NS - 251 * MS)
    assert reason(check(old)) is D.SIGNAL_TOO_OLD
    assert isinstance(check(make_signal(sent_ns=NOW_NS - 250 * MS)), CheckedSignal)  # the limit itself passes
    assert isinstance(check(old, max_signal_age_ms=300), CheckedSignal)


def test_a_stamp_from_the_future_beyond_the_limit_is_clock_skew():
    assert isinstance(check(make_signal(sent_ns=NOW_NS + 5 * MS)), CheckedSignal)
    result = check(make_signal(sent_ns=NOW_NS + 300 * MS))
    assert reason(result) is D.SIGNAL_TOO_OLD and "skew" in result.detail


def test_age_counts_from_the_frame_then_engine_receive_then_send_time():
    signal = make_signal()
    signal.trace.CopyFrom(common_pb2.Trace(engine_recv_ns=NOW_NS - 10 * MS, ws_recv_ns=NOW_NS - 900 * MS))
    assert signal_sent_ns(signal) == NOW_NS - 900 * MS
    assert reason(check(signal)) is D.SIGNAL_TOO_OLD
    # a prompt send does not make an old frame fresh: the data is as old as its frame
    signal.trace.CopyFrom(common_pb2.Trace(signal_sent_ns=NOW_NS - 1 * MS, ws_recv_ns=NOW_NS - 900 * MS))
    assert reason(check(signal)) is D.SIGNAL_TOO_OLD
    signal.trace.CopyFrom(common_pb2.Trace(engine_recv_ns=NOW_NS - 400 * MS, signal_sent_ns=NOW_NS - 1 * MS))
    assert reason(check(signal)) is D.SIGNAL_TOO_OLD  # no frame stamp: the engine's receive time
    signal.trace.CopyFrom(common_pb2.Trace(signal_sent_ns=NOW_NS - 10 * MS))
    assert isinstance(check(signal), CheckedSignal)


def test_in_flight():
    assert reason(check(make_signal(), in_flight_instances={"inst-1"})) is D.IN_FLIGHT
    assert isinstance(check(make_signal(), in_flight_instances={"inst-2"}), CheckedSignal)


def test_duplicate_signal():
    ledger = Ledger(1000.0)
    ledger.reserve("sig-1", 1.0)
    assert reason(plan(make_signal(), ledger)) is D.DUPLICATE_SIGNAL
    assert isinstance(plan(make_signal(signal_id="sig-2"), ledger), TradePlan)


def test_unprofitable():
    # 0.30 + 0.30 + 0.39 leaves 0.01 a set; a 1% fee rate costs 0.0066 of it
    assert isinstance(plan(make_signal((0.30, 0.30, 0.39), min_profit_abs=0.0034)), TradePlan)
    assert reason(plan(make_signal((0.30, 0.30, 0.39), fee_rate_bps=100.0, min_profit_abs=0.005))) is D.UNPROFITABLE
    assert reason(plan(make_signal((0.30, 0.30, 0.40), min_profit_abs=0.0))) is D.UNPROFITABLE  # break-even
    assert reason(plan(make_signal((0.30, 0.30, 0.39), strategy=UNBUNDLE))) is D.UNPROFITABLE


def test_below_min_size():
    assert reason(plan(make_signal(size=4.99, min_order_size=5.0))) is D.BELOW_MIN_SIZE
    assert isinstance(plan(make_signal(size=5.0, min_order_size=5.0)), TradePlan)


def test_huge_finite_sizes_are_read_not_overflowed():
    # found by tests/security/test_rpc_fuzz.py: size or min_order_size 1e308 overflowed to inf x 100 and
    # raised out of check_signal, ending the whole signal stream
    config = default_config()
    config.max_exposure = 1e6
    assert plan(make_signal(size=1e308), Ledger(1e6), config).shares == 100_000  # only a cap: the set's cap wins
    assert reason(plan(make_signal(min_order_size=1e308))) is D.BELOW_MIN_SIZE


def test_below_min_size_when_no_smaller_size_meets_fok_precision():
    # BUY at 0.1237 on tick 0.0001: pUSD = shares x 0.1237 has 2 decimals only for multiples of 100 shares
    signal = make_signal((0.1237, 0.2, 0.3), tick_size=0.0001, size=99.99, min_order_size=1.0)
    assert reason(plan(signal, config=_no_slippage())) is D.BELOW_MIN_SIZE
    signal = make_signal((0.1237, 0.2, 0.3), tick_size=0.0001, size=100.0, min_order_size=1.0)
    assert plan(signal, Ledger(10_000.0), config=_no_slippage()).shares == 100.0


def test_inventory_short():
    signal = make_signal((0.40, 0.35, 0.30), strategy=UNBUNDLE, size=10.0)
    assert reason(plan(signal, Ledger(0.0, {"1000": 10.0, "1001": 10.0, "1002": 4.99}))) is D.INVENTORY_SHORT
    assert reason(plan(signal, Ledger(0.0, {"1000": 10.0, "1001": 10.0}))) is D.INVENTORY_SHORT
    assert plan(signal, Ledger(0.0, {"1000": 10.0, "1001": 10.0, "1002": 5.0})).shares == 5.0


def test_collateral_short():
    # 5 shares of a set costing 0.95 (+1 tick of slippage a leg: 0.98) need 4.90
    assert reason(plan(make_signal(), Ledger(4.89))) is D.COLLATERAL_SHORT
    assert plan(make_signal(), Ledger(4.90)).shares == 5.0
    reserved = Ledger(100.0)
    reserved.reserve("other", 95.2)
    assert reason(plan(make_signal(), reserved)) is D.COLLATERAL_SHORT


def test_exposure_cap():
    config = default_config()
    config.max_exposure = 50.0
    ledger = Ledger(1000.0)
    ledger.reserve("other", 45.2)
    assert reason(plan(make_signal(), ledger, config)) is D.EXPOSURE_CAP
    ledger.release("other")
    ledger.reserve("other", 45.1)
    assert plan(make_signal(), ledger, config).shares == 5.0


def test_an_unbundle_takes_no_exposure():
    config = default_config()
    config.max_exposure = 0.0
    signal = make_signal((0.40, 0.35, 0.30), strategy=UNBUNDLE, size=10.0)
    result = plan(signal, Ledger(0.0, {"1000": 10.0, "1001": 10.0, "1002": 10.0}), config)
    assert isinstance(result, TradePlan) and result.collateral == 0.0
    assert reason(plan(make_signal(), Ledger(1000.0), config)) is D.EXPOSURE_CAP


def _no_slippage():
    config = default_config()
    config.slippage_ticks = 0
    return config


# --- the order of the checks -----------------------------------------------------------------------


def test_order_switches_first_then_malformed_then_legs_then_age_then_in_flight():
    stale_broken = make_signal(sent_ns=NOW_NS - 10_000 * MS, payout=7.0)
    assert reason(check(stale_broken, trading_enabled=False, circuit_open=True)) is D.TRADING_DISABLED
    assert reason(check(stale_broken, circuit_open=True)) is D.CIRCUIT_OPEN
    assert reason(check(stale_broken, in_flight_instances={"inst-1"})) is D.BAD_SIGNAL
    stale = make_signal(sent_ns=NOW_NS - 10_000 * MS)
    assert reason(check(stale, in_flight_instances={"inst-1"})) is D.SIGNAL_TOO_OLD
    stale_off_tick = make_signal((0.30, 0.305, 0.30), sent_ns=NOW_NS - 10_000 * MS)
    assert reason(check(stale_off_tick)) is D.OFF_TICK


def test_too_many_legs_is_decided_before_any_leg_is_read():
    signal = make_signal([0.05] * 16, strategy=BUNDLE, token_ids=["x"] * 16)  # legs malformed too
    assert reason(check(signal)) is D.TOO_MANY_LEGS
    assert reason(check(make_signal([0.05] * 16, strategy=BUNDLE, payout=3.0))) is D.BAD_SIGNAL


def test_a_malformed_leg_wins_over_an_earlier_off_tick_leg():
    signal = make_signal((0.305, 0.30, 0.30))
    signal.legs[2].price = math.nan
    assert reason(check(signal)) is D.BAD_SIGNAL


def test_plan_order_duplicate_before_unprofitable_before_sizing():
    ledger = Ledger(0.0)
    ledger.reserve("sig-1", 0.0)
    unprofitable = make_signal((0.30, 0.30, 0.40))
    assert reason(plan(unprofitable, ledger)) is D.DUPLICATE_SIGNAL
    assert reason(plan(unprofitable, Ledger(0.0))) is D.UNPROFITABLE
    assert reason(plan(make_signal(size=1.0), Ledger(0.0))) is D.BELOW_MIN_SIZE


def test_sizing_reason_order_inventory_then_collateral_then_exposure():
    from executor_svc.sizing import size_set

    checked = check(make_signal((0.40, 0.35, 0.30), strategy=UNBUNDLE))
    limits = [leg.ticks for leg in checked.legs]
    result = size_set(checked.legs, limits, cap_hundredths=1000, available_collateral=-1.0, exposure=99.0,
                      max_exposure=0.0, free_inventory={})
    assert reason(result) is D.INVENTORY_SHORT
    checked = check(make_signal())
    limits = [leg.ticks for leg in checked.legs]
    result = size_set(checked.legs, limits, cap_hundredths=1000, available_collateral=1.0, exposure=99.0,
                      max_exposure=0.0, free_inventory={})
    assert reason(result) is D.COLLATERAL_SHORT
