"""The whole hot path in one process, no gRPC: WebSocket frame bytes → POST /orders bytes and headers.

The same pure modules the services run, called back to back, per arbitrage frame:

    parse (simdjson) + Books.apply_events + TopOfBook messages      ingest_svc.parse, ingest_svc.book
    Evaluator.on_batch                                               engine_svc.strategies
    to_signal (with its trace)                                       → "socket → signal"
    plan_trade + ledger reservation                                  executor_svc.plan, executor_svc.ledger
    build_order + OrderSigner.sign per leg                           executor_svc.orders, executor_svc.signing
    order_to_wire + batch_body + l2_headers                          → "socket → POST bytes"

Each timed frame drops one trio's lower-YES ask from 0.50 to 0.40 (legs then sum to 1.90: a signal);
an untimed frame puts it back, the reservation is released, the in-flight mark cleared and what the
signal took given back (nothing was posted), so every timed frame signals. 1,000 tokens are loaded
(167 trios). The garbage collector stays enabled, as in the services. The difference between these
figures and the pipeline's is what the service split (three processes, two gRPC hops, the event
loops) costs.

``run(quick)`` returns {"stages": {...}, "socket_to_signal": ..., "socket_to_post": ..., "profile": [...]}.
"""

from __future__ import annotations

import cProfile
import gc
import json
import pstats
import random
import time

from bench.market_source import synthetic_markets
from bench.stats import summarize
from engine_svc.settings import default_config as engine_defaults
from engine_svc.settings import validate_config
from engine_svc.strategies import Evaluator, to_signal
from engine_svc.structure import compile_structure
from executor_svc.clob_auth import ApiCreds, l2_headers
from executor_svc.ledger import Ledger
from executor_svc.orders import batch_body, build_order, order_to_wire, salt_from
from executor_svc.plan import plan_trade
from executor_svc.settings import default_config as executor_defaults
from executor_svc.signing import OrderSigner
from ingest_svc.book import Books
from ingest_svc.parse import make_parser
from polyarb.v1 import common_pb2, engine_pb2, ingest_pb2

KEY = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")  # public hardhat key
OWNER = "00000000-0000-0000-0000-000000000000"
SECRET = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
TOKENS = 1000
STAGES = ("parse_apply", "tob_messages", "evaluate", "to_signal", "plan_reserve", "sign", "body_headers")


def _market(m: tuple[str, str, str]) -> engine_pb2.Market:
    return engine_pb2.Market(condition_id=m[0], yes_token_id=m[1], no_token_id=m[2], tick_size=0.01,
                             min_order_size=5.0, neg_risk=False, fee_rate_bps=0.0)


def _book(token: str, market: str, bid: float, ask: float) -> dict:
    return {"event_type": "book", "asset_id": token, "market": market, "timestamp": "1786728432337",
            "hash": "0" * 40, "tick_size": "0.01",
            "bids": [{"price": f"{bid - 0.01:.2f}", "size": "500"}, {"price": f"{bid:.2f}", "size": "500"}],
            "asks": [{"price": f"{ask + 0.01:.2f}", "size": "500"}, {"price": f"{ask:.2f}", "size": "500"}]}


def _price_change(market: tuple[str, str, str], yes_ask: float, size: str, ts: int) -> bytes:
    """The lower market's YES ask level and its mirrored NO bid level (protocol 1.2)."""
    entries = [
        {"asset_id": market[1], "price": f"{yes_ask:.2f}", "size": size, "side": "SELL", "hash": "1" * 40,
         "best_bid": "0.49", "best_ask": f"{yes_ask:.2f}"},
        {"asset_id": market[2], "price": f"{1 - yes_ask:.2f}", "size": size, "side": "BUY", "hash": "2" * 40,
         "best_bid": f"{1 - yes_ask:.2f}", "best_ask": "0.51"},
    ]
    return json.dumps({"market": market[0], "price_changes": entries, "timestamp": str(ts),
                       "event_type": "price_change"}, separators=(",", ":")).encode()


