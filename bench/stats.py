"""Distributions → the figures every benchmark reports: p50, p99, p99.9, mean, max and n.

Pure (no clock, no I/O), shared by the micro and macro benchmarks so every figure in
bench/results/latest.json is computed the same way.

Percentiles are nearest-rank on the sorted samples: the value at index ``ceil(q * n) - 1``. With
fewer than 1,000 samples p99.9 is simply the maximum; ``n`` always says how many there were.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence

QUANTILES = {"p50": 0.50, "p99": 0.99, "p99.9": 0.999}


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values; q in [0, 1]. ValueError when empty."""
    if not sorted_values:
        raise ValueError("percentile of no samples")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be in [0, 1], got {q!r}")
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


def summarize(values: Iterable[float], unit: str, scale: float = 1.0) -> dict:
    """{unit, p50, p99, p99.9, mean, max, n} of values x scale (e.g. ns samples, scale 1e-3 → µs).

    No samples gives n = 0 and None for every figure, so a run that measured nothing says so."""
    data = sorted(v * scale for v in values)
    if not data:
        return {"unit": unit, **dict.fromkeys(QUANTILES), "mean": None, "max": None, "n": 0}
    out = {"unit": unit}
    for name, q in QUANTILES.items():
        out[name] = percentile(data, q)
    out["mean"] = statistics.fmean(data)
    out["max"] = data[-1]
    out["n"] = len(data)
    return out


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when either is missing or the denominator is 0."""
    if numerator is None or not denominator:
        return None
    return numerator / denominator
