"""Frames → events: every shape of polymarket-protocol.md §1, garbage, and backend agreement."""

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ingest_svc.parse
from ingest_svc.book import Books
from ingest_svc.parse import (
    BACKENDS,
    BestBidAsk,
    BookSnapshot,
    LastTradePrice,
    MarketResolved,
    NewMarket,
    NoNewAssets,
    Pong,
    PriceChange,
    TickSizeChange,
    make_parser,
)

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_NAMES = sorted(p.name for p in FIXTURES.glob("*.json"))
YES = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
NO = "52114319501245915516055106046884209969926127482827954674443846427813813222426"
MARKET = "0x5f65177b394277fd294cd75650044e32ba009a95022d88a0c1d565897d72f8f1"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture(params=BACKENDS)
def parse_frame(request):
    return make_parser(request.param)


def kinds(errors):
    return [e.kind for e in errors]


# ---------------------------------------------------------------------------------------------
# Every fixture shape, with its values.


def test_book_frame_keeps_levels_as_sent_and_best_is_last(parse_frame):
    events, errors = parse_frame(fixture("ws_book_frame_2026.json"))

    assert errors == []
    assert events == [BookSnapshot(
        asset_id="6369…", market="0x5dac…", timestamp_ms=1786728432337,
        bids=[(0.001, 2200.8), (0.004, 100.0)], asks=[(0.999, 50.0), (0.009, 25.0)],
        tick_size=0.001, hash="924ec9bc1c6dd89f5db9b7b2b68cdab458cc2dc6",
    )]
    books = Books()
    books.add("6369…")
    books.apply_events(events)
    top = books.top_of_book("6369…")
    assert (top.bid_price, top.bid_size, top.ask_price, top.ask_size) == (0.004, 100.0, 0.009, 25.0)


def test_book_snapshot_2024_without_tick_size(parse_frame):
    [book], errors = parse_frame(fixture("ws_book_snapshot_2024.json"))
    assert errors == []
    assert (book.asset_id, book.tick_size, book.timestamp_ms) == (YES, None, 1728799418260)
    assert book.bids[-1] == (0.511, 1304.72) and book.asks[-1] == (0.514, 20230.87)


def test_initial_snapshot_is_an_array_of_books(parse_frame):
    events, errors = parse_frame(fixture("ws_initial_snapshot_array_2026.json"))
    assert errors == []
    assert [(type(e), e.asset_id, e.tick_size) for e in events] == [
        (BookSnapshot, YES, 0.01), (BookSnapshot, NO, 0.01)]


def test_price_change_current_schema_is_a_batch_with_best_bid_ask(parse_frame):
    events, errors = parse_frame(fixture("ws_price_change_NEW_format_2026.json"))
    assert errors == []
    assert events == [
        PriceChange("4060…", "BUY", 0.06, 374.34, 0.07, 0.08, 1786728438403, "0x3bb5…", "f3285de0…"),
        PriceChange("7959…", "SELL", 0.94, 0.0, 0.92, 0.93, 1786728438403, "0x3bb5…", "bc67a217…"),
    ]


def test_price_change_2024_changes_schema_takes_asset_and_hash_from_envelope(parse_frame):
    events, errors = parse_frame(fixture("ws_price_change_CHANGES_format_2024.json"))
    assert errors == []
    frame_hash = "3c1d1fd2bd3e1bba2f3a1ab1bfe6a0cf5ab4b7d1"
    assert events == [
        PriceChange(YES, "SELL", 0.52, 1200.5, None, None, 1729084877448, MARKET, frame_hash),
        PriceChange(YES, "BUY", 0.48, 0.0, None, None, 1729084877448, MARKET, frame_hash),
    ]


def test_price_change_oldest_flat_schema_is_one_level(parse_frame):
    events, errors = parse_frame(fixture("ws_price_change_OLD_format_2024.json"))
    assert errors == []
    assert events == [PriceChange(YES, "SELL", 0.514, 21574.08, None, None, 1723967931411, MARKET,
                                  "bf32b3746fff40c76c98021b7f3f07261169dd26")]


