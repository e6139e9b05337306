"""Market-channel frames → typed events (polymarket-protocol.md §1).

One entry point, built once per connection so the backend can be swapped and measured::

    parse_frame = make_parser("simdjson")      # or "json", "msgspec"
    events, errors = parse_frame(data)         # data: the WebSocket frame, str or bytes

``events`` is a list of the event tuples below, in frame order. ``errors`` is a list of
``ParseError(kind, detail, sample)``: one per object (or per ``price_changes`` entry) that was
skipped; the caller counts them as ``polyarb_parse_errors_total{kind}``. Nothing here raises into
the caller, whatever the bytes.

Backends (measured in bench/bench_parse.py):

- ``simdjson`` (default, a runtime dependency): one reusable ``simdjson.Parser``; fields are read
  lazily from its proxies and copied into Python values before returning, because the next parse
  invalidates the document.
- ``json``: stdlib, the reference.
- ``msgspec`` (dev dependency only): a typed decode of the known shapes (prices straight to float
  in C, like NautilusTrader's ``schemas/book.py``); any frame the typed decode does not accept in
  full is handed to the generic path, so its results equal the other backends'.

Venue facts used here: frames are one object or an array of mixed objects, routed on
``event_type``; prices and sizes are decimal strings, timestamps epoch-ms strings; the text frames
``PONG`` and ``NO NEW ASSETS`` are not JSON (all §1.1); three ``price_change`` schemas (§1.2).
"""

import sys
from collections.abc import Callable
from typing import Any, NamedTuple

import simdjson

# ---------------------------------------------------------------------------------------------
# Events. Prices and sizes are floats, timestamps int epoch ms, token ids strings.


class BookSnapshot(NamedTuple):
    """``book``: the full book of one token; it replaces whatever was there."""

    asset_id: str
    market: str | None
    timestamp_ms: int
    bids: list[tuple[float, float]]  # (price, size) as sent: ascending, best LAST (§1.2)
    asks: list[tuple[float, float]]  # (price, size) as sent: descending, best LAST (§1.2)
    tick_size: float | None  # absent on post-trade refreshes (§1.2)
    hash: str | None


class PriceChange(NamedTuple):
    """One level of a ``price_change``: the new absolute size at ``price``; 0 removes the level."""

    asset_id: str
    side: str  # "BUY" → a bid level, "SELL" → an ask level
    price: float
    size: float
    best_bid: float | None  # the venue's top after the change; None in the legacy schemas
    best_ask: float | None
    timestamp_ms: int
    market: str | None
    hash: str | None


class TickSizeChange(NamedTuple):
    asset_id: str
    market: str | None
    old_tick_size: float | None
    new_tick_size: float
    timestamp_ms: int


class LastTradePrice(NamedTuple):
    asset_id: str
    market: str | None
    price: float
    size: float | None
    side: str | None  # the taker's side
    fee_rate_bps: float | None
    timestamp_ms: int


class BestBidAsk(NamedTuple):
    """Custom feature; the venue's own view of the top, intermittent (§1.2): a cross-check only."""

    asset_id: str
    market: str | None
    best_bid: float | None
    best_ask: float | None
    spread: float | None
    timestamp_ms: int


class NewMarket(NamedTuple):
    """Custom feature; every connection gets every announcement, repeated (§1.2): dedupe upstream."""

    market: str
    id: str | None
    question: str | None
    slug: str | None
    assets_ids: list[str]
    outcomes: list[str]
    tick_size: float | None  # order_price_min_tick_size
    active: bool | None
    timestamp_ms: int


class MarketResolved(NamedTuple):
    market: str
    id: str | None
    assets_ids: list[str]
    winning_asset_id: str | None
    winning_outcome: str | None
    timestamp_ms: int


class Pong(NamedTuple):
    """The text frame ``PONG``, the answer to our text ``PING`` (§1.1)."""


class NoNewAssets(NamedTuple):
    """The text frame ``NO NEW ASSETS`` (§1.1, NT ``handler.rs``): nothing to do."""


Event = (
    BookSnapshot | PriceChange | TickSizeChange | LastTradePrice | BestBidAsk | NewMarket
    | MarketResolved | Pong | NoNewAssets
)


