"""Macro benchmarks: the paper pipeline as real processes over loopback (bench.pipeline).

One pipeline is started and grown 100 → 1,000 → 10,000 synthetic tokens (memory only grows, so the
order matters: each step's RSS is what that many tokens hold). Phases, in this order: scaling at 100
and 1,000 tokens, throughput, latency, scaling at 10,000 tokens. After every step the harness waits
until ingest has read what the step left in its sockets (``settle``), so no step inherits a backlog.

- ``scaling``: at each token count, RSS of every process idle, then CPU and RSS under 1,000 frames/s
  spread over every synthetic market: CPU µs per WebSocket frame (ingest) and per top-of-book update
  (engine), to compare 100 with 10,000 tokens;
- ``latency`` (1,000 tokens): 1K, 5K and 10K frames/s of 2-entry ``price_change`` while arbitrages are
  injected at the venue every ``inject_every_s``, rotating over its trios and bucket set. From the
  TradeResult traces: WS frame (ingest's ``ws_recv_ns``) → top of book at the engine, → signal at the
  executor, → POST /orders bytes at the venue (bench.clob_tap) and every stage between. A probe
  subscribed to ingest's StreamTopOfBook for 1 market in 20 measures WS frame → top of book at a
  gRPC consumer on every load frame, and the frame's own send time (in its timestamp) → consumer,
  which includes the time a frame waited in socket buffers before ingest stamped it;
- ``throughput`` (1,000 tokens): offered load ramped for two frame shapes (1 market = 2 updates per
  frame; 25 markets = 50 updates per frame, an array of price_change events), measuring top-of-book
  updates/s evaluated by the engine, and ``polyarb_conflated_total`` on ingest. The maximum sustained
  rate is the highest step with no conflation, nothing skipped by the source and ≥ 95 % of the offered
  updates evaluated during the step.

- ``peer`` (1,000 tokens, no synthetic load): the same-run comparison of issue 15 with the peer bot
  (bench.peer_bot: websockets + json + py-clob-client-v2 in one process), WS frame → POST /orders
  bytes at the venue, p50/p99 for each and their ratio (peer / polyarb). Both are subscribed to the
  same venue the whole time and see the same frames; the *trading* alternates in blocks of
  ``peer_block_s`` (polyarb, peer, peer, polyarb, ...), trios injected every ``peer_inject_every_s``
  in the same rotation: in polyarb's blocks the peer is disarmed (it reads and evaluates every frame
  but never signs or posts), in the peer's blocks the engine's trio strategy is switched off
  (UpdateConfig; ingest and the engine still read and evaluate every frame, nothing is signalled).
  Alternating rather than both trading at once: on 2 cores the second bot's signing and the venue's
  matching of the first bot's batch would sit on the other's critical path, and each injected
  arbitrage could be taken only once. Each bot's time starts when *it* has the frame: polyarb's
  ingest reads the venue through bench.market_source's relay (verbatim bytes), the peer directly.

Every run is bounded (``deadline_s``); the processes are stopped in a ``finally``.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import pathlib
import tempfile
import time
import traceback
from dataclasses import dataclass, field

from bench.pipeline import Pipeline
from bench.processes import CpuWindow, rss_mb
from bench.stats import ratio, summarize
from polyarb.v1 import engine_pb2, executor_pb2, ingest_pb2

RATES = (1000, 5000, 10000)
PROBE_EVERY = 20  # the probe follows 1 synthetic market in 20
COUNTERS = (
    "polyarb_ws_messages_total", "polyarb_tob_updates_total", "polyarb_conflated_total",
    "polyarb_evaluations_total", "polyarb_signals_total", "polyarb_signals_received_total",
    "polyarb_signals_denied_total", "polyarb_trade_results_total", "polyarb_parse_errors_total",
    "polyarb_signals_skipped_total",
)
SERVICES = ("ingest", "engine", "executor", "paper_venue")


@dataclass(frozen=True)
class Plan:
    scaling_tokens: tuple[int, ...]
    scaling_s: float
    latency_tokens: int
    latency_s: float
    inject_every_s: float
    ramp: dict[int, tuple[int, ...]]  # markets per frame → offered frames/s, ascending
    ramp_s: float
    settle_max_s: float  # after a step beyond capacity, ingest reads the backlog of its sockets first
    deadline_s: float
    peer_blocks: int = 0  # blocks per bot in the same-run comparison with the peer bot (0: skipped)
    peer_block_s: float = 5.0
    peer_inject_every_s: float = 0.25  # a few arbitrages per second


FULL = Plan(scaling_tokens=(100, 1000, 10000), scaling_s=8.0, latency_tokens=1000, latency_s=20.0,
            inject_every_s=0.1, ramp={1: (2000, 3000, 4000, 6000, 8000, 12000), 25: (100, 200, 400, 800, 1600, 3200)},
            ramp_s=4.0, settle_max_s=60.0, deadline_s=500.0, peer_blocks=4, peer_block_s=5.0)
QUICK = Plan(scaling_tokens=(100, 1000), scaling_s=3.0, latency_tokens=1000, latency_s=2.5,
             inject_every_s=0.1, ramp={1: (4000,), 25: (400,)}, ramp_s=2.0, settle_max_s=15.0,
             deadline_s=52.0, peer_blocks=1, peer_block_s=2.5)


# -- observers -------------------------------------------------------------------------------------------


class TobProbe:
    """A StreamTopOfBook consumer standing in for the engine on a sample of tokens."""

    def __init__(self, pipeline: Pipeline, tokens: list[str]) -> None:
        self.pipeline = pipeline
        self.tokens = tokens
        self.samples: list[tuple[int, int, int, int]] | None = None  # (recv, ws_recv, sent, min frame ts µs)
        self._call = None
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        async def requests():
            yield ingest_pb2.BookSubscription(add_token_ids=self.tokens)
            await asyncio.Event().wait()  # keep the request side open

        self._call = self.pipeline.ingest().StreamTopOfBook(requests())
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        clock = time.time_ns
        with contextlib.suppress(asyncio.CancelledError, Exception):
            async for batch in self._call:
                recv = clock()
                if self.samples is not None and not batch.snapshot and batch.updates:
                    self.samples.append((recv, batch.ws_recv_ns, batch.sent_ns,
                                         min(u.venue_ts_ms for u in batch.updates)))

    async def stop(self) -> None:
        if self._call is not None:
            self._call.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def summary(self, samples: list[tuple[int, int, int, int]]) -> dict:
        return {
            "ws_to_tob_consumer": summarize((r - w for r, w, _, _ in samples), "us", 1e-3),
            "ingest_ws_to_sent": summarize((s - w for _, w, s, _ in samples), "us", 1e-3),
            "grpc_sent_to_consumer": summarize((r - s for r, _, s, _ in samples), "us", 1e-3),
            # The load frame's stamp is whole ms (the venue's unit), cut down: the send was somewhere in
            # [ts, ts + 1 ms), so its midpoint is the estimate; 1 ms resolution either way.
            "source_send_to_consumer": summarize((r - ts * 1_000_000 - 500_000 for r, _, _, ts in samples), "us",
                                                 1e-3),
        }


class TradeFeed:
    """Every TradeResult the executor journals, as it is streamed."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.results: list[executor_pb2.TradeResult] = []
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        status = await self.pipeline.executor().GetStatus(executor_pb2.GetExecutorStatusRequest(), timeout=10)
        self._task = asyncio.create_task(self._read(status.last_seq))

    async def _read(self, from_seq: int) -> None:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            request = executor_pb2.StreamTradeResultsRequest(from_seq=from_seq)
            call = self.pipeline.executor().StreamTradeResults(request)
            async for result in call:
                if result.seq > from_seq:
                    self.results.append(result)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


