"""Evaluation: payoffs in every outcome (properties), each strategy on hand-built books (tables),
and the hot-path rules: dirty check, stale / missing / one-sided legs, cooldown, in flight, switches."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from engine_svc.settings import ConfigError, default_config, validate_config
from engine_svc.strategies import Evaluator, Opportunity, to_signal
from engine_svc.structure import StructureError, compile_structure
from polyarb.v1 import common_pb2, ingest_pb2
from polyarb.v1 import engine_pb2 as pb
from polyarb.v1 import executor_pb2 as ex

MS = 1_000_000
NOW = 1_700_000_000_000_000_000
TRIO, COMPLEMENT, BUNDLE, UNBUNDLE = (
    ex.STRATEGY_TRIO, ex.STRATEGY_COMPLEMENT_TRIO, ex.STRATEGY_BUNDLE, ex.STRATEGY_UNBUNDLE,
)
SIGN = {ex.SIDE_BUY: 1, ex.SIDE_SELL: -1}


# -- builders --------------------------------------------------------------------------------------


def market(name: str, **overrides) -> pb.Market:
    fields = dict(
        condition_id=f"c-{name}", yes_token_id=f"{name}-yes", no_token_id=f"{name}-no", tick_size=0.01,
        min_order_size=5.0, neg_risk=False, fee_rate_bps=0.0,
    )
    fields.update(overrides)
    return pb.Market(**fields)


def trio_msg(tid="t1", prefix="", low=100.0, high=110.0, **market_fields) -> pb.Trio:
    return pb.Trio(
        id=tid, lower=market(f"{prefix}lo", **market_fields), upper=market(f"{prefix}up", **market_fields),
        range=market(f"{prefix}rg", **market_fields), lower_bound=low, upper_bound=high,
    )


def set_msg(sid="s1", names=("a", "b", "c"), **market_fields) -> pb.OutcomeSet:
    return pb.OutcomeSet(id=sid, members=[market(n, neg_risk=True, **market_fields) for n in names])


def config(**overrides) -> pb.EngineConfig:
    cfg = default_config()
    for name, value in overrides.items():
        setattr(cfg, name, value)
    return validate_config(cfg)


def evaluator(trios=(), sets=(), **cfg) -> Evaluator:
    structure = compile_structure(pb.MarketStructure(version=1, trios=list(trios), sets=list(sets)))
    return Evaluator(structure, config(**cfg))


def tob(token, ask=0.0, ask_size=0.0, bid=0.0, bid_size=0.0, stale=False, tick=0.01) -> ingest_pb2.TopOfBook:
    return ingest_pb2.TopOfBook(
        token_id=token, bid_price=bid, bid_size=bid_size, ask_price=ask, ask_size=ask_size, stale=stale,
        tick_size=tick,
    )


def feed(ev: Evaluator, *updates: ingest_pb2.TopOfBook, now_ns: int = NOW) -> list[Opportunity]:
    found: list[Opportunity] = []
    for update in updates:
        found.extend(ev.on_top_of_book(update, now_ns))
    return found


def asks(**by_token: tuple[float, float]) -> list[ingest_pb2.TopOfBook]:
    """asks(lo_yes=(0.5, 40)) → a two-sided book with that ask (and a bid a cent below)."""
    return [
        tob(token.replace("_", "-"), ask=p, ask_size=q, bid=round(max(p - 0.01, 0.0), 4), bid_size=q)
        for token, (p, q) in by_token.items()
    ]


def bids(**by_token: tuple[float, float]) -> list[ingest_pb2.TopOfBook]:
    return [
        tob(token.replace("_", "-"), bid=p, bid_size=q, ask=round(min(p + 0.01, 0.99), 4), ask_size=q)
        for token, (p, q) in by_token.items()
    ]


PROFITABLE_TRIO = asks(lo_yes=(0.50, 40), up_no=(0.60, 30), rg_no=(0.80, 50))  # 1.90 for a payout of 2
PROFITABLE_COMPLEMENT = asks(lo_no=(0.45, 40), up_yes=(0.30, 30), rg_yes=(0.20, 50))  # 0.95 for 1


# -- tables: each strategy on hand-built books -----------------------------------------------------


def test_trio_buys_three_asks_for_a_payout_of_two():
    ev = evaluator([trio_msg()])
    [opp] = feed(ev, *PROFITABLE_TRIO)
    assert opp.strategy == TRIO and opp.instance_id == "t1"
    assert [leg.token_id for leg in opp.legs] == ["lo-yes", "up-no", "rg-no"]
    assert {leg.side for leg in opp.legs} == {ex.SIDE_BUY}
    assert opp.prices == (0.50, 0.60, 0.80)
    assert opp.payout == 2.0
    assert opp.cost == pytest.approx(1.90) and opp.fees == 0.0
    assert opp.profit == pytest.approx(0.10)
    assert opp.profit_bps == pytest.approx(0.10 / 1.90 * 10_000)
    assert opp.size == 30.0  # the thinnest leg
    assert opp.expected_pnl == pytest.approx(3.0)


def test_complement_trio_buys_no_lower_yes_upper_yes_range_for_one():
    ev = evaluator([trio_msg()])
    [opp] = feed(ev, *PROFITABLE_COMPLEMENT)
    assert opp.strategy == COMPLEMENT
    assert [leg.token_id for leg in opp.legs] == ["lo-no", "up-yes", "rg-yes"]
    assert opp.payout == 1.0 and opp.profit == pytest.approx(0.05) and opp.size == 30.0


def test_bundle_buys_every_yes_ask_of_a_set():
    ev = evaluator(sets=[set_msg()])
    [opp] = feed(ev, *asks(a_yes=(0.30, 10), b_yes=(0.30, 20), c_yes=(0.30, 30)))
    assert opp.strategy == BUNDLE and opp.payout == 1.0
    assert [leg.token_id for leg in opp.legs] == ["a-yes", "b-yes", "c-yes"]
    assert opp.profit == pytest.approx(0.10) and opp.size == 10.0
    assert all(leg.neg_risk for leg in opp.legs)


def test_unbundle_sells_every_yes_bid_up_to_the_minted_inventory():
    ev = evaluator(sets=[set_msg()])
    ev.set_inventory({"a-yes": 20.0, "b-yes": 15.0, "c-yes": 50.0, "elsewhere": 99.0})
    [opp] = feed(ev, *bids(a_yes=(0.40, 100), b_yes=(0.35, 100), c_yes=(0.35, 100)))
    assert opp.strategy == UNBUNDLE
    assert {leg.side for leg in opp.legs} == {ex.SIDE_SELL}
    assert opp.prices == (0.40, 0.35, 0.35)
    assert opp.payout == -1.0  # the sold set would have paid 1 in every outcome
    assert opp.cost == pytest.approx(-1.10)  # collateral received
    assert opp.profit == pytest.approx(0.10) and opp.profit_bps == pytest.approx(1000)
    assert opp.size == 15.0  # whole minted sets only: the smallest holding


@pytest.mark.parametrize(
    "inventory",
    [{}, {"a-yes": 20.0, "b-yes": 20.0}, {"a-yes": 20.0, "b-yes": 20.0, "c-yes": 0.0}],
    ids=["none", "one token missing", "one token at zero"],
)
def test_unbundle_needs_a_whole_minted_set(inventory):
    ev = evaluator(sets=[set_msg()])
    ev.set_inventory(inventory)
    assert feed(ev, *bids(a_yes=(0.40, 100), b_yes=(0.35, 100), c_yes=(0.35, 100))) == []


@pytest.mark.parametrize(
    ("books", "cfg", "signals"),
    [
        # near the thresholds: 0.01 per set is exactly min_profit_abs (50.25 bps, pnl 0.30) → trade
        (asks(lo_yes=(0.50, 40), up_no=(0.60, 30), rg_no=(0.89, 50)), {}, True),
        # half a cent per set on a 0.005 tick: below min_profit_abs
        (asks(lo_yes=(0.50, 40), up_no=(0.60, 30), rg_no=(0.895, 50)), {}, False),
        # the same cent fails a 60 bps threshold
        (asks(lo_yes=(0.50, 40), up_no=(0.60, 30), rg_no=(0.89, 50)), {"min_profit_bps": 60}, False),
        # 0.01 x 5 shares = 0.05: exactly the minimum expected pnl
        (asks(lo_yes=(0.50, 5), up_no=(0.60, 5), rg_no=(0.89, 5)), {}, True),
        (asks(lo_yes=(0.50, 5), up_no=(0.60, 5), rg_no=(0.89, 5)), {"min_expected_pnl": 0.06}, False),
        # zero thresholds still need a strictly positive profit
        (
            asks(lo_yes=(0.50, 40), up_no=(0.60, 30), rg_no=(0.90, 50)),
            {"min_profit_abs": 0, "min_profit_bps": 0, "min_expected_pnl": 0},
            False,
        ),
    ],
    ids=["at min_profit_abs", "below min_profit_abs", "below min_profit_bps", "at min_expected_pnl",
         "below min_expected_pnl", "zero profit"],
)
def test_near_threshold(books, cfg, signals):
    ev = evaluator([trio_msg(tick_size=0.005)], **cfg)
    assert bool(feed(ev, *books)) is signals


def test_fee_eats_the_profit():
    # 1.95 for 2 leaves 0.05 before fees; at 700 bps (crypto) the three taker fees cost
    # 0.07 x (0.25 + 0.24 + 0.1275) = 0.043 per set, leaving less than min_profit_abs.
    books = asks(lo_yes=(0.50, 40), up_no=(0.60, 30), rg_no=(0.85, 50))
    assert feed(evaluator([trio_msg(fee_rate_bps=700)]), *books) == []
    [opp] = feed(evaluator([trio_msg(fee_rate_bps=100)]), *books)
    assert opp.fees == pytest.approx(0.01 * (0.25 + 0.24 + 0.1275))
    assert opp.cost == pytest.approx(1.95 + opp.fees)
    assert opp.profit == pytest.approx(0.05 - opp.fees)
    assert [leg.fee_rate_bps for leg in opp.legs] == [100, 100, 100]


def test_fee_on_an_unbundle_is_paid_out_of_the_proceeds():
    ev = evaluator(sets=[set_msg(fee_rate_bps=300)])
    ev.set_inventory({"a-yes": 50, "b-yes": 50, "c-yes": 50})
    [opp] = feed(ev, *bids(a_yes=(0.40, 100), b_yes=(0.35, 100), c_yes=(0.35, 100)))
    fees = 0.03 * (0.40 * 0.60 + 2 * 0.35 * 0.65)
    assert opp.fees == pytest.approx(fees)
    assert opp.profit == pytest.approx(0.10 - fees)


@pytest.mark.parametrize(
    "defect",
    [
        tob("rg-no", ask=0.0, ask_size=0.0, bid=0.79, bid_size=50),  # one-sided: no asks
        tob("rg-no", ask=0.80, ask_size=50, bid=0.79, bid_size=50, stale=True),
        tob("rg-no", ask=0.80, ask_size=4.99, bid=0.79, bid_size=50),  # below min_order_size 5
        tob("rg-no", ask=math.nan, ask_size=50, bid=0.79, bid_size=50),
        tob("rg-no", ask=1.2, ask_size=50, bid=0.79, bid_size=50),  # not a price
        tob("rg-no", ask=0.80, ask_size=math.nan, bid=0.79, bid_size=50),
        None,  # never seen
    ],
    ids=["one-sided", "stale", "below min size", "NaN price", "price above 1", "NaN size", "missing"],
)
def test_no_trio_signal_with_a_bad_leg(defect):
    ev = evaluator([trio_msg()])
    books = PROFITABLE_TRIO[:2] + ([defect] if defect is not None else [])
    assert feed(ev, *books) == []


def test_one_sided_bids_block_an_unbundle():
    ev = evaluator(sets=[set_msg()])
    ev.set_inventory({"a-yes": 50, "b-yes": 50, "c-yes": 50})
    books = [*bids(a_yes=(0.60, 100), b_yes=(0.50, 100)), tob("c-yes", ask=0.02, ask_size=10)]
    assert feed(ev, *books) == []


def test_a_leg_fresh_again_is_re_evaluated():
    ev = evaluator([trio_msg()])
    stale = tob("rg-no", ask=0.80, ask_size=50, stale=True)
    assert feed(ev, *PROFITABLE_TRIO[:2], stale) == []
    [opp] = feed(ev, tob("rg-no", ask=0.80, ask_size=50))  # same prices, but fresh
    assert opp.prices == (0.50, 0.60, 0.80)


def test_a_leg_going_stale_stops_the_instance():
    ev = evaluator([trio_msg()], cooldown_ms=0)
    assert feed(ev, *PROFITABLE_TRIO)
    ev.clear_in_flight("t1")
    assert feed(ev, tob("lo-yes", ask=0.50, ask_size=40, stale=True)) == []
    assert ev.reevaluate("t1", NOW) == []
    assert ev.stale_token_count() == 4  # lo-yes and the three never-seen complement tokens


def test_size_is_capped_by_the_configured_maximum_and_by_capital():
    ev = evaluator([trio_msg()], max_set_size=12)
    assert feed(ev, *PROFITABLE_TRIO)[0].size == 12.0
    ev = evaluator([trio_msg()])
    ev.set_capital(19.0)  # 19 / 1.90 = 10 sets
    assert feed(ev, *PROFITABLE_TRIO)[0].size == 10.0
    ev = evaluator([trio_msg()])
    ev.set_capital(20.0)  # 10.526... → 10.52 (sizes have two decimals, rounded down)
    assert feed(ev, *PROFITABLE_TRIO)[0].size == 10.52
    ev = evaluator([trio_msg()])
    ev.set_capital(9.0)  # 4.73 sets: under the market minimum of 5
    assert feed(ev, *PROFITABLE_TRIO) == []


def test_every_leg_must_meet_its_own_minimum():
    t = trio_msg()
    t.range.min_order_size = 35  # the range leg's market wants 35; the set can only be 30
    assert feed(evaluator([t]), *PROFITABLE_TRIO) == []


# -- hot-path rules --------------------------------------------------------------------------------


def test_only_a_change_on_the_traded_side_re_evaluates():
    ev = evaluator([trio_msg()], cooldown_ms=0)
    [first] = feed(ev, *PROFITABLE_TRIO)
    ev.clear_in_flight("t1")  # rejected: from here any evaluation of the (still profitable) trio would signal
    ev.give_back(first)
    assert feed(ev, PROFITABLE_TRIO[0]) == []  # the same top of book again
    lo_bid_moved = tob("lo-yes", ask=0.50, ask_size=40, bid=0.45, bid_size=7)
    assert feed(ev, lo_bid_moved) == []  # a trio buys asks: its bids do not matter
    assert ev.state("lo-yes").bid == 0.45  # but the state is kept current
    [opp] = feed(ev, tob("lo-yes", ask=0.50, ask_size=35, bid=0.45, bid_size=7))  # ask size moved
    assert opp.size == 30.0


def test_unknown_token_is_ignored():
    ev = evaluator([trio_msg()])
    assert feed(ev, tob("not-ours", ask=0.1, ask_size=10)) == []


def test_cooldown_per_instance():
    ev = evaluator([trio_msg()], cooldown_ms=200)
    [first] = feed(ev, *PROFITABLE_TRIO, now_ns=NOW)
    ev.clear_in_flight("t1")
    ev.give_back(first)
    assert feed(ev, tob("lo-yes", ask=0.49, ask_size=40), now_ns=NOW + 199 * MS) == []
    assert feed(ev, tob("lo-yes", ask=0.48, ask_size=40), now_ns=NOW + 200 * MS)


def test_in_flight_blocks_until_cleared_or_timed_out():
    ev = evaluator([trio_msg()], cooldown_ms=0, in_flight_timeout_ms=5_000)
    [first] = feed(ev, *PROFITABLE_TRIO, now_ns=NOW)
    ev.give_back(first)  # only the in-flight mark holds it back below
    assert ev.in_flight_count(NOW) == 1
    assert feed(ev, tob("lo-yes", ask=0.49, ask_size=40), now_ns=NOW + 1 * MS) == []
    # the complement is the same instance: it waits too
    assert feed(ev, *PROFITABLE_COMPLEMENT, now_ns=NOW + 2 * MS) == []
    # the executor never answered: after the timeout the instance is free again
    [opp] = feed(ev, tob("lo-yes", ask=0.48, ask_size=40), now_ns=NOW + 5_000 * MS)
    assert opp.strategy == TRIO
    ev.clear_in_flight("t1")
    ev.give_back(opp)
    assert ev.in_flight_count(NOW + 5_000 * MS) == 0
    assert feed(ev, tob("lo-yes", ask=0.47, ask_size=40), now_ns=NOW + 5_001 * MS)


def test_mark_in_flight_blocks_an_instance():
    ev = evaluator([trio_msg()], cooldown_ms=0)
    ev.mark_in_flight("t1", NOW)
    ev.mark_in_flight("unknown", NOW)  # harmless
    assert feed(ev, *PROFITABLE_TRIO, now_ns=NOW + MS) == []
    ev.clear_in_flight("t1")
    assert ev.reevaluate("t1", NOW + 2 * MS)  # the book did not change; ask for an evaluation


@pytest.mark.parametrize(
    ("switch", "books", "strategy"),
    [
        ("trio", PROFITABLE_TRIO, TRIO),
        ("complement_trio", PROFITABLE_COMPLEMENT, COMPLEMENT),
        ("bundle", asks(a_yes=(0.30, 10), b_yes=(0.30, 20), c_yes=(0.30, 30)), BUNDLE),
        ("unbundle", bids(a_yes=(0.40, 100), b_yes=(0.35, 100), c_yes=(0.35, 100)), UNBUNDLE),
    ],
)
def test_strategy_switches(switch, books, strategy):
    ev = evaluator([trio_msg()], [set_msg()], **{switch: False})
    ev.set_inventory({"a-yes": 50, "b-yes": 50, "c-yes": 50})
    assert feed(ev, *books) == []
    ev.set_config(config())  # back on: takes effect at the next evaluation
    assert [o.strategy for o in ev.reevaluate("t1" if strategy in (TRIO, COMPLEMENT) else "s1", NOW)] == [
        strategy
    ]


def test_config_is_hot_reloaded():
    ev = evaluator([trio_msg()], cooldown_ms=0)
    ev.set_config(config(cooldown_ms=0, min_profit_abs=0.2))
    assert feed(ev, *PROFITABLE_TRIO) == []
    ev.set_config(config(cooldown_ms=0, min_profit_abs=0.1))
    assert ev.reevaluate("t1", NOW)


def test_a_new_structure_keeps_books_cooldowns_and_in_flight_marks():
    old = evaluator([trio_msg()], cooldown_ms=0)
    [first] = feed(old, *PROFITABLE_TRIO)  # t1 is now in flight
    old.set_capital(1000)
    structure = compile_structure(pb.MarketStructure(version=2, trios=[trio_msg(), trio_msg("t2", "x")]))
    new = Evaluator(structure, config(cooldown_ms=0), previous=old)
    assert new.state("lo-yes").ask == 0.50  # ingest will not resend books it already sent
    assert new.reevaluate("t1", NOW) == []  # still in flight
    new.clear_in_flight("t1")
    assert new.reevaluate("t1", NOW) == []  # and what it took is still taken (the book was not shown anew)
    new.give_back(first)  # rejected after all
    assert new.reevaluate("t1", NOW)[0].size == 30.0
    assert new.capital == 1000


def test_an_augmented_neg_risk_event_is_never_a_bundle():
    # The decision: the structure refuses it, so no evaluator ever holds it. The Gamma flag is not
    # on the wire, so what we can check is that every member is neg_risk (see test_structure.py).
    not_neg_risk = pb.OutcomeSet(id="aug", members=[market("trump"), market("vance")])
    with pytest.raises(StructureError):
        compile_structure(pb.MarketStructure(sets=[not_neg_risk]))


def test_to_signal():
    ev = evaluator([trio_msg(neg_risk=True, fee_rate_bps=10)])
    books = list(PROFITABLE_TRIO)
    books[2] = tob("rg-no", ask=0.80, ask_size=50, tick=0.001)  # the market's tick changed to 0.001
    [opp] = feed(ev, *books)
    trace = common_pb2.Trace(ws_recv_ns=1, engine_recv_ns=2)
    signal = to_signal(opp, "sig-1", trace)
    assert signal.signal_id == "sig-1" and signal.instance_id == "t1" and signal.strategy == TRIO
    assert signal.payout == 2.0
    assert signal.expected_profit == pytest.approx(opp.profit)
    assert signal.min_profit_abs == 0.01
    assert signal.trace == trace
    assert [(leg.token_id, leg.side, leg.price, leg.size, leg.tick_size) for leg in signal.legs] == [
        ("lo-yes", ex.SIDE_BUY, 0.50, 30.0, 0.01),
        ("up-no", ex.SIDE_BUY, 0.60, 30.0, 0.01),
        ("rg-no", ex.SIDE_BUY, 0.80, 30.0, 0.001),
    ]
    assert all(leg.min_order_size == 5 and leg.neg_risk and leg.fee_rate_bps == 10 for leg in signal.legs)


# -- config ----------------------------------------------------------------------------------------


def test_default_config():
    cfg = validate_config(default_config())
    assert (cfg.min_profit_abs, cfg.min_profit_bps, cfg.min_expected_pnl) == (0.01, 50, 0.05)
    assert (cfg.max_set_size, cfg.cooldown_ms, cfg.in_flight_timeout_ms) == (100, 200, 10_000)
    assert cfg.min_marketable_buy_pusd == 1.0
    assert cfg.trio and cfg.complement_trio and cfg.bundle and cfg.unbundle


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("min_profit_abs", -0.01, "min_profit_abs must be >= 0"),
        ("min_profit_bps", math.nan, "min_profit_bps must be a finite number"),
        ("min_expected_pnl", math.inf, "min_expected_pnl must be a finite number"),
        ("max_set_size", 0.0, "max_set_size must be > 0"),
        ("max_set_size", math.inf, "max_set_size must be a finite number"),
        ("min_marketable_buy_pusd", -1.0, "min_marketable_buy_pusd must be >= 0"),
        ("min_marketable_buy_pusd", math.nan, "min_marketable_buy_pusd must be a finite number"),
        ("min_marketable_buy_pusd", math.inf, "min_marketable_buy_pusd must be a finite number"),
    ],
)
def test_a_bad_config_is_refused_whole(field, value, reason):
    cfg = default_config()
    setattr(cfg, field, value)
    with pytest.raises(ConfigError, match=reason):
        validate_config(cfg)


def test_config_zeros_mean_what_they_say_but_the_in_flight_timeout_and_the_buy_minimum():
    sent = pb.EngineConfig(max_set_size=10)  # a client that knows only the contract's fields
    cfg = validate_config(sent)
    assert (cfg.min_profit_abs, cfg.cooldown_ms, cfg.trio) == (0.0, 0, False)
    assert cfg.in_flight_timeout_ms == 10_000
    assert cfg.min_marketable_buy_pusd == 1.0
    assert sent.in_flight_timeout_ms == 0 and sent.min_marketable_buy_pusd == 0  # the caller's message is kept
    assert validate_config(pb.EngineConfig(max_set_size=10, min_marketable_buy_pusd=2.5)).min_marketable_buy_pusd == 2.5


# -- properties: payoffs in every outcome, costs, sizes --------------------------------------------

PRICE = st.integers(1, 99).map(lambda k: k / 100)
LOW_PRICE = st.integers(1, 45).map(lambda k: k / 100)
# Hypothesis leans towards the first element of a sample and towards 0: keep the usual case there.
SIZE = st.sampled_from([40.0, 250.0, 12.34, 1000.0, 40.0, 250.0, 5.0, 4.99, 0.0])
FEE_BPS = st.sampled_from([0.0, 100.0, 300.0, 700.0])
MIN_SIZE = st.sampled_from([5.0, 0.0, 15.0])
RARELY = st.sampled_from([False] * 19 + [True])


@st.composite
def books_for(draw, tokens: list[str], legs: list[tuple[list[str], float, str]]) -> dict[str, dict | None]:
    """Per token: None (never seen) or a top of book, mostly fresh and two-sided. Then, often, one
    strategy's legs are priced to the cent around its payout (at, just inside, just outside the
    thresholds): `legs` lists (tokens, payout, "ask" | "bid") per strategy."""
    out: dict[str, dict | None] = {}
    messy = draw(st.booleans())  # else every leg is fresh, two-sided and deep
    sizes = SIZE if messy else st.sampled_from([40.0, 250.0, 1000.0, 12.34])
    for token in tokens:
        if messy and draw(RARELY):
            out[token] = None  # never seen
            continue
        one_sided = messy and draw(RARELY)
        out[token] = dict(
            ask=0.0 if one_sided else draw(st.one_of(PRICE, LOW_PRICE)),
            ask_size=draw(sizes),
            bid=0.0 if one_sided else draw(PRICE),
            bid_size=draw(sizes),
            stale=messy and draw(RARELY),
        )
    edge = draw(st.sampled_from([*legs, None]))
    if edge is not None:
        leg_tokens, payout, side = edge
        edge_cents = draw(st.integers(-3, 6))  # mostly on the profitable side of the payout, by a few cents
        target = abs(payout) + (edge_cents if side == "bid" else -edge_cents) / 100  # sum of the traded side
        shares = [draw(st.integers(1, 99)) for _ in leg_tokens]
        scale = target * 100 / sum(shares)
        cents = [max(1, min(99, round(c * scale))) for c in shares]
        for token, c in zip(leg_tokens, cents, strict=True):
            if out[token] is not None:
                out[token][side] = c / 100
    return out


@st.composite
def engine_config(draw) -> pb.EngineConfig:
    return config(
        min_profit_abs=draw(st.sampled_from([0.0, 0.005, 0.01, 0.03])),
        min_profit_bps=draw(st.sampled_from([0.0, 50.0, 150.0])),
        min_expected_pnl=draw(st.sampled_from([0.0, 0.05, 1.0])),
        max_set_size=draw(st.sampled_from([100.0, 1000.0, 10.0, 1.0])),
        cooldown_ms=0,
        min_marketable_buy_pusd=draw(st.sampled_from([1.0, 1.0, 0.5, 5.0])),
    )


def _updates(books: dict[str, dict | None], order: list[str]) -> list[tuple[str, ingest_pb2.TopOfBook]]:
    return [(t, tob(t, tick=0.01, **books[t])) for t in order if books[t] is not None]


def _run(ev: Evaluator, updates, instance_id: str):
    """Feed updates one by one; yield (opportunity, books as they were when it was found)."""
    seen: dict[str, dict] = {}
    for i, (token, update) in enumerate(updates):
        seen[token] = dict(
            ask=update.ask_price, ask_size=update.ask_size, bid=update.bid_price, bid_size=update.bid_size,
            stale=update.stale,
        )
        for opp in ev.on_top_of_book(update, NOW + i * MS):
            yield opp, dict(seen)
            ev.clear_in_flight(instance_id)  # let later updates signal again, on the books as shown
            ev.give_back(opp)


def _check_money_and_size(opp, books_then, cfg, markets, capital, inventory):
    """cost + fees < payout - threshold, the other thresholds, and equal, feasible share sizes."""
    buying = opp.strategy != UNBUNDLE
    side = "ask" if buying else "bid"
    prices = [books_then[leg.token_id][side] for leg in opp.legs]
    assert list(opp.prices) == prices
    for leg in opp.legs:
        book = books_then.get(leg.token_id)
        assert book is not None and not book["stale"], "a leg was stale or never seen"
        assert 0 < book[side] < 1, "a leg was one-sided"
    rates = [markets[leg.token_id].fee_rate_bps / 10_000 for leg in opp.legs]
    fees = sum(r * p * (1 - p) for r, p in zip(rates, prices, strict=True))
    price_sum = sum(SIGN[leg.side] * p for leg, p in zip(opp.legs, prices, strict=True))
    assert opp.fees == pytest.approx(fees, abs=1e-12)
    assert opp.cost == pytest.approx(price_sum + fees, abs=1e-12)
    assert price_sum + fees <= opp.payout - cfg.min_profit_abs + 1e-9
    assert price_sum + fees < opp.payout
    assert opp.profit == pytest.approx(opp.payout - price_sum - fees, abs=1e-12)
    notional = price_sum + fees if buying else 1.0
    assert opp.profit / notional * 10_000 >= cfg.min_profit_bps - 1e-6
    assert opp.expected_pnl == pytest.approx(opp.profit * opp.size)
    assert opp.expected_pnl >= cfg.min_expected_pnl - 1e-9
    # one size for every leg (to_signal copies it), feasible on every book and every market
    assert {leg.size for leg in to_signal(opp, "x").legs} == {opp.size}
    assert 0 < opp.size <= cfg.max_set_size
    assert round(opp.size, 2) == opp.size
    for leg in opp.legs:
        assert opp.size <= books_then[leg.token_id][side + "_size"]
        assert opp.size >= markets[leg.token_id].min_order_size
        if not buying:
            assert opp.size <= inventory.get(leg.token_id, 0.0)
    if buying:
        assert opp.size * opp.cost <= capital + 1e-9
        # every leg a marketable BUY the venue accepts, even after the executor rounds the shares down to
        # its FOK step (at most to whole shares on a cent tick)
        for p in prices:
            assert math.floor(opp.size + 1e-9) * p >= cfg.min_marketable_buy_pusd - 1e-9


def _trio_payoffs(t: pb.Trio) -> dict[str, object]:
    low, high = t.lower_bound, t.upper_bound
    return {
        t.lower.yes_token_id: lambda x: x > low,
        t.lower.no_token_id: lambda x: x <= low,
        t.upper.yes_token_id: lambda x: x > high,
        t.upper.no_token_id: lambda x: x <= high,
        t.range.yes_token_id: lambda x: low < x <= high,
        t.range.no_token_id: lambda x: not low < x <= high,
    }


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    low=st.floats(-1e6, 1e6),
    width=st.floats(0.01, 1e4),
    cfg=engine_config(),
    capital=st.sampled_from([math.inf, 1000.0, 60.0, 5.0]),
)
def test_property_trio_signals_pay_their_payout_in_every_outcome(data, low, width, cfg, capital):
    high = low + width
    assume(low < high)
    t = pb.Trio(id="t", lower_bound=low, upper_bound=high)
    for part in ("lower", "upper", "range"):
        getattr(t, part).CopyFrom(
            market(f"{part}", fee_rate_bps=data.draw(FEE_BPS), min_order_size=data.draw(MIN_SIZE))
        )
    structure = compile_structure(pb.MarketStructure(trios=[t]))
    ev = Evaluator(structure, cfg)
    ev.set_capital(capital)
    tokens = sorted(structure.tokens)
    legs = [
        ([t.lower.yes_token_id, t.upper.no_token_id, t.range.no_token_id], 2.0, "ask"),
        ([t.lower.no_token_id, t.upper.yes_token_id, t.range.yes_token_id], 1.0, "ask"),
    ]
    books = data.draw(books_for(tokens, legs))
    order = data.draw(st.permutations(tokens))
    payoffs = _trio_payoffs(t)
    # X falls in (-inf, L], (L, U] or (U, inf): one point inside each, plus both bounds themselves
    outcomes = [low - 1.0, low, low + width / 2, high, high + 1.0]
    for opp, books_then in _run(ev, _updates(books, order), "t"):
        for x in outcomes:
            paid = sum(SIGN[leg.side] * int(payoffs[leg.token_id](x)) for leg in opp.legs)
            assert paid == opp.payout
        _check_money_and_size(opp, books_then, cfg, structure.markets, capital, {})
    _check_no_missed_signal(ev, structure, books, cfg, capital, {}, "t")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), n=st.integers(2, 6), cfg=engine_config(), capital=st.sampled_from([math.inf, 60.0]))
def test_property_set_signals_pay_their_payout_whichever_member_wins(data, n, cfg, capital):
    names = [f"m{i}" for i in range(n)]
    members = [
        market(name, neg_risk=True, fee_rate_bps=data.draw(FEE_BPS), min_order_size=data.draw(MIN_SIZE))
        for name in names
    ]
    structure = compile_structure(pb.MarketStructure(sets=[pb.OutcomeSet(id="s", members=members)]))
    ev = Evaluator(structure, cfg)
    ev.set_capital(capital)
    tokens = [m.yes_token_id for m in members]
    held = st.sampled_from([500.0, 20.0, 3.0, 0.0])
    if data.draw(st.booleans()):  # whole minted sets, plus a few odd shares
        inventory = {t: data.draw(held.filter(bool)) + data.draw(st.sampled_from([0.0, 1.5])) for t in tokens}
    else:
        inventory = {t: data.draw(held) for t in tokens}
    ev.set_inventory(inventory)
    books = data.draw(books_for(tokens, [(tokens, 1.0, "ask"), (tokens, -1.0, "bid")]))
    order = data.draw(st.permutations(tokens))
    for opp, books_then in _run(ev, _updates(books, order), "s"):
        for winner in tokens:  # exactly one member's YES pays 1
            paid = sum(SIGN[leg.side] * int(leg.token_id == winner) for leg in opp.legs)
            assert paid == opp.payout
        _check_money_and_size(opp, books_then, cfg, structure.markets, capital, inventory)
    _check_no_missed_signal(ev, structure, books, cfg, capital, inventory, "s")


def _check_no_missed_signal(ev, structure, books, cfg, capital, inventory, instance_id):
    """The converse: where a plain model of the rules clearly says "trade", the engine trades."""
    instance = structure.instances[0]
    if instance_id == "t":
        lower, upper, range_ = instance.lower, instance.upper, instance.range
        directions = [
            (TRIO, 2.0, [lower.yes_token_id, upper.no_token_id, range_.no_token_id]),
            (COMPLEMENT, 1.0, [lower.no_token_id, upper.yes_token_id, range_.yes_token_id]),
        ]
    else:
        yes = [m.yes_token_id for m in instance.members]
        directions = [(BUNDLE, 1.0, yes), (UNBUNDLE, -1.0, yes)]
    switches = {TRIO: "trio", COMPLEMENT: "complement_trio", BUNDLE: "bundle", UNBUNDLE: "unbundle"}
    for strategy, payout, tokens in directions:
        markets = structure.markets
        expected = _model_says_trade(strategy, payout, tokens, books, markets, cfg, capital, inventory)
        if expected is None:
            continue  # too close to a threshold to call
        only = pb.EngineConfig()
        only.CopyFrom(cfg)
        for s, field in switches.items():
            setattr(only, field, s == strategy)
        ev.set_config(only)
        ev.clear_in_flight(instance_id)
        found = ev.reevaluate(instance_id, NOW + 10**12)
        assert bool(found) is expected, (strategy, books)


def _model_says_trade(strategy, payout, tokens, books, markets, cfg, capital, inventory) -> bool | None:
    buying = strategy != UNBUNDLE
    side = "ask" if buying else "bid"
    for token in tokens:
        book = books[token]
        if book is None or book["stale"] or not 0 < book[side] < 1 or not book[side + "_size"] > 0:
            return False
    prices = [books[t][side] for t in tokens]
    fees = sum(markets[t].fee_rate_bps / 10_000 * p * (1 - p) for t, p in zip(tokens, prices, strict=True))
    cost = sum(prices) + fees if buying else fees - sum(prices)
    profit = payout - cost
    notional = cost if buying else 1.0
    caps = [books[t][side + "_size"] for t in tokens] + [cfg.max_set_size]
    caps.append(capital / cost if buying else min(inventory.get(t, 0.0) for t in tokens))
    size = math.floor(min(caps) * 100 + 1e-9) / 100  # shares have two decimals
    if not size > 0:
        return False
    margins = [
        profit,
        profit - cfg.min_profit_abs,
        profit / notional * 10_000 - cfg.min_profit_bps,
        profit * size - cfg.min_expected_pnl,
        size - max(markets[t].min_order_size for t in tokens),
    ]
    if buying:  # the marketable BUY minimum on whole shares (a cent tick's coarsest FOK grid)
        margins.append(math.floor(size + 1e-9) * min(prices) - cfg.min_marketable_buy_pusd)
    if any(abs(m) < 1e-6 for m in margins):
        return None
    return all(m > 0 for m in margins)


@settings(max_examples=200, deadline=None)
@given(
    data=st.data(),
    which=st.integers(0, 2),
    defect=st.sampled_from(["stale", "missing", "one-sided", "below min size"]),
    strategy=st.sampled_from([TRIO, COMPLEMENT, BUNDLE, UNBUNDLE]),
)
def test_property_no_signal_with_a_stale_missing_one_sided_or_small_leg(data, which, defect, strategy):
    trios, sets = [trio_msg(min_order_size=10.0)], [set_msg(min_order_size=10.0)]
    tokens, side, instance_id = {
        TRIO: (["lo-yes", "up-no", "rg-no"], "ask", "t1"),
        COMPLEMENT: (["lo-no", "up-yes", "rg-yes"], "ask", "t1"),
        BUNDLE: (["a-yes", "b-yes", "c-yes"], "ask", "s1"),
        UNBUNDLE: (["a-yes", "b-yes", "c-yes"], "bid", "s1"),
    }[strategy]
    # a very profitable book on every leg (asks of 0.30 at most, bids of 0.40 at least)...
    price = st.integers(1, 30) if side == "ask" else st.integers(40, 99)
    books = {
        tok: {side: data.draw(price) / 100, f"{side}_size": data.draw(st.floats(10, 1e4)), "stale": False}
        for tok in tokens
    }
    order = data.draw(st.permutations(tokens))

    def signals(books) -> list[Opportunity]:
        # the marketable BUY minimum as good as off: cheap legs of 10 shares are the point here
        ev = evaluator(trios, sets, cooldown_ms=0, min_expected_pnl=0.0, min_marketable_buy_pusd=1e-6)
        ev.set_inventory({"a-yes": 1e5, "b-yes": 1e5, "c-yes": 1e5})
        return [opp for opp, _ in _run(ev, _updates(books, order), instance_id)]

    assert [o.strategy for o in signals(books)] == [strategy]  # sanity: this book trades
    # ...but one leg is bad
    bad = tokens[which]
    if defect == "stale":
        books[bad]["stale"] = True
    elif defect == "missing":
        books[bad] = None
    elif defect == "one-sided":
        books[bad].update({side: 0.0, f"{side}_size": 0.0})
    else:
        books[bad][f"{side}_size"] = data.draw(st.floats(0.01, 9.99))
    assert signals(books) == []
