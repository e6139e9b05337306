"""Accounts and the exchange's money: fills, fees, held-back balances, settlement, conservation."""

from __future__ import annotations

import contextlib
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paper_venue.accounts import VENUE, Accounts, BalanceError, taker_fee, trade_value
from paper_venue.exchange import Exchange, Market
from paper_venue.matching import PRICE_SCALE, SHARE_SCALE, Side
from paper_venue.orders import OrderRejected, SignedOrder, VerifiedOrder

C = PRICE_SCALE // 100
S = SHARE_SCALE
ALICE = "0x" + "a1" * 20
BOB = "0x" + "b2" * 20
MARKET = Market("0x" + "11" * 32, "1001", "1002", tick_size="0.01", min_order_size=1, fee_rate_bps=0)
FEE_MARKET = Market("0x" + "22" * 32, "2001", "2002", tick_size="0.01", min_order_size=1, fee_rate_bps=200)


_ids = itertools.count(1)


def order(maker: str, token: str, side: Side, cents: int, shares: float, tif: str = "GTC") -> VerifiedOrder:
    """A verified order without a signature: execute() trusts its caller to have checked one."""
    n = next(_ids)
    size = round(shares * S)
    price = cents * C
    value = price * size // PRICE_SCALE
    maker_amount, taker_amount = (value, size) if side is Side.BUY else (size, value)
    signed = SignedOrder(n, maker, maker, token, maker_amount, taker_amount, side, 0, 0, "0x" + "0" * 64,
                         "0x" + "0" * 64, 0, "0x" + "0" * 130)
    return VerifiedOrder(f"0x{n:064x}", signed, "key", tif, False, price, size)


def exchange(*markets: Market, collateral: int = 1_000 * S) -> Exchange:
    ex = Exchange(starting_collateral=collateral)
    for market in markets or (MARKET,):
        ex.add_market(market)
    return ex


def test_fee_formula_is_shares_rate_p_one_minus_p():
    # 100 shares at 0.5 with 200 bps: 100 x 0.02 x 0.25 = 0.5 pUSD
    assert taker_fee(50 * C, 100 * S, 200) == S // 2
    assert taker_fee(50 * C, 100 * S, 0) == 0
    assert trade_value(57 * C, 10 * S) == 5_700_000


def test_buy_debits_value_and_fee_credits_shares():
    ex = exchange(FEE_MARKET)
    ex.set_venue_quotes("2001", {}, {50 * C: 100 * S})
    sub = ex.execute(order(ALICE, "2001", Side.BUY, 50, 10, "FOK"), "key", 0)
    assert sub.ok and sub.status == "matched"
    assert (sub.making_units, sub.taking_units) == (5 * S, 10 * S)
    alice = ex.accounts.get(ALICE)
    fee = 10 * S * 200 * 25 // (10_000 * 100)  # 10 x 0.02 x 0.25 = 0.05
    assert alice.collateral == 1_000 * S - 5 * S - fee
    assert alice.positions == {"2001": 10 * S}
    assert ex.accounts.get(VENUE).collateral == 5 * S + fee


def test_sell_needs_shares():
    ex = exchange()
    ex.set_venue_quotes("1001", {40 * C: 100 * S}, {})
    with pytest.raises(OrderRejected, match="not enough balance / allowance"):
        ex.execute(order(ALICE, "1001", Side.SELL, 40, 5, "FOK"), "key", 0)
    ex.accounts.set_balance(ALICE, 0, {"1001": 5 * S})
    sub = ex.execute(order(ALICE, "1001", Side.SELL, 40, 5, "FOK"), "key", 0)
    assert sub.ok and ex.accounts.get(ALICE).collateral == 2 * S and not ex.accounts.get(ALICE).positions


def test_resting_orders_hold_balance_back_and_release_it():
    ex = exchange(collateral=10 * S)
    sub = ex.execute(order(ALICE, "1001", Side.BUY, 50, 16), "key", 0)  # 8 pUSD resting
    assert sub.status == "live" and ex.accounts.get(ALICE).reserved_collateral == 8 * S
    with pytest.raises(OrderRejected, match="not enough balance"):
        ex.execute(order(ALICE, "1001", Side.BUY, 50, 6), "key", 0)  # 3 more > 2 free
    reason, events = ex.cancel(sub.order_id, "key")
    assert reason is None and events
    assert ex.accounts.get(ALICE).reserved_collateral == 0