STAGES = (  # (name, from stamp, to stamp) of common.proto Trace; "venue" is the tap's arrival time
    ("ingest", "ws_recv_ns", "ingest_sent_ns"),
    ("ingest_to_engine", "ingest_sent_ns", "engine_recv_ns"),
    ("engine", "engine_recv_ns", "signal_sent_ns"),
    ("engine_to_executor", "signal_sent_ns", "executor_recv_ns"),
    ("executor_sign", "executor_recv_ns", "signed_ns"),
    ("executor_to_post", "signed_ns", "posted_ns"),
    ("post_to_venue", "posted_ns", "venue"),
    ("venue_round_trip", "posted_ns", "response_ns"),
)
TOTALS = (
    ("ws_to_tob_engine", "engine_recv_ns"),
    ("ws_to_signal_executor", "executor_recv_ns"),
    ("ws_to_signed", "signed_ns"),
    ("ws_to_posted", "posted_ns"),
    ("ws_to_post_at_venue", "venue"),
    ("ws_to_response", "response_ns"),
)


def trace_stamps(results: list[executor_pb2.TradeResult], arrivals_ns: list[int]) -> list[dict[str, int]]:
    """Each posted result's trace stamps, plus "venue": the tap's arrival between posted and response."""
    arrivals = sorted(arrivals_ns)
    out = []
    for result in results:
        t = result.trace
        stamps = {name: getattr(t, name) for name in ("ws_recv_ns", "ingest_sent_ns", "engine_recv_ns",
                                                      "signal_sent_ns", "executor_recv_ns", "signed_ns",
                                                      "posted_ns", "response_ns")}
        if not all(stamps.values()):
            continue
        i = bisect.bisect_left(arrivals, stamps["posted_ns"])
        stamps["venue"] = arrivals[i] if i < len(arrivals) and arrivals[i] <= stamps["response_ns"] else 0
        out.append(stamps)
    return out


