"""portfolio.py: positions by average cost, realized and expected PnL per strategy, UNKNOWN results replaced."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from executor_svc.portfolio import Portfolio, at_stake
from polyarb.v1 import executor_pb2 as pb

BUY, SELL = pb.SIDE_BUY, pb.SIDE_SELL


def leg(token, side, price, size, filled=None, fee_bps=0.0, avg=0.0):
    return pb.LegResult(token_id=token, side=side, price=price, size=size,
                        filled_size=size if filled is None else filled, fee_rate_bps=fee_bps, avg_price=avg)


def result(seq, legs, outcome=pb.OUTCOME_FILLED, strategy=pb.STRATEGY_TRIO, mode="paper", payout=2.0,
           reconciles=0):
    cost = 0.0
    for item in legs:
        price = item.avg_price or item.price
        notional = price * item.filled_size
        fee = item.fee_rate_bps / 10_000 * price * (1 - price) * item.filled_size
        cost += notional + fee if item.side == BUY else fee - notional
    sets = min((item.filled_size for item in legs), default=0.0)
    return pb.TradeResult(seq=seq, strategy=strategy, mode=mode, outcome=outcome, legs=legs, cost=round(cost, 6),
                          expected_pnl=round(payout * sets - cost, 6), reconciles_seq=reconciles,
                          leg_risk=outcome == pb.OUTCOME_PARTIAL)


def test_buys_make_positions_at_average_cost_and_expected_pnl_per_strategy():
    book = Portfolio("paper")
    book.apply(result(1, [leg("a", BUY, 0.60, 10), leg("b", BUY, 0.30, 10), leg("c", BUY, 0.95, 10)]))
    book.apply(result(2, [leg("a", BUY, 0.70, 10), leg("b", BUY, 0.20, 10), leg("c", BUY, 0.99, 10)]))
    out = book.to_proto(exposure=12.5, max_exposure=1000.0)
    positions = {p.token_id: p for p in out.positions}
    assert positions["a"].shares == 20 and positions["a"].avg_cost == pytest.approx(0.65)
    assert positions["c"].cost_basis == pytest.approx(19.4)
    (trio,) = out.strategies
    assert trio.strategy == pb.STRATEGY_TRIO and trio.results == 2
    assert trio.cost == pytest.approx(18.5 + 18.9)
    assert trio.expected_pnl == pytest.approx(2 * 20 - 37.4) == out.expected_pnl
    assert trio.realized_pnl == 0 and out.realized_pnl == 0
    assert out.exposure == 12.5 and out.max_exposure == 1000 and out.through_seq == 2


def test_a_sale_realizes_against_the_average_cost_and_fees_count():
    book = Portfolio("paper")
    book.apply(result(1, [leg("y1", BUY, 0.40, 10), leg("y2", BUY, 0.55, 10)], strategy=pb.STRATEGY_BUNDLE,
                      payout=1.0))
    book.apply(result(2, [leg("y1", SELL, 0.50, 4, fee_bps=100), leg("y2", SELL, 0.60, 4)],
                      strategy=pb.STRATEGY_UNBUNDLE, payout=-1.0))
    out = book.to_proto(0.0, 1000.0)
    pnl = {s.strategy: s for s in out.strategies}
    fee = 0.01 * 0.5 * 0.5 * 4
    assert pnl[pb.STRATEGY_UNBUNDLE].realized_pnl == pytest.approx((2.0 - fee - 1.6) + (2.4 - 2.2))
    assert pnl[pb.STRATEGY_BUNDLE].realized_pnl == 0
    positions = {p.token_id: p for p in out.positions}
    assert positions["y1"].shares == 6 and positions["y1"].avg_cost == pytest.approx(0.40)


def test_selling_inventory_the_journal_never_bought_goes_negative_and_realizes_nothing_until_covered():
    book = Portfolio("paper")
    book.apply(result(1, [leg("y1", SELL, 0.55, 10), leg("y2", SELL, 0.50, 10)], strategy=pb.STRATEGY_UNBUNDLE,
                      payout=-1.0))
    out = book.to_proto(0.0, 1000.0)
    positions = {p.token_id: p for p in out.positions}
    assert positions["y1"].shares == -10 and positions["y1"].avg_cost == pytest.approx(0.55)
    (unbundle,) = out.strategies
    assert unbundle.realized_pnl == 0 and unbundle.expected_pnl == pytest.approx(10.5 - 10)
    book.apply(result(2, [leg("y1", BUY, 0.45, 15)], strategy=pb.STRATEGY_BUNDLE, payout=1.0))
    positions = {p.token_id: p for p in book.to_proto(0.0, 1000.0).positions}
    assert positions["y1"].shares == pytest.approx(5) and positions["y1"].avg_cost == pytest.approx(0.45)
    assert book.strategies[pb.STRATEGY_BUNDLE].realized_pnl == pytest.approx(10 * (0.55 - 0.45))


def test_unknown_counts_no_fills_until_reconciled_and_only_once():
    book = Portfolio("paper")
    unknown = result(1, [leg("a", BUY, 0.6, 10, filled=10), leg("b", BUY, 0.3, 10, filled=0, fee_bps=200)],
                     outcome=pb.OUTCOME_UNKNOWN)
    book.apply(unknown)
    out = book.to_proto(0.0, 1000.0)
    assert not out.positions and not out.strategies  # its "matched" leg is not a fill yet
    assert out.unknown_results == 1 and out.unknown_exposure == pytest.approx(6 + 3 + 0.02 * 0.3 * 0.7 * 10)
    assert out.unknown_exposure == pytest.approx(at_stake(unknown))
    book.apply(result(2, [leg("z", BUY, 0.5, 2)]))
    reconciled = result(3, [leg("a", BUY, 0.6, 10), leg("b", BUY, 0.3, 10, filled=4)], outcome=pb.OUTCOME_PARTIAL,
                        reconciles=1)
    book.apply(reconciled)
    book.apply(result(4, [leg("a", BUY, 0.6, 10)], outcome=pb.OUTCOME_PARTIAL, reconciles=1))  # a second one
    out = book.to_proto(0.0, 1000.0)
    assert out.unknown_results == 0 and out.unknown_exposure == 0
    assert {p.token_id: p.shares for p in out.positions} == {"a": 10, "b": 4, "z": 2}
    assert out.strategies[0].results == 2 and out.strategies[0].leg_risk_results == 1
    assert book.ignored_results == 1 and out.through_seq == 4


def test_other_modes_and_replays_are_not_counted():
    book = Portfolio("live")
    book.apply(result(1, [leg("a", BUY, 0.6, 10)], mode="paper"))
    book.apply(result(2, [leg("a", BUY, 0.6, 10)], mode="live"))
    book.apply(result(2, [leg("a", BUY, 0.6, 10)], mode="live"))  # the same seq again
    out = book.to_proto(0.0, 1000.0)
    assert out.other_mode_results == 1 and [p.shares for p in out.positions] == [10]


def test_largest_positions_for_metrics():
    book = Portfolio("paper")
    book.apply(result(1, [leg("a", BUY, 0.5, 3), leg("b", BUY, 0.5, 30)]))
    book.apply(result(2, [leg("c", SELL, 0.5, 10)], strategy=pb.STRATEGY_UNBUNDLE, payout=-1))
    assert book.largest_positions(2) == [("b", 30), ("c", -10)]


def test_a_position_sold_out_disappears():
    book = Portfolio("paper")
    book.apply(result(1, [leg("a", BUY, 0.3, 0.1)]))
    for seq in range(2, 5):
        book.apply(result(seq, [leg("a", BUY, 0.3, 0.1)]))
    book.apply(result(5, [leg("a", SELL, 0.4, 0.4)], strategy=pb.STRATEGY_UNBUNDLE))
    assert book.holdings == {}
    assert book.strategies[pb.STRATEGY_UNBUNDLE].realized_pnl == pytest.approx(0.04)


@given(st.lists(st.tuples(st.sampled_from(["a", "b"]), st.booleans(), st.integers(1, 99), st.integers(1, 500)),
                max_size=40))
def test_cash_is_conserved(trades):
    """Whatever the order of trades: money in minus money out = realized PnL + what the open positions cost."""
    book = Portfolio("paper")
    cash_out = 0.0
    for seq, (token, buy, cents, shares) in enumerate(trades, start=1):
        item = leg(token, BUY if buy else SELL, cents / 100, shares / 10)
        book.apply(result(seq, [item]))
        cash_out += (item.price if buy else -item.price) * item.filled_size
    realized = sum(t.realized_pnl for t in book.strategies.values())
    basis = sum(h.cost_basis for h in book.holdings.values())
    assert -cash_out == pytest.approx(realized - basis, abs=1e-6)


def test_status_shows_the_largest_positions_and_is_rebuilt_only_on_change():
    from executor_svc.portfolio import STATUS_POSITIONS

    book = Portfolio("paper")
    n = STATUS_POSITIONS + 50
    book.apply(result(1, [leg(f"t{i:03d}", BUY, 0.5, 1 + i) for i in range(n)]))
    first = book.to_proto(exposure=1.0, max_exposure=10.0)
    assert first.positions_total == n and len(first.positions) == STATUS_POSITIONS
    assert min(p.cost_basis for p in first.positions) == pytest.approx(0.5 * (1 + n - STATUS_POSITIONS))
    again = book.to_proto(exposure=2.0, max_exposure=10.0)
    assert again.exposure == 2.0 and list(again.positions) == list(first.positions)
    assert book.to_proto(exposure=1.0, max_exposure=10.0) == first  # the cached book, fresh exposure
    book.apply(result(2, [leg("t000", BUY, 0.5, 1000)]))
    assert "t000" in {p.token_id for p in book.to_proto(exposure=1.0, max_exposure=10.0).positions}