def test_other_event_types(parse_frame):
    assert parse_frame(fixture("ws_last_trade_price_2026.json")) == ([LastTradePrice(
        "7271…", "0x12dc…", 0.585, 2.46, "SELL", 0.0, 1786728467101)], [])
    assert parse_frame(fixture("ws_tick_size_change_2025.json")) == ([TickSizeChange(
        YES, MARKET, 0.01, 0.001, 1750428146322)], [])
    assert parse_frame(fixture("ws_best_bid_ask_2026.json")) == ([BestBidAsk(
        YES, MARKET, 0.585, 0.587, 0.002, 1786728470012)], [])
    assert parse_frame(fixture("ws_new_market_2025.json")) == ([NewMarket(
        MARKET, "1031769", "Will NVIDIA (NVDA) close above $240 end of January?",
        "nvda-above-240-on-january-30-2026", [YES, NO], ["Yes", "No"], 0.01, True, 1766790415550)], [])
    assert parse_frame(fixture("ws_market_resolved.json")) == ([MarketResolved(
        MARKET, "1031769", [YES, NO], YES, "Yes", 1769810400123)], [])


def test_mixed_array_keeps_known_events_and_counts_the_unknown_one(parse_frame):
    events, errors = parse_frame(fixture("ws_mixed_array_2026.json"))
    assert [type(e) for e in events] == [PriceChange, PriceChange, LastTradePrice]
    assert [(e.kind, e.detail) for e in errors] == [("unknown_event", "settlement_preview")]


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_every_backend_gives_identical_events_on_every_fixture(name):
    data = fixture(name)
    reference = make_parser("json")(data)
    assert reference[0], "every fixture holds at least one event"
    for backend in BACKENDS:
        assert make_parser(backend)(data) == reference, backend
        assert make_parser(backend)(data.decode()) == reference, backend  # text frames arrive as str


def test_msgspec_reads_every_known_shape_typed_without_the_generic_fallback(monkeypatch):
    # The point of the msgspec backend is its typed decode; falling back would only be slower.
    parse_frame = make_parser("msgspec")

    def no_fallback(*args):
        raise AssertionError("generic fallback used")

    monkeypatch.setattr(ingest_svc.parse, "_on_document", no_fallback)
    for name in FIXTURE_NAMES:
        if name != "ws_mixed_array_2026.json":  # holds an unknown event: falls back by design
            assert parse_frame(fixture(name))[0], name


def test_text_frames_are_recognised_before_json(parse_frame):
    assert parse_frame("PONG") == ([Pong()], [])
    assert parse_frame(b"PONG") == ([Pong()], [])
    assert parse_frame("NO NEW ASSETS") == ([NoNewAssets()], [])
    assert parse_frame(b"NO NEW ASSETS\n") == ([NoNewAssets()], [])


# ---------------------------------------------------------------------------------------------
# Garbage, unknown events and wrong types: counted, skipped, never raised.

BOOK = '{"event_type":"book","asset_id":"1","timestamp":"1","bids":%s,"asks":[]}'
CHANGE = '{"event_type":"price_change","timestamp":"1","price_changes":[%s]}'
GOOD_ENTRY = '{"asset_id":"1","price":"0.5","size":"3","side":"BUY"}'

BAD_FRAMES = [
    (b"", ["json"]),
    (b"{", ["json"]),
    (b"\xff\xfe\x00", ["json"]),
    ("PING", ["json"]),  # we send PING; the server never does (§1.1)
    (b"[" * 5000, ["json"]),
    (b"null", ["wrong_type"]),
    (b'"book"', ["wrong_type"]),
    (b"[1, [], null]", ["wrong_type", "wrong_type", "wrong_type"]),
    (b'{"asset_id":"1"}', ["missing_field"]),
    (b'{"event_type":["book"]}', ["wrong_type"]),
    (b'{"event_type":"order","id":"x"}', ["unknown_event"]),
    (BOOK % '[{"price":"0.5"}]', ["missing_field"]),
    (BOOK % '{"price":"0.5","size":"1"}', ["wrong_type"]),
    (BOOK % '"0.5"', ["wrong_type"]),
    (BOOK % '[{"price":true,"size":"1"}]', ["wrong_type"]),
    (BOOK % '[{"price":null,"size":"1"}]', ["wrong_type"]),
    (BOOK % '[{"price":"abc","size":"1"}]', ["bad_number"]),
    (BOOK % '[{"price":"NaN","size":"1"}]', ["bad_number"]),
    (BOOK % '[{"price":"0.5","size":"-1"}]', ["bad_number"]),
    (BOOK % '[{"price":"0.5","size":"inf"}]', ["bad_number"]),
    (b'{"event_type":"book","asset_id":1,"timestamp":"1","bids":[],"asks":[]}', ["wrong_type"]),
    (b'{"event_type":"book","asset_id":"1","timestamp":"1.5","bids":[],"asks":[]}', ["bad_number"]),
    (CHANGE % '{"asset_id":"1","price":"0.5","size":"3","side":"HOLD"}', ["bad_value"]),
    (CHANGE % '{"asset_id":"1","price":"0.5","side":"BUY"}', ["missing_field"]),
    (b'{"event_type":"price_change","timestamp":"1","price_changes":null}', ["wrong_type"]),
    (b'{"event_type":"price_change","timestamp":"1","asset_id":"1","price":"0.5","size":"1"}',
     ["missing_field"]),
    (b'{"event_type":"tick_size_change","asset_id":"1","timestamp":"1","new_tick_size":"x"}',
     ["bad_number"]),
]


