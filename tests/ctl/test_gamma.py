"""structure_from_gamma: saved Gamma events → the expected trios and sets, the refusals, the engine's approval."""

from __future__ import annotations

import copy
import itertools
import json
import math
import pathlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine_svc.structure import ALLOWED_TICKS, compile_structure
from polyarb.ctl import gamma
from polyarb.ctl.gamma import Bucket, parse_bucket, parse_strike, structure_from_gamma
from polyarb.v1 import engine_pb2 as pb

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
LADDER = "bitcoin-above-on-november-10.json"  # a list, clobTokenIds as JSON strings
RANGES = "bitcoin-price-on-november-10.json"  # one event, clobTokenIds as real arrays
AUGMENTED = "democratic-presidential-nominee-2028.json"
FED = "fed-decision-in-december.json"


def load(*names: str) -> list[dict]:
    events = []
    for name in names:
        data = json.loads((FIXTURES / name).read_text())
        events += data if isinstance(data, list) else [data]
    return events


def by_title(events: list[dict], slug: str) -> dict[str, dict]:
    """groupItemTitle → raw market of the event `slug`."""
    event = next(e for e in events if e["slug"] == slug)
    return {m["groupItemTitle"]: m for m in event["markets"]}


def tokens(raw: dict) -> list[str]:
    ids = raw["clobTokenIds"]
    return json.loads(ids) if isinstance(ids, str) else ids


def assert_market(market: pb.Market, raw: dict) -> None:
    yes, no = tokens(raw)  # outcomes are ["Yes", "No"] in every fixture
    assert (market.condition_id, market.yes_token_id, market.no_token_id) == (raw["conditionId"], yes, no)
    assert market.tick_size == raw["orderPriceMinTickSize"]
    assert market.min_order_size == raw["orderMinSize"]
    assert market.neg_risk == raw["negRisk"]


def build(events: list[dict], version: int = 1) -> tuple[pb.MarketStructure, list[str]]:
    structure, warnings = structure_from_gamma(events, version)
    compile_structure(structure)  # the engine's own validator accepts whatever is emitted
    return structure, warnings


# -- the fixtures, whole ------------------------------------------------------------------------------


def test_ladder_and_ranges_become_exactly_the_expected_trios():
    events = load(LADDER, RANGES, AUGMENTED, FED)
    structure, _ = build(events, version=7)
    ladder = by_title(events, "bitcoin-above-on-november-10")
    ranges = by_title(events, "bitcoin-price-on-november-10")
    expected = [(90_000, 95_000), (95_000, 100_000), (100_000, 105_000)]
    assert structure.version == 7
    assert [t.id for t in structure.trios] == [f"bitcoin-november-10-{lo}-{hi}" for lo, hi in expected]
    for trio, (lo, hi) in zip(structure.trios, expected, strict=True):
        assert (trio.lower_bound, trio.upper_bound) == (lo, hi)
        assert_market(trio.lower, ladder[f"{lo:,}"])
        assert_market(trio.upper, ladder[f"{hi:,}"])
        assert_market(trio.range, ranges[f"{lo:,}-{hi:,}"])
        assert not trio.lower.neg_risk and not trio.upper.neg_risk and trio.range.neg_risk
        # crypto markets: feeSchedule.rate 0.07 → 700 bps (engine_svc/fees.py)
        assert trio.lower.fee_rate_bps == trio.range.fee_rate_bps == 700


def test_complete_neg_risk_events_become_sets_and_the_augmented_one_is_refused():
    events = load(LADDER, RANGES, AUGMENTED, FED)
    structure, warnings = build(events)
    assert [s.id for s in structure.sets] == ["bitcoin-price-on-november-10", "fed-decision-in-december"]
    buckets, fed = structure.sets
    raw_buckets = next(e for e in events if e["slug"] == "bitcoin-price-on-november-10")["markets"]
    assert [m.yes_token_id for m in buckets.members] == [tokens(raw)[0] for raw in raw_buckets]
    assert len(fed.members) == 4 and all(m.fee_rate_bps == 0 for m in fed.members)  # feesEnabled false
    assert all(m.neg_risk for s in structure.sets for m in s.members)
    assert not any(s.neg_risk_augmented for s in structure.sets)  # never emitted, refused here instead
    refusals = [w for w in warnings if "democratic-presidential-nominee-2028" in w]
    assert len(refusals) == 1 and "negRiskAugmented" in refusals[0] and "not a set" in refusals[0]
    compiled = compile_structure(structure)
    assert (compiled.instance_count, compiled.token_count) == (5, 20)