def trace_summary(stamps: list[dict[str, int]]) -> dict:
    out = {}
    for name, start, end in STAGES:
        out[name] = summarize((s[end] - s[start] for s in stamps if s[end]), "us", 1e-3)
    for name, end in TOTALS:
        out[name] = summarize((s[end] - s["ws_recv_ns"] for s in stamps if s[end]), "us", 1e-3)
    return out


PEER_STAGES = (  # the peer bot's own trace; "venue" is its tap's arrival time
    ("parse_evaluate", "ws_recv_ns", "evaluated_ns"),
    ("sign_3_orders", "evaluated_ns", "signed_ns"),  # py-clob-client-v2 create_order x 3
    ("parse_evaluate_sign", "ws_recv_ns", "signed_ns"),
    ("signed_to_posted", "signed_ns", "posted_ns"),
    ("post_to_venue", "posted_ns", "venue"),
    ("venue_round_trip", "posted_ns", "response_ns"),
)
PEER_TOTALS = (("ws_to_signed", "signed_ns"), ("ws_to_post_at_venue", "venue"), ("ws_to_response", "response_ns"))


def match_arrivals(records: list[dict[str, int]], arrivals_ns: list[int]) -> list[dict[str, int]]:
    """Each record (posted_ns, response_ns, ...) with "venue": the first tap arrival in [posted, response],
    0 when none; records without posted_ns or response_ns are dropped."""
    arrivals = sorted(arrivals_ns)
    out = []
    for record in records:
        posted, response = record.get("posted_ns") or 0, record.get("response_ns") or 0
        if not (posted and response):
            continue
        i = bisect.bisect_left(arrivals, posted)
        out.append({**record, "venue": arrivals[i] if i < len(arrivals) and arrivals[i] <= response else 0})
    return out


def peer_summary(stamps: list[dict[str, int]]) -> dict:
    out = {}
    for name, start, end in PEER_STAGES:
        out[name] = summarize((s[end] - s[start] for s in stamps if s.get(end) and s.get(start)), "us", 1e-3)
    for name, end in PEER_TOTALS:
        out[name] = summarize((s[end] - s["ws_recv_ns"] for s in stamps if s[end]), "us", 1e-3)
    return out


def comparison(peer: dict, polyarb: dict) -> dict:
    """Peer / polyarb for WS frame → POST bytes at the venue (p50, p99): the target is >= 3."""
    a, b = peer.get("ws_to_post_at_venue") or {}, polyarb.get("ws_to_post_at_venue") or {}
    return {q: ratio(a.get(q), b.get(q)) for q in ("p50", "p99")}


def counter_deltas(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: v - before.get(k, 0.0) for k, v in after.items() if k.startswith(COUNTERS) and v - before.get(k, 0.0)}


def counter(deltas: dict[str, float], name: str) -> float:
    """The sum over labels of one counter's delta."""
    return sum(v for k, v in deltas.items() if k == name or k.startswith(name + "{"))


