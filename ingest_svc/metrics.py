"""Ingest's Prometheus metrics (names fixed by CONTRACT.md)."""

from prometheus_client import Counter, Gauge, Histogram

WS_MESSAGES = Counter("polyarb_ws_messages_total", "WebSocket frames received")
WS_RECONNECTS = Counter("polyarb_ws_reconnects_total", "WebSocket reconnects")
WS_CONNECTIONS = Gauge("polyarb_ws_connections", "Open market WebSocket connections")
PARSE_ERRORS = Counter("polyarb_parse_errors_total", "Frames or events skipped as malformed or unknown", ["kind"])
STALE_TOKENS = Gauge("polyarb_book_stale_tokens", "Subscribed tokens whose book may be wrong")
TOB_UPDATES = Counter("polyarb_tob_updates_total", "Top-of-book changes sent to streams")
CONFLATED = Counter("polyarb_conflated_total", "Top-of-book updates overwritten for a slow stream")
LAST_MESSAGE_AGE = Gauge("polyarb_ws_last_message_age_seconds", "Seconds since the last WebSocket frame")
FRAME_TO_SEND = Histogram(
    "polyarb_frame_to_send_seconds",
    "WebSocket frame received → its batch handed to gRPC",
    buckets=(25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 100e-3),
)