def test_maker_fill_between_two_accounts():
    ex = exchange()
    ex.accounts.set_balance(BOB, 0, {"1001": 20 * S})
    ask = ex.execute(order(BOB, "1001", Side.SELL, 60, 20), "key", 0)
    assert ex.accounts.get(BOB).reserved_shares == {"1001": 20 * S}
    ex.execute(order(ALICE, "1001", Side.BUY, 65, 5, "FAK"), "key", 0)
    assert ex.records[ask.order_id].size_matched == 5 * S
    assert ex.accounts.get(BOB).collateral == 3 * S  # filled at the maker's 0.60
    assert ex.accounts.get(BOB).reserved_shares == {"1001": 15 * S}
    assert ex.accounts.get(ALICE).positions == {"1001": 5 * S}


def test_settlement_pays_one_per_winning_share():
    ex = exchange()
    ex.set_venue_quotes("1001", {}, {30 * C: 100 * S})
    ex.set_venue_quotes("1002", {}, {72 * C: 100 * S})
    ex.execute(order(ALICE, "1001", Side.BUY, 30, 10, "FOK"), "key", 0)
    ex.execute(order(ALICE, "1002", Side.BUY, 72, 10, "FOK"), "key", 0)
    total = ex.accounts.total_collateral()
    ex.resolve(MARKET.condition_id, "1001")
    alice = ex.accounts.get(ALICE)
    assert alice.collateral == 1_000 * S - 3 * S - 7_200_000 + 10 * S
    assert alice.positions == {}
    assert ex.accounts.total_collateral() == total  # the venue paid what it had sold
    with pytest.raises(OrderRejected, match="closed"):
        ex.execute(order(ALICE, "1001", Side.BUY, 30, 10, "FOK"), "key", 0)


def test_balance_error_text():
    accounts = Accounts(0)
    with pytest.raises(BalanceError, match="not enough balance / allowance"):
        accounts.require_collateral(ALICE, 1)
    accounts.require_collateral(VENUE, 10**12)  # the venue mints


flow = st.lists(
    st.tuples(st.sampled_from([ALICE, BOB]), st.sampled_from(["2001", "2002"]), st.sampled_from(list(Side)),
              st.integers(2, 98), st.integers(1, 40), st.sampled_from(["GTC", "FOK", "FAK"])),
    min_size=1, max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(flow, st.integers(0, 1))
def test_collateral_and_shares_are_conserved(steps, winner):
    ex = exchange(FEE_MARKET, collateral=200 * S)
    ex.set_venue_quotes("2001", {45 * C: 50 * S}, {55 * C: 50 * S})
    ex.set_venue_quotes("2002", {40 * C: 50 * S}, {60 * C: 50 * S})
    ex.accounts.get(ALICE)
    ex.accounts.get(BOB)
    collateral = ex.accounts.total_collateral()
    for maker, token, side, cents, shares, tif in steps:
        with contextlib.suppress(OrderRejected):  # refusals are part of the flow
            ex.execute(order(maker, token, side, cents, shares, tif), "key", 0)
        assert ex.accounts.total_collateral() == collateral
        for token_id in ("2001", "2002"):
            assert ex.accounts.total_shares(token_id) == 0  # the venue is short what others hold
        for who in (ALICE, BOB):
            account = ex.accounts.get(who)
            assert account.collateral >= 0 and all(s > 0 for s in account.positions.values())
            assert 0 <= account.reserved_collateral <= account.collateral
            for token_id, held in account.reserved_shares.items():
                assert 0 < held <= account.positions.get(token_id, 0)
    ex.resolve(FEE_MARKET.condition_id, ("2001", "2002")[winner])
    assert ex.accounts.total_collateral() == collateral
    assert all(ex.accounts.get(who).reserved_collateral == 0 for who in (ALICE, BOB))