# -- the harness -----------------------------------------------------------------------------------------


@dataclass
class MacroRun:
    plan: Plan
    pipeline: Pipeline
    started: float = field(default_factory=time.monotonic)
    results: dict = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    probe: TobProbe | None = None
    trades: TradeFeed | None = None

    def time_left(self) -> float:
        return self.plan.deadline_s - (time.monotonic() - self.started)

    async def metrics(self) -> dict[str, float]:
        merged: dict[str, float] = {}
        for name in ("ingest", "engine", "executor"):
            for key, value in (await self.pipeline.metrics(name)).items():
                merged[key] = merged.get(key, 0.0) + value  # each counter lives in one service
        return merged

    async def settle(self) -> dict:
        """Wait until ingest reads no more frames and the engine evaluates no more updates (a backlog
        left in socket buffers by a step beyond capacity): how long that took, and whether it ended."""
        started, max_s = time.monotonic(), self.plan.settle_max_s
        names = ("polyarb_ws_messages_total", "polyarb_evaluations_total")
        last, quiet = None, 0
        while time.monotonic() - started < max_s:
            metrics = await self.metrics()
            now = tuple(metrics.get(n, 0.0) for n in names)
            # PONGs (one per connection every 10 s) and the venue's own frames are not a backlog
            calm = last is not None and now[0] - last[0] <= 20 and now[1] - last[1] <= 8
            quiet = quiet + 1 if calm else 0
            if quiet >= 2:
                return {"drain_after_s": time.monotonic() - started, "drained": True}
            last = now
            await asyncio.sleep(0.25)
        return {"drain_after_s": time.monotonic() - started, "drained": False}

    def rss(self) -> dict[str, float | None]:
        return {name: rss_mb(pid) for name, pid in self.pipeline.pids().items()}

    async def loaded(self, rate: float, seconds: float, markets_per_frame: int = 1) -> dict:
        """One bounded load step with counters and CPU around it."""
        window = CpuWindow(self.pipeline.pids())
        before = await self.metrics()
        window.start()
        source = await asyncio.wait_for(self.pipeline.load(rate, seconds, markets_per_frame), seconds + 30)
        cpu = window.stop()
        deltas = counter_deltas(before, await self.metrics())
        elapsed = source["elapsed_s"] or seconds
        updates_offered = source["sent_frames"] * markets_per_frame * 2
        return {
            "source": source,
            "cpu": cpu,
            "counters": deltas,
            "ws_frames_per_s": counter(deltas, "polyarb_ws_messages_total") / elapsed,
            "tob_updates_per_s": counter(deltas, "polyarb_tob_updates_total") / elapsed,
            "engine_updates_per_s": counter(deltas, "polyarb_evaluations_total") / elapsed,
            "offered_updates_per_s": updates_offered / elapsed,
            "conflated": counter(deltas, "polyarb_conflated_total"),
        }

    # -- phases ---------------------------------------------------------------------------------

    async def scaling(self, tokens: int) -> dict:
        pushed = await self.pipeline.push_structure(tokens)
        await asyncio.sleep(1.0)
        idle = self.rss()
        step = await self.loaded(1000, self.plan.scaling_s)
        step.update(await self.settle())
        frames = counter(step["counters"], "polyarb_ws_messages_total")
        updates = counter(step["counters"], "polyarb_evaluations_total")
        cpu = step["cpu"]["cpu_s"]
        return {
            **pushed,
            "rss_idle_mb": idle,
            "rss_loaded_mb": self.rss(),
            "load": step,
            "ingest_cpu_us_per_frame": ratio((cpu.get("ingest") or 0) * 1e6, frames),
            "engine_cpu_us_per_update": ratio((cpu.get("engine") or 0) * 1e6, updates),
            "engine_cpu_us_per_frame": ratio((cpu.get("engine") or 0) * 1e6, frames),
        }

    async def latency(self, rate: int, probe: TobProbe, trades: TradeFeed) -> dict:
        instances = [t["id"] for t in self.pipeline.venue_structure.get("trios", [])] + [
            s["id"] for s in self.pipeline.venue_structure.get("sets", [])]
        injected = {"ok": 0, "refused": 0}
        stop = asyncio.Event()

        async def inject() -> None:
            k = 0
            while not stop.is_set():
                try:
                    await self.pipeline.venue("/admin/arbitrage", {"instance_id": instances[k % len(instances)],
                                                                   "gap": 0.05, "size": 20, "ttl_s": None})
                    injected["ok"] += 1
                except RuntimeError:
                    injected["refused"] += 1
                k += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.plan.inject_every_s)

        self.pipeline.post_arrivals()  # forget earlier posts
        first_result = len(trades.results)
        probe.samples = []
        injector = asyncio.create_task(inject())
        try:
            step = await self.loaded(rate, self.plan.latency_s)
        finally:
            stop.set()
            await injector
        step.update(await self.settle())  # also lets the last injected trades finish
        samples, probe.samples = probe.samples, None
        arrivals = self.pipeline.post_arrivals()
        results = trades.results[first_result:]
        stamps = trace_stamps(results, arrivals)
        outcomes: dict[str, int] = {}
        for result in results:
            name = executor_pb2.Outcome.Name(result.outcome).removeprefix("OUTCOME_").lower()
            outcomes[name] = outcomes.get(name, 0) + 1
        return {
            "offered_fps": step["source"]["offered_fps"],
            **step,
            "probe": probe.summary(samples),
            "trace": trace_summary(stamps),
            "trades": {"injected": injected["ok"], "inject_refused": injected["refused"], "results": len(results),
                       "traced": len(stamps), "outcomes": outcomes, "posts_seen_by_tap": len(arrivals)},
            "_raw": {"stamps": stamps, "probe": samples},  # for the plots; not written to latest.json
        }

    async def compare_peer(self) -> dict:
        """The same-run comparison with the peer bot (module docstring: alternating blocks)."""
        plan, pipeline, trades = self.plan, self.pipeline, self.trades
        serving = await pipeline.fund_peer()
        trios = [t["id"] for t in pipeline.venue_structure.get("trios", [])]
        injected = {"polyarb": 0, "peer": 0, "refused": 0}
        engine = pipeline.engine()
        config = engine_pb2.EngineConfig()
        config.CopyFrom((await engine.GetStatus(engine_pb2.GetEngineStatusRequest(), timeout=10)).config)

        async def arm(who: str) -> None:
            config.trio = who == "polyarb"
            await engine.UpdateConfig(config, timeout=10)
            await asyncio.to_thread(pipeline.command, "peer_bot", {"cmd": "arm", "armed": who == "peer"})

        pipeline.post_arrivals()  # forget earlier posts
        first_result = len(trades.results)
        k = 0
        try:
            for block in range(plan.peer_blocks):
                for who in (("polyarb", "peer") if block % 2 == 0 else ("peer", "polyarb")):
                    await arm(who)
                    await asyncio.sleep(0.3)
                    end = time.monotonic() + plan.peer_block_s
                    while time.monotonic() < end:
                        try:
                            await pipeline.venue("/admin/arbitrage", {"instance_id": trios[k % len(trios)],
                                                                      "gap": 0.05, "size": 20, "ttl_s": None})
                            injected[who] += 1
                        except RuntimeError:
                            injected["refused"] += 1
                        k += 1
                        await asyncio.sleep(plan.peer_inject_every_s)
                    await asyncio.sleep(0.5)  # the last batch answered before the other bot's turn
        finally:
            with contextlib.suppress(Exception):
                config.trio = True
                await engine.UpdateConfig(config, timeout=10)
            peer_trades = await asyncio.to_thread(pipeline.command, "peer_bot", {"cmd": "trades"})
            peer_arrivals = (await asyncio.to_thread(pipeline.command, "peer_tap", {"cmd": "posts"}))["arrivals_ns"]
            await asyncio.to_thread(pipeline.stop_peer)
        polyarb_stamps = trace_stamps(trades.results[first_result:], pipeline.post_arrivals())
        peer_stamps = match_arrivals(peer_trades["trades"], peer_arrivals)
        polyarb, peer = trace_summary(polyarb_stamps), peer_summary(peer_stamps)
        return {
            "method": "alternating blocks, both subscribed to the same venue throughout; trios only",
            "synthetic_tokens": len(pipeline.synthetic_tokens),
            "trios": len(trios),
            "inject_every_s": plan.peer_inject_every_s,
            "peer": peer,
            "polyarb": polyarb,
            "ratio": comparison(peer, polyarb),
            "trades": {"injected": injected, "peer_batches": len(peer_stamps),
                       "peer_batches_filled": sum(1 for s in peer_stamps if s.get("legs_ok") == 3),
                       "peer_errors": sorted({s["error"] for s in peer_stamps if s.get("error")})[:3],
                       "peer_frames": peer_trades.get("frames"), "polyarb_traced": len(polyarb_stamps),
                       "peer_address": serving.get("address")},
            "_raw": {"peer": peer_stamps, "polyarb": polyarb_stamps},
        }

    async def throughput(self) -> dict:
        shapes = {}
        for markets_per_frame, rates in self.plan.ramp.items():
            steps, failures = [], 0
            for rate in rates:
                if failures >= 2:
                    break  # two steps past the limit say enough
                if self.time_left() < self.plan.ramp_s + 6:
                    self.skipped.append(f"throughput {markets_per_frame}x{rate}")
                    continue
                step = await self.loaded(rate, self.plan.ramp_s, markets_per_frame)
                step.update(await self.settle())
                step["offered_fps"] = step["source"]["offered_fps"]
                step["sustained"] = (step["conflated"] == 0 and step["source"]["skipped"] == 0
                                     and step["engine_updates_per_s"] >= 0.95 * step["offered_updates_per_s"])
                failures += 0 if step["sustained"] else 1
                steps.append(step)
            sustained = [s for s in steps if s["sustained"]]
            best = max(sustained, key=lambda s: s["engine_updates_per_s"], default=None)
            shapes[str(markets_per_frame)] = {
                "markets_per_frame": markets_per_frame,
                "updates_per_frame": 2 * markets_per_frame,
                "steps": steps,
                "max_sustained_updates_per_s": best["engine_updates_per_s"] if best else None,
                "max_sustained_frames_per_s": best["ws_frames_per_s"] if best else None,
                "first_conflation_offered_updates_per_s": next(
                    (s["offered_updates_per_s"] for s in steps if s["conflated"] > 0), None),
            }
        return shapes


