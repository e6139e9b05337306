"""executor_svc/balance.py: the answer's two shapes, the rule between the CLOB's figure and the pushed one,
and the two deny reasons it feeds (balance_unknown, allowance). Pure: time is passed in."""

from __future__ import annotations

import math

import pytest

from executor_svc.balance import MAX_AGE_S, BalanceError, ClobBalance, Funds, Source, parse_balance_allowance
from executor_svc.deny import Denial, DenyReason
from executor_svc.ledger import Ledger, LedgerError
from executor_svc.plan import TradePlan, plan_trade
from executor_svc.settings import default_config
from tests.executor.risk_signals import OPEN, make_signal

MAX_UINT256 = str(2**256 - 1)


def test_both_answer_shapes_are_read_in_pusd():
    older = parse_balance_allowance({"balance": "1000000000", "allowance": "250000000"})
    assert older == ClobBalance(1000.0, 250.0)
    newer = parse_balance_allowance({"balance": "12345678", "allowances": {
        "0xE111180000d2663C0091e4f400237545B87B996B": MAX_UINT256,
        "0xe2222d279d744050d28e00520010520000310F59": "5000000",
        "0xd91E80cF2E7be2e162c6513ceD06f1dD0dA35296": MAX_UINT256}})
    assert newer.collateral == pytest.approx(12.345678) and newer.allowance == 5.0  # the smallest spender's
    assert parse_balance_allowance({"balance": 7, "allowances": {"0x1": MAX_UINT256}}).allowance > 1e70


@pytest.mark.parametrize("raw", [
    [], {"allowance": "1"}, {"balance": "1"}, {"balance": "-5", "allowance": "1"}, {"balance": "1.5", "allowance": "1"},
    {"balance": 1.5, "allowance": "1"}, {"balance": True, "allowance": "1"}, {"balance": "1", "allowances": {"a": "x"}},
    {"balance": "1", "allowances": {}},
])
def test_unreadable_answers_are_errors(raw):
    with pytest.raises(BalanceError):
        parse_balance_allowance(raw)


def test_without_polling_the_push_is_the_figure():
    funds, ledger = Funds(polling=False, started_s=0.0), Ledger()
    assert funds.figure(3.0).collateral == 0.0 and funds.figure(3.0).age_s == 3.0
    figure = funds.on_push(ledger, 500.0, {"t": 2.0}, 10.0)
    assert (figure.collateral, figure.source, figure.known, figure.allowance) == (500.0, Source.PUSHED, True, math.inf)
    assert ledger.collateral == 500.0 and dict(ledger.inventory) == {"t": 2.0}
    assert funds.figure(3600.0).known  # nothing to go stale


def test_the_smaller_figure_counts_and_a_push_never_raises_it_past_the_wallet():
    funds, ledger = Funds(polling=True, started_s=0.0), Ledger()
    before = funds.figure(1.0)
    assert (before.known, before.source, before.collateral) == (False, Source.UNKNOWN, 0.0)  # no poll yet
    assert funds.on_poll(ledger, ClobBalance(800.0, 1e6), 2.0).collateral == 800.0  # no push yet: the CLOB's
    lower = funds.on_push(ledger, 300.0, {}, 3.0)
    assert (lower.collateral, lower.source) == (300.0, Source.PUSHED) and ledger.collateral == 300.0
    higher = funds.on_push(ledger, 5000.0, {}, 4.0)
    assert (higher.collateral, higher.source) == (800.0, Source.CLOB) and ledger.collateral == 800.0
    assert funds.figures(4.0).pushed_collateral == 5000.0 and funds.figures(4.0).clob_age_s == 2.0
    with pytest.raises(LedgerError):
        funds.on_push(ledger, -1.0, {}, 5.0)
    assert ledger.collateral == 800.0 and funds.pushed == 5000.0  # a refused push changes nothing


