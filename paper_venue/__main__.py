"""python -m paper_venue: flags → the paper venue."""

from __future__ import annotations

from collections.abc import Sequence

from polyarb.runtime import server
from polyarb.runtime.config import Flag, host_port

FLAGS = (
    Flag("ws-addr", "market WebSocket listen address HOST:PORT", "127.0.0.1:8765", host_port),
    Flag("http-addr", "CLOB REST listen address HOST:PORT", "127.0.0.1:8766", host_port),
    Flag("scenario", "built-in scenario name or a path to a recorded file", "ladder"),
)


def main(argv: Sequence[str] | None = None) -> None:
    args, token = server.prepare(
        "paper_venue", "paper_venue", "Local Polymarket stand-in: market WebSocket + CLOB REST.", FLAGS, argv
    )
    from paper_venue.service import build_app

    server.run(lambda: build_app(args, token), args, token)


if __name__ == "__main__":
    main()