async def _phases(macro: MacroRun) -> None:
    plan, pipeline, results = macro.plan, macro.pipeline, macro.results
    scaling, latency = results["scaling"], results["latency"]
    pipeline.start()  # in this thread: PR_SET_PDEATHSIG follows the thread that forked the child
    results["start_s"] = time.monotonic() - macro.started
    await pipeline.enable_trading()
    macro.trades = TradeFeed(pipeline)
    await macro.trades.start()
    for tokens in [n for n in plan.scaling_tokens if n <= plan.latency_tokens]:
        scaling[str(tokens)] = await macro.scaling(tokens)
    if str(plan.latency_tokens) not in scaling:
        await pipeline.push_structure(plan.latency_tokens)
    if plan.peer_blocks:
        await macro.settle()
        results["peer"] = await macro.compare_peer()
    results["throughput"] = await macro.throughput()  # before the latency runs: their backlogs are longer
    loaded_markets = len(pipeline.synthetic_tokens) // 2
    macro.probe = TobProbe(pipeline, [t for i in range(0, loaded_markets, PROBE_EVERY)
                                      for t in pipeline.synthetic_tokens[2 * i:2 * i + 2]])
    await macro.probe.start()
    await asyncio.sleep(0.5)
    for rate in RATES:
        if macro.time_left() < plan.latency_s + 5:
            macro.skipped.append(f"latency {rate}")
            continue
        latency[str(rate)] = await macro.latency(rate, macro.probe, macro.trades)
    await macro.probe.stop()
    for tokens in [n for n in plan.scaling_tokens if n > plan.latency_tokens]:
        if macro.time_left() < plan.scaling_s + 30:
            macro.skipped.append(f"scaling {tokens}")
            continue
        scaling[str(tokens)] = await macro.scaling(tokens)
    pipeline.check_alive()


