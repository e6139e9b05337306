"""The text of `make run`'s live view, from plain data (pure: no I/O, no clock).

`make run` gathers a `Snapshot` once a second (status RPCs, the trade-result stream, /metrics) and
prints `render(snapshot)` in place.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from polyarb.v1 import engine_pb2, executor_pb2

OUTCOMES = {v: n.removeprefix("OUTCOME_") for n, v in executor_pb2.Outcome.items()}
STRATEGIES = {v: n.removeprefix("STRATEGY_").lower() for n, v in executor_pb2.Strategy.items()}
# (label, trace field it starts at, trace field it ends at)
STAGES = (
    ("ws→ingest out", "ws_recv_ns", "ingest_sent_ns"),
    ("ingest→engine", "ingest_sent_ns", "engine_recv_ns"),
    ("engine eval", "engine_recv_ns", "signal_sent_ns"),
    ("engine→executor", "signal_sent_ns", "executor_recv_ns"),
    ("sign", "executor_recv_ns", "signed_ns"),
    ("signed→posted", "signed_ns", "posted_ns"),
    ("POST round trip", "posted_ns", "response_ns"),
    ("ws→POST total", "ws_recv_ns", "posted_ns"),
)


@dataclass
class Snapshot:
    services: list[tuple[str, str, bool, str]] = field(default_factory=list)  # name, addr, healthy, detail
    engine: engine_pb2.EngineStatus | None = None
    executor: executor_pb2.ExecutorStatus | None = None
    results: Sequence[executor_pb2.TradeResult] = ()  # newest last
    faults: list[str] = field(default_factory=list)  # "what: count"
    width: int = 110


def percentile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return math.nan
    index = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[index]


def stage_latencies(results: Iterable[executor_pb2.TradeResult]) -> list[tuple[str, int, float, float, float]]:
    """(stage, n, p50 µs, p99 µs, max µs) over the results whose trace has both ends of the stage."""
    rows = []
    traces = [r.trace for r in results]
    for label, start, end in STAGES:
        values = sorted((getattr(t, end) - getattr(t, start)) / 1000 for t in traces
                        if getattr(t, start) and getattr(t, end))
        rows.append((label, len(values), percentile(values, 0.5), percentile(values, 0.99),
                     values[-1] if values else math.nan))
    return rows


def pnl(results: Iterable[executor_pb2.TradeResult]) -> tuple[float, float, int]:
    """(expected pnl, cost, count) over results that traded (filled, partial, dry-run, reconciled)."""
    traded = [r for r in results if r.outcome in (executor_pb2.OUTCOME_FILLED, executor_pb2.OUTCOME_PARTIAL,
                                                  executor_pb2.OUTCOME_DRY_RUN)]
    return sum(r.expected_pnl for r in traded), sum(r.cost for r in traded), len(traded)


def _fmt_us(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value / 1000:.2f}ms" if value >= 10_000 else f"{value:.0f}µs"


def _instance_line(view: engine_pb2.InstanceView) -> str:
    legs = list(view.legs)
    stale = any(leg.stale for leg in legs)
    if view.kind == "trio":
        buy, complement = legs[:3], legs[3:]
        asks = sum(leg.ask_price for leg in buy)
        comp = sum(leg.ask_price for leg in complement)
        edge = f"trio Σask {asks:.3f} (pays 2, edge {2 - asks:+.3f})  complement Σask {comp:.3f} (edge {1 - comp:+.3f})"
    else:
        asks = sum(leg.ask_price for leg in legs)
        bids = sum(leg.bid_price for leg in legs)
        edge = f"bundle Σask {asks:.3f} (edge {1 - asks:+.3f})  unbundle Σbid {bids:.3f} (edge {bids - 1:+.3f})"
    flags = ("STALE " if stale else "") + ("IN-FLIGHT" if view.in_flight else "")
    return f"  {view.id:<26} {edge}  {flags}".rstrip()


def render(snapshot: Snapshot) -> str:
    lines = ["polyarb — paper venue live view (Ctrl-C stops everything)", ""]
    for name, addr, healthy, detail in snapshot.services:
        lines.append(f"  {'●' if healthy else '○'} {name:<12} {addr:<18} {detail}")
    engine, executor = snapshot.engine, snapshot.executor
    if engine is not None:
        signals = ", ".join(f"{k} {v}" for k, v in sorted(engine.signals_by_strategy.items())) or "none yet"
        lines += ["", f"engine: structure v{engine.structure_version}, {engine.instances} instances, "
                      f"{engine.tokens} tokens ({engine.stale_tokens} stale), in flight {engine.in_flight}, "
                      f"signals: {signals}, skipped by executor {engine.skipped_acks}"]
        lines += [_instance_line(view) for view in engine.instance_views]
    if executor is not None:
        t, b = executor.trading, executor.balance
        state = "ENABLED" if t.enabled else f"disabled ({t.reason})"
        if t.circuit_open:
            state += "  CIRCUIT OPEN"
        lines += ["", f"executor: {t.mode}, trading {state}, collateral {b.collateral:.2f} "
                      f"(reserved {b.reserved:.2f}), positions {len(b.inventory)}, last seq {executor.last_seq}"]
    results = list(snapshot.results)
    expected, cost, traded = pnl(results)
    lines += ["", f"trade results: {len(results)} seen, {traded} traded, cost {cost:.2f}, expected PnL {expected:+.4f}"]
    for r in results[-6:]:
        legs = " ".join(f"{leg.filled_size:g}@{leg.avg_price or leg.price:.2f}" for leg in r.legs)
        lines.append(f"  #{r.seq:<5} {OUTCOMES.get(r.outcome, '?'):<8} {STRATEGIES.get(r.strategy, '?'):<16} "
                     f"{r.instance_id:<26} pnl {r.expected_pnl:+.4f}  {legs}  {r.error[:40]}".rstrip())
    lines += ["", "latency per stage (from the traces of the results above)       n      p50      p99      max"]
    for label, n, p50, p99, worst in stage_latencies(results):
        lines.append(f"  {label:<58} {n:>6} {_fmt_us(p50):>8} {_fmt_us(p99):>8} {_fmt_us(worst):>8}")
    lines += ["", "faults seen: " + (", ".join(snapshot.faults) if snapshot.faults else "none")]
    return "\n".join(line[: snapshot.width] for line in lines)
