"""Executor's Prometheus metrics (names fixed by CONTRACT.md).

Label values are declared beside their metric (polyarb.runtime.metrics.declare) so that every series
exists, at 0, from the first scrape; tests/deploy/test_declared_labels.py checks them against the code.
"""

from prometheus_client import Counter, Gauge, Histogram

from executor_svc.deny import DenyReason
from polyarb.runtime.metrics import declare, declare_error_kinds
from polyarb.v1 import executor_pb2

_FAST = (10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3)
_HTTP = (1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1.0, 2.5, 5.0)
# frame → POST: 0.1 s is the alert's p99 budget (deploy/prometheus/polyarb-rules.yaml), so it is a bound
_FRAME_TO_POST = (1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 75e-3, 100e-3, 150e-3, 250e-3, 500e-3, 1.0, 2.5)

SIGNALS_RECEIVED = Counter("polyarb_signals_received_total", "Signals received from the engine")
SIGNALS_DENIED = Counter("polyarb_signals_denied_total", "Signals denied before signing", ["reason"])
# every DenyReason, and "internal": a bug caught while planning (the ack says bad_signal)
DENY_REASONS = declare(SIGNALS_DENIED, (*(str(reason) for reason in DenyReason), "internal"))
ORDERS_POSTED = Counter("polyarb_orders_posted_total", "Signed orders sent to the CLOB (dry-run: none)")
TRADE_RESULTS = Counter("polyarb_trade_results_total", "Trade results journaled", ["outcome"])
OUTCOMES = declare(TRADE_RESULTS, (name.removeprefix("OUTCOME_").lower()
                                   for name, value in executor_pb2.Outcome.items() if value))
SIGN_SECONDS = Histogram("polyarb_sign_seconds", "Building and signing all orders of one signal", buckets=_FAST)
POST_SECONDS = Histogram("polyarb_post_seconds", "POST /orders round trip", buckets=_HTTP)
FRAME_TO_POST_SECONDS = Histogram("polyarb_frame_to_post_seconds",
                                  "WebSocket frame received at ingest → its orders' POST sent", buckets=_FRAME_TO_POST)
TRADING_ENABLED = Gauge("polyarb_trading_enabled", "1 while trading is enabled")
CIRCUIT_OPEN = Gauge("polyarb_circuit_open", "1 while the circuit breaker is open")
RECONCILED = Counter("polyarb_reconciled_total", "Unknown orders resolved by asking the venue", ["status"])
EXPOSURE = Gauge("polyarb_exposure_pusd", "pUSD reserved by open results: the figure max_exposure caps")
POSITION_SHARES = Gauge("polyarb_position_shares", "Shares held per token from the journal's fills (the largest "
                        "positions only: executor_svc.portfolio_feed.POSITION_SERIES)", ["token"])
EXPECTED_PNL = Gauge("polyarb_expected_pnl_pusd_total", "Expected PnL of the journal's results per strategy, pUSD "
                     "(a gauge: it can fall)", ["strategy"])
REALIZED_PNL = Gauge("polyarb_realized_pnl_pusd", "Realized PnL per strategy, pUSD (sales closing bought shares)",
                     ["strategy"])
# the strategies a journaled result can carry (portfolio_feed names them as the engine does)
STRATEGIES = tuple(name.removeprefix("STRATEGY_").lower() for name, value in executor_pb2.Strategy.items() if value)
declare(EXPECTED_PNL, STRATEGIES)
declare(REALIZED_PNL, STRATEGIES)
RECONCILED_STATUSES = declare(RECONCILED, ("filled", "partial", "rejected"))  # what reconcile.outcome_for gives
UNKNOWN_OUTCOMES = Gauge("polyarb_unknown_outcomes",
                         "Batches whose outcome is unknown and not yet settled by reconciliation")
UNKNOWN_OUTCOME_OLDEST_SECONDS = Gauge("polyarb_unknown_outcome_oldest_seconds",
                                       "Age of the oldest unsettled unknown batch, 0 when none")
BALANCE_AGE_SECONDS = Gauge(
    "polyarb_balance_age_seconds",
    "Seconds since the executor's collateral figure was last confirmed by the CLOB balance poll",
)

ERROR_KINDS = declare_error_kinds("executor", (
    "signal_stream", "bad_balance", "bad_config", "journal",  # service.py
    "plan", "reserve", "execution", "circuit_open", "reconcile",  # execution.py
    "journal_corrupt_row",  # journal.py
    "portfolio",  # portfolio_feed.py
    "balance_poll",  # balance.py: GET /balance-allowance failed
))
# issue 16: the collateral the executor sizes with (executor_svc/balance.py; BALANCE_AGE_SECONDS above)
BALANCE_COLLATERAL = Gauge("polyarb_balance_collateral", "pUSD: sizing = the figure in force, clob = the CLOB's, "
                           "pushed = the last UpdateBalance's (each less what was spent since)", ["figure"])
BALANCE_FIGURES = declare(BALANCE_COLLATERAL, ("sizing", "clob", "pushed"))
BALANCE_SOURCE = Gauge("polyarb_balance_source", "1 for the source of the figure in force (pushed, clob, unknown)",
                       ["source"])
BALANCE_SOURCES = declare(BALANCE_SOURCE, ("pushed", "clob", "unknown"))
BALANCE_POLLS = Counter("polyarb_balance_polls_total", "GET /balance-allowance polls by result (ok, failed)",
                        ["result"])
BALANCE_POLL_RESULTS = declare(BALANCE_POLLS, ("ok", "failed"))
