"""The peer bot's pure parts (book, trio rule, sizes) and the signing check that runs before any
signing is timed. Correctness only: nothing here is timed."""

from __future__ import annotations

import pytest

from bench import bench_signing
from bench.peer_bot import apply_event, best_ask, opportunity, trios_of
from executor_svc.signing import OrderSigner


def _market(i: int, tick: float = 0.01, neg_risk: bool = False) -> dict:
    return {"condition_id": f"0x{i}", "yes_token_id": f"{i}1", "no_token_id": f"{i}2", "tick_size": tick,
            "neg_risk": neg_risk}


STRUCTURE = {"trios": [{"id": "t", "lower": _market(1), "upper": _market(2, 0.001), "range": _market(3)}],
             "sets": [{"id": "bucket", "members": [_market(4)]}]}


def test_trios_buy_lower_yes_upper_no_range_no_with_the_pcc2_tick_text():
    (trio,) = trios_of(STRUCTURE)
    assert trio["tokens"] == ["11", "22", "32"]
    assert trio["tick_size"] == ["0.01", "0.001", "0.01"]
    assert trio["neg_risk"] == [False, False, False]


def test_book_and_price_change_events_move_the_ask_levels():
    asks = {"11": {}, "22": {}}
    book = {"event_type": "book", "asset_id": "11", "asks": [{"price": "0.62", "size": "10"},
                                                              {"price": "0.61", "size": "5"}], "bids": []}
    assert apply_event(asks, book) == ["11"]
    assert best_ask(asks["11"]) == (0.61, 5.0)
    change = {"event_type": "price_change", "price_changes": [
        {"asset_id": "11", "price": "0.61", "size": "0", "side": "SELL"},  # level gone
        {"asset_id": "11", "price": "0.40", "size": "7", "side": "BUY"},  # a bid: not an ask level
        {"asset_id": "22", "price": "0.30", "size": "20", "side": "SELL"},
        {"asset_id": "99", "price": "0.30", "size": "20", "side": "SELL"}]}  # not watched
    assert apply_event(asks, change) == ["11", "22"]
    assert best_ask(asks["11"]) == (0.62, 10.0) and best_ask(asks["22"]) == (0.30, 20.0)
    assert apply_event(asks, {"event_type": "last_trade_price", "asset_id": "11"}) == []
    assert best_ask({}) is None


def test_the_trio_rule_and_its_sizes():
    (trio,) = trios_of(STRUCTURE)
    asks = {"11": {"0.60": 30.0}, "22": {"0.70": 12.0}, "32": {"0.65": 50.0}}
    assert opportunity(trio, asks, 0.01, 20.0) == ([0.60, 0.70, 0.65], 12.0)  # sum 1.95 < 1.99; smallest size
    assert opportunity(trio, asks, 0.06, 20.0) is None  # 1.95 is not below 2 - 0.06
    asks["22"] = {"0.70": 3.0}
    assert opportunity(trio, asks, 0.01, 20.0) is None  # under the 5-share minimum
    asks["22"] = {}
    assert opportunity(trio, asks, 0.01, 20.0) is None  # a leg without asks
    cheap = {"11": {"0.90": 100.0}, "22": {"0.90": 100.0}, "32": {"0.10": 100.0}}
    assert opportunity(trio, cheap, 0.01, 20.0) == ([0.90, 0.90, 0.10], 20.0)
    assert opportunity(trio, cheap, 0.01, 6.0) == ([0.90, 0.90, 0.10], 10.0)  # $1 minimum: 10 x 0.10


def test_signing_check_passes_on_identical_bytes_and_raises_on_any_difference():
    cases = bench_signing._inputs(6)
    pcc, patches = bench_signing._pcc2_builder()
    with patches[0], patches[1]:
        assert bench_signing.check_identical(OrderSigner(bench_signing.KEY, bench_signing.CHAIN_ID), pcc, cases) >= 32
        other_key = OrderSigner(bytes(31) + b"\x01", bench_signing.CHAIN_ID)  # another key: other signatures
        with pytest.raises(bench_signing.SigningMismatch, match="differs from py-clob-client-v2"):
            bench_signing.check_identical(other_key, pcc, cases)