class ParseError(NamedTuple):
    """Something skipped. ``kind`` is a metric label: json, wrong_type, missing_field, bad_number,
    bad_value, unknown_event (and unknown_token, from book.Books). ``detail`` is the event_type
    when known; ``sample`` the start of the frame."""

    kind: str
    detail: str | None
    sample: str


FrameParser = Callable[[bytes | str], tuple[list[Event], list[ParseError]]]

BACKENDS = ("simdjson", "json", "msgspec")

PONG = Pong()
NO_NEW_ASSETS = NoNewAssets()
# Text frames are matched before JSON parsing (§1.1); any JSON event is longer than this.
_TEXT_FRAMES: dict[str | bytes, Event] = {
    "PONG": PONG, b"PONG": PONG, "NO NEW ASSETS": NO_NEW_ASSETS, b"NO NEW ASSETS": NO_NEW_ASSETS,
}
_TEXT_FRAME_MAX_LEN = 24

_SAMPLE_LEN = 160
# The generic path caches price strings → float: float() costs ~4x a dict hit here, and a token
# has at most 1/tick distinct prices. Bounded so garbage cannot grow it without limit.
_PRICE_CACHE_MAX = 20_000

_SIDES = {"BUY": "BUY", "SELL": "SELL", "buy": "BUY", "sell": "SELL"}
_NUMBER_TYPES = frozenset((str, float, int))  # not bool, although bool is an int
_ARRAY_TYPES = frozenset((list, simdjson.Array))
_INF = float("inf")


class _BadValue(Exception):
    """A field of the right type with a value the protocol does not allow (e.g. side "HOLD")."""


_ERROR_KINDS: dict[type, str] = {
    KeyError: "missing_field",
    TypeError: "wrong_type",
    AttributeError: "wrong_type",  # .get on something that is not an object
    ValueError: "bad_number",  # float("abc"), int("1.5")
    OverflowError: "bad_number",  # float(10**400)
    _BadValue: "bad_value",
}


def make_parser(backend: str = "simdjson") -> FrameParser:
    """A ``parse_frame(data) -> (events, errors)`` for one backend; keep one per connection."""
    if backend == "simdjson":
        return _simdjson_parser()
    if backend == "json":
        return _json_parser()
    if backend == "msgspec":
        return _msgspec_parser()
    raise ValueError(f"unknown parser backend {backend!r}; expected one of {BACKENDS}")


# ---------------------------------------------------------------------------------------------
# Field readers. Each raises (KeyError, TypeError, ValueError, _BadValue) on bad input; the
# frame loop turns that into one ParseError for the object.


def _text(x: Any) -> str:
    if type(x) is str:
        return x
    raise TypeError("expected a string")


def _opt_text(x: Any) -> str | None:
    return None if x is None else _text(x)


def _decimal(x: Any) -> float:
    """A price or size: a decimal string as the venue sends it (§1.1), or a JSON number."""
    if type(x) not in _NUMBER_TYPES:
        raise TypeError("expected a decimal string")
    v = float(x)
    if 0.0 <= v < _INF:  # also false for NaN
        return v
    raise ValueError("not a finite non-negative number")


def _opt_decimal(x: Any) -> float | None:
    # _decimal inlined: this runs twice per price_change entry.
    if x is None or x == "":
        return None
    if type(x) not in _NUMBER_TYPES:
        raise TypeError("expected a decimal string")
    v = float(x)
    if 0.0 <= v < _INF:
        return v
    raise ValueError("not a finite non-negative number")


def _price(x: Any, prices: dict[str, float]) -> float:
    v = prices.get(x)  # TypeError when x is unhashable, as for any other wrong type
    if v is None:
        v = _decimal(x)
        if type(x) is str and len(prices) < _PRICE_CACHE_MAX:
            prices[x] = v
    return v


def _ms(x: Any) -> int:
    """Epoch milliseconds: a string (§1.1) or a JSON integer."""
    if type(x) is str:
        return int(x)
    if type(x) is int:
        return x
    raise TypeError("expected an epoch-ms string")


def _side(x: Any) -> str:
    side = _SIDES.get(_text(x))
    if side is None:
        raise _BadValue("side is neither BUY nor SELL")
    return side


