"""python -m engine_svc: flags → the engine service."""

from __future__ import annotations

from collections.abc import Sequence

from polyarb.runtime import config, server, tls
from polyarb.runtime.config import Flag, host_port, readable_file

FLAGS = (
    Flag("ingest-addr", "ingest_svc gRPC address HOST:PORT", "127.0.0.1:50051", host_port),
    Flag("executor-addr", "executor_svc gRPC address HOST:PORT", "127.0.0.1:50053", host_port),
    Flag("peer-tls-ca-file", "PEM CA that ingest's and the executor's certificates are signed by: TLS on both links "
         "(default with --peer-tls-cert-file: the system's roots)", None, readable_file),
    Flag("peer-tls-cert-file", "PEM client certificate the engine presents to ingest and the executor (mutual TLS)",
         None, readable_file),
    Flag("peer-tls-key-file", "PEM private key of --peer-tls-cert-file", None, readable_file),
    Flag("structure-file", "MarketStructure JSON (what `polyarbctl structure push` takes): loaded at start, "
         "re-read when it changes (checked every 2 s); a push by RPC wins until the file changes again", None,
         readable_file),
)


def main(argv: Sequence[str] | None = None) -> None:
    args, token = server.prepare(
        "engine_svc", "engine", "Market structure + top of book → arbitrage signals to the executor.", FLAGS, argv
    )
    try:
        args.peer_tls = tls.load_client_tls(args.peer_tls_ca_file, args.peer_tls_cert_file, args.peer_tls_key_file,
                                            prefix="--peer-tls-")
    except config.ConfigError as exc:
        config.fail("engine_svc", str(exc))
    if args.structure_file is not None:
        from engine_svc.structure import StructureError
        from engine_svc.structure_file import read_structure_file
        from polyarb.runtime.documents import InputError

        try:
            args.initial_structure = read_structure_file(args.structure_file)
        except (InputError, StructureError) as exc:
            config.fail("engine_svc", f"--structure-file: {exc}")
    from engine_svc.service import build_app

    server.run(lambda: build_app(args, token), args, token)


if __name__ == "__main__":
    main()
