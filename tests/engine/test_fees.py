"""The taker fee the engine prices in, checked against py-clob-client-v2's own arithmetic."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from py_clob_client_v2.fees import adjust_buy_amount_for_fees

from engine_svc.fees import fee_per_share, rate_from_bps, taker_fee


def test_bps_map_to_the_fee_schedule_rate():
    # Gamma feeSchedule {"rate": 0.07, "exponent": 1} (crypto) is fee_rate_bps 700.
    assert rate_from_bps(700) == pytest.approx(0.07)
    assert rate_from_bps(0) == 0.0


@pytest.mark.parametrize(
    ("shares", "price", "rate", "fee"),
    [
        (100, 0.50, 0.07, 1.75),  # peak of the curve: 100 x 0.07 x 0.25
        (10, 0.65, 0.07, 0.15925),  # 10 x 0.07 x 0.65 x 0.35
        (100, 0.95, 0.04, 0.19),  # far from 0.5 the fee shrinks
        (100, 0.05, 0.04, 0.19),  # and it is symmetric
        (100, 0.50, 0.0, 0.0),  # a market without fees
    ],
)
def test_fee_table(shares, price, rate, fee):
    assert taker_fee(shares, price, rate) == pytest.approx(fee)


@pytest.mark.parametrize("price", [0.0, 1.0, -0.1, 1.5, math.nan])
def test_no_fee_outside_the_open_price_interval(price):
    assert fee_per_share(price, 0.07) == 0.0


def test_exponent_two_is_the_quadratic_curve():
    assert fee_per_share(0.5, 0.25, exponent=2.0) == pytest.approx(0.25 * 0.0625)


@settings(max_examples=300, deadline=None)
@given(
    shares=st.floats(1, 10_000),
    price=st.integers(1, 999).map(lambda k: k / 1000),
    rate=st.floats(0.0005, 0.25),
    exponent=st.sampled_from([1.0, 2.0]),
)
def test_matches_py_clob_client_v2(shares, price, rate, exponent):
    # PCC2 prices a BUY of `amount` pUSD as amount + (amount / price) * rate * (p(1-p))^e; with a
    # balance of exactly `amount` it returns amount minus that platform fee, which we read back.
    amount = shares * price
    left = adjust_buy_amount_for_fees(amount, price, amount, rate, exponent, 0.0)
    assert taker_fee(shares, price, rate, exponent) == pytest.approx(amount - left, rel=1e-9, abs=1e-9)
