"""python -m paper_venue: flags → the paper venue."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Sequence

from polyarb.runtime import config, server
from polyarb.runtime.config import Flag, host_port, non_negative_float, positive_float, positive_int, readable_file

FLAGS = (
    Flag("ws-addr", "market WebSocket listen address HOST:PORT", "127.0.0.1:8765", host_port),
    Flag("http-addr", "CLOB REST listen address HOST:PORT", "127.0.0.1:8766", host_port),
    Flag("scenario", "built-in scenario (ladder, manual) or a path to a recorded file (JSON lines, .gz ok)",
         "ladder"),
    Flag("seed", "random seed of the scenario (same seed, same prices); default: a fresh one", None, int),
    Flag("replay-speed", "replay speed of a recorded file: 1 = original timing, 0 = as fast as possible", 1.0,
         non_negative_float),
    Flag("step-s", "seconds between scenario steps (price moves, injected arbitrages)", 0.25, positive_float),
    Flag("faults", "fault switches at start: a JSON object or a path to a JSON file (see paper_venue/faults.py)",
         None),
    Flag("api-creds-file", "JSON {apiKey, secret, passphrase[, address]} or an array of them: the API keys the "
         "venue accepts (default: the built-in paper-only key, paper_venue.auth.PAPER_CREDS)", None, readable_file),
    Flag("starting-balance", "pUSD a new paper account starts with; 0: accounts start empty", 10_000.0,
         non_negative_float),
    Flag("chain-id", "EIP-712 chain id orders must be signed for", 137, positive_int),
)


def main(argv: Sequence[str] | None = None) -> None:
    args, token = server.prepare(
        "paper_venue", "paper_venue", "Local Polymarket stand-in: market WebSocket + CLOB REST.", FLAGS, argv
    )
    from paper_venue.auth import parse_creds

    if args.api_creds_file is not None:
        try:
            args.api_keys = parse_creds(json.loads(pathlib.Path(args.api_creds_file).read_text()))
        except (OSError, ValueError) as exc:
            config.fail("paper_venue", f"bad --api-creds-file: {exc}")
    else:
        args.api_keys = None
    args.fault_settings = _faults(args.faults)
    if args.scenario not in ("ladder", "manual") and not pathlib.Path(args.scenario).is_file():
        config.fail("paper_venue", f"--scenario: not a built-in scenario (ladder, manual) nor a file: {args.scenario}")
    from paper_venue.service import build_app

    server.run(lambda: build_app(args, token), args, token)


def _faults(text: str | None) -> dict | None:
    if not text:
        return None
    try:
        raw = text if text.lstrip().startswith("{") else pathlib.Path(text).read_text()
        settings = json.loads(raw)
        from paper_venue.faults import Faults

        Faults().update(settings)  # validate now: a bad switch exits 2, not at the first order
        return settings
    except (OSError, ValueError) as exc:
        config.fail("paper_venue", f"bad --faults: {exc}")


if __name__ == "__main__":
    main()
