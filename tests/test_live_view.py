"""The live view's text from plain data."""

import math

from polyarb.live_view import Snapshot, percentile, pnl, render, stage_latencies
from polyarb.v1 import common_pb2, engine_pb2, executor_pb2


def result(seq, outcome=executor_pb2.OUTCOME_FILLED, pnl_value=0.5, base=1_000_000):
    trace = common_pb2.Trace(ws_recv_ns=base, ingest_sent_ns=base + 10_000, engine_recv_ns=base + 30_000,
                             signal_sent_ns=base + 31_000, executor_recv_ns=base + 40_000, signed_ns=base + 90_000,
                             posted_ns=base + 100_000, response_ns=base + 2_100_000)
    return executor_pb2.TradeResult(seq=seq, outcome=outcome, expected_pnl=pnl_value, cost=1.9, trace=trace,
                                    strategy=executor_pb2.STRATEGY_TRIO, instance_id="t1")


def test_percentile_and_stages():
    assert percentile([1, 2, 3, 4], 0.5) == 2 and percentile([1, 2, 3, 4], 0.99) == 4
    assert math.isnan(percentile([], 0.5))
    rows = {label: (n, p50) for label, n, p50, _, _ in stage_latencies([result(1), result(2)])}
    assert rows["sign"] == (2, 50.0) and rows["POST round trip"] == (2, 2000.0) and rows["ws→POST total"] == (2, 100.0)


def test_pnl_counts_traded_results_only():
    results = [result(1), result(2, executor_pb2.OUTCOME_REJECTED, 9.0), result(3, executor_pb2.OUTCOME_DRY_RUN)]
    assert pnl(results) == (1.0, 3.8, 2)


def test_render_shows_each_part():
    engine = engine_pb2.EngineStatus(structure_version=3, instances=1, tokens=6, signals_by_strategy={"trio": 2})
    view = engine.instance_views.add(id="t1", kind="trio", in_flight=True)
    for ask in (0.6, 0.7, 0.6, 0.45, 0.35, 0.45):
        view.legs.add(ask_price=ask, bid_price=ask - 0.02)
    executor = executor_pb2.ExecutorStatus(trading=executor_pb2.TradingState(enabled=True, mode="paper",
                                                                             circuit_open=True))
    text = render(Snapshot(services=[("engine", "127.0.0.1:1", True, "pid 1")], engine=engine, executor=executor,
                           results=[result(1)], faults=["ws_reconnects_total 2"], width=200))
    assert "structure v3" in text and "trio 2" in text
    assert "Σask 1.900 (pays 2, edge +0.100)" in text and "IN-FLIGHT" in text
    assert "CIRCUIT OPEN" in text and "#1" in text and "ws_reconnects_total 2" in text
