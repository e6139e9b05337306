"""python -m ingest_svc: flags → the ingest service."""

from __future__ import annotations

from collections.abc import Sequence

from polyarb.runtime import server
from polyarb.runtime.config import Flag, positive_float, positive_int

POLYMARKET_MARKET_WS = "wss://ws-subscriptions-clob.polymarket.com/ws/market"

FLAGS = (
    Flag("ws-url", "market WebSocket URL", POLYMARKET_MARKET_WS),
    Flag("tokens-per-connection", "tokens per WebSocket connection", 50, positive_int),
    Flag("stale-after", "seconds without any frame before a connection is closed and redone", 30.0,
         positive_float),
    Flag("ping-interval", "seconds between text PINGs", 10.0, positive_float),
    Flag("record", "write every raw frame with its receive time to this file (JSON lines, .gz ok)", None),
    Flag("parser", "frame parser backend (simdjson is the default; json and msgspec for comparison)", "simdjson",
         choices=("simdjson", "json", "msgspec")),
)


def main(argv: Sequence[str] | None = None) -> None:
    args, token = server.prepare(
        "ingest_svc", "ingest", "Polymarket market WebSocket → order books → top-of-book stream.", FLAGS, argv
    )
    from ingest_svc.service import build_app

    server.run(lambda: build_app(args, token), args, token)


if __name__ == "__main__":
    main()
