"""Scenarios: the structure they publish, consistent prices without arbitrage, injected dislocations."""

from __future__ import annotations

import dataclasses
import random

from google.protobuf import json_format
from hypothesis import given, settings
from hypothesis import strategies as st

from paper_venue.matching import PRICE_SCALE
from paper_venue.scenarios import LadderConfig, LadderScenario, condition_id, token_id
from polyarb.v1 import engine_pb2, executor_pb2

ALWAYS = 10**15  # venue_size: nothing ever traded


def no_trades(token, side, price) -> int:
    return ALWAYS


def test_structure_json_is_the_engine_proto_and_matches_the_markets():
    scenario = LadderScenario()
    msg = json_format.Parse(scenario.structure_json(), engine_pb2.MarketStructure())
    assert msg.version == 1
    assert [(t.id, t.lower_bound, t.upper_bound) for t in msg.trios] == [
        ("btc-trio-90000-95000", 90000, 95000), ("btc-trio-95000-100000", 95000, 100000),
        ("btc-trio-100000-105000", 100000, 105000)]
    trio = msg.trios[1]
    assert trio.lower.yes_token_id == scenario.market("btc-above-95000").yes_token_id
    assert trio.upper.no_token_id == scenario.market("btc-above-100000").no_token_id
    assert trio.range.condition_id == scenario.market("btc-range-95000-100000").condition_id
    assert trio.lower.tick_size == 0.01 and trio.lower.min_order_size == 5
    assert msg.trios[0].upper == msg.trios[1].lower  # one market, one description (engine rule)
    (buckets,) = msg.sets
    assert len(buckets.members) == 4 and all(m.neg_risk for m in buckets.members) and not buckets.neg_risk_augmented
    tokens = {t for m in scenario.markets for t in m.tokens}
    assert len(tokens) == 22 and all(len(t) == 77 and t.isdigit() for t in tokens)
    json_format.ParseDict(scenario.starting_balance(), executor_pb2.UpdateBalanceRequest())
    assert token_id("x") == token_id("x") and condition_id("x").startswith("0x") and len(condition_id("x")) == 66


def test_same_seed_same_prices():
    def run(seed):
        scenario, rng = LadderScenario(), random.Random(seed)
        scenario.initial_quotes()
        return [scenario.step(i * 0.25, rng, no_trades) for i in range(200)]

    assert run(5) == run(5)
    assert run(5) != run(6)


def check_no_arbitrage(scenario: LadderScenario) -> None:
    best_ask = {t: min(q[1]) if q[1] else None for t, q in scenario.targets.items()}
    best_bid = {t: max(q[0]) if q[0] else None for t, q in scenario.targets.items()}
    for instance in scenario.instances.values():
        asks = [best_ask[t] for t in instance.legs]
        if None not in asks:
            assert sum(asks) > instance.payout, instance.id
    for trio_id, lower, upper, rng_slug, _, _ in scenario.trios:  # complement: NO(L) + YES(U) + YES(range) pays 1
        legs = [scenario.market(lower).no_token_id, scenario.market(upper).yes_token_id,
                scenario.market(rng_slug).yes_token_id]
        asks = [best_ask[t] for t in legs]
        if None not in asks:
            assert sum(asks) > PRICE_SCALE, trio_id
    bids = [best_bid[t] for t in scenario.instances["btc-buckets"].legs]
    assert sum(b or 0 for b in bids) < PRICE_SCALE  # unbundle: selling every YES never pays over 1


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32))
def test_random_walk_never_opens_an_arbitrage_by_itself(seed):
    scenario = LadderScenario("ladder", dataclasses.replace(LadderConfig(), dislocation_every_s=0.0))
    rng = random.Random(seed)
    scenario.initial_quotes()
    check_no_arbitrage(scenario)
    for i in range(300):
        scenario.step(i * 0.5, rng, no_trades)
        check_no_arbitrage(scenario)
        for bids, asks in scenario.targets.values():
            assert all(PRICE_SCALE // 100 <= p <= PRICE_SCALE * 99 // 100 for p in (*bids, *asks))
            assert not bids or not asks or max(bids) < min(asks)


def test_injected_dislocation_opens_then_ends_when_traded_or_expired():
    scenario = LadderScenario("manual")
    scenario.initial_quotes()
    updates = scenario.inject("btc-trio-95000-100000", 0.03, 40, now_s=0.0, ttl_s=5.0)
    assert updates and set(updates) == set(scenario.instances["btc-trio-95000-100000"].legs)
    assert scenario.ask_sums()["btc-trio-95000-100000"] <= 2 * PRICE_SCALE - 30_000
    dislocated = scenario.dislocations["btc-trio-95000-100000"]
    assert scenario.step(1.0, random.Random(1), no_trades) == {}  # manual: nothing moves, nothing ends
    traded_leg = next(iter(dislocated.asks))
    scenario.step(2.0, random.Random(1), lambda t, side, p: 0 if t == traded_leg else ALWAYS)
    assert not scenario.dislocations
    check_no_arbitrage(scenario)
    scenario.inject("btc-buckets", 0.02, 10, now_s=10.0, ttl_s=1.0)
    assert scenario.ask_sums()["btc-buckets"] <= PRICE_SCALE - 20_000
    scenario.step(11.5, random.Random(1), no_trades)
    assert not scenario.dislocations


def test_ladder_injects_arbitrages_now_and_then():
    scenario, rng = LadderScenario(), random.Random(11)
    scenario.initial_quotes()
    opened = 0
    for i in range(400):
        scenario.step(i * 0.25, rng, no_trades)
        sums = scenario.ask_sums()
        opened += any(0 < sums[k] < scenario.instances[k].payout for k in sums)
    assert scenario.injected >= 3 and opened > 0