async def _run(plan: Plan, run_dir: pathlib.Path) -> dict:
    pipeline = Pipeline(run_dir, with_peer=plan.peer_blocks > 0)
    macro = MacroRun(plan, pipeline)
    macro.results.update(scaling={}, latency={}, throughput={})
    try:
        await _phases(macro)
    except Exception as exc:  # keep what was measured; the caller reports the error and fails
        macro.results["error"] = "".join(traceback.format_exception(exc))[-3000:]
    finally:
        for observer in (macro.probe, macro.trades):
            if observer is not None:
                with contextlib.suppress(Exception):
                    await observer.stop()
        await pipeline.close()
        await asyncio.to_thread(pipeline.stop)
    macro.results["skipped"] = macro.skipped
    macro.results["duration_s"] = time.monotonic() - macro.started
    macro.results["plan"] = {"scaling_tokens": plan.scaling_tokens, "scaling_s": plan.scaling_s,
                             "latency_tokens": plan.latency_tokens, "latency_s": plan.latency_s,
                             "inject_every_s": plan.inject_every_s, "ramp_s": plan.ramp_s,
                             "settle_max_s": plan.settle_max_s,
                             "ramp": {str(k): v for k, v in plan.ramp.items()},
                             "probe_every_markets": PROBE_EVERY, "scaling_rate_fps": 1000,
                             "peer_blocks": plan.peer_blocks, "peer_block_s": plan.peer_block_s,
                             "peer_inject_every_s": plan.peer_inject_every_s}
    return macro.results


