"""Books against a naive reference (plain dicts + max/min), and the stale / tick / unknown rules."""

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest_svc.book import Books, TopOfBook
from ingest_svc.parse import (
    BookSnapshot,
    LastTradePrice,
    ParseError,
    PriceChange,
    TickSizeChange,
    make_parser,
)
from polyarb.v1 import ingest_pb2

YES, NO, OTHER = "1111", "2222", "9999"


def snapshot(token, bids, asks, tick=0.01, ts=1):
    return BookSnapshot(token, "0xm", ts, bids, asks, tick, None)


def level(token, side, price, size, ts=2):
    return PriceChange(token, side, price, size, None, None, ts, "0xm", None)


# ---------------------------------------------------------------------------------------------
# The reference model: the rules of book.py written the slowest obvious way.


@dataclass
class RefBook:
    bids: dict = field(default_factory=dict)
    asks: dict = field(default_factory=dict)
    stale: bool = True
    tick: float = 0.0
    ts: int = 0

    def top(self, token):
        bid = max(self.bids) if self.bids else 0.0
        ask = min(self.asks) if self.asks else 0.0
        return TopOfBook(token, bid, self.bids.get(bid, 0.0), ask, self.asks.get(ask, 0.0), self.stale,
                         self.tick, self.ts)

    def apply(self, event):
        if isinstance(event, BookSnapshot) and not self.stale and event.timestamp_ms < self.ts:
            self.stale = True  # out of order: not applied, the book may be wrong until a fresh snapshot
            return
        if isinstance(event, BookSnapshot):
            self.bids = {p: s for p, s in event.bids if s > 0}
            self.asks = {p: s for p, s in event.asks if s > 0}
            self.stale = False
            self.tick = self.tick if event.tick_size is None else event.tick_size
        elif isinstance(event, PriceChange):
            side = self.bids if event.side == "BUY" else self.asks
            if event.size > 0:
                side[event.price] = event.size
            else:
                side.pop(event.price, None)
        elif isinstance(event, TickSizeChange):
            self.tick = event.new_tick_size
            self.stale = True
        self.ts = event.timestamp_ms


def without_ts(top):
    return top._replace(venue_ts_ms=0)


# Prices on a coarse grid so that levels collide, are removed and re-added; sizes often 0.
prices = st.integers(1, 40).map(lambda i: i / 40)
sizes = st.one_of(st.just(0.0), st.sampled_from([1.0, 2.5, 100.0]), st.floats(0.01, 1e6))
levels = st.lists(st.tuples(prices, sizes), max_size=25)
tokens = st.sampled_from([YES, NO])
timestamps = st.integers(1, 2**41)
events = st.one_of(
    st.builds(level, tokens, st.sampled_from(["BUY", "SELL"]), prices, sizes, timestamps),
    st.builds(level, tokens, st.sampled_from(["BUY", "SELL"]), prices, sizes, timestamps),
    st.builds(snapshot, tokens, levels, levels, st.sampled_from([None, 0.01, 0.001]), timestamps),
    st.builds(TickSizeChange, tokens, st.none(), st.none(), st.sampled_from([0.01, 0.001]), timestamps),
    st.just("mark_stale"),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(events, max_size=120))
def test_books_match_the_reference_model(sequence):
    books = Books()
    ref = {YES: RefBook(), NO: RefBook()}
    for token in ref:
        books.add(token)
    for event in sequence:
        before = {t: ref[t].top(t) for t in ref}
        if event == "mark_stale":
            flipped = books.mark_stale()
            for book in ref.values():
                book.stale = True
            assert sorted(flipped) == sorted(t for t in ref if not before[t].stale)
            continue
        ref[event.asset_id].apply(event)
        outcome = books.apply(event)
        token = event.asset_id
        top_changed = without_ts(before[token]) != without_ts(ref[token].top(token))
        assert outcome == (token if top_changed else None)
        for t, book in ref.items():
            assert books.top_of_book(t) == book.top(t)
            assert books.book(t).bids.levels == book.bids
            assert books.book(t).asks.levels == book.asks


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["BUY", "SELL"]), prices, sizes), max_size=300))
def test_long_runs_of_level_updates_keep_the_best(updates):
    # Exercises the lazy heap's clean-up and rebuild paths (many removals and re-adds).
    books, ref = Books(), RefBook()
    books.add(YES)
    for side, price, size in updates:
        books.apply(level(YES, side, price, size))
        ref.apply(level(YES, side, price, size))
        assert without_ts(books.top_of_book(YES)) == without_ts(ref.top(YES))


def test_new_token_is_stale_with_zeros_until_its_first_snapshot():
    books = Books()
    assert books.add(YES)
    assert not books.add(YES)
    assert books.top_of_book(YES) == TopOfBook(YES, 0.0, 0.0, 0.0, 0.0, True, 0.0, 0)
    assert books.stale_count() == 1

    changed = books.apply(snapshot(YES, [(0.40, 10.0), (0.45, 5.0)], [(0.60, 7.0), (0.55, 3.0)], ts=17))

    assert changed == YES
    assert books.top_of_book(YES) == TopOfBook(YES, 0.45, 5.0, 0.55, 3.0, False, 0.01, 17)
    assert books.stale_count() == 0