def _opt_side(x: Any) -> str | None:
    return None if x is None else _side(x)


def _opt_bool(x: Any) -> bool | None:
    if x is None or type(x) is bool:
        return x
    raise TypeError("expected a bool")


def _text_list(x: Any) -> list[str]:
    if x is None:
        return []
    if type(x) not in _ARRAY_TYPES:
        raise TypeError("expected an array")
    return [_text(item) for item in x]


def _levels(arr: Any, prices: dict[str, float]) -> list[tuple[float, float]]:
    # The hottest loop of a book snapshot: _price and _decimal inlined (25 % faster on a 30x30 book).
    if type(arr) not in _ARRAY_TYPES:
        raise TypeError("expected an array of levels")
    out = []
    append = out.append
    for lv in arr:
        p = lv["price"]
        price = prices.get(p)
        if price is None:
            price = _price(p, prices)
        s = lv["size"]
        if type(s) not in _NUMBER_TYPES:
            raise TypeError("expected a decimal string")
        size = float(s)
        if not 0.0 <= size < _INF:
            raise ValueError("not a finite non-negative number")
        append((price, size))
    return out


def _array(x: Any) -> Any:
    if type(x) not in _ARRAY_TYPES:
        raise TypeError("expected an array")
    return x


# ---------------------------------------------------------------------------------------------
# Generic path: one function per event_type over dict-like objects (dicts, or simdjson proxies).
# Each appends its events only once every field has been read, so a bad object adds nothing.

_Handler = Callable[[Any, dict, list, list, Any], None]


def _on_book(o: Any, prices: dict, events: list, errors: list, data: Any) -> None:
    events.append(BookSnapshot(
        _text(o["asset_id"]), _opt_text(o.get("market")), _ms(o["timestamp"]),
        _levels(o["bids"], prices), _levels(o["asks"], prices),
        _opt_decimal(o.get("tick_size")), _opt_text(o.get("hash")),
    ))


def _on_price_change(o: Any, prices: dict, events: list, errors: list, data: Any) -> None:
    timestamp_ms = _ms(o["timestamp"])
    market = _opt_text(o.get("market"))
    if "price_changes" in o:
        # Current schema (since 2025-09-15): a batch over several assets, each with the venue's
        # top after it. A bad entry is skipped alone: the others are absolute sizes, still right.
        for ch in _array(o["price_changes"]):
            try:
                events.append(PriceChange(
                    _text(ch["asset_id"]), _side(ch["side"]), _price(ch["price"], prices),
                    _decimal(ch["size"]), _opt_decimal(ch.get("best_bid")),
                    _opt_decimal(ch.get("best_ask")), timestamp_ms, market, _opt_text(ch.get("hash")),
                ))
            except Exception as exc:
                errors.append(_error(exc, "price_change", data))
    elif "changes" in o:
        # 2024-10 → 2025-09-15: one asset per message, levels without a best bid/ask.
        asset_id = _text(o["asset_id"])
        frame_hash = _opt_text(o.get("hash"))
        for ch in _array(o["changes"]):
            try:
                events.append(PriceChange(
                    asset_id, _side(ch["side"]), _price(ch["price"], prices), _decimal(ch["size"]),
                    None, None, timestamp_ms, market, frame_hash,
                ))
            except Exception as exc:
                errors.append(_error(exc, "price_change", data))
    else:
        # ≤ 2024-10: flat, one level per message.
        events.append(PriceChange(
            _text(o["asset_id"]), _side(o["side"]), _price(o["price"], prices), _decimal(o["size"]),
            None, None, timestamp_ms, market, _opt_text(o.get("hash")),
        ))


def _on_tick_size_change(o: Any, prices: dict, events: list, errors: list, data: Any) -> None:
    events.append(TickSizeChange(
        _text(o["asset_id"]), _opt_text(o.get("market")), _opt_decimal(o.get("old_tick_size")),
        _decimal(o["new_tick_size"]), _ms(o["timestamp"]),
    ))


