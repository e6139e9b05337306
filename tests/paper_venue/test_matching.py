"""The order book: price-time priority, FOK/FAK/GTC, and properties over random order flows."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paper_venue.matching import PRICE_SCALE, BookError, LevelChange, OrderBook, Side

C = PRICE_SCALE // 100  # one cent


def book_with(asks=(), bids=()) -> OrderBook:
    book = OrderBook()
    for i, (price, size) in enumerate(asks):
        book.match(f"a{i}", "venue", Side.SELL, price, size, "GTC")
    for i, (price, size) in enumerate(bids):
        book.match(f"b{i}", "venue", Side.BUY, price, size, "GTC")
    return book


def test_depth_lists_the_best_level_last():
    book = book_with(asks=[(52 * C, 5), (51 * C, 7), (53 * C, 1)], bids=[(48 * C, 2), (49 * C, 3)])
    assert book.depth(Side.BUY) == [(48 * C, 2), (49 * C, 3)]  # ascending: best bid last
    assert book.depth(Side.SELL) == [(53 * C, 1), (52 * C, 5), (51 * C, 7)]  # descending: best ask last
    assert (book.best_bid(), book.best_ask()) == (49 * C, 51 * C)


def test_buy_sweeps_levels_at_the_makers_prices_and_reports_changed_levels():
    book = book_with(asks=[(51 * C, 10), (52 * C, 10), (55 * C, 10)])
    result = book.match("t", "alice", Side.BUY, 53 * C, 15, "FAK")
    assert [(f.price, f.size) for f in result.fills] == [(51 * C, 10), (52 * C, 5)]
    assert result.killed == 0 and result.rested == 0 and result.filled == 15
    assert set(result.changes) == {LevelChange(Side.SELL, 51 * C, 0), LevelChange(Side.SELL, 52 * C, 5)}


def test_fifo_within_a_level():
    book = OrderBook()
    book.match("first", "a", Side.SELL, 50 * C, 5, "GTC")
    book.match("second", "b", Side.SELL, 50 * C, 5, "GTC")
    result = book.match("t", "c", Side.BUY, 50 * C, 7, "FOK")
    fills = [(f.maker_order_id, f.size, f.maker_done) for f in result.fills]
    assert fills == [("first", 5, True), ("second", 2, False)]
    assert book.get("second").remaining == 3


def test_fok_is_all_or_nothing():
    book = book_with(asks=[(51 * C, 10), (60 * C, 100)])
    killed = book.match("t", "alice", Side.BUY, 55 * C, 11, "FOK")
    assert killed.fills == () and killed.killed == 11 and killed.changes == ()
    assert book.level_size(Side.SELL, 51 * C) == 10
    filled = book.match("t2", "alice", Side.BUY, 55 * C, 10, "FOK")
    assert filled.filled == 10


def test_fak_fills_what_it_can_and_kills_the_rest():
    book = book_with(bids=[(40 * C, 3)])
    result = book.match("t", "bob", Side.SELL, 40 * C, 8, "FAK")
    assert result.filled == 3 and result.killed == 5 and book.best_bid() is None


def test_gtc_rests_the_remainder_at_its_limit():
    book = book_with(asks=[(51 * C, 4)])
    result = book.match("t", "alice", Side.BUY, 52 * C, 10, "GTC")
    assert result.filled == 4 and result.rested == 6
    assert book.best_bid() == 52 * C and book.best_ask() is None
    assert LevelChange(Side.BUY, 52 * C, 6) in result.changes


def test_cancel_and_reduce():
    book = book_with(asks=[(51 * C, 4)])
    book.match("mine", "alice", Side.SELL, 51 * C, 6, "GTC")
    order, change = book.cancel("mine")
    assert order.remaining == 6 and change == LevelChange(Side.SELL, 51 * C, 4)
    assert book.cancel("mine") is None
    book.reduce("venue", Side.SELL, 51 * C, 4)
    assert book.best_ask() is None


def test_bad_requests_raise():
    book = OrderBook()
    with pytest.raises(BookError):
        book.match("x", "a", Side.BUY, 50 * C, 0, "GTC")
    with pytest.raises(BookError):
        book.match("x", "a", Side.BUY, 50 * C, 1, "IOC")


orders_strategy = st.lists(
    st.tuples(
        st.sampled_from(list(Side)),
        st.integers(1, 99),  # price in cents
        st.integers(1, 50),  # size
        st.sampled_from(["GTC", "FOK", "FAK"]),
        st.sampled_from(["alice", "bob", "venue"]),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(orders_strategy)
def test_properties_over_random_order_flow(flow):
    book = OrderBook()
    for i, (side, cents, size, tif, owner) in enumerate(flow):
        limit = cents * C
        resting_before = sum(s for d in (book.depth(Side.BUY), book.depth(Side.SELL)) for _, s in d)
        available = book.available(side, limit)
        result = book.match(f"o{i}", owner, side, limit, size, tif)
        # sizes add up and never go negative
        assert result.filled + result.rested + result.killed == size
        assert all(f.size > 0 for f in result.fills)
        assert all(o.remaining > 0 for o in book.orders())
        # fills at or better than the limit
        for fill in result.fills:
            assert fill.price <= limit if side is Side.BUY else fill.price >= limit
        # FOK: all or nothing; FAK/FOK never rest
        if tif == "FOK":
            assert result.filled in (0, size)
            assert result.filled == (size if available >= size else 0)
        if tif != "GTC":
            assert result.rested == 0
        # conservation: what left the book is what the taker filled, what joined is what rested
        resting_after = sum(s for d in (book.depth(Side.BUY), book.depth(Side.SELL)) for _, s in d)
        assert resting_after == resting_before - result.filled + result.rested
        # never crossed
        bid, ask = book.best_bid(), book.best_ask()
        assert bid is None or ask is None or bid < ask
        # reported level changes are the book's real sizes
        for change in result.changes:
            assert book.level_size(change.side, change.price) == change.size
