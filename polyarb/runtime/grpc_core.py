"""gRPC core settings every polyarb process takes before grpc is imported (polyarb/runtime/__init__.py
imports this first).

GRPC_EXPERIMENTS="-event_engine_client,-event_engine_listener": channels and servers use gRPC core's
POSIX iomgr endpoints instead of the EventEngine ones grpcio 1.85 turns on by default. Measured here
(issue 15), three alternating pairs of `python -m bench.bench_macro --peer-only`: one hop
ingest → engine p50 655/622/528 → 521/497/392 µs, engine → executor 628/565/509 → 509/496/422 µs,
WebSocket frame → POST bytes at the venue 3087/2873/2705 → 2738/2606/2347 µs; and five of five pairs
of `python -m bench.bench_hop` faster by 4-30 %. Both stacks are gRPC core's own and pass the
whole suite (TLS, faults, kills). An operator's GRPC_EXPERIMENTS, when set, is kept as it is.
"""

from __future__ import annotations

import os

GRPC_EXPERIMENTS = "-event_engine_client,-event_engine_listener"


def apply(environ: dict | os._Environ = os.environ) -> str:
    """Set the default unless the operator set GRPC_EXPERIMENTS; return what is in force."""
    return environ.setdefault("GRPC_EXPERIMENTS", GRPC_EXPERIMENTS)