def run(quick: bool = False, run_dir: pathlib.Path | None = None) -> dict:
    with tempfile.TemporaryDirectory(prefix="polyarb-bench-") as tmp:
        return asyncio.run(_run(QUICK if quick else FULL, run_dir or pathlib.Path(tmp)))


async def _run_peer_only(plan: Plan, run_dir: pathlib.Path, tokens: int) -> dict:
    """Only the same-run comparison with the peer bot: the pipeline at `tokens` synthetic tokens, no load."""
    pipeline = Pipeline(run_dir, with_peer=True)
    macro = MacroRun(plan, pipeline)
    try:
        pipeline.start()
        await pipeline.enable_trading()
        macro.trades = TradeFeed(pipeline)
        await macro.trades.start()
        await pipeline.push_structure(tokens)
        await macro.settle()
        return await macro.compare_peer()
    finally:
        if macro.trades is not None:
            with contextlib.suppress(Exception):
                await macro.trades.stop()
        await pipeline.close()
        await asyncio.to_thread(pipeline.stop)


def main() -> None:
    """``python -m bench.bench_macro --peer-only``: the peer comparison alone (about 15 s per block pair
    plus start-up), for A/B runs while the hot path changes; ``make bench`` runs it with everything else."""
    import argparse
    import os

    from bench import report

    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument("--peer-only", action="store_true", required=True)
    parser.add_argument("--blocks", type=int, default=FULL.peer_blocks, help="blocks per bot")
    parser.add_argument("--block-s", type=float, default=FULL.peer_block_s)
    parser.add_argument("--tokens", type=int, default=1000, help="synthetic tokens subscribed besides the venue's")
    parser.add_argument("--out", default=None, help="also write the result as JSON here")
    args = parser.parse_args()
    plan = Plan(scaling_tokens=(), scaling_s=0.0, latency_tokens=args.tokens, latency_s=0.0, inject_every_s=0.1,
                ramp={}, ramp_s=0.0, settle_max_s=15.0, deadline_s=600.0, peer_blocks=args.blocks,
                peer_block_s=args.block_s)
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="polyarb-peer-") as tmp:
        result = asyncio.run(_run_peer_only(plan, pathlib.Path(tmp), args.tokens))
    print("\n".join(report.stage_lines({"macro": {"peer": result}})))
    rates = result["ratio"]
    print(f"peer / polyarb, WS frame → POST bytes at the venue: p50 {rates['p50'] or 0:.2f}x, "
          f"p99 {rates['p99'] or 0:.2f}x (target >= 3x); trades {result['trades']['injected']}; "
          f"load average {load[0]:.2f} → {os.getloadavg()[0]:.2f}")
    if args.out:
        report.write_json(pathlib.Path(args.out), {"load": {"start": list(load), "end": list(os.getloadavg())},
                                                   "peer": result})


if __name__ == "__main__":
    main()