def _on_last_trade_price(o: Any, prices: dict, events: list, errors: list, data: Any) -> None:
    events.append(LastTradePrice(
        _text(o["asset_id"]), _opt_text(o.get("market")), _price(o["price"], prices),
        _opt_decimal(o.get("size")), _opt_side(o.get("side")), _opt_decimal(o.get("fee_rate_bps")),
        _ms(o["timestamp"]),
    ))


def _on_best_bid_ask(o: Any, prices: dict, events: list, errors: list, data: Any) -> None:
    events.append(BestBidAsk(
        _text(o["asset_id"]), _opt_text(o.get("market")), _opt_decimal(o.get("best_bid")),
        _opt_decimal(o.get("best_ask")), _opt_decimal(o.get("spread")), _ms(o["timestamp"]),
    ))


def _on_new_market(o: Any, prices: dict, events: list, errors: list, data: Any) -> None:
    events.append(NewMarket(
        _text(o["market"]), _opt_text(o.get("id")), _opt_text(o.get("question")),
        _opt_text(o.get("slug")), _text_list(o.get("assets_ids")), _text_list(o.get("outcomes")),
        _opt_decimal(o.get("order_price_min_tick_size")), _opt_bool(o.get("active")),
        _ms(o["timestamp"]),
    ))


def _on_market_resolved(o: Any, prices: dict, events: list, errors: list, data: Any) -> None:
    events.append(MarketResolved(
        _text(o["market"]), _opt_text(o.get("id")), _text_list(o.get("assets_ids")),
        _opt_text(o.get("winning_asset_id")), _opt_text(o.get("winning_outcome")), _ms(o["timestamp"]),
    ))


_HANDLERS: dict[str, _Handler] = {
    "book": _on_book,
    "price_change": _on_price_change,
    "tick_size_change": _on_tick_size_change,
    "last_trade_price": _on_last_trade_price,
    "best_bid_ask": _on_best_bid_ask,
    "new_market": _on_new_market,
    "market_resolved": _on_market_resolved,
}


def _error(exc: Exception, detail: str | None, data: Any) -> ParseError:
    return ParseError(_ERROR_KINDS.get(type(exc), "wrong_type"), detail, _sample(data))


def _sample(data: Any) -> str:
    head = data[:_SAMPLE_LEN]
    if isinstance(head, bytes | bytearray | memoryview):
        return bytes(head).decode("utf-8", "replace")
    return str(head)


def _on_object(o: Any, prices: dict, events: list, errors: list, data: Any) -> None:
    event_type = None
    try:
        event_type = o.get("event_type")  # not the first key (§1.1), so no prefix sniffing
        handler = _HANDLERS.get(event_type) if type(event_type) is str else None
        if handler is None:
            errors.append(_untyped(event_type, data))
            return
        handler(o, prices, events, errors, data)
    except Exception as exc:
        errors.append(_error(exc, event_type if type(event_type) is str else None, data))


def _untyped(event_type: Any, data: Any) -> ParseError:
    if event_type is None:
        return ParseError("missing_field", "event_type", _sample(data))
    if type(event_type) is not str:
        return ParseError("wrong_type", "event_type", _sample(data))
    return ParseError("unknown_event", event_type[:40], _sample(data))


def _on_document(doc: Any, prices: dict, data: Any) -> tuple[list[Event], list[ParseError]]:
    events: list[Event] = []
    errors: list[ParseError] = []
    if type(doc) in _ARRAY_TYPES:  # the initial snapshot, and sometimes mixed batches (§1.1)
        for o in doc:
            _on_object(o, prices, events, errors, data)
    else:
        _on_object(doc, prices, events, errors, data)
    return events, errors


def _text_frame(data: bytes | str) -> Event | None:
    if len(data) > _TEXT_FRAME_MAX_LEN:
        return None
    try:
        event = _TEXT_FRAMES.get(data)  # (Pong() is an empty tuple, so falsy: compare with None)
        return event if event is not None else _TEXT_FRAMES.get(data.strip())
    except (TypeError, AttributeError):  # a bytearray or memoryview
        return None


def _undecodable(data: Any) -> tuple[list[Event], list[ParseError]]:
    return [], [ParseError("json", None, _sample(data))]


