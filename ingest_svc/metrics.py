"""Ingest's Prometheus metrics (names fixed by CONTRACT.md).

Label values are declared beside their metric (polyarb.runtime.metrics.declare) so that every series
exists, at 0, from the first scrape; tests/deploy/test_declared_labels.py checks them against the code.
"""

from prometheus_client import Counter, Gauge, Histogram

from polyarb.runtime.metrics import declare, declare_error_kinds

WS_MESSAGES = Counter("polyarb_ws_messages_total", "WebSocket frames received")
WS_RECONNECTS = Counter("polyarb_ws_reconnects_total", "WebSocket reconnects")
WS_CONNECTIONS = Gauge("polyarb_ws_connections", "Open market WebSocket connections")
PARSE_ERRORS = Counter("polyarb_parse_errors_total", "Frames or events skipped as malformed or unknown", ["kind"])
# ParseError kinds: parse.py's (json ... unknown_event) and book.Books' unknown_token
PARSE_ERROR_KINDS = declare(PARSE_ERRORS, ("json", "wrong_type", "missing_field", "bad_number", "bad_value",
                                           "unknown_event", "unknown_token"))
STALE_TOKENS = Gauge("polyarb_book_stale_tokens", "Subscribed tokens whose book may be wrong")
BOOK_TOKENS = Gauge("polyarb_book_tokens", "Subscribed tokens (books kept): what the stale share is a share of")
TOB_UPDATES = Counter("polyarb_tob_updates_total", "Top-of-book changes sent to streams")
CONFLATED = Counter("polyarb_conflated_total", "Top-of-book updates overwritten for a slow stream")
COALESCED = Counter("polyarb_coalesced_frames_total",
                    "Frames sent in one StreamTopOfBook message with earlier frames that had queued up")
LAST_MESSAGE_AGE = Gauge("polyarb_ws_last_message_age_seconds", "Seconds since the last WebSocket frame")
FRAME_TO_SEND = Histogram(
    "polyarb_frame_to_send_seconds",
    "WebSocket frame received → its batch handed to gRPC",
    buckets=(25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 100e-3),
)

ERROR_KINDS = declare_error_kinds("ingest", ("stream_request",))