def test_a_negriskother_placeholder_refuses_the_set_even_without_the_event_flag():
    events = load(AUGMENTED)
    events[0]["negRiskAugmented"] = False
    structure, warnings = build(events)
    assert not structure.sets
    assert any("negRiskOther" in w for w in warnings)


def test_an_untradeable_market_is_skipped_and_its_event_is_no_longer_a_complete_set():
    events = load(LADDER, RANGES)
    ranges = next(e for e in events if e["slug"] == "bitcoin-price-on-november-10")
    ranges["markets"][1]["closed"] = True  # 90,000-95,000
    ladder = events[0]
    ladder["markets"][3]["acceptingOrders"] = False  # above 105,000
    structure, warnings = build(events)
    assert [(t.lower_bound, t.upper_bound) for t in structure.trios] == [(95_000, 100_000)]
    assert not structure.sets
    assert any("closed; skipped" in w for w in warnings)
    assert any("not accepting orders; skipped" in w for w in warnings)
    assert any("not a complete set" in w for w in warnings)


def test_json_string_and_array_shapes_and_outcome_order():
    events = load(LADDER)
    raw = events[0]["markets"][0]
    as_strings = gamma.token_pair(raw)
    raw_arrays = dict(raw, clobTokenIds=json.loads(raw["clobTokenIds"]), outcomes=["Yes", "No"])
    assert gamma.token_pair(raw_arrays) == as_strings == tuple(tokens(raw))
    yes, no = tokens(raw)
    assert gamma.token_pair(dict(raw_arrays, outcomes='["No", "Yes"]')) == (no, yes)  # paired, not positional
    assert "not Yes/No" in gamma.token_pair(dict(raw_arrays, outcomes=["Up", "Down"]))
    assert "not a pair" in gamma.token_pair(dict(raw_arrays, clobTokenIds="[]"))


def test_an_event_saved_without_negrisk_is_neg_risk_when_all_its_markets_are():
    events = load(FED)
    del events[0]["negRisk"]
    assert [s.id for s in build(events)[0].sets] == ["fed-decision-in-december"]
    events[0]["markets"][0]["negRisk"] = False
    structure, warnings = build(events)
    assert not structure.sets and any("not an 'above' ladder" in w for w in warnings)


def test_duplicated_events_count_once():
    structure, warnings = build(load(RANGES, RANGES))
    assert len(structure.sets) == 1
    assert any("given twice" in w for w in warnings)


def test_a_ladder_without_ranges_of_its_day_gives_no_trio_and_says_so():
    events = load(LADDER, RANGES)
    ranges = events[1]
    ranges["slug"] = ranges["ticker"] = "bitcoin-price-on-november-11"
    for raw in ranges["markets"]:
        raw["question"] = raw["question"].replace("November 10", "November 11")
        raw["slug"] = raw["slug"].replace("november-10", "november-11")
    structure, warnings = build(events)
    assert not structure.trios
    assert any("ladder bitcoin-november-10: no range event" in w for w in warnings)


# -- one market's fields ------------------------------------------------------------------------------


def test_the_tick_table_is_the_engines():
    assert gamma.ALLOWED_TICKS == ALLOWED_TICKS


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"feesEnabled": True, "feeSchedule": {"rate": 0.07, "exponent": 1, "takerOnly": True}}, 700.0),
        ({"feesEnabled": True, "feeSchedule": '{"rate": 0.0625, "exponent": 1}'}, 625.0),  # JSON-string quirk
        ({"feesEnabled": False, "feeSchedule": {"rate": 0.07, "exponent": 1}}, 0.0),
        ({}, 0.0),
        ({"feeSchedule": {"rate": 0.07, "exponent": 1}}, 700.0),  # no switch saved: trust the schedule
        ({"feesEnabled": True, "feeSchedule": {"rate": 0.07, "exponent": 2}}, 700.0),  # overstates: safe side
        ({"feesEnabled": True, "feeSchedule": {"rate": 0.07, "exponent": 0.5}}, "understate"),
        ({"feesEnabled": True}, "fee unknown"),
    ],
)
def test_fee_rate_bps(fields, expected):
    result = gamma.fee_rate_bps(fields)
    if isinstance(expected, str):
        assert isinstance(result, str) and expected in result
    else:
        assert result == expected


