"""The benchmark harness's pure helpers (percentiles, the JSON writer, framing): no benchmark runs here,
and nothing is timed."""

from __future__ import annotations

import json
import math

import pytest

from bench import report
from bench.market_source import (
    SyntheticMarket,
    accept_key,
    book_frames,
    handshake_response,
    price_change_frame,
    read_frames,
    server_frame,
    synthetic_markets,
)
from bench.pipeline import parse_metrics
from bench.stats import percentile, ratio, summarize
from ingest_svc.parse import PriceChange, make_parser


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))  # 1..100
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.99) == 99
    assert percentile(values, 0.999) == 100
    assert percentile(values, 0.0) == 1
    assert percentile([7], 0.999) == 7
    with pytest.raises(ValueError):
        percentile([], 0.5)
    with pytest.raises(ValueError):
        percentile(values, 1.5)


def test_summarize_scales_and_counts():
    summary = summarize([3000, 1000, 2000], "us", 1e-3)
    assert summary == {"unit": "us", "p50": 2.0, "p99": 3.0, "p99.9": 3.0, "mean": 2.0, "max": 3.0, "n": 3}
    empty = summarize([], "us")
    assert empty["n"] == 0 and empty["p50"] is None and empty["p99.9"] is None


def test_ratio_is_none_without_both_figures():
    assert ratio(10.0, 4.0) == 2.5
    assert ratio(None, 4.0) is None
    assert ratio(1.0, 0) is None


def test_json_writer_is_strict_and_drops_raw_samples(tmp_path):
    results = {"a": (1, 2), "b": float("nan"), "c": {"_raw": [1, 2, 3], "x": math.inf, "y": 1.5}, 3: "k"}
    path = tmp_path / "out" / "latest.json"
    report.write_json(path, results)
    assert json.loads(path.read_text()) == {"a": [1, 2], "b": None, "c": {"x": None, "y": 1.5}, "3": "k"}


def test_readme_block_is_replaced_in_place(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# title\n\n## Other\ntext\n")
    report.update_readme(readme, f"{report.README_BEGIN}\n## Performance\nfirst\n{report.README_END}\n")
    report.update_readme(readme, f"{report.README_BEGIN}\n## Performance\nsecond\n{report.README_END}\n")
    text = readme.read_text()
    assert text.count(report.README_BEGIN) == 1 and "second" in text and "first" not in text
    assert text.startswith("# title\n\n## Other\ntext\n")


def test_markdown_renders_without_any_results():
    results = {"machine": {}, "load": {}}
    results["targets"] = report.targets(results)
    text = report.render_markdown(results)
    assert "not measured" in text


def test_websocket_framing_round_trip():
    # RFC 6455 1.3 example key
    assert accept_key(b"dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    request = b"GET /ws/market HTTP/1.1\r\nHost: x\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="
    answer, ok = handshake_response(request)
    assert ok and answer.startswith(b"HTTP/1.1 101")
    assert handshake_response(b"GET /other HTTP/1.1\r\nSec-WebSocket-Key: a")[1] is False
    mask = b"\x01\x02\x03\x04"
    for payload in (b"PING", b"x" * 300, b"y" * 70_000):
        n = len(payload)
        if n < 126:
            header = bytes((0x81, 0x80 | n))
        elif n < 65536:
            header = bytes((0x81, 0x80 | 126)) + n.to_bytes(2, "big")
        else:
            header = bytes((0x81, 0x80 | 127)) + n.to_bytes(8, "big")
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        buffer = bytearray(header + mask + masked + b"\x81")  # and the first byte of the next frame
        assert read_frames(buffer) == [(1, payload)]
        assert buffer == bytearray(b"\x81")
    unmasked = bytearray(server_frame(b"z" * 200))
    assert read_frames(unmasked) == [(1, b"z" * 200)]


def test_load_frames_parse_as_current_schema_price_changes():
    markets = [SyntheticMarket(*m) for m in synthetic_markets(3)]
    assert all(len(m.yes) == len(m.no) == 77 and m.yes.isdigit() for m in markets)
    parse = make_parser("json")
    events, errors = parse(price_change_frame(markets[:1], 1_786_728_438_403_123_456))
    assert not errors and [type(e) for e in events] == [PriceChange, PriceChange]
    assert events[0].timestamp_ms == 1_786_728_438_403  # epoch ms, the venue's unit
    first_size = events[0].size
    events, errors = parse(price_change_frame(markets, 1))
    assert not errors and len(events) == 6 and events[0].size != first_size  # each frame moves the top


def test_book_and_price_change_frames_carry_one_timestamp_unit_the_venues_ms():
    markets = [SyntheticMarket(*m) for m in synthetic_markets(1)]
    now_ns = 1_786_728_438_403_999_999
    parse = make_parser("json")
    books, errors = parse(json.dumps(book_frames(markets, {markets[0].yes, markets[0].no}, now_ns)).encode())
    changes, more_errors = parse(price_change_frame(markets, now_ns))
    assert not errors and not more_errors and len(books) == 2 and len(changes) == 2
    assert {e.timestamp_ms for e in books + changes} == {1_786_728_438_403}


def test_metrics_text_is_parsed_with_labels():
    text = '# HELP x y\npolyarb_ws_messages_total 12.0\npolyarb_signals_total{strategy="trio"} 3.0\n'
    assert parse_metrics(text) == {"polyarb_ws_messages_total": 12.0, 'polyarb_signals_total{strategy="trio"}': 3.0}
