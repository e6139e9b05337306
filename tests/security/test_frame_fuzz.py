"""Mutated real-shaped market frames through ingest's whole frame path (parse → books → top of book →
stream), not just the parser.

tests/ingest/test_parse.py already fuzzes the parser itself (mutated fixture frames never raise and all
three backends agree; byte-level damage never raises). What it cannot see is what the rest of the path
makes of whatever the parser lets through, so this checks: MarketFeed.on_frame never raises; every top of
book a stream would send is finite and non-negative; and a token that was stale turns fresh only through a
`book` snapshot of its own in that very frame (as that backend reads the frame) — garbage can never make
a book look trustworthy.

Backends may disagree on bytes that are not UTF-8: msgspec's typed decode accepts an invalid byte inside
an unknown key that json and simdjson refuse (the default backend is simdjson; msgspec is the measured
alternative), so each backend is judged by its own reading of the frame.
"""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest_svc.feed import MarketFeed
from ingest_svc.parse import BookSnapshot, make_parser
from tests.ingest.test_parse import FIXTURE_NAMES, SHAPES, fixture, mutated_frames


def asset_ids(node) -> set[str]:
    if isinstance(node, dict):
        found = {v for k, v in node.items() if k == "asset_id" and isinstance(v, str)}
        return found.union(*(asset_ids(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(asset_ids(v) for v in node)) if node else set()
    return set()


TOKENS = sorted(set().union(*(asset_ids(shape) for shape in SHAPES)) | {"1"})


@st.composite
def damaged_frames(draw) -> bytes:
    frame = bytearray(fixture(draw(st.sampled_from(FIXTURE_NAMES))))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(frame)))
        edit = draw(st.sampled_from(["truncate", "insert", "flip"]))
        if edit == "truncate":
            del frame[at:]
        elif edit == "insert":
            frame[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif at < len(frame):
            frame[at] ^= draw(st.integers(1, 255))
    return bytes(frame)


frames = st.one_of(mutated_frames(), damaged_frames(), st.sampled_from(FIXTURE_NAMES).map(fixture))


def sane(top) -> bool:
    numbers = (top.bid_price, top.bid_size, top.ask_price, top.ask_size, top.tick_size)
    return all(math.isfinite(x) and x >= 0 for x in numbers)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(frames, min_size=1, max_size=8), st.sampled_from(["simdjson", "json", "msgspec"]))
def test_mutated_frames_through_the_feed_never_raise_nor_make_a_book_fresh_without_a_snapshot(sequence, backend):
    feed = MarketFeed("ws://127.0.0.1:9/ws/market", 50, 10.0, 30.0, parser_backend=backend)
    reading = make_parser(backend)  # the same backend's own view of each frame
    stream = feed.hub.attach()
    feed.hub.change(stream, TOKENS, ())
    for token in TOKENS:
        feed.books.add(token)
    for i, frame in enumerate(sequence):
        events, _ = reading(frame)
        snapshots = {e.asset_id for e in events if isinstance(e, BookSnapshot)}
        stale_before = {t for t in TOKENS if feed.books.top_of_book(t).stale}
        feed.on_frame(1, frame, 1_000 + i)  # must not raise, whatever the bytes
        for token in TOKENS:
            top = feed.books.top_of_book(token)
            assert sane(top), top
            if token in stale_before and not top.stale:
                assert token in snapshots, f"{token} turned fresh without a snapshot"
    while stream.queued:  # what the stream would send: well-formed
        batch = stream._queue.popleft()
        assert all(sane(update) and update.token_id in TOKENS for update in batch.updates.values())
