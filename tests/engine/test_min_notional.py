"""The venue's minimum for a marketable BUY in the engine: a cheap leg raises the smallest set it signals."""

from __future__ import annotations

import pytest

from engine_svc.settings import default_config, validate_config
from engine_svc.strategies import Evaluator
from engine_svc.structure import compile_structure
from polyarb.v1 import engine_pb2 as pb
from polyarb.v1 import executor_pb2 as ex
from polyarb.v1 import ingest_pb2

NOW = 1_700_000_000_000_000_000


def market(name: str, tick: float = 0.01, neg_risk: bool = False) -> pb.Market:
    return pb.Market(condition_id=f"c-{name}", yes_token_id=f"{name}-yes", no_token_id=f"{name}-no", tick_size=tick,
                     min_order_size=5.0, neg_risk=neg_risk, fee_rate_bps=0.0)


def evaluator(structure: pb.MarketStructure, **overrides) -> Evaluator:
    config = default_config()
    config.cooldown_ms = 0
    for name, value in overrides.items():
        setattr(config, name, value)
    return Evaluator(compile_structure(structure), validate_config(config))


def trio(lower_tick: float = 0.01) -> pb.MarketStructure:
    return pb.MarketStructure(trios=[pb.Trio(id="t", lower=market("lo", lower_tick), upper=market("up"),
                                             range=market("rg"), lower_bound=1.0, upper_bound=2.0)])


def book(token: str, ask: float, size: float, tick: float = 0.01) -> ingest_pb2.TopOfBook:
    return ingest_pb2.TopOfBook(token_id=token, ask_price=ask, ask_size=size, bid_price=0.0, bid_size=0.0,
                                tick_size=tick)


def trio_signals(ev: Evaluator, cheap: float, shown: float, tick: float = 0.01) -> list:
    """The trio (YES lower, NO upper, NO range: pays 2) with its cheap leg at `cheap` x `shown`."""
    found = []
    for update in (book("up-no", 0.97, 500.0), book("rg-no", 0.97, 500.0), book("lo-yes", cheap, shown, tick)):
        found.extend(o for o in ev.on_top_of_book(update, NOW) if o.strategy == ex.STRATEGY_TRIO)
    ev.clear_in_flight("t")
    return found


@pytest.mark.parametrize(("shown", "signalled"), [(10.0, None), (20.0, None), (33.99, None), (34.0, 34.0),
                                                  (50.0, 50.0)])
def test_a_leg_at_three_cents_needs_34_shares(shown, signalled):
    # 33.34 x 0.03 = 1.0002 pUSD, but at 0.03 the FOK precision wants whole shares: 34 ($1.02)
    found = trio_signals(evaluator(trio()), 0.03, shown)
    assert [o.size for o in found] == ([] if signalled is None else [signalled])


def test_the_minimum_is_the_configured_one():
    assert [o.size for o in trio_signals(evaluator(trio(), min_marketable_buy_pusd=0.5), 0.03, 20.0)] == [20.0]
    assert trio_signals(evaluator(trio(), min_marketable_buy_pusd=2.0), 0.03, 60.0) == []  # needs 67
    assert [o.size for o in trio_signals(evaluator(trio(), min_marketable_buy_pusd=2.0), 0.03, 67.0)] == [67.0]


def test_max_set_size_and_capital_cap_the_set_below_the_minimum_too():
    assert trio_signals(evaluator(trio(), max_set_size=30.0), 0.03, 500.0) == []
    ev = evaluator(trio())
    ev.set_capital(30.0)  # 30 pUSD buys 15 sets at 1.97
    assert trio_signals(ev, 0.03, 500.0) == []
    ev.set_capital(100.0)  # 50.76 sets
    assert [o.size for o in ev.reevaluate("t", NOW)] == [50.76]


def test_on_a_fine_tick_the_engine_leaves_room_for_the_executors_fok_rounding():
    # 1 / 0.031 = 32.26 shares, but the executor may sign a 0.001-tick leg on a grid of up to 10 shares
    # (its limit price is its own): the engine wants 40, so that whatever the executor rounds to is $1+
    ev = evaluator(trio(lower_tick=0.001))
    assert trio_signals(ev, 0.031, 39.99, tick=0.001) == []
    assert [o.size for o in trio_signals(ev, 0.031, 40.0, tick=0.001)] == [40.0]


def test_an_unbundle_sells_cheap_legs_without_a_minimum():
    members = [market(n, neg_risk=True) for n in ("a", "b", "c")]
    ev = evaluator(pb.MarketStructure(sets=[pb.OutcomeSet(id="s", members=members)]))
    ev.set_inventory({"a-yes": 10.0, "b-yes": 10.0, "c-yes": 10.0})
    found = []
    for token, bid in (("a-yes", 0.03), ("b-yes", 0.50), ("c-yes", 0.50)):
        found.extend(ev.on_top_of_book(ingest_pb2.TopOfBook(token_id=token, bid_price=bid, bid_size=100.0,
                                                            ask_price=0.99, ask_size=100.0, tick_size=0.01), NOW))
    assert [(o.strategy, o.size) for o in found] == [(ex.STRATEGY_UNBUNDLE, 10.0)]  # $0.30 of the 0.03 leg