class Baseline:
    """Ingest, engine and executor state of one process; `frame_to_post` is the timed path."""

    def __init__(self) -> None:
        trios = -(-TOKENS // 6)
        markets = synthetic_markets(3 * trios)
        structure = engine_pb2.MarketStructure(version=1, trios=[
            engine_pb2.Trio(id=f"trio-{t}", lower=_market(markets[3 * t]), upper=_market(markets[3 * t + 1]),
                            range=_market(markets[3 * t + 2]), lower_bound=100.0 + t, upper_bound=101.0 + t)
            for t in range(trios)])
        config = engine_defaults()
        config.cooldown_ms = 0
        self.evaluator = Evaluator(compile_structure(structure), validate_config(config))
        self.parse = make_parser("simdjson")
        self.books = Books()
        self.lower, upper, rng = markets[0], markets[1], markets[2]
        # trio 0: lower YES 0.50 + upper NO 0.60 + range NO 0.90 = 2.00, no arbitrage until the frame
        quotes = {self.lower[1]: (0.49, 0.50), self.lower[2]: (0.50, 0.51), upper[1]: (0.39, 0.40),
                  upper[2]: (0.59, 0.60), rng[1]: (0.09, 0.10), rng[2]: (0.89, 0.90)}
        snapshot = []
        for market in markets:
            for token in market[1:]:
                self.books.add(token)
                bid, ask = quotes.get(token, (0.08, 0.92))
                snapshot.append(_book(token, market[0], bid, ask))
        events, _ = self.parse(json.dumps(snapshot).encode())
        changed, _ = self.books.apply_events(events)
        for token in changed:
            self.evaluator.on_top_of_book(self._tob(token), time.time_ns())
        self.signer = OrderSigner(KEY, 137)
        self.creds = ApiCreds(OWNER, SECRET, "passphrase")
        self.executor_config = executor_defaults()
        self.ledger = Ledger(collateral=1e9)
        self.rng = random.Random(5)
        self.seq = 0

    def _tob(self, token: str) -> ingest_pb2.TopOfBook:
        return ingest_pb2.TopOfBook(**self.books.top_of_book(token)._asdict())

    def frames(self, n: int) -> list[tuple[bytes, bytes]]:
        ts = 1786728438403
        return [(_price_change(self.lower, 0.40, "100", ts + 2 * i),
                 _price_change(self.lower, 0.40, "0", ts + 2 * i + 1)) for i in range(n)]

    def frame_to_post(self, frame: bytes, marks: list[int]) -> tuple[bytes, dict]:
        """The hot path; appends perf_counter_ns() after each stage to marks."""
        clock = time.perf_counter_ns
        now_ns = time.time_ns()
        events, _ = self.parse(frame)
        changed, _ = self.books.apply_events(events)
        marks.append(clock())
        tobs = [ingest_pb2.TopOfBook(**self.books.top_of_book(t)._asdict()) for t in changed]
        marks.append(clock())
        found = self.evaluator.on_batch(tobs, now_ns)  # the frame whole, as the engine evaluates it
        marks.append(clock())
        self.seq += 1
        trace = common_pb2.Trace(ws_recv_ns=now_ns, ingest_sent_ns=now_ns, engine_recv_ns=now_ns,
                                 signal_sent_ns=time.time_ns())
        signal = to_signal(found[0], f"sig-{self.seq}", trace)
        marks.append(clock())
        plan = plan_trade(signal, self.ledger, self.executor_config, now_ns=time.time_ns(), trading_enabled=True,
                          circuit_open=False, in_flight_instances=())
        self.ledger.reserve(plan.signal_id, plan.collateral, plan.inventory)
        marks.append(clock())
        now_ms = time.time_ns() // 1_000_000
        signer = self.signer
        signed = [signer.sign(build_order(side=leg.venue_side, token_id=leg.token_id, price=leg.price, size=leg.size,
                                          tick_size=leg.tick_size, maker=signer.address, signer=signer.address,
                                          signature_type=0, salt=salt_from(self.rng.random(), now_ms),
                                          timestamp_ms=now_ms), neg_risk=leg.neg_risk)
                  for leg in plan.legs]
        marks.append(clock())
        body = batch_body([order_to_wire(s.order, s.signature, OWNER, plan.order_type) for s in signed])
        headers = l2_headers(self.creds, signer.address, int(time.time()), "POST", "/orders", body)
        marks.append(clock())
        self.ledger.release(plan.signal_id)
        self.evaluator.clear_in_flight(plan.instance_id)
        self.evaluator.give_back(found[0])  # nothing was posted: the legs' sizes are there for the next frame
        return body, headers

    def revert(self, frame: bytes) -> None:
        events, _ = self.parse(frame)
        changed, _ = self.books.apply_events(events)
        for token in changed:
            self.evaluator.on_top_of_book(self._tob(token), time.time_ns())


def run(quick: bool = False) -> dict:
    n, warmup = (300, 50) if quick else (5_000, 300)
    baseline = Baseline()
    frames = baseline.frames(n + warmup)
    clock = time.perf_counter_ns
    for signal_frame, revert_frame in frames[:warmup]:
        baseline.frame_to_post(signal_frame, [])
        baseline.revert(revert_frame)
    samples: dict[str, list[int]] = {name: [] for name in (*STAGES, "socket_to_signal", "socket_to_post")}
    gc_before = sum(s["collections"] for s in gc.get_stats())
    for signal_frame, revert_frame in frames[warmup:]:
        marks = [clock()]
        baseline.frame_to_post(signal_frame, marks)
        for name, start, end in zip(STAGES, marks[:-1], marks[1:], strict=True):
            samples[name].append(end - start)
        samples["socket_to_signal"].append(marks[4] - marks[0])
        samples["socket_to_post"].append(marks[-1] - marks[0])
        baseline.revert(revert_frame)
    collections = sum(s["collections"] for s in gc.get_stats()) - gc_before
    out = {name: summarize(values, "us", 1e-3) for name, values in samples.items()}
    out["gc"] = {"enabled": gc.isenabled(), "collections": collections}
    out["profile"] = _profile(baseline, baseline.frames(200 if quick else 2000))
    out["tokens"] = TOKENS
    out["legs"] = 3
    return out


def _profile(baseline: Baseline, frames: list[tuple[bytes, bytes]], top: int = 12) -> list[dict]:
    """Where the in-process time goes: cProfile of frame_to_post, functions by own time."""
    profiler = cProfile.Profile()
    for signal_frame, revert_frame in frames:
        profiler.enable()
        baseline.frame_to_post(signal_frame, [])
        profiler.disable()
        baseline.revert(revert_frame)
    stats = pstats.Stats(profiler)
    total = sum(v[2] for v in stats.stats.values()) or 1.0
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    return [{"function": f"{_short(pathname)}:{line}({name})", "own_share": own / total,
             "own_us_per_frame": own / len(frames) * 1e6, "calls_per_frame": calls / len(frames)}
            for (pathname, line, name), (_, calls, own, _cum, _callers) in rows]


def _short(pathname: str) -> str:
    """package/module.py of a path, or the built-in's name as cProfile gives it."""
    parts = pathname.replace("\\", "/").split("/")
    return "/".join(parts[-2:]) if len(parts) > 1 else pathname


if __name__ == "__main__":
    results = run()
    for name in (*STAGES, "socket_to_signal", "socket_to_post"):
        r = results[name]
        print(f"{name:<18}{r['p50']:>9.1f}{r['p99']:>9.1f}{r['p99.9']:>9.1f}  µs  n={r['n']}")
    for row in results["profile"]:
        print(f"{row['own_share'] * 100:5.1f}%  {row['own_us_per_frame']:7.1f} µs  {row['function']}")
