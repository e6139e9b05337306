"""Engine's Prometheus metrics (names fixed by CONTRACT.md).

Label values are declared beside their metric (polyarb.runtime.metrics.declare) so that every series
exists, at 0, from the first scrape; tests/deploy/test_declared_labels.py checks them against the code.
"""

from prometheus_client import Counter, Gauge, Histogram

from polyarb.runtime.metrics import declare, declare_error_kinds
from polyarb.v1 import executor_pb2

EVALUATIONS = Counter("polyarb_evaluations_total", "Top-of-book changes evaluated")
SIGNALS = Counter("polyarb_signals_total", "Signals sent to the executor", ["strategy"])
STRATEGIES = declare(SIGNALS, (name.removeprefix("STRATEGY_").lower()
                               for name, value in executor_pb2.Strategy.items() if value))
EVAL_SECONDS = Histogram(
    "polyarb_eval_seconds",
    "Evaluation time of one top-of-book batch (one WebSocket frame)",
    buckets=(2e-6, 5e-6, 10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 5e-3),
)
SIGNALS_SKIPPED = Counter("polyarb_signals_skipped_total", "Signals the executor answered with a skip", ["reason"])
# The executor's deny reasons (executor_svc/deny.py DenyReason, which this service may not import),
# and "unspecified" for a skip without a reason; the test fails when the two lists part.
SKIP_REASONS = declare(SIGNALS_SKIPPED, (
    "trading_disabled", "circuit_open", "bad_signal", "too_many_legs", "off_tick", "signal_too_old", "in_flight",
    "outcome_unknown", "below_min_notional", "balance_unknown", "allowance",
    "duplicate_signal", "unprofitable", "below_min_size", "inventory_short", "collateral_short", "exposure_cap",
    "unspecified",
))
SIGNALS_DROPPED = Counter("polyarb_signals_dropped_total", "Signals not sent: the executor stream was down")
PEER_CONNECTED = Gauge("polyarb_peer_connected", "1 while the stream to a peer is up", ["peer"])
PEERS = declare(PEER_CONNECTED, ("ingest", "executor"))  # peers.IngestLink.name, peers.ExecutorLink.name
STALE_TOKENS = Gauge("polyarb_engine_stale_tokens", "Structure tokens whose top of book is stale or unseen")

ERROR_KINDS = declare_error_kinds("engine", (
    "bad_structure", "bad_config",  # service.py: a refused UpdateMarketStructure / UpdateConfig
    "ingest_link", "executor_link", "executor_status",  # peers.py: f"{link.name}_link", the balance poll
    "structure_file", "bad_structure_file",  # structure_file.py: --structure-file unreadable / refused
))
STRUCTURE_FILE_LOADS = Counter("polyarb_structure_file_loads_total",
                               "Changes of --structure-file seen while running, by result", ["result"])
STRUCTURE_FILE_RESULTS = declare(STRUCTURE_FILE_LOADS, ("applied", "refused"))  # structure_file.py