def _json_parser() -> FrameParser:
    import json

    loads = json.loads
    prices: dict[str, float] = {}

    def parse_frame(data: bytes | str) -> tuple[list[Event], list[ParseError]]:
        text_event = _text_frame(data)
        if text_event is not None:
            return [text_event], []
        try:
            doc = loads(data)
        except Exception:  # JSONDecodeError, UnicodeDecodeError, RecursionError on deep nesting
            return _undecodable(data)
        return _on_document(doc, prices, data)

    return parse_frame


def _simdjson_parser() -> FrameParser:
    state = {"parser": simdjson.Parser()}
    prices: dict[str, float] = {}

    def parse_frame(data: bytes | str) -> tuple[list[Event], list[ParseError]]:
        text_event = _text_frame(data)
        if text_event is not None:
            return [text_event], []
        parser = state["parser"]
        try:
            doc = parser.parse(data)
        except RuntimeError:
            # A proxy into the previous document is still alive somewhere (pysimdjson refuses to
            # reuse the parser then). Nothing we return holds one; recover with a fresh parser.
            parser = state["parser"] = simdjson.Parser()
            try:
                doc = parser.parse(data)
            except Exception:
                return _undecodable(data)
        except Exception:
            return _undecodable(data)
        # Every value copied out of `doc` is a plain str/int/float/list; the proxies die here.
        return _on_document(doc, prices, data)

    return parse_frame


# ---------------------------------------------------------------------------------------------
# msgspec: typed decode of the known shapes, generic path for everything else.


class _Fallback(Exception):
    """The typed decode accepted something the generic path would judge differently."""


def _msgspec_parser() -> FrameParser:
    import msgspec

    convert = _msgspec_converters(msgspec)
    typed = msgspec.json.Decoder(convert.union, strict=False)  # lax: "0.5" → 0.5 in C
    untyped = msgspec.json.Decoder()
    typed_decode = typed.decode
    converters = convert.by_type
    prices: dict[str, float] = {}

    def parse_frame(data: bytes | str) -> tuple[list[Event], list[ParseError]]:
        text_event = _text_frame(data)
        if text_event is not None:
            return [text_event], []
        try:
            doc = typed_decode(data)
            events: list[Event] = []
            if type(doc) is list:
                for o in doc:
                    converters[type(o)](o, events)
            else:
                converters[type(doc)](doc, events)
            return events, []
        except Exception:
            pass  # unknown event, wrong type, bad JSON, ...: the generic path says which
        try:
            generic = untyped.decode(data)
        except Exception:
            return _undecodable(data)
        return _on_document(generic, prices, data)

    return parse_frame


class _MsgspecSchema(NamedTuple):
    union: Any
    by_type: dict[type, Callable[[Any, list], None]]