def test_snapshot_order_does_not_matter_best_is_found_either_way():
    # The venue sends best LAST (protocol §1.2) but the docs claim the opposite: never rely on it.
    books = Books()
    books.add(YES)
    books.apply(snapshot(YES, [(0.45, 5.0), (0.40, 10.0)], [(0.55, 3.0), (0.60, 7.0)]))
    top = books.top_of_book(YES)
    assert (top.bid_price, top.ask_price) == (0.45, 0.55)


def test_size_zero_removes_level_and_next_best_takes_over():
    books = Books()
    books.add(YES)
    books.apply(snapshot(YES, [(0.40, 10.0), (0.45, 5.0)], [(0.55, 3.0)]))

    assert books.apply(level(YES, "BUY", 0.45, 0.0)) == YES
    assert books.top_of_book(YES)[1:3] == (0.40, 10.0)
    assert books.apply(level(YES, "SELL", 0.55, 0.0)) == YES
    assert books.top_of_book(YES)[3:5] == (0.0, 0.0)  # empty side: 0 and 0 (CONTRACT.md)


def test_updates_away_from_the_top_change_nothing_visible():
    books = Books()
    books.add(YES)
    books.apply(snapshot(YES, [(0.40, 10.0), (0.45, 5.0)], [(0.55, 3.0)]))

    assert books.apply(level(YES, "BUY", 0.30, 1.0)) is None
    assert books.apply(level(YES, "BUY", 0.40, 0.0)) is None
    assert books.apply(level(YES, "BUY", 0.45, 5.0)) is None  # same size at the top
    assert books.apply(level(YES, "BUY", 0.45, 6.0)) == YES


def test_crossed_book_is_reported_as_it_is():
    books = Books()
    books.add(YES)
    books.apply(snapshot(YES, [(0.50, 1.0)], [(0.52, 1.0)]))
    books.apply(level(YES, "BUY", 0.60, 2.0))
    top = books.top_of_book(YES)
    assert (top.bid_price, top.ask_price) == (0.60, 0.52)


def test_tick_size_change_makes_book_stale_until_next_snapshot():
    books = Books()
    books.add(YES)
    books.apply(snapshot(YES, [(0.45, 5.0)], [(0.55, 3.0)], tick=0.01))

    assert books.apply(TickSizeChange(YES, "0xm", 0.01, 0.001, 5)) == YES
    top = books.top_of_book(YES)
    assert (top.stale, top.tick_size, top.venue_ts_ms) == (True, 0.001, 5)

    books.apply(level(YES, "BUY", 0.451, 1.0))  # still applied, still stale
    assert books.top_of_book(YES).stale
    assert books.apply(snapshot(YES, [(0.451, 1.0)], [(0.55, 3.0)], tick=None)) == YES
    top = books.top_of_book(YES)
    assert (top.stale, top.tick_size) == (False, 0.001)  # a snapshot without tick_size keeps it


def test_mark_stale_reports_only_tokens_that_flip():
    books = Books()
    books.add(YES)
    books.add(NO)
    books.apply(snapshot(YES, [(0.45, 5.0)], [(0.55, 3.0)]))

    assert books.mark_stale([YES, NO, OTHER]) == [YES]
    assert books.mark_stale() == []
    assert books.apply(snapshot(YES, [(0.45, 5.0)], [(0.55, 3.0)])) == YES  # fresh again


def test_events_for_unknown_tokens_are_reported_and_skipped():
    books = Books()
    books.add(YES)
    for event in (level(OTHER, "BUY", 0.5, 1.0), snapshot(OTHER, [], []),
                  TickSizeChange(OTHER, None, None, 0.001, 1)):
        outcome = books.apply(event)
        assert isinstance(outcome, ParseError) and outcome.kind == "unknown_token"
    assert OTHER not in books
    assert books.apply(LastTradePrice(OTHER, None, 0.5, 1.0, "BUY", None, 1)) is None


def test_apply_events_on_a_parsed_frame_lists_each_changed_token_once():
    books = Books()
    books.add(YES)
    books.add(NO)
    parse_frame = make_parser("json")
    events, _ = parse_frame(
        '[{"event_type":"book","asset_id":"1111","timestamp":"1","bids":[{"price":"0.4","size":"1"}],'
        '"asks":[{"price":"0.6","size":"1"}]},'
        '{"event_type":"price_change","timestamp":"2","price_changes":['
        '{"asset_id":"1111","price":"0.45","size":"2","side":"BUY"},'
        '{"asset_id":"1111","price":"0.47","size":"2","side":"BUY"},'
        '{"asset_id":"9999","price":"0.5","size":"2","side":"BUY"},'
        '{"asset_id":"2222","price":"0.55","size":"2","side":"SELL"}]}]'
    )

    changed, errors = books.apply_events(events)

    assert changed == [YES, NO]
    assert [e.kind for e in errors] == ["unknown_token"]
    assert books.top_of_book(YES) == TopOfBook(YES, 0.47, 2.0, 0.6, 1.0, False, 0.0, 2)


def test_top_of_book_converts_to_the_proto_field_for_field():
    books = Books()
    books.add(YES)
    books.apply(snapshot(YES, [(0.45, 5.0)], [], tick=0.001, ts=1786728432337))

    message = ingest_pb2.TopOfBook(**books.top_of_book(YES)._asdict())

    assert message.token_id == YES
    assert (message.bid_price, message.bid_size, message.ask_price, message.ask_size) == (0.45, 5.0, 0, 0)
    assert (message.stale, message.tick_size, message.venue_ts_ms) == (False, 0.001, 1786728432337)
