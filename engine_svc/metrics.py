"""Engine's Prometheus metrics (names fixed by CONTRACT.md)."""

from prometheus_client import Counter, Gauge, Histogram

EVALUATIONS = Counter("polyarb_evaluations_total", "Top-of-book changes evaluated")
SIGNALS = Counter("polyarb_signals_total", "Signals sent to the executor", ["strategy"])
EVAL_SECONDS = Histogram(
    "polyarb_eval_seconds",
    "Evaluation time of one top-of-book batch (one WebSocket frame)",
    buckets=(2e-6, 5e-6, 10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 5e-3),
)
SIGNALS_SKIPPED = Counter("polyarb_signals_skipped_total", "Signals the executor answered with a skip", ["reason"])
SIGNALS_DROPPED = Counter("polyarb_signals_dropped_total", "Signals not sent: the executor stream was down")
PEER_CONNECTED = Gauge("polyarb_peer_connected", "1 while the stream to a peer is up", ["peer"])
STALE_TOKENS = Gauge("polyarb_engine_stale_tokens", "Structure tokens whose top of book is stale or unseen")
STRUCTURE_FILE_LOADS = Counter("polyarb_structure_file_loads_total",
                               "Changes of --structure-file seen while running, by result", ["result"])