def test_a_failed_poll_keeps_the_figure_30_s_then_the_balance_is_unknown():
    funds, ledger = Funds(polling=True, started_s=0.0), Ledger()
    funds.on_poll(ledger, ClobBalance(100.0, 1e9), 10.0)
    kept = funds.on_poll_failed(ledger, "HTTP 500", 10.0 + MAX_AGE_S)
    assert kept.known and kept.collateral == 100.0 and funds.last_error == "HTTP 500"
    lost = funds.on_poll_failed(ledger, "HTTP 500", 10.0 + MAX_AGE_S + 0.5)
    assert (lost.known, lost.source) == (False, Source.UNKNOWN)
    back = funds.on_poll(ledger, ClobBalance(90.0, 1e9), 60.0)
    assert back.known and back.collateral == 90.0 and back.age_s == 0.0 and funds.last_error == ""


def test_trades_between_polls_are_booked_against_both_figures():
    funds, ledger = Funds(polling=True, started_s=0.0), Ledger()
    funds.on_poll(ledger, ClobBalance(1000.0, 400.0), 1.0)
    funds.on_push(ledger, 600.0, {}, 1.0)
    ledger.reserve("s1", 50.0)
    ledger.settle("s1", 48.5, {"tok": 50.0})  # the trade spent 48.5 pUSD
    figure = funds.sync(ledger, 2.0)
    assert figure.collateral == pytest.approx(551.5) and funds.clob.collateral == pytest.approx(951.5)
    assert figure.allowance == pytest.approx(351.5)  # the exchange pulled it under the approval too
    # the poll right after the trade brings the CLOB's own figure: the truth again
    assert funds.on_poll(ledger, ClobBalance(951.0, 351.0), 2.5).collateral == pytest.approx(551.5)
    assert dict(ledger.inventory) == {"tok": 50.0}
    ledger.reserve("s2", 0.0, {"tok": 50.0})
    ledger.settle("s2", -20.0, {"tok": -50.0})  # a sale brought 20 pUSD in
    figure = funds.sync(ledger, 3.0)
    assert funds.clob.collateral == pytest.approx(971.0) and figure.allowance == pytest.approx(351.0)


def plan(signal, ledger, **gates) -> TradePlan | Denial:
    return plan_trade(signal, ledger, default_config(), **OPEN, **gates)


def test_balance_unknown_denies_after_the_operator_switches():
    ledger = Ledger(1000.0)
    signal = make_signal()
    assert plan(signal, ledger, balance_known=False).reason is DenyReason.BALANCE_UNKNOWN
    off = plan_trade(signal, ledger, default_config(), **{**OPEN, "trading_enabled": False}, balance_known=False)
    assert off.reason is DenyReason.TRADING_DISABLED
    assert isinstance(plan(signal, ledger, balance_known=True), TradePlan)


def test_an_allowance_below_the_cost_denies():
    ledger = Ledger(1000.0)
    signal = make_signal(size=10.0)  # three buys at 0.30 + 0.30 + 0.35 (+ slippage): about 10 pUSD
    planned = plan(signal, ledger)
    assert isinstance(planned, TradePlan)
    assert isinstance(plan(signal, ledger, allowance=planned.collateral), TradePlan)
    denied = plan(signal, ledger, allowance=planned.collateral - 0.01)
    assert denied.reason is DenyReason.ALLOWANCE
    ledger.reserve("open", 5.0)  # an open signal's reservation will be pulled under the same approval
    assert plan(make_signal(signal_id="sig-2"), ledger, allowance=planned.collateral + 1.0).reason is (
        DenyReason.ALLOWANCE)


def test_an_absurd_clob_figure_is_held_at_the_ledgers_ceiling():
    funds, ledger = Funds(polling=True, started_s=0.0), Ledger()
    figure = funds.on_poll(ledger, ClobBalance(1e15, 1e70), 1.0)
    assert figure.known and ledger.collateral == 1e12
