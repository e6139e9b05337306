"""Ingest hot path: microseconds per WebSocket frame, parse + apply to the books, per parser backend.

Cases (frames are bytes, as ws_pool reads them with ``recv(decode=False)``):
- ``price_change/<backend>``: a current-schema ``price_change`` with two entries (a YES bid and the
  mirrored NO ask, polymarket-protocol.md §1.2), parsed and applied; 1,000 distinct frames cycle
  so that levels are added, resized and removed (about a quarter are removals);
- ``book_30x30/<backend>``: a ``book`` snapshot of 30 bids and 30 asks, parsed and applied;
- ``apply/price_change`` and ``apply/book_30x30``: the book update alone, on already parsed events.

Every call is timed alone with perf_counter_ns (which adds ~0.1 µs to each figure), after a
warm-up. The garbage collector stays ENABLED, as in the service, so p99 includes collections; the
table header prints how many ran. Backends run side by side in the same process, interleaved in
chunks of 500 calls, so a busy machine slows them alike.

``.venv/bin/python -m bench.bench_parse`` prints a table; ``run(quick=True)`` is a short run.
"""

import gc
import json
import random
import time
from collections.abc import Callable

from bench.stats import summarize
from ingest_svc.book import Books
from ingest_svc.parse import BACKENDS, make_parser

YES = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
NO = "52114319501245915516055106046884209969926127482827954674443846427813813222426"
MARKET = "0x5f65177b394277fd294cd75650044e32ba009a95022d88a0c1d565897d72f8f1"


def _price_change_frames(n: int, seed: int = 11) -> list[bytes]:
    rng = random.Random(seed)
    frames = []
    for i in range(n):
        price = rng.randrange(40, 60) / 100  # around the top of a 0.01-tick book
        size = "0" if rng.random() < 0.25 else f"{rng.uniform(1, 5000):.2f}"
        frame = {
            "market": MARKET,
            "price_changes": [
                {"asset_id": YES, "price": f"{price:.2f}", "size": size, "side": "BUY",
                 "hash": f"{i:040x}", "best_bid": "0.5", "best_ask": "0.51"},
                {"asset_id": NO, "price": f"{1 - price:.2f}", "size": size, "side": "SELL",
                 "hash": f"{i + n:040x}", "best_bid": "0.49", "best_ask": "0.5"},
            ],
            "timestamp": str(1786728438403 + i),
            "event_type": "price_change",
        }
        frames.append(json.dumps(frame, separators=(",", ":")).encode())
    return frames


def _book_frames(n: int, depth: int = 30, seed: int = 12) -> list[bytes]:
    # Bids ascending and asks descending, best last, as the venue sends them (§1.2).
    rng = random.Random(seed)
    frames = []
    for i in range(n):
        bids = [_level(0.20 + 0.01 * k, rng) for k in range(depth)]
        asks = [_level(0.80 - 0.01 * k, rng) for k in range(depth)]
        frame = {
            "market": MARKET, "asset_id": YES, "timestamp": str(1786728432337 + i),
            "hash": f"{i:040x}", "bids": bids, "asks": asks, "tick_size": "0.01",
            "last_trade_price": "0.5", "event_type": "book",
        }
        frames.append(json.dumps(frame, separators=(",", ":")).encode())
    return frames


def _level(price: float, rng: random.Random) -> dict:
    return {"price": f"{price:.2f}", "size": f"{rng.uniform(1, 5000):.2f}"}


def _books() -> Books:
    books = Books()
    books.add(YES)
    books.add(NO)
    return books


def _summary(samples_ns: list[int]) -> dict:
    return summarize(samples_ns, "us", 1e-3)


def _time_side_by_side(steps: dict[str, tuple[Callable, list]], n: int, warmup: int) -> dict[str, list[int]]:
    """Time each step (a callable and its inputs, cycled), interleaved in chunks of 500 calls so
    that a noisy neighbour or a frequency change hits every backend alike."""
    clock = time.perf_counter_ns
    for step, inputs in steps.values():
        for i in range(warmup):
            step(inputs[i % len(inputs)])
    samples: dict[str, list[int]] = {name: [] for name in steps}
    for chunk_start in range(0, n, 500):
        for name, (step, inputs) in steps.items():
            out, k = samples[name], len(inputs)
            for i in range(chunk_start, min(n, chunk_start + 500)):
                item = inputs[i % k]
                start = clock()
                step(item)
                out.append(clock() - start)
    return samples


def _parse_and_apply(parse_frame: Callable, books: Books) -> Callable[[bytes], object]:
    apply_events = books.apply_events

    def step(frame: bytes) -> object:
        events, parse_errors = parse_frame(frame)
        return apply_events(events), parse_errors

    return step


def run(quick: bool = False) -> dict[str, dict]:
    n, warmup = (3_000, 500) if quick else (50_000, 5_000)
    cases = {"price_change": _price_change_frames(1000), "book_30x30": _book_frames(50)}
    results: dict[str, dict] = {}
    for case, frames in cases.items():
        steps: dict[str, tuple[Callable, list]] = {}
        for backend in BACKENDS:
            parse_frame = make_parser(backend)
            events, errors = parse_frame(frames[0])
            assert events and not errors, (backend, errors)
            steps[f"{case}/{backend}"] = (_parse_and_apply(parse_frame, _books()), frames)
        parsed = [make_parser("json")(frame)[0] for frame in frames]
        steps[f"apply/{case}"] = (_books().apply_events, parsed)
        for name, samples in _time_side_by_side(steps, n, warmup).items():
            results[name] = _summary(samples)
    return results


def main() -> None:
    gc.collect()
    before = sum(s["collections"] for s in gc.get_stats())
    start = time.perf_counter()
    results = run()
    elapsed = time.perf_counter() - start
    collections = sum(s["collections"] for s in gc.get_stats()) - before
    print(f"parse + apply per frame; gc enabled ({collections} collections during the run, {elapsed:.1f} s)")
    print(f"{'case':<28}{'p50 µs':>10}{'p99 µs':>10}{'mean µs':>10}{'n':>9}")
    for name, r in results.items():
        print(f"{name:<28}{r['p50']:>10.2f}{r['p99']:>10.2f}{r['mean']:>10.2f}{r['n']:>9}")


if __name__ == "__main__":
    main()