def test_markets_the_engine_would_refuse_are_skipped_here():
    events = load(LADDER, RANGES)
    events[0]["markets"][0]["orderPriceMinTickSize"] = 0.05  # not a Polymarket tick
    del events[0]["markets"][1]["orderMinSize"]  # → the default 5
    structure, warnings = build(events)
    assert [(t.lower_bound, t.upper_bound) for t in structure.trios] == [(95_000, 100_000), (100_000, 105_000)]
    assert structure.trios[0].lower.min_order_size == gamma.DEFAULT_MIN_ORDER_SIZE
    assert any("orderPriceMinTickSize 0.05" in w for w in warnings)
    assert any("no 'above 90000' market" in w for w in warnings)


def test_a_strike_that_disagrees_with_its_question_is_skipped():
    events = load(LADDER, RANGES)
    events[0]["markets"][1]["groupItemTitle"] = "96,000"  # question says 95,000
    structure, warnings = build(events)
    assert [(t.lower_bound, t.upper_bound) for t in structure.trios] == [(100_000, 105_000)]
    assert any("strike 96000 in groupItemTitle but 95000 in the question" in w for w in warnings)


# -- text parsing -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "question", "strike"),
    [
        ("96,000", "", 96_000),
        ("$96,000", "", 96_000),
        ("96k", "", 96_000),
        ("NVDA above $240", "", 240),
        ("", "Will the price of Bitcoin be above $96,000 on November 10?", 96_000),
        ("↑ 115,000", "Will Bitcoin reach $115,000 in November?", None),  # a touch barrier, not a strike
        ("Gavin Newsom", "Will Gavin Newsom win?", None),
    ],
)
def test_parse_strike(title, question, strike):
    assert parse_strike(title, question) == strike


@pytest.mark.parametrize(
    ("title", "question", "bucket"),
    [
        ("84,000-86,000", "", Bucket(84_000, 86_000)),
        ("$84k - $86k", "", Bucket(84_000, 86_000)),
        ("84,000\u201386,000", "", Bucket(84_000, 86_000)),  # en dash
        ("<84,000", "", Bucket(-math.inf, 84_000)),
        (">86,000", "", Bucket(86_000, math.inf)),
        ("", "Will the price of Bitcoin be between $84,000 and $86,000 on November 10?", Bucket(84_000, 86_000)),
        ("", "Will the price of Bitcoin be less than $84,000 on November 10?", Bucket(-math.inf, 84_000)),
        ("86,000-84,000", "", None),
        ("No change", "Will there be no change?", None),
    ],
)
def test_parse_bucket(title, question, bucket):
    assert parse_bucket(title, question) == bucket


def test_an_event_spanning_days_is_matched_per_market_day():
    """nvda-above-in-january-2026 (real: ws_new_market_2025.json) holds markets of several days."""
    def market(slug: str, question: str, title: str, neg_risk: bool) -> dict:
        return {
            "slug": slug, "question": question, "groupItemTitle": title, "conditionId": f"0x{slug}",
            "clobTokenIds": json.dumps([f"{slug}-y", f"{slug}-n"]), "outcomes": '["Yes", "No"]',
            "orderPriceMinTickSize": 0.01, "orderMinSize": 5, "negRisk": neg_risk, "active": True, "closed": False,
        }

    ladder = {"slug": "nvda-above-in-january-2026", "title": "NVDA above ___ in January?", "negRisk": False,
              "markets": [market(f"nvda-above-{k}-on-january-{d}-2026", f"Will NVDA close above ${k} on January {d}?",
                                 f"NVDA above ${k}", False) for d in (29, 30) for k in (230, 240)]}
    ranges = {"slug": "nvda-price-on-january-30-2026", "title": "NVDA price on January 30?", "negRisk": True,
              "markets": [market("nvda-230-240-jan-30", "Will NVDA close between $230 and $240?", "230-240", True),
                          market("nvda-gt-240-jan-30", "Will NVDA close above $240?", ">240", True)]}
    structure, _ = build([ladder, ranges])
    assert [t.id for t in structure.trios] == ["nvda-january-30-2026-230-240"]
    assert structure.trios[0].lower.condition_id == "0xnvda-above-230-on-january-30-2026"


