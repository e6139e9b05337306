"""``make soak`` / ``python -m soak``: a bounded soak of the paper pipeline under load, watching memory.

The pipeline and its load come from the benchmarks (bench.pipeline, read-only here): the paper venue,
bench.market_source in front of ingest with --tokens synthetic tokens (6 per trio) plus the venue's own,
ingest, engine, executor (paper mode, trading enabled) and bench.clob_tap in front of the venue's CLOB.
For --soak-s seconds the source offers --rate price_change frames per second spread over every synthetic
market (each frame moves the top of book of both tokens of one market), while the venue opens an
arbitrage every --inject-every-s seconds so the executor signs, posts and journals all along.

Every 2 s the resident set size (VmRSS) of every process is sampled. Growth is measured after the
warm-up: the median RSS over the last 20 s of the warm-up against the median over the last 20 s of the
run. The soak fails (exit 1) when any pipeline service (venue, ingest, engine, executor) grew more than
--max-growth, or any process died; the benchmark's helpers (source, tap) are reported, not judged.

Also reported: frames offered, sent and skipped by the source, frames read by ingest, conflations,
parse errors, reconnects, evaluations, signals, trade results by outcome and errors by service. The
report goes to stdout and, as JSON, to --out (default run/soak-<time>/report.json).

Every flag also reads POLYARB_<FLAG> (POLYARB_SOAK_S=180 make soak runs three minutes); a run is
bounded by --soak-s plus start-up and stop budgets, and the processes are always stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import pathlib
import statistics
import sys
import time
from collections.abc import Sequence

from bench.pipeline import Pipeline
from bench.processes import rss_mb
from polyarb.runtime.config import Flag, non_negative_float, parse_flags, positive_float, positive_int
from polyarb.v1 import engine_pb2

ROOT = pathlib.Path(__file__).resolve().parent.parent
SERVICES = ("paper_venue", "ingest", "engine", "executor")  # judged; the bench tools are only reported
SAMPLE_EVERY_S = 2.0
WINDOW_S = 20.0  # the medians compared: the last 20 s of the warm-up and of the run
CHUNK_S = 10.0  # the source's load command runs this long; chunks follow back to back
START_BUDGET_S = 180.0
MAX_SOAK_S = 3600.0
COUNTERS = {
    "ws_frames": "polyarb_ws_messages_total", "conflated": "polyarb_conflated_total",
    "parse_errors": "polyarb_parse_errors_total", "ws_reconnects": "polyarb_ws_reconnects_total",
    "tob_updates": "polyarb_tob_updates_total", "evaluations": "polyarb_evaluations_total",
    "signals": "polyarb_signals_total", "signals_received": "polyarb_signals_received_total",
    "signals_denied": "polyarb_signals_denied_total", "orders_posted": "polyarb_orders_posted_total",
    "trade_results": "polyarb_trade_results_total", "errors": "polyarb_errors_total",
}


def _duration(text: str) -> float:
    value = non_negative_float(text)
    if not 30 <= value <= MAX_SOAK_S:
        raise ValueError(f"must be 30..{MAX_SOAK_S:.0f} seconds, got {text}")
    return value


def _fraction(text: str) -> float:
    value = non_negative_float(text)
    if value > 1:
        raise ValueError(f"a fraction, e.g. 0.05 for 5 %, got {text}")
    return value


FLAGS = (
    Flag("soak-s", "seconds of load (the issue's soak is 600)", 600.0, _duration),
    Flag("warmup-s", "seconds of the run before the RSS baseline (default: a fifth of --soak-s, 30..120)", None,
         positive_float),
    Flag("tokens", "synthetic tokens subscribed besides the venue's", 10_000, positive_int),
    Flag("rate", "price_change frames per second offered to ingest", 5_000, positive_int),
    Flag("inject-every-s", "seconds between arbitrages opened at the venue; 0: none", 2.0, non_negative_float),
    Flag("max-growth", "largest RSS growth after the warm-up that passes, as a fraction", 0.05, _fraction),
    Flag("out", "directory for report.json and the processes' logs (default run/soak-<time>)", None),
)


def sample_rss(pids: dict[str, int]) -> dict[str, float | None]:
    return {name: rss_mb(pid) for name, pid in pids.items()}


def window_median(samples: list[tuple[float, dict]], name: str, start: float, end: float) -> float | None:
    values = [rss[name] for t, rss in samples if start <= t <= end and rss.get(name) is not None]
    return statistics.median(values) if values else None


def counter_sum(metrics: dict[str, float], name: str) -> float:
    return sum(v for k, v in metrics.items() if k == name or k.startswith(name + "{"))


def by_label(metrics: dict[str, float], name: str) -> dict[str, float]:
    return {k[len(name):]: v for k, v in metrics.items() if k.startswith(name + "{") and v}


class Soak:
    def __init__(self, args, pipeline: Pipeline) -> None:
        self.args = args
        self.pipeline = pipeline
        self.samples: list[tuple[float, dict]] = []  # (seconds since load start, {process: RSS MiB})
        self.loads: list[dict] = []
        self.injected = {"ok": 0, "refused": 0}
        self.t0 = 0.0

    async def metrics(self) -> dict[str, float]:
        merged: dict[str, float] = {}
        for name in SERVICES[1:]:
            for key, value in (await self.pipeline.metrics(name)).items():
                merged[key] = merged.get(key, 0.0) + value
        return merged

    async def _sampler(self) -> None:
        pids = self.pipeline.pids()
        while True:
            self.samples.append((time.monotonic() - self.t0, sample_rss(pids)))
            await asyncio.sleep(SAMPLE_EVERY_S)

    async def _injector(self) -> None:
        structure = self.pipeline.venue_structure
        instances = [t["id"] for t in structure.get("trios", [])] + [s["id"] for s in structure.get("sets", [])]
        k = 0
        while instances and self.args.inject_every_s > 0:
            await asyncio.sleep(self.args.inject_every_s)
            try:
                await self.pipeline.venue("/admin/arbitrage", {"instance_id": instances[k % len(instances)],
                                                               "gap": 0.04, "size": 10, "ttl_s": 1.0})
                self.injected["ok"] += 1
            except (RuntimeError, OSError):
                self.injected["refused"] += 1
            k += 1

    async def run(self) -> dict:
        args = self.args
        await self.pipeline.enable_trading()
        pushed = await self.pipeline.push_structure(args.tokens)
        print(f"soak: {pushed['tokens']} tokens fresh after {pushed['fresh_after_s']:.1f} s; "
              f"{args.rate} frames/s for {args.soak_s:.0f} s, warm-up {self.warmup_s:.0f} s", flush=True)
        before = await self.metrics()
        rss_start = sample_rss(self.pipeline.pids())
        self.t0 = time.monotonic()
        tasks = [asyncio.create_task(self._sampler()), asyncio.create_task(self._injector())]
        try:
            while (left := args.soak_s - (time.monotonic() - self.t0)) > 1.0:
                chunk = min(CHUNK_S, left)
                self.loads.append(await asyncio.wait_for(self.pipeline.load(args.rate, chunk), chunk + 60))
                self.pipeline.check_alive()
                elapsed = time.monotonic() - self.t0
                if int(elapsed) // 60 != int(elapsed - chunk) // 60:
                    print(f"  {elapsed:5.0f} s  " + "  ".join(
                        f"{n} {self.samples[-1][1].get(n) or 0:.0f} MiB" for n in SERVICES), flush=True)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        elapsed = time.monotonic() - self.t0
        self.samples.append((elapsed, sample_rss(self.pipeline.pids())))
        await asyncio.sleep(2.0)  # let the last frames and trades land before the counters are read
        after = await self.metrics()
        status = await self.pipeline.engine().GetStatus(engine_pb2.GetEngineStatusRequest(), timeout=10)
        return self.report(pushed, rss_start, before, after, elapsed, status)

    @property
    def warmup_s(self) -> float:
        if self.args.warmup_s is not None:
            return min(self.args.warmup_s, self.args.soak_s - 2 * WINDOW_S)
        return max(30.0, min(120.0, self.args.soak_s / 5))

    def report(self, pushed: dict, rss_start: dict, before: dict, after: dict, elapsed: float,
               status: engine_pb2.EngineStatus) -> dict:
        args = self.args
        rss = {}
        for name in self.pipeline.pids():
            warm = window_median(self.samples, name, self.warmup_s - WINDOW_S, self.warmup_s)
            end = window_median(self.samples, name, elapsed - WINDOW_S, elapsed)
            peak = max((r[name] for _, r in self.samples if r.get(name) is not None), default=None)
            growth = (end - warm) / warm if warm and end else None
            rss[name] = {"start_mb": rss_start.get(name), "after_warmup_mb": warm, "end_mb": end, "max_mb": peak,
                         "growth": growth, "judged": name in SERVICES,
                         "ok": name not in SERVICES or (growth is not None and growth <= args.max_growth)}
        delta = {key: counter_sum(after, name) - counter_sum(before, name) for key, name in COUNTERS.items()}
        sent = sum(load["sent_frames"] for load in self.loads)
        offered = sum(load["planned"] for load in self.loads)
        return {
            "config": {"soak_s": args.soak_s, "warmup_s": self.warmup_s, "tokens": args.tokens, "rate": args.rate,
                       "inject_every_s": args.inject_every_s, "max_growth": args.max_growth},
            "structure": pushed,
            "elapsed_s": elapsed,
            "rss": rss,
            "source": {"offered_frames": offered, "sent_frames": sent,
                       "skipped_frames": sum(load["skipped"] for load in self.loads),
                       "sent_per_s": sent / elapsed if elapsed else 0.0,
                       "max_burst_frames": max((load.get("max_burst_frames", 0) for load in self.loads), default=0)},
            "counters": delta,
            "per_s": {key: delta[key] / elapsed for key in ("ws_frames", "tob_updates", "evaluations")},
            "errors_by_kind": by_label(after, "polyarb_errors_total"),
            "denied_by_reason": by_label(after, "polyarb_signals_denied_total"),
            "results_by_outcome": by_label(after, "polyarb_trade_results_total"),
            "arbitrages_injected": self.injected,
            "engine_end": {"tokens": status.tokens, "stale_tokens": status.stale_tokens,
                           "ingest_connected": status.ingest_connected,
                           "executor_connected": status.executor_connected},
            "passed": all(r["ok"] for r in rss.values()),
            "rss_timeline": [[round(t, 1), rss] for t, rss in self.samples],  # every SAMPLE_EVERY_S, MiB
        }


def print_report(report: dict) -> None:
    print(f"\nsoak report ({report['elapsed_s']:.0f} s of load, warm-up {report['config']['warmup_s']:.0f} s, "
          f"{report['structure']['tokens']} tokens, {report['config']['rate']} frames/s offered)")
    print(f"  {'process':<14}{'start':>9}{'warmed':>9}{'end':>9}{'max':>9}{'growth':>9}")
    for name, r in report["rss"].items():
        def mb(value):
            return f"{value:.1f}" if value is not None else "-"
        growth = f"{100 * r['growth']:+.2f}%" if r["growth"] is not None else "-"
        verdict = "" if not r["judged"] else ("  ok" if r["ok"] else "  FAIL")
        print(f"  {name:<14}{mb(r['start_mb']):>9}{mb(r['after_warmup_mb']):>9}{mb(r['end_mb']):>9}"
              f"{mb(r['max_mb']):>9}{growth:>9}{verdict}")
    s, c = report["source"], report["counters"]
    print(f"  source: {s['sent_frames']:.0f} frames sent ({s['sent_per_s']:.0f}/s), {s['skipped_frames']:.0f} skipped"
          f" of {s['offered_frames']:.0f} offered")
    print(f"  ingest: {c['ws_frames']:.0f} frames read, {c['tob_updates']:.0f} top-of-book updates, "
          f"{c['conflated']:.0f} conflated, {c['parse_errors']:.0f} parse errors, {c['ws_reconnects']:.0f} reconnects")
    print(f"  engine: {c['evaluations']:.0f} evaluations, {c['signals']:.0f} signals; end: "
          f"{report['engine_end']['stale_tokens']} stale of {report['engine_end']['tokens']}")
    print(f"  executor: {c['signals_received']:.0f} signals, {c['signals_denied']:.0f} denied, "
          f"{c['orders_posted']:.0f} orders posted; results {report['results_by_outcome']}")
    print(f"  errors: {c['errors']:.0f} during the run; by kind since start {report['errors_by_kind']}")
    limit = 100 * report["config"]["max_growth"]
    print(f"  verdict: {'PASS' if report['passed'] else 'FAIL'} (RSS growth after the warm-up at most {limit:.0f} %)")


async def soak(args, run_dir: pathlib.Path) -> dict:
    pipeline = Pipeline(run_dir)
    try:
        await asyncio.to_thread(pipeline.start)
        return await Soak(args, pipeline).run()
    finally:
        with contextlib.suppress(Exception):
            await pipeline.close()
        await asyncio.to_thread(pipeline.stop)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_flags("soak", __doc__.splitlines()[0], FLAGS, argv)
    run_dir = pathlib.Path(args.out) if args.out else ROOT / "run" / time.strftime("soak-%Y%m%d-%H%M%S")
    run_dir.mkdir(parents=True, exist_ok=True)
    bound_s = START_BUDGET_S + args.soak_s + 120.0
    try:
        report = asyncio.run(asyncio.wait_for(soak(args, run_dir), bound_s))
    except TimeoutError:
        print(f"soak: not done within its bound of {bound_s:.0f} s; logs in {run_dir}", file=sys.stderr)
        return 1
    except RuntimeError as exc:  # a process died or did not start: bench.pipeline says which, with its log
        print(f"soak: {exc}\nlogs in {run_dir}", file=sys.stderr)
        return 1
    (run_dir / "report.json").write_text(json.dumps(report, indent=2, sort_keys=True))
    print_report(report)
    print(f"  report and logs: {run_dir}")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
