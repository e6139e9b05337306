"""The headline of issue 15 in bench/results/latest.json, and the same-run comparison's pure helpers:
built from small synthetic results, nothing run and nothing timed."""

from __future__ import annotations

import json
import math

from bench import report
from bench.bench_macro import comparison, match_arrivals, peer_summary

HEADLINE = {
    "peer_bot_frame_to_post_ms_p50", "polyarb_frame_to_post_ms_p50", "peer_ratio_p50",
    "frame_to_signal_ms_p50_1k", "frame_to_signal_ms_p99_1k", "frame_to_post_ms_p50_1k",
    "max_sustained_frames_per_s", "max_sustained_tob_updates_per_s", "split_over_inprocess_socket_to_post",
    "sign_order_us_p50_ours", "sign_order_us_p50_pcc2", "rss_mb_max_1k_tokens", "soak_rss_growth_pct_max",
}


def _dist(p50: float, p99: float | None = None, n: int = 10) -> dict:
    return {"unit": "us", "p50": p50, "p99": p99 if p99 is not None else p50 * 2, "p99.9": None, "mean": p50,
            "max": p50, "n": n}


def synthetic_results() -> dict:
    return {
        "micro": {"signing": {"sign_order.ours": _dist(40.0), "sign_order.pcc2": _dist(400.0)}},
        "inprocess": {"socket_to_post": _dist(100.0), "socket_to_signal": _dist(20.0)},
        "macro": {
            "peer": {"peer": {"ws_to_post_at_venue": _dist(3000.0), "sign_3_orders": _dist(2500.0)},
                     "polyarb": {"ws_to_post_at_venue": _dist(1000.0)}, "ratio": {"p50": 3.0, "p99": 2.5}},
            "latency": {"1000": {"trace": {"ws_to_signal_executor": _dist(500.0, 2500.0),
                                           "ws_to_post_at_venue": _dist(1100.0)}}},
            "throughput": {"1": {"max_sustained_updates_per_s": 20_000.0, "max_sustained_frames_per_s": 10_000.0},
                           "25": {"max_sustained_updates_per_s": 160_000.0, "max_sustained_frames_per_s": 3_200.0}},
            "scaling": {"1000": {"rss_loaded_mb": {"ingest": 50.0, "engine": 55.5, "executor": 41, "paper_venue": 90.0,
                                                   "market_source": 200.0}}},
        },
    }


SOAK = {"config": {"soak_s": 600.0, "tokens": 10000, "rate": 5000.0}, "passed": True,
        "rss": {"ingest": {"growth": 0.031, "judged": True}, "engine": {"growth": 0.012, "judged": True},
                "executor": {"growth": None, "judged": True}, "market_source": {"growth": 0.5, "judged": False}}}


def test_headline_has_exactly_the_contract_keys_each_a_number_or_null():
    for results, soak in ((synthetic_results(), SOAK), ({}, None), ({"macro": {"peer": {}}}, {})):
        headline = report.headline(results, soak)
        assert set(headline) == HEADLINE == set(report.HEADLINE_KEYS)
        assert all(v is None or (type(v) is float and math.isfinite(v)) for v in headline.values()), headline
        json.dumps(headline, allow_nan=False)


def test_headline_reads_each_figure_from_where_the_bench_measures_it():
    h = report.headline(synthetic_results(), SOAK)
    assert h["peer_bot_frame_to_post_ms_p50"] == 3.0 and h["polyarb_frame_to_post_ms_p50"] == 1.0
    assert h["peer_ratio_p50"] == 3.0
    assert (h["frame_to_signal_ms_p50_1k"], h["frame_to_signal_ms_p99_1k"], h["frame_to_post_ms_p50_1k"]) == (
        0.5, 2.5, 1.1)
    assert h["max_sustained_frames_per_s"] == 10_000.0  # single-market frames
    assert h["max_sustained_tob_updates_per_s"] == 160_000.0  # the best shape
    assert h["split_over_inprocess_socket_to_post"] == 11.0  # 1,100 µs through the pipeline / 100 µs in process
    assert (h["sign_order_us_p50_ours"], h["sign_order_us_p50_pcc2"]) == (40.0, 400.0)
    assert h["rss_mb_max_1k_tokens"] == 55.5  # services only, not the venue nor the bench's tools
    assert math.isclose(h["soak_rss_growth_pct_max"], 3.1)  # judged services only, in percent


