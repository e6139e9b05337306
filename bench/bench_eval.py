"""Engine evaluation: microseconds per top-of-book change, with 1 and 1,000 trios loaded.

Cases (each call is timed alone with perf_counter_ns, which adds ~0.05-0.1 µs to every figure):
- `unchanged`: the update repeats the last top of book (the dirty check returns at once);
- `no_signal`: the ask of a trio leg moves, the trio is evaluated and is not profitable;
- `signal`: the ask moves and the trio is profitable; the opportunity is built (cooldown 0; the
  in-flight mark is cleared and what the signal took given back outside the timed call, since the
  engine never re-signals liquidity it took until the venue shows the level anew);
- `to_signal`: building the executor's `Signal` from an opportunity.

`.venv/bin/python -m bench.bench_eval` prints a table; `run(quick=True)` is what `make bench` uses
for a short run.
"""

from __future__ import annotations

import gc
import random
import time

from bench.stats import summarize
from engine_svc.settings import default_config, validate_config
from engine_svc.strategies import Evaluator, to_signal
from engine_svc.structure import compile_structure
from polyarb.v1 import engine_pb2, ingest_pb2


def _market(name: str) -> engine_pb2.Market:
    return engine_pb2.Market(
        condition_id=f"c-{name}", yes_token_id=f"{name}-yes", no_token_id=f"{name}-no",
        tick_size=0.01, min_order_size=5.0, neg_risk=False, fee_rate_bps=0.0,
    )


def _evaluator(instances: int) -> Evaluator:
    trios = [
        engine_pb2.Trio(
            id=f"trio-{i}", lower=_market(f"lo{i}"), upper=_market(f"up{i}"), range=_market(f"rg{i}"),
            lower_bound=100.0 + i, upper_bound=101.0 + i,
        )
        for i in range(instances)
    ]
    config = default_config()
    config.cooldown_ms = 0
    structure = compile_structure(engine_pb2.MarketStructure(version=1, trios=trios))
    ev = Evaluator(structure, validate_config(config))
    for i in range(instances):  # every leg fresh and two-sided; the trio sums to 2.00, no signal
        for token, ask in ((f"lo{i}-yes", 0.50), (f"up{i}-no", 0.60), (f"rg{i}-no", 0.90)):
            ev.on_top_of_book(_tob(token, ask), 0)
    return ev


def _tob(token: str, ask: float) -> ingest_pb2.TopOfBook:
    return ingest_pb2.TopOfBook(
        token_id=token, bid_price=round(ask - 0.01, 2), bid_size=50.0, ask_price=ask, ask_size=40.0,
        tick_size=0.01,
    )


def _summary(samples_ns: list[int]) -> dict:
    return summarize(samples_ns, "us", 1e-3)


def _updates(instances: int, n: int, asks: tuple[float, float]) -> list[ingest_pb2.TopOfBook]:
    # Alternate each trio's lower-YES ask between two values so every update is a real change.
    rng = random.Random(7)
    last: dict[int, float] = {}
    out = []
    for _ in range(n):
        i = rng.randrange(instances)
        ask = asks[1] if last.get(i, 0.50) == asks[0] else asks[0]
        last[i] = ask
        out.append(_tob(f"lo{i}-yes", ask))
    return out


def _time(ev: Evaluator, updates: list[ingest_pb2.TopOfBook], expect_signal: bool) -> list[int]:
    clock = time.perf_counter_ns
    on_top_of_book = ev.on_top_of_book
    samples = []
    now_ns = 1
    gc.disable()  # collections are a process-level matter; measure the evaluation itself
    try:
        for tob in updates:
            now_ns += 1_000_000
            start = clock()
            found = on_top_of_book(tob, now_ns)
            samples.append(clock() - start)
            if expect_signal:
                if not found:
                    raise RuntimeError("expected a signal on every update")
                ev.clear_in_flight(found[0].instance_id)
                ev.give_back(found[0])  # as if it took nothing: the other legs' sizes count again
            else:
                if found:
                    raise RuntimeError("expected no signal")
    finally:
        gc.enable()
    return samples


def run(quick: bool = False) -> dict[str, dict]:
    n = 5_000 if quick else 100_000
    results: dict[str, dict] = {}
    for instances in (1, 1000):
        ev = _evaluator(instances)
        same = [_tob("lo0-yes", 0.50)] * n
        results[f"unchanged/{instances}"] = _summary(_time(ev, same, expect_signal=False))
        quiet = _updates(instances, n, (0.50, 0.51))  # 2.00 / 2.01: not profitable
        results[f"no_signal/{instances}"] = _summary(_time(ev, quiet, expect_signal=False))
        ev = _evaluator(instances)
        loud = _updates(instances, n, (0.40, 0.39))  # 1.90 / 1.89: profitable every time
        results[f"signal/{instances}"] = _summary(_time(ev, loud, expect_signal=True))
    ev = _evaluator(1)
    opportunity = ev.on_top_of_book(_tob("lo0-yes", 0.40), 1)[0]
    samples = []
    for i in range(n):
        start = time.perf_counter_ns()
        to_signal(opportunity, f"sig-{i}")
        samples.append(time.perf_counter_ns() - start)
    results["to_signal"] = _summary(samples)
    return results


def _print(results: dict[str, dict]) -> None:
    print(f"{'case (instances)':<20}{'p50':>9}{'p99':>9}{'mean':>9}{'n':>9}  unit")
    for name, r in results.items():
        print(f"{name:<20}{r['p50']:>9.2f}{r['p99']:>9.2f}{r['mean']:>9.2f}{r['n']:>9}  {r['unit']}")


if __name__ == "__main__":
    _print(run())
