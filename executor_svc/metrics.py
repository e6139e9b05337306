"""Executor's Prometheus metrics (names fixed by CONTRACT.md)."""

from prometheus_client import Counter, Gauge, Histogram

_FAST = (10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3)
_HTTP = (1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1.0, 2.5, 5.0)

SIGNALS_RECEIVED = Counter("polyarb_signals_received_total", "Signals received from the engine")
SIGNALS_DENIED = Counter("polyarb_signals_denied_total", "Signals denied before signing", ["reason"])
ORDERS_POSTED = Counter("polyarb_orders_posted_total", "Signed orders sent to the CLOB (dry-run: none)")
TRADE_RESULTS = Counter("polyarb_trade_results_total", "Trade results journaled", ["outcome"])
SIGN_SECONDS = Histogram("polyarb_sign_seconds", "Building and signing all orders of one signal", buckets=_FAST)
POST_SECONDS = Histogram("polyarb_post_seconds", "POST /orders round trip", buckets=_HTTP)
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