def test_latest_soak_report_is_the_newest_readable_one(tmp_path):
    assert report.latest_soak(tmp_path) == (None, None)
    for name, growth in (("soak-20261201-100000", 0.2), ("soak-20261202-100000", 0.04)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "report.json").write_text(json.dumps({**SOAK, "rss": {"ingest": {"growth": growth,
                                                                                           "judged": True}}}))
    (tmp_path / "soak-20261203-100000").mkdir()
    (tmp_path / "soak-20261203-100000" / "report.json").write_text("{not json")  # interrupted mid-write
    path, soak = report.latest_soak(tmp_path)
    assert path.parent.name == "soak-20261202-100000"
    assert report.headline({}, soak)["soak_rss_growth_pct_max"] == 4.0
    assert report.soak_source(path, soak)["default_load"] is True


def test_headline_table_and_stages_render_beside_the_targets():
    results = synthetic_results()
    results["headline"] = report.headline(results, SOAK)
    table = "\n".join(report.headline_table(results))
    assert table.count("\n| `") == len(HEADLINE)
    assert "| `peer_ratio_p50` | 3.00 | ≥ 3x (peer / polyarb) | yes |" in table
    assert "| `frame_to_post_ms_p50_1k` | 1.10 | ≤ 1.2 ms | yes |" in table
    assert "| `split_over_inprocess_socket_to_post` | 11.00 | ≤ 3x | **no** |" in table
    assert "| `sign_order_us_p50_ours` | 40.00 | ≥ 10x faster than py-clob-client-v2 | yes |" in table
    stages = "\n".join(report.stage_lines(results))
    assert "| total: ws_to_post_at_venue | 1,000 / 2,000 / 10 | 3,000 / 6,000 / 10 | 1,100 / 2,200 / 10 |" in stages
    assert "| sign_3_orders (peer) |  | 2,500 / 5,000 / 10 |  |" in stages
    assert "parse_evaluate (peer)" not in stages  # not traced in this run: no row of dashes
    assert "not measured" in "\n".join(report.headline_table({"headline": report.headline({})}))
    text = report.render_markdown({"headline": results["headline"], "macro": {"peer": results["macro"]["peer"]}})
    assert "## Headline (issue 15)" in text and "## Per stage" in text


def test_peer_trades_are_matched_to_their_tap_arrivals():
    records = [{"ws_recv_ns": 1_000, "evaluated_ns": 1_500, "signed_ns": 3_000, "posted_ns": 3_100,
                "response_ns": 9_000},
               {"ws_recv_ns": 20_000, "signed_ns": 22_000, "posted_ns": 22_100, "response_ns": 30_000},
               {"ws_recv_ns": 40_000, "signed_ns": 41_000, "posted_ns": 0, "response_ns": 0}]  # never posted
    stamps = match_arrivals(records, [25_000, 4_100, 99_000])
    assert [s["venue"] for s in stamps] == [4_100, 25_000]
    summary = peer_summary(stamps)
    assert summary["ws_to_post_at_venue"]["p50"] == 3.1 and summary["ws_to_post_at_venue"]["n"] == 2
    assert summary["parse_evaluate_sign"]["max"] == 2.0
    assert summary["sign_3_orders"]["n"] == 1 and summary["sign_3_orders"]["p50"] == 1.5  # one record has it
    assert match_arrivals(records[:1], [10_000])[0]["venue"] == 0  # after the response: not this post
    assert comparison({"ws_to_post_at_venue": _dist(3.0, 9.0)}, {"ws_to_post_at_venue": _dist(1.0, 3.0)}) == {
        "p50": 3.0, "p99": 3.0}
    assert comparison({}, {"ws_to_post_at_venue": _dist(1.0)}) == {"p50": None, "p99": None}
