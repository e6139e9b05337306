"""python -m executor_svc: flags → the executor service."""

from __future__ import annotations

from collections.abc import Sequence

from polyarb.runtime import config, server
from polyarb.runtime.config import Flag, readable_file

MODES = ("live", "paper", "dry-run")
POLYMARKET_CLOB = "https://clob.polymarket.com"


def address(text: str) -> str:
    if not (text.startswith("0x") and len(text) == 42 and all(c in "0123456789abcdefABCDEF" for c in text[2:])):
        raise ValueError(f"expected a 0x-prefixed 20-byte address, got {text!r}")
    return text


FLAGS = (
    Flag("mode", "live (the real CLOB), paper (the paper venue) or dry-run (sign, never post)", "dry-run",
         choices=MODES),
    Flag("clob-url", "CLOB REST base URL", POLYMARKET_CLOB),
    Flag("journal", "SQLite trade-result journal", "polyarb-journal.sqlite"),
    Flag("private-key-file", "file with the signing key: 64 hex digits, one line", None, readable_file),
    Flag("api-creds-file", 'JSON file {"apiKey","secret","passphrase"}', None, readable_file),
    Flag("signature-type", "0 EOA, 1 POLY_PROXY, 2 POLY_GNOSIS_SAFE, 3 POLY_1271", "0",
         choices=("0", "1", "2", "3")),
    Flag("funder", "maker address (default: the key's address)", None, address),
    Flag("chain-id", "EVM chain id", 137, config.positive_int),
    Flag("not-found-grace-s", "seconds after a POST of unknown outcome before the venue's 'order not found' "
         "counts as proof it never arrived (the edge may still be queueing it)", 30.0, config.positive_float),
    Flag("balance-poll-s", "seconds between GET /balance-allowance polls in live and paper modes (and at once "
         "after every trade); the executor sizes with min(CLOB balance, last UpdateBalance); 0 turns it off",
         5.0, config.non_negative_float),
)


def main(argv: Sequence[str] | None = None) -> None:
    args, token = server.prepare(
        "executor_svc", "executor", "Signals → validated, signed CLOB V2 orders → journaled trade results.",
        FLAGS, argv,
    )
    from executor_svc.keys import KeyFileError, load_api_credentials, load_signing_key
    from executor_svc.service import build_app

    strict = args.mode == "live"
    try:
        key = load_signing_key(args.private_key_file, strict) if args.private_key_file else None
        creds = load_api_credentials(args.api_creds_file, strict) if args.api_creds_file else None
    except (OSError, KeyFileError) as exc:
        config.fail("executor_svc", str(exc))
    if args.mode in ("live", "paper") and (key is None or creds is None):
        config.fail("executor_svc", f"--mode {args.mode} needs --private-key-file and --api-creds-file")
    if key is not None and args.signature_type == "0" and args.funder and args.funder.lower() != key.address.lower():
        # an EOA order's maker must be the key's own address; the venue would refuse every order
        config.fail("executor_svc", "--signature-type 0 (EOA) needs --funder equal to the key's address, or none")

    server.run(lambda: build_app(args, token, key, creds), args, token)


if __name__ == "__main__":
    main()