# -- property: random ladders and buckets ---------------------------------------------------------------


def _label(value: float, style: str) -> str:
    if style == "k":
        return f"{value / 1000:g}k"
    text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,}"
    return f"${text}" if style == "dollar" else text


def _gamma_market(name: str, title: str, question: str, neg_risk: bool) -> dict:
    return {
        "slug": name, "conditionId": f"0x{name}", "question": question, "groupItemTitle": title,
        "clobTokenIds": [f"{name}-yes", f"{name}-no"], "outcomes": '["Yes", "No"]', "orderPriceMinTickSize": 0.01,
        "orderMinSize": 5, "negRisk": neg_risk, "active": True, "closed": False, "acceptingOrders": True,
    }


@st.composite
def ladders_with_buckets(draw):
    strikes = sorted({250 * s for s in draw(st.lists(st.integers(1, 400), min_size=2, max_size=8))})
    off_ladder = {250 * s + 125 for s in draw(st.lists(st.integers(1, 400), max_size=3))}
    edges = sorted(set(draw(st.lists(st.sampled_from(sorted(set(strikes) | off_ladder)), min_size=1, max_size=10))))
    style = draw(st.sampled_from(["plain", "dollar", "k"]))
    bounded = [Bucket(a, b) for a, b in itertools.pairwise(edges)]
    buckets = [Bucket(-math.inf, edges[0]), *bounded, Bucket(edges[-1], math.inf)]
    return strikes, buckets, style


@settings(max_examples=150, deadline=None)
@given(ladders_with_buckets())
def test_every_trio_is_an_exact_bucket_between_two_strikes(case):
    strikes, buckets, style = case
    ladder = {"slug": "bitcoin-above-on-march-3", "negRisk": False, "markets": [
        _gamma_market(f"above-{k}", _label(k, style), f"Will the price of Bitcoin be above {_label(k, 'dollar')} "
                      "on March 3?", False) for k in strikes]}
    bucket_of = {}
    range_markets = []
    for i, bucket in enumerate(buckets):
        if bucket.low == -math.inf:
            title = f"<{_label(bucket.high, style)}"
        elif bucket.high == math.inf:
            title = f">{_label(bucket.low, style)}"
        else:
            title = f"{_label(bucket.low, style)}-{_label(bucket.high, style)}"
        range_markets.append(_gamma_market(f"bucket-{i}", title, "", True))
        bucket_of[f"0xbucket-{i}"] = bucket
    ranges = {"slug": "bitcoin-price-on-march-3", "negRisk": True, "markets": range_markets}

    structure, _ = build([ladder, ranges])

    strike_of = {f"0xabove-{k}": float(k) for k in strikes}
    for trio in structure.trios:
        low, high = trio.lower_bound, trio.upper_bound
        assert low < high
        assert bucket_of[trio.range.condition_id] == Bucket(low, high)  # the range is exactly (L, U]
        assert strike_of[trio.lower.condition_id] == low and strike_of[trio.upper.condition_id] == high
    expected = {(b.low, b.high) for b in buckets if b.low in strikes and b.high in strikes}
    assert {(t.lower_bound, t.upper_bound) for t in structure.trios} == expected
    assert len(structure.sets) == 1  # the buckets are a complete neg-risk event


def test_fixtures_are_not_modified_by_building():
    events = load(LADDER, RANGES, AUGMENTED, FED)
    before = copy.deepcopy(events)
    build(events)
    assert events == before
