"""polyarbctl (`python -m polyarb.ctl`): the operator's control CLI over the services' gRPC APIs.

Every command is a few RPCs from CONTRACT.md; what to send is built by the pure modules next to this
one (gamma.py, documents.py) and what comes back is shown by render.py. Two commands also speak HTTP
to Polymarket (or the paper venue): `structure sync` reads Gamma's events (sync.py), `creds derive`
gets the CLOB API credentials with L1 auth (creds.py).

Exit status: 0 done; 1 a service could not be reached, refused the request or failed; 2 bad usage or
an unusable input file (nothing was sent); 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import pathlib
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import grpc
from google.protobuf.message import Message

from polyarb.ctl import creds, documents, gamma, render, sync
from polyarb.ctl.atomic_file import write_atomically
from polyarb.ctl.documents import InputError
from polyarb.ctl.results import Cursor, ResultsStalled, follow, read_until
from polyarb.runtime import config
from polyarb.runtime.auth import channel
from polyarb.runtime.tls import ClientTLS, load_client_tls
from polyarb.v1 import (
    engine_pb2,
    engine_pb2_grpc,
    executor_pb2,
    executor_pb2_grpc,
    ingest_pb2,
    ingest_pb2_grpc,
    venue_pb2,
    venue_pb2_grpc,
)

PROG = "polyarbctl"
SERVICES = ("ingest", "engine", "executor", "venue")
# where a service started with its defaults (and `make run`) listens
# polyarb.runtime.server.DEFAULT_PORTS (a test keeps them equal; importing server here would pull in the
# metrics stack and slow every start of the CLI)
DEFAULT_ADDRS = {
    "ingest": "127.0.0.1:50051",
    "engine": "127.0.0.1:50052",
    "executor": "127.0.0.1:50053",
    "venue": "127.0.0.1:50054",
}
STUBS: dict[str, Callable[[Any], Any]] = {
    "ingest": ingest_pb2_grpc.IngestStub,
    "engine": engine_pb2_grpc.EngineStub,
    "executor": executor_pb2_grpc.ExecutorStub,
    "venue": venue_pb2_grpc.PaperVenueStub,
}
STATUS_REQUESTS: dict[str, Callable[[], Message]] = {
    "ingest": ingest_pb2.GetIngestStatusRequest,
    "engine": engine_pb2.GetEngineStatusRequest,
    "executor": executor_pb2.GetExecutorStatusRequest,
    "venue": venue_pb2.GetVenueStatusRequest,
}
CONFIG_TYPES: dict[str, Callable[[], Message]] = {
    "engine": engine_pb2.EngineConfig,
    "executor": executor_pb2.ExecutorConfig,
}


Handler = Callable[["Client", argparse.Namespace], Awaitable[int]]


class CtlError(Exception):
    """A failure to report as one line; exit status 1."""


# -- talking to the services --------------------------------------------------------------------------


def describe_rpc_error(service: str, addr: str, exc: grpc.aio.AioRpcError, token_set: bool, timeout_s: float) -> str:
    code, details = exc.code(), " ".join((exc.details() or "").split())
    if code == grpc.StatusCode.UNAUTHENTICATED:
        if token_set:
            return (f"unauthenticated: {service} at {addr} refused the control token; check "
                    f"{config.TOKEN_ENV} or --control-token-file")
        return (f"unauthenticated: set {config.TOKEN_ENV} (or --control-token-file) to the services' control "
                f"token; {service} at {addr} requires it")
    if code == grpc.StatusCode.UNAVAILABLE:
        return f"cannot reach {service} at {addr}: {details}"
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return f"{service} at {addr} did not answer within {timeout_s:g}s"
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return f"{service} refused: {details}"
    return f"{service} at {addr} failed: {code.name}: {details}"


class Client:
    """Addresses, control token, TLS and timeout: every RPC of one run goes through here."""

    def __init__(self, addrs: dict[str, str], token: str | None, timeout_s: float,
                 tls: ClientTLS | None = None) -> None:
        self.addrs = addrs
        self.token = token
        self.timeout_s = timeout_s
        self.tls = tls

    def describe(self, service: str, exc: grpc.aio.AioRpcError) -> str:
        return describe_rpc_error(service, self.addrs[service], exc, bool(self.token), self.timeout_s)

    @contextlib.asynccontextmanager
    async def stub(self, service: str) -> AsyncIterator[Any]:
        """A stub on a fresh channel; a gRPC failure inside becomes a one-line CtlError."""
        async with channel(self.addrs[service], self.token, self.tls) as open_channel:
            try:
                yield STUBS[service](open_channel)
            except grpc.aio.AioRpcError as exc:
                raise CtlError(self.describe(service, exc)) from None

    async def status(self, service: str) -> Any:
        async with self.stub(service) as stub:
            return await stub.GetStatus(STATUS_REQUESTS[service](), timeout=self.timeout_s)

    async def call(self, service: str, method: str, request: Message) -> Any:
        async with self.stub(service) as stub:
            return await getattr(stub, method)(request, timeout=self.timeout_s)

    async def trade_results(self, from_seq: int) -> AsyncIterator[executor_pb2.TradeResult]:
        """Results after `from_seq`, then live; gRPC errors are raised as they are (the reader decides)."""
        async with channel(self.addrs["executor"], self.token, self.tls) as open_channel:
            call = executor_pb2_grpc.ExecutorStub(open_channel).StreamTradeResults(
                executor_pb2.StreamTradeResultsRequest(from_seq=from_seq)
            )
            async for result in call:
                yield result


# -- output -------------------------------------------------------------------------------------------


def say(line: str = "") -> None:
    print(line, flush=True)


def warn(line: str) -> None:
    print(f"{PROG}: {line}", file=sys.stderr, flush=True)


def say_json(data: Any, indent: int | None = 2) -> None:
    say(json.dumps(data, indent=indent, separators=None if indent else (",", ":")))


# -- commands -----------------------------------------------------------------------------------------


async def cmd_status(client: Client, args: argparse.Namespace) -> int:
    services = args.services or list(SERVICES)

    async def one(service: str) -> tuple[str, Any, str | None]:
        try:
            return service, await client.status(service), None
        except CtlError as exc:
            return service, None, str(exc)

    answers = await asyncio.gather(*(one(s) for s in dict.fromkeys(services)))
    if args.json:
        say_json({s: documents.to_dict(msg) if msg is not None else {"error": err} for s, msg, err in answers})
    else:
        now_ns = time.time_ns()
        for service, msg, err in answers:
            addr = client.addrs[service]
            lines = render.status_lines(service, addr, msg, now_ns) if msg is not None else \
                render.unreachable_lines(service, addr, err or "")
            for line in lines:
                say(line)
    return 1 if any(err for _, _, err in answers) else 0


async def cmd_trading(client: Client, args: argparse.Namespace) -> int:
    enabled = args.command == "enable"
    request = executor_pb2.SetTradingEnabledRequest(enabled=enabled, reason=args.reason)
    state = await client.call("executor", "SetTradingEnabled", request)
    if args.json:
        say_json(documents.to_dict(state))
    else:
        say(render.trading_line(state))
    return 0


async def push_structure(client: Client, structure: engine_pb2.MarketStructure, as_json: bool) -> int:
    response = await client.call("engine", "UpdateMarketStructure", structure)
    if as_json:
        say_json(documents.to_dict(response))
    else:
        say(render.structure_line(response))
    return 0


async def cmd_structure_push(client: Client, args: argparse.Namespace) -> int:
    structure = documents.structure_message(documents.load_document(args.file), str(args.file))
    if args.version is not None:
        structure.version = args.version
    return await push_structure(client, structure, args.json)


def load_gamma_events(path: pathlib.Path) -> list[Any]:
    """A saved `GET /events` answer (a list) or `GET /events/slug/<slug>` answer (one event)."""
    data = documents.load_document(path)
    if isinstance(data, list):
        return data
    if isinstance(data, dict) and "markets" in data:
        return [data]
    raise InputError(f"{path}: expected a list of Gamma events or one event object")


async def cmd_structure_from_gamma(client: Client, args: argparse.Namespace) -> int:
    events = [event for path in args.files for event in load_gamma_events(path)]
    version = args.version
    if version is None:
        # versions only label structures in status and logs; when pushing, make the new one the next
        version = (await client.status("engine")).structure_version + 1 if args.push else 1
    structure, warnings = gamma.structure_from_gamma(events, version)
    for line in warnings:
        warn(f"warning: {line}")
    summary = f"{len(structure.trios)} trio(s), {len(structure.sets)} set(s), version {structure.version}"
    if not structure.trios and not structure.sets:
        if args.push:
            # an empty structure would replace the running one with nothing
            raise CtlError("nothing to push: the events gave no trios and no sets")
        warn("warning: the events gave no trios and no sets")
    text = json.dumps(documents.to_dict(structure), indent=2) + "\n"
    if args.out is not None:
        try:
            args.out.write_text(text)
        except OSError as exc:
            raise InputError(f"cannot write {args.out}: {exc.strerror or exc}") from None
        warn(f"wrote {args.out}: {summary}")
    elif not args.push:
        sys.stdout.write(text)
        sys.stdout.flush()
    if args.push:
        return await push_structure(client, structure, as_json=False)
    return 0


GAMMA_TIMEOUT_S = 30.0  # one page of 500 events is a few MB


@dataclass
class SyncState:
    """What the last good round left: the structure (no version), its version, whether it was pushed."""

    last: engine_pb2.MarketStructure | None = None
    version: int = 0
    pushed: bool = False


def _structure_file_state(path: pathlib.Path | None) -> SyncState:
    """The structure already in --out, so an unchanged one is not rewritten (a broken file: start afresh)."""
    state = SyncState()
    if path is not None and path.exists():
        try:
            state.last = documents.structure_message(documents.load_document(path), str(path))
            state.version = state.last.version
        except InputError as exc:
            warn(f"sync: {exc}; it will be replaced")
    return state


async def sync_round(client: Client, args: argparse.Namespace, get_page: sync.GetPage, state: SyncState) -> None:
    """Read Gamma once; write and push when the structure changed (or was not pushed yet).

    Raises GammaError, CtlError or InputError; `state` changes only with what really happened."""
    events = await sync.fetch_events(get_page, args.gamma_url)
    structure, warnings = gamma.structure_from_gamma(events, 0)
    if args.shard is not None:
        structure = sync.keep_shard(structure, events, args.shard)
    shard = f" in shard {args.shard}" if args.shard is not None else ""
    summary = f"{len(events)} event(s) → {len(structure.trios)} trio(s), {len(structure.sets)} set(s){shard}"
    if warnings:
        # live Gamma lists thousands of events the builder has no use for: the count, and a few
        summary += f"; {len(warnings)} skipped with a warning, e.g. {warnings[0]}"
    if not structure.trios and not structure.sets:
        # an empty structure would replace the running one with nothing (a Gamma hiccup must not do that)
        raise CtlError(f"{summary}: no trios and no sets; nothing written or pushed")
    changed = not sync.same_structure(structure, state.last)
    if not changed and state.pushed and args.push:
        # an engine that restarted (or took another push) runs something else: push ours again
        running = (await client.status("engine")).structure_version
        state.pushed = running == state.version
    if not changed and (state.pushed or not args.push):
        warn(f"sync: {summary}: unchanged (version {state.version})")
        return
    structure.version = state.version + 1 if changed else state.version
    text = json.dumps(documents.to_dict(structure), indent=2) + "\n"
    if changed:
        if args.out is not None:
            try:
                write_atomically(args.out, text)
            except OSError as exc:  # the state stays as it was: the next round writes it again
                raise InputError(f"cannot write {args.out}: {exc.strerror or exc}") from None
            warn(f"sync: {summary}: wrote {args.out} (version {structure.version})")
        state.last, state.version, state.pushed = structure, structure.version, False
    if args.push:
        await push_structure(client, structure, as_json=False)
        state.pushed = True
    elif args.out is None:
        sys.stdout.write(text)
        sys.stdout.flush()


async def cmd_structure_sync(client: Client, args: argparse.Namespace) -> int:
    import aiohttp  # only this command talks HTTP

    state = _structure_file_state(args.out)
    if args.push:
        try:
            state.version = max(state.version, (await client.status("engine")).structure_version)
        except CtlError as exc:
            if args.every is None:
                raise
            warn(f"sync: {exc}; pushing when it answers")
    failures = 0
    async with aiohttp.ClientSession() as session:
        get_page = sync.aiohttp_page_reader(session, GAMMA_TIMEOUT_S)
        while True:
            try:
                await sync_round(client, args, get_page, state)
                failures, delay = 0, args.every
            except (sync.GammaError, CtlError, InputError) as exc:
                if args.every is None:
                    raise CtlError(str(exc)) from None
                failures += 1
                delay = min(args.every, 2.0 ** (failures - 1))  # 1, 2, 4 ... s, at most --every
                kept = f"keeping version {state.version}" if state.last is not None else "no structure yet"
                warn(f"sync failed: {exc}; {kept}; retrying in {delay:g}s")
            if args.every is None:
                return 0
            await asyncio.sleep(delay)


async def _l1_request(session: Any, method: str, url: str, wallet: creds.WalletKey, args: argparse.Namespace) -> Any:
    """One L1-signed request: the parsed answer on 200, None on a 4xx (said on stderr), CtlError otherwise."""
    import aiohttp

    headers = creds.l1_headers(wallet, args.chain_id, int(time.time()), args.nonce)
    try:
        async with session.request(method, url, headers=headers) as response:
            text = await response.text()
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise CtlError(f"{method} {url}: {type(exc).__name__}: {exc}"[:300]) from None
    if status == 200:
        try:
            return json.loads(text)
        except ValueError:
            raise CtlError(f"{method} {url}: the answer is not JSON") from None
    # an error answer holds no secret ({"error": ...}); a success is never echoed
    reason = " ".join(text.split())[:200]
    if 400 <= status < 500:
        warn(f"{method} {url}: HTTP {status}: {reason}")
        return None
    raise CtlError(f"{method} {url}: HTTP {status}: {reason}")


async def cmd_creds_derive(client: Client, args: argparse.Namespace) -> int:
    import aiohttp

    try:
        wallet, warning = creds.load_key(args.private_key_file)
    except creds.CredsError as exc:
        raise InputError(str(exc)) from None
    if warning:
        warn(f"warning: {warning}")
    if args.signature_type == 0 and args.funder and args.funder.lower() != wallet.address.lower():
        raise InputError("--signature-type 0 (EOA) needs --funder equal to the key's address, or none")
    base = args.clob_url.rstrip("/")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=client.timeout_s)) as session:
        answer = await _l1_request(session, "GET", base + creds.DERIVE_PATH, wallet, args)
        if answer is None:  # no key for this address and nonce yet: create it
            answer = await _l1_request(session, "POST", base + creds.CREATE_PATH, wallet, args)
        if answer is None:
            raise CtlError(f"{base}: neither {creds.DERIVE_PATH} nor {creds.CREATE_PATH} gave credentials")
    try:
        found = creds.parse_creds(answer, base)
    except creds.CredsError as exc:
        raise CtlError(str(exc)) from None
    try:
        write_atomically(args.out, json.dumps(found) + "\n", mode=0o600)
    except OSError as exc:
        raise InputError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    funder = args.funder or wallet.address
    warn(f"wrote {args.out} (mode 0600): API credentials of signer {wallet.address} (nonce {args.nonce}); "
         f"the executor trades with them as --signature-type {args.signature_type} --funder {funder}")
    say(found["apiKey"])
    return 0


async def cmd_balance(client: Client, args: argparse.Namespace) -> int:
    if args.balance_command == "set":
        if args.inventory is not None:
            inventory = documents.inventory_map(documents.load_document(args.inventory), str(args.inventory))
        elif args.keep_inventory:
            inventory = dict((await client.status("executor")).balance.inventory)
        else:
            inventory = {}
        request = executor_pb2.UpdateBalanceRequest(collateral=args.collateral, inventory=inventory)
        balance = await client.call("executor", "UpdateBalance", request)
        source: list[str] = []
    else:
        status = await client.status("executor")
        balance, source = status.balance, render.balance_source_lines(status)
    if args.json:
        say_json(documents.to_dict(balance))
    else:
        for line in [*render.balance_lines(balance), *source]:  # where the figure comes from, when shown
            say(line)
    return 0


async def cmd_results(client: Client, args: argparse.Namespace) -> int:
    def emit(result: executor_pb2.TradeResult) -> None:
        if args.json:
            say_json(documents.to_dict(result), indent=None)
        else:
            say(render.result_line(result))

    cursor = Cursor(args.from_seq)
    try:
        if args.follow:
            await follow(client.trade_results, cursor, emit, report=warn)
        else:
            # "what is there": up to the journal's last seq at the moment of asking, then stop
            last_seq = (await client.status("executor")).last_seq
            await read_until(client.trade_results, cursor, last_seq, emit, idle_timeout_s=client.timeout_s)
    except grpc.aio.AioRpcError as exc:
        raise CtlError(client.describe("executor", exc)) from None
    except ResultsStalled as exc:
        raise CtlError(f"executor at {client.addrs['executor']}: {exc}") from None
    return 0


async def cmd_pnl(client: Client, args: argparse.Namespace) -> int:
    portfolio = (await client.status("executor")).portfolio
    if args.json:
        say_json(documents.to_dict(portfolio))
    else:
        for line in render.portfolio_lines(portfolio):
            say(line)
    return 0


async def cmd_config(client: Client, args: argparse.Namespace) -> int:
    service = args.service
    if args.settings:
        documents.apply_settings(CONFIG_TYPES[service](), args.settings)  # usage errors before any RPC
    current = (await client.status(service)).config
    if args.settings:
        # read-modify-write: UpdateConfig replaces the whole config, and the contract has no compare-and-set
        current = await client.call(service, "UpdateConfig", documents.apply_settings(current, args.settings))
    if args.json:
        say_json(documents.to_dict(current))
    else:
        for line in render.config_lines(current):
            say(line)
    return 0


# -- arguments ----------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """Bad usage: one line on stderr, exit 2 (as the services do)."""

    def error(self, message: str) -> NoReturn:
        config.fail(PROG, message)


def _typed(parse: Callable[[str], Any], name: str) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return parse(text)
        except (TypeError, ValueError) as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = name
    return convert


def _service_name(text: str) -> str:
    if text not in SERVICES:
        raise ValueError(f"invalid choice: {text!r} (choose from {', '.join(SERVICES)})")
    return text


def _positive_seconds(text: str) -> float:
    value = config.non_negative_float(text)
    if value <= 0:
        raise ValueError(f"must be > 0, got {text!r}")
    return value


def _address(text: str) -> str:
    if not (text.startswith("0x") and len(text) == 42 and all(c in "0123456789abcdefABCDEF" for c in text[2:])):
        raise ValueError(f"expected a 0x-prefixed 20-byte address, got {text!r}")
    return text


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(f"must be >= 0, got {value}")
    return value


def _add_connection_flags(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """Accepted before and after the command; on the command's parser they override only when given."""

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("connection")
    for service in SERVICES:
        group.add_argument(
            f"--{service}-addr",
            dest=f"{service}_addr",
            metavar="HOST:PORT",
            type=_typed(config.host_port, f"{service}-addr"),
            default=default(DEFAULT_ADDRS[service]),
            help=f"{service} gRPC address (default {DEFAULT_ADDRS[service]})",
        )
    group.add_argument(
        "--control-token-file",
        metavar="PATH",
        type=_typed(config.readable_file, "control-token-file"),
        default=default(None),
        help=f"file holding the control token (else env {config.TOKEN_ENV})",
    )
    for name, what in (("ca", "CA the services' certificates must be signed by (TLS; default: the system's roots "
                              "when --tls-cert-file is given)"),
                       ("cert", "client certificate to present (mutual TLS; with --tls-key-file)"),
                       ("key", "private key of --tls-cert-file")):
        group.add_argument(
            f"--tls-{name}-file",
            dest=f"tls_{name}_file",
            metavar="PATH",
            type=_typed(config.readable_file, f"tls-{name}-file"),
            default=default(None),
            help=f"PEM: {what}; any of the three turns TLS on for every service",
        )
    group.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=_typed(config.positive_float, "timeout"),  # a deadline of 0 fails every call
        default=default(5.0),
        help="deadline of each call (default 5)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Control the polyarb services: status, trading switch, market structure (from a file or from "
        "Gamma), balance, results, pnl, config; derive CLOB API credentials.",
        epilog=f"The control token comes from --control-token-file or env {config.TOKEN_ENV}. Exit status: 0 done, "
        "1 a service was unreachable, refused or failed, 2 bad usage or input file, 130 interrupted.",
    )
    _add_connection_flags(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def leaf(parent: Any, name: str, handler: Handler, help_text: str, json_flag: bool = True) -> _Parser:
        sub = parent.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        _add_connection_flags(sub, suppress=True)
        if json_flag:
            sub.add_argument("--json", action="store_true", help="machine-readable output (proto3 JSON)")
        return sub

    status = leaf(commands, "status", cmd_status, "GetStatus of each service")
    # no `choices=`: with nargs="*" Python 3.11 checks the empty default against them and fails (bpo-9625)
    status.add_argument("services", nargs="*", type=_typed(_service_name, "SERVICE"), metavar="SERVICE",
                        help=f"any of {', '.join(SERVICES)} (default: all)")

    for name, verb in (("enable", "enable"), ("disable", "disable")):
        sub = leaf(commands, name, cmd_trading, f"{verb} trading (executor SetTradingEnabled)")
        sub.add_argument("--reason", default=f"polyarbctl {name}", help="recorded with the switch")

    structure = commands.add_parser("structure", help="push a market structure or build one from Gamma events")
    structure_commands = structure.add_subparsers(dest="structure_command", metavar="SUBCOMMAND", required=True)
    push = leaf(structure_commands, "push", cmd_structure_push,
                "push a MarketStructure file (proto3 JSON shape; .yaml/.yml read as YAML)")
    push.add_argument("file", type=pathlib.Path, metavar="FILE")
    push.add_argument("--version", type=_typed(_non_negative_int, "version"), help="override the file's version")
    from_gamma = leaf(structure_commands, "from-gamma", cmd_structure_from_gamma,
                      "build a MarketStructure from saved Gamma events JSON", json_flag=False)
    from_gamma.add_argument("files", type=pathlib.Path, nargs="+", metavar="FILE",
                            help="GET /events answers (a list) or single events")
    from_gamma.add_argument("--out", type=pathlib.Path, metavar="OUT", help="write the JSON here, not to stdout")
    from_gamma.add_argument("--version", type=_typed(_non_negative_int, "version"),
                            help="structure version (default 1, or the engine's + 1 with --push)")
    from_gamma.add_argument("--push", action="store_true", help="push the result to the engine")
    sync_cmd = leaf(structure_commands, "sync", cmd_structure_sync,
                    "build the structure from Gamma's open events (GET /events, every page)", json_flag=False)
    sync_cmd.add_argument("--gamma-url", default=sync.GAMMA_URL, metavar="URL",
                          help=f"Gamma API base URL (default {sync.GAMMA_URL})")
    sync_cmd.add_argument("--out", type=pathlib.Path, metavar="FILE",
                          help="write the JSON here (temp file + rename); without --out or --push: stdout")
    sync_cmd.add_argument("--push", action="store_true", help="push it to the engine (UpdateMarketStructure)")
    sync_cmd.add_argument("--every", type=_typed(_positive_seconds, "every"), metavar="SECONDS",
                          help="repeat every SECONDS, writing/pushing only a changed structure; Gamma errors "
                          "are logged and retried with backoff, the last good structure stays")
    sync_cmd.add_argument("--shard", type=_typed(sync.parse_shard, "shard"), metavar="I/N",
                          help="keep only the groups of shard I of N (0 <= I < N), by a stable hash of "
                          "the range event's slug (trios) or the event's slug (sets)")

    creds_group = commands.add_parser("creds", help="CLOB API credentials")
    creds_commands = creds_group.add_subparsers(dest="creds_command", metavar="SUBCOMMAND", required=True)
    derive = leaf(creds_commands, "derive", cmd_creds_derive,
                  "derive the wallet's CLOB API credentials (L1 auth: GET /auth/derive-api-key, else POST "
                  "/auth/api-key) into a 0600 JSON file; prints only the apiKey", json_flag=False)
    derive.add_argument("--private-key-file", required=True, type=_typed(config.readable_file, "private-key-file"),
                        metavar="K", help="the wallet's signing key: 64 hex digits, one line")
    derive.add_argument("--clob-url", required=True, metavar="URL", help="CLOB REST base URL")
    derive.add_argument("--out", required=True, type=pathlib.Path, metavar="FILE",
                        help='where {"apiKey","secret","passphrase"} goes (mode 0600, temp file + rename)')
    derive.add_argument("--signature-type", type=int, choices=(0, 1, 2, 3), default=0,
                        help="0 EOA (default), 1 POLY_PROXY, 2 POLY_GNOSIS_SAFE, 3 POLY_1271: the wallet the "
                        "executor will trade from (the API key itself belongs to the signing key)")
    derive.add_argument("--funder", type=_typed(_address, "funder"), metavar="ADDRESS",
                        help="the maker address (default: the key's address; for type 0 it must be)")
    derive.add_argument("--nonce", type=_typed(_non_negative_int, "nonce"), default=0,
                        help="L1 nonce: the same nonce derives the same credentials (default 0)")
    derive.add_argument("--chain-id", type=_typed(config.positive_int, "chain-id"), default=137,
                        help="EIP-712 chain id of the ClobAuth signature (default 137, Polygon)")

    balance = leaf(commands, "balance", cmd_balance, "show the executor's balance, or `balance set` it")
    balance_commands = balance.add_subparsers(dest="balance_command", metavar="SUBCOMMAND")
    balance_set = leaf(balance_commands, "set", cmd_balance,
                       "replace collateral and the whole inventory (UpdateBalance)")
    balance_set.add_argument("--collateral", required=True, type=_typed(config.non_negative_float, "collateral"),
                             help="pUSD")
    held = balance_set.add_mutually_exclusive_group()
    held.add_argument("--inventory", type=pathlib.Path, metavar="FILE",
                      help="JSON/YAML mapping token id -> shares (default: no inventory)")
    held.add_argument("--keep-inventory", action="store_true", help="keep the inventory the executor holds now")

    results = leaf(commands, "results", cmd_results,
                   "trade results from the executor's journal (one JSON object a line with --json)")
    results.add_argument("--from-seq", type=_typed(_non_negative_int, "from-seq"), default=0, metavar="N",
                         help="print results with seq > N (default 0: all)")
    results.add_argument("--follow", action="store_true",
                         help="keep streaming; reconnect with backoff and resume after the last seq printed")

    leaf(commands, "pnl", cmd_pnl, "positions, exposure and PnL per strategy from the executor's journal")

    cfg = leaf(commands, "config", cmd_config, "show a service's config, or change fields of it (UpdateConfig)")
    cfg.add_argument("service", choices=tuple(CONFIG_TYPES), metavar="SERVICE", help="engine or executor")
    cfg.add_argument("--set", dest="settings", action="append", default=[], metavar="FIELD=VALUE",
                     help="change one field (repeatable); the rest stays as it is")
    return parser


# -- entry point --------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.timeout <= 0:
        config.fail(PROG, "--timeout must be > 0")
    try:
        token = config.load_control_token(args)
    except (OSError, config.ConfigError) as exc:
        config.fail(PROG, str(exc))
    try:
        tls = load_client_tls(args.tls_ca_file, args.tls_cert_file, args.tls_key_file)
    except config.ConfigError as exc:
        config.fail(PROG, str(exc))
    client = Client({s: getattr(args, f"{s}_addr") for s in SERVICES}, token, args.timeout, tls)
    # Ctrl-C and SIGTERM stop the CLI, even when it was started from a script in the background, which
    # hands it SIGINT ignored (and Python then keeps it ignored)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return asyncio.run(args.handler(client, args))
    except InputError as exc:
        warn(f"error: {exc}")
        return 2
    except CtlError as exc:
        warn(f"error: {exc}")
        return 1
    except KeyboardInterrupt:
        # Ctrl-C is how one stops --follow and sync --every
        return 0 if getattr(args, "follow", False) or getattr(args, "every", None) else 130
    except BrokenPipeError:
        # the reader went away (`... | head`): nothing left to say; keep Python from complaining at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _interrupt(_signum, _frame) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    raise SystemExit(main())