def _msgspec_converters(msgspec: Any) -> _MsgspecSchema:
    """Structs for the known shapes and their converters to events.

    Every typed field accepts a subset of what the generic readers accept, with the same value:
    timestamps stay strings here and go through the same int() (msgspec's lax int takes "1e3");
    decimals carry the same finite, non-negative bound; presence-sensitive price_change fields use
    UNSET so that "absent" and null are not confused.
    """
    from typing import Annotated

    Struct = msgspec.Struct
    UNSET = msgspec.UNSET
    Unset = msgspec.UnsetType
    Dec = Annotated[float, msgspec.Meta(ge=0.0, le=sys.float_info.max)]

    class Level(Struct, gc=False):
        price: Dec
        size: Dec

    class Book(Struct, tag="book", tag_field="event_type", gc=False):
        asset_id: str
        timestamp: str
        bids: list[Level]
        asks: list[Level]
        market: str | None = None
        tick_size: Dec | None = None
        hash: str | None = None

    class Entry(Struct, gc=False):
        asset_id: str
        price: Dec
        size: Dec
        side: str
        hash: str | None = None
        best_bid: Dec | None = None
        best_ask: Dec | None = None

    class Change(Struct, gc=False):
        price: Dec
        size: Dec
        side: str

    class Changes(Struct, tag="price_change", tag_field="event_type", gc=False):
        timestamp: str
        market: str | None = None
        price_changes: list[Entry] | Unset = UNSET
        changes: list[Change] | Unset = UNSET
        asset_id: str | Unset = UNSET
        hash: str | None = None
        price: Dec | Unset = UNSET
        size: Dec | Unset = UNSET
        side: str | Unset = UNSET

    class Tick(Struct, tag="tick_size_change", tag_field="event_type", gc=False):
        asset_id: str
        new_tick_size: Dec
        timestamp: str
        market: str | None = None
        old_tick_size: Dec | None = None

    class Trade(Struct, tag="last_trade_price", tag_field="event_type", gc=False):
        asset_id: str
        price: Dec
        timestamp: str
        market: str | None = None
        size: Dec | None = None
        side: str | None = None
        fee_rate_bps: Dec | None = None

    class Best(Struct, tag="best_bid_ask", tag_field="event_type", gc=False):
        asset_id: str
        timestamp: str
        market: str | None = None
        best_bid: Dec | None = None
        best_ask: Dec | None = None
        spread: Dec | None = None

    class New(Struct, tag="new_market", tag_field="event_type", gc=False):
        market: str
        timestamp: str
        id: str | None = None
        question: str | None = None
        slug: str | None = None
        assets_ids: list[str] | None = None
        outcomes: list[str] | None = None
        order_price_min_tick_size: Dec | None = None
        active: bool | None = None

    class Resolved(Struct, tag="market_resolved", tag_field="event_type", gc=False):
        market: str
        timestamp: str
        id: str | None = None
        assets_ids: list[str] | None = None
        winning_asset_id: str | None = None
        winning_outcome: str | None = None

    def side(x: str) -> str:
        s = _SIDES.get(x)
        if s is None:
            raise _Fallback
        return s

    def opt_side(x: str | None) -> str | None:
        return None if x is None else side(x)

    def on_book(b: Any, out: list) -> None:
        out.append(BookSnapshot(
            b.asset_id, b.market, int(b.timestamp), [(lv.price, lv.size) for lv in b.bids],
            [(lv.price, lv.size) for lv in b.asks], b.tick_size, b.hash,
        ))

    def on_price_change(c: Any, out: list) -> None:
        ts = int(c.timestamp)
        if c.price_changes is not UNSET:
            out.extend([
                PriceChange(e.asset_id, side(e.side), e.price, e.size, e.best_bid, e.best_ask, ts,
                            c.market, e.hash)
                for e in c.price_changes
            ])
        elif c.changes is not UNSET:
            if c.asset_id is UNSET:
                raise _Fallback
            out.extend([
                PriceChange(c.asset_id, side(e.side), e.price, e.size, None, None, ts, c.market, c.hash)
                for e in c.changes
            ])
        else:
            if UNSET in (c.asset_id, c.price, c.size, c.side):
                raise _Fallback
            out.append(PriceChange(c.asset_id, side(c.side), c.price, c.size, None, None, ts, c.market,
                                   c.hash))

    def on_tick(t: Any, out: list) -> None:
        out.append(TickSizeChange(t.asset_id, t.market, t.old_tick_size, t.new_tick_size,
                                  int(t.timestamp)))

    def on_trade(t: Any, out: list) -> None:
        out.append(LastTradePrice(t.asset_id, t.market, t.price, t.size, opt_side(t.side),
                                  t.fee_rate_bps, int(t.timestamp)))

    def on_best(b: Any, out: list) -> None:
        out.append(BestBidAsk(b.asset_id, b.market, b.best_bid, b.best_ask, b.spread, int(b.timestamp)))

    def on_new(n: Any, out: list) -> None:
        out.append(NewMarket(n.market, n.id, n.question, n.slug, n.assets_ids or [], n.outcomes or [],
                             n.order_price_min_tick_size, n.active, int(n.timestamp)))

    def on_resolved(r: Any, out: list) -> None:
        out.append(MarketResolved(r.market, r.id, r.assets_ids or [], r.winning_asset_id,
                                  r.winning_outcome, int(r.timestamp)))

    one = Book | Changes | Tick | Trade | Best | New | Resolved
    return _MsgspecSchema(
        union=list[one] | one,
        by_type={Book: on_book, Changes: on_price_change, Tick: on_tick, Trade: on_trade, Best: on_best,
                 New: on_new, Resolved: on_resolved},
    )