@pytest.mark.parametrize(("frame", "expected"), BAD_FRAMES)
def test_bad_frames_are_counted_and_skipped(parse_frame, frame, expected):
    events, errors = parse_frame(frame)
    assert events == []
    assert kinds(errors) == expected
    assert all(len(e.sample) <= 160 for e in errors)


def test_one_bad_entry_of_a_batch_skips_only_that_entry(parse_frame):
    bad = '{"asset_id":"2","price":"0.5","size":"x","side":"SELL"}'
    events, errors = parse_frame(CHANGE % f"{GOOD_ENTRY},{bad},{GOOD_ENTRY}")
    assert [e.asset_id for e in events] == ["1", "1"]
    assert [(e.kind, e.detail) for e in errors] == [("bad_number", "price_change")]


def test_price_change_for_an_unknown_token_is_counted_and_skipped(parse_frame):
    events, _ = parse_frame(fixture("ws_price_change_NEW_format_2026.json"))
    books = Books()
    books.add("4060…")

    changed, unknown = books.apply_events(events)

    assert changed == ["4060…"]
    assert [(e.kind, e.sample) for e in unknown] == [("unknown_token", "7959…")]


def test_parser_stays_usable_after_errors_and_many_frames(parse_frame):
    good = fixture("ws_price_change_NEW_format_2026.json")
    expected = parse_frame(good)
    for _ in range(200):
        parse_frame(b'{"event_type":"book","bids":[{"price":{}}]}')
        parse_frame(b"garbage")
        assert parse_frame(good) == expected


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="backend"):
        make_parser("ujson")


# ---------------------------------------------------------------------------------------------
# Fuzz: mutated real-shaped frames never raise, and all backends agree on them.

PARSERS = {backend: make_parser(backend) for backend in BACKENDS}
SHAPES = [json.loads(fixture(name)) for name in FIXTURE_NAMES]

# JSON values every backend reads the same way (no NaN, no ints past 64 bits, no lone surrogates).
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=8),
    st.sampled_from(["0", "0.5", "-1", "1e3", "nan", "inf", "", " 0.5", "1_0", "BUY", "SELL", "buy",
                     "book", "price_change", "17.0", "1786728438403"]),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(["price", "size", "side", "asset_id"]), inner,
                                        max_size=3), max_leaves=6)


def containers(node, path=()):
    """Every (path, container) inside a decoded frame."""
    if isinstance(node, dict | list):
        yield path, node
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in items:
            yield from containers(child, (*path, key))


@st.composite
def mutated_frames(draw):
    frame = json.loads(json.dumps(draw(st.sampled_from(SHAPES))))
    for _ in range(draw(st.integers(1, 4))):
        _, node = draw(st.sampled_from(list(containers(frame))))
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "add" or not keys:
            if isinstance(node, dict):
                node[draw(st.sampled_from(["event_type", "price", "size", "side", "bids", "changes",
                                           "price_changes", "tick_size", "zzz"]))] = draw(values)
            else:
                node.append(draw(values))
        elif action == "delete":
            del node[draw(st.sampled_from(keys))]
        else:
            node[draw(st.sampled_from(keys))] = draw(values)
    return json.dumps(frame, separators=(",", ":")).encode()


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_frames())
def test_mutated_frames_never_raise_and_backends_agree(data):
    reference = PARSERS["json"](data)
    for backend in ("simdjson", "msgspec"):
        assert PARSERS[backend](data) == reference, backend


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(FIXTURE_NAMES), st.data())
def test_byte_level_damage_never_raises(name, data):
    frame = bytearray(fixture(name))
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(frame)))
        edit = data.draw(st.sampled_from(["truncate", "insert", "flip"]))
        if edit == "truncate":
            del frame[at:]
        elif edit == "insert":
            frame[at:at] = data.draw(st.binary(min_size=1, max_size=4))
        elif at < len(frame):
            frame[at] ^= data.draw(st.integers(1, 255))
    for parse_frame in PARSERS.values():
        events, errors = parse_frame(bytes(frame))
        assert isinstance(events, list) and isinstance(errors, list)
        parse_frame(bytes(frame).decode("utf-8", "replace"))
