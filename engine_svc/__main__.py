"""python -m engine_svc: flags → the engine service."""

from __future__ import annotations

from collections.abc import Sequence

from polyarb.runtime import server
from polyarb.runtime.config import Flag, host_port

FLAGS = (
    Flag("ingest-addr", "ingest_svc gRPC address HOST:PORT", "127.0.0.1:50051", host_port),
    Flag("executor-addr", "executor_svc gRPC address HOST:PORT", "127.0.0.1:50053", host_port),
)


def main(argv: Sequence[str] | None = None) -> None:
    args, token = server.prepare(
        "engine_svc", "engine", "Market structure + top of book → arbitrage signals to the executor.", FLAGS, argv
    )
    from engine_svc.service import build_app

    server.run(lambda: build_app(args, token), args, token)


if __name__ == "__main__":
    main()
