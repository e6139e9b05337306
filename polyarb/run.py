"""`make run`: the whole pipeline on the paper venue, with a live view; Ctrl-C stops everything.

Starts the paper venue (default scenario "ladder") and the three services in paper mode, each as its
own process (as in production) with its log in run/logs/<service>.log; waits for health; builds the
market structure with `polyarbctl structure sync` from the venue's Gamma-shaped `/events` (as a live
deployment builds it from Gamma), which writes run/structure.json and pushes it to the engine; pushes
the scenario's starting balance; enables trading; then redraws a live view once a
second. Ctrl-C (or SIGTERM) sends SIGTERM to every child, waits for their graceful stop, and kills
whatever is still alive after the grace period: no process is left behind.

The paper key and API credentials are generated into the run folder (paper-only, 0600).
`--live-market` (or POLYARB_RUN_LIVE_MARKET=1) instead reads Polymarket's real market WebSocket with
the executor in dry-run (signs, never posts) and no venue; it needs network access and a structure
file (`--structure`, e.g. from `polyarbctl structure from-gamma`).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass

from google.protobuf import json_format
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from polyarb.live_view import Snapshot, render
from polyarb.runtime.auth import insecure_channel
from polyarb.v1 import engine_pb2, engine_pb2_grpc, executor_pb2, executor_pb2_grpc

ROOT = pathlib.Path(__file__).resolve().parent.parent
STOP_TIMEOUT_S = 15.0


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the launcher dies, even by SIGKILL (Linux prctl PR_SET_PDEATHSIG)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
    except OSError:
        pass


@dataclass
class Child:
    name: str
    module: str
    grpc_addr: str
    metrics_addr: str
    args: list[str]
    proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        return [sys.executable, "-m", self.module, "--grpc-addr", self.grpc_addr,
                "--metrics-addr", self.metrics_addr, *self.args]


VENUE_WS = "127.0.0.1:8765"
VENUE_HTTP = "127.0.0.1:8766"
POLYMARKET_WS = "wss://ws-subscriptions-clob.polymarket.com/ws/market"


def paper_secrets(run_dir: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    """A fresh paper-only signing key and API credentials, readable by this user only."""
    key, creds = run_dir / "paper-key.hex", run_dir / "paper-creds.json"
    for path, text in (
        (key, os.urandom(32).hex()),
        (creds, json.dumps({"apiKey": str(uuid.uuid4()), "secret": base64.urlsafe_b64encode(os.urandom(32)).decode(),
                            "passphrase": os.urandom(16).hex()})),
    ):
        path.write_text(text)
        path.chmod(0o600)
    return key, creds


def plan(run_dir: pathlib.Path, scenario: str = "ladder", live_market: bool = False) -> list[Child]:
    journal = str(run_dir / "journal.sqlite")
    engine = Child("engine", "engine_svc", "127.0.0.1:50052", "127.0.0.1:9102",
                   ["--ingest-addr", "127.0.0.1:50051", "--executor-addr", "127.0.0.1:50053"])
    if live_market:
        return [
            Child("ingest", "ingest_svc", "127.0.0.1:50051", "127.0.0.1:9101", ["--ws-url", POLYMARKET_WS]),
            Child("executor", "executor_svc", "127.0.0.1:50053", "127.0.0.1:9103",
                  ["--mode", "dry-run", "--journal", journal]),
            engine,
        ]
    key, creds = paper_secrets(run_dir)
    return [
        Child("paper_venue", "paper_venue", "127.0.0.1:50054", "127.0.0.1:9104",
              ["--ws-addr", VENUE_WS, "--http-addr", VENUE_HTTP, "--scenario", scenario,
               "--api-creds-file", str(creds)]),
        Child("ingest", "ingest_svc", "127.0.0.1:50051", "127.0.0.1:9101",
              ["--ws-url", f"ws://{VENUE_WS}/ws/market"]),
        Child("executor", "executor_svc", "127.0.0.1:50053", "127.0.0.1:9103",
              ["--mode", "paper", "--clob-url", f"http://{VENUE_HTTP}", "--journal", journal,
               "--private-key-file", str(key), "--api-creds-file", str(creds)]),
        engine,
    ]


async def wait_healthy(child: Child, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    async with aio.insecure_channel(child.grpc_addr) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            if child.proc is not None and child.proc.poll() is not None:
                raise RuntimeError(f"{child.name} exited with {child.proc.returncode}; see its log")
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except aio.AioRpcError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{child.name} not healthy after {timeout_s:.0f}s; see its log")
            await asyncio.sleep(0.2)


def stop_all(children: list[Child]) -> None:
    alive = [c for c in children if c.proc is not None and c.proc.poll() is None]
    for child in alive:
        child.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for child in alive:
        try:
            child.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.proc.kill()
            child.proc.wait()
        with contextlib.suppress(OSError):
            print(f"  stopped {child.name:<12} exit {child.proc.returncode}", flush=True)


async def supervise(children: list[Child], log_dir: pathlib.Path, stop: asyncio.Event, view: LiveView | None) -> int:
    env = dict(os.environ)
    for child in children:
        log_file = open(log_dir / f"{child.name}.log", "ab")  # noqa: SIM115 - owned by the child's lifetime
        # own session: the terminal's Ctrl-C reaches only this launcher, which then stops the children in order
        child.proc = subprocess.Popen(child.command(), cwd=ROOT, env=env, stdout=log_file, stderr=log_file,
                                      start_new_session=True, preexec_fn=_die_with_parent)
    for child in children:
        await wait_healthy(child, timeout_s=60)
    print("polyarb is running (Ctrl-C stops everything):", flush=True)
    for child in children:
        print(f"  {child.name:<12} pid {child.proc.pid:<7} grpc {child.grpc_addr:<17} "
              f"metrics http://{child.metrics_addr}/metrics  log {log_dir / (child.name + '.log')}", flush=True)
    if view is not None:
        await view.setup()
    while not stop.is_set():
        for child in children:
            if child.proc.poll() is not None:
                print(f"{child.name} exited with {child.proc.returncode}; stopping the rest", flush=True)
                return 1
        if view is not None:
            await view.refresh()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)
    if view is not None:
        await view.close()
    return 0


class LiveView:
    """Pushes the scenario to the services, then gathers a Snapshot each second and draws it in place."""

    def __init__(self, children: list[Child], structure_file: str | None, token: str | None, tty: bool,
                 run_dir: pathlib.Path | None = None) -> None:
        self.children = {c.name: c for c in children}
        self.structure_file = structure_file
        self.run_dir = run_dir or ROOT / "run"
        self.token = token
        self.tty = tty
        self.results: list[executor_pb2.TradeResult] = []
        self._reader: asyncio.Task | None = None
        self._channels: dict[str, aio.Channel] = {}
        self._last_plain = 0.0

    def _channel(self, name: str) -> aio.Channel:
        if name not in self._channels:
            self._channels[name] = insecure_channel(self.children[name].grpc_addr, self.token)
        return self._channels[name]

    async def setup(self) -> None:
        engine = engine_pb2_grpc.EngineStub(self._channel("engine"))
        executor = executor_pb2_grpc.ExecutorStub(self._channel("executor"))
        if self.structure_file:
            structure = json_format.Parse(pathlib.Path(self.structure_file).read_text(), engine_pb2.MarketStructure())
            reply = await engine.UpdateMarketStructure(structure, timeout=5)
        else:
            await self._sync_structure()
            status = await engine.GetStatus(engine_pb2.GetEngineStatusRequest(), timeout=5)
            reply = engine_pb2.UpdateMarketStructureResponse(version=status.structure_version,
                                                             instances=status.instances, tokens=status.tokens)
            balance = json_format.ParseDict(_venue_json("/admin/starting-balance"), executor_pb2.UpdateBalanceRequest())
            await executor.UpdateBalance(balance, timeout=5)
        state = await executor.SetTradingEnabled(
            executor_pb2.SetTradingEnabledRequest(enabled=True, reason="make run"), timeout=5)
        print(f"pushed structure v{reply.version}: {reply.instances} instances, {reply.tokens} tokens; "
              f"trading enabled ({state.mode})", flush=True)
        last = (await executor.GetStatus(executor_pb2.GetExecutorStatusRequest(), timeout=5)).last_seq
        self._reader = asyncio.create_task(self._follow(max(0, last - 50)))

    async def _sync_structure(self) -> None:
        """`polyarbctl structure sync` against the venue's Gamma-shaped /events: writes the structure file
        and pushes it to the engine; its output goes to logs/sync.log."""
        out = self.run_dir / "structure.json"
        command = [sys.executable, "-m", "polyarb.ctl", "--engine-addr", self.children["engine"].grpc_addr,
                   "structure", "sync", "--gamma-url", f"http://{VENUE_HTTP}", "--out", str(out), "--push"]
        with open(self.run_dir / "logs" / "sync.log", "ab") as log_file:
            proc = await asyncio.create_subprocess_exec(*command, cwd=ROOT, stdout=log_file, stderr=log_file)
            code = await proc.wait()
        if code != 0:
            raise RuntimeError(f"structure sync exited with {code}; see {self.run_dir / 'logs' / 'sync.log'}")

    async def _follow(self, from_seq: int) -> None:
        """Trade results as they are journaled; reconnects and resumes after the last seq seen."""
        stub = executor_pb2_grpc.ExecutorStub(self._channel("executor"))
        while True:
            try:
                async for result in stub.StreamTradeResults(executor_pb2.StreamTradeResultsRequest(from_seq=from_seq)):
                    if result.seq > from_seq:
                        from_seq = result.seq
                        self.results.append(result)
                        del self.results[:-500]
            except aio.AioRpcError:
                await asyncio.sleep(1.0)

    async def refresh(self) -> None:
        snapshot = Snapshot(results=list(self.results), width=shutil.get_terminal_size((120, 40)).columns)
        for name, child in self.children.items():
            snapshot.services.append((name, child.grpc_addr, child.proc.poll() is None, f"pid {child.proc.pid}"))
        with contextlib.suppress(aio.AioRpcError):
            snapshot.engine = await engine_pb2_grpc.EngineStub(self._channel("engine")).GetStatus(
                engine_pb2.GetEngineStatusRequest(include_instances=True), timeout=2)
        with contextlib.suppress(aio.AioRpcError):
            snapshot.executor = await executor_pb2_grpc.ExecutorStub(self._channel("executor")).GetStatus(
                executor_pb2.GetExecutorStatusRequest(), timeout=2)
        snapshot.faults = _faults_seen([c.metrics_addr for c in self.children.values()])
        text = render(snapshot)
        if self.tty:
            sys.stdout.write("\x1b[H\x1b[2J" + text + "\n")  # home + clear: redraw in place
            sys.stdout.flush()
        elif time.monotonic() - self._last_plain > 10:  # a pipe or a log: a frame every 10 s
            self._last_plain = time.monotonic()
            print(text + "\n", flush=True)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        for channel in self._channels.values():
            await channel.close()


def _venue_json(path: str) -> dict:
    with urllib.request.urlopen(f"http://{VENUE_HTTP}{path}", timeout=5) as response:
        return json.loads(response.read())


_FAULT_METRICS = ("polyarb_errors_total", "polyarb_ws_reconnects_total", "polyarb_parse_errors_total",
                  "polyarb_conflated_total", "polyarb_signals_denied_total")


def _faults_seen(metrics_addrs: list[str]) -> list[str]:
    """Non-zero error-like counters of every service, from their /metrics pages."""
    seen = []
    for addr in metrics_addrs:
        try:
            with urllib.request.urlopen(f"http://{addr}/metrics", timeout=1) as response:
                text = response.read().decode()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith(_FAULT_METRICS) and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                if float(value) > 0:
                    seen.append(f"{name.replace('polyarb_', '')} {float(value):g}")
    return seen


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="polyarb.run", description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", default=str(ROOT / "run"), help="where logs, keys and the journal go")
    parser.add_argument("--scenario", default="ladder", help="the paper venue's scenario (ladder, manual, a file)")
    parser.add_argument("--no-view", action="store_true", help="start and wait; push nothing, draw nothing")
    parser.add_argument("--live-market", action="store_true",
                        default=os.environ.get("POLYARB_RUN_LIVE_MARKET", "") in ("1", "true", "yes"),
                        help="Polymarket's real market WebSocket, executor in dry-run, no venue (needs network)")
    parser.add_argument("--structure", help="MarketStructure JSON to push (required with --live-market)")
    args = parser.parse_args(argv)
    if args.live_market and not args.structure:
        parser.error("--live-market needs --structure FILE (e.g. from `polyarbctl structure from-gamma`)")
    run_dir = pathlib.Path(args.run_dir)
    log_dir = run_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    children = plan(run_dir, args.scenario, args.live_market)
    token = os.environ.get("POLYARB_CONTROL_TOKEN") or None
    view = None if args.no_view else LiveView(children, args.structure, token, sys.stdout.isatty(), run_dir)

    async def run() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            return await supervise(children, log_dir, stop, view)
        except (RuntimeError, OSError, aio.AioRpcError) as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            return 1

    code = 1
    try:
        code = asyncio.run(run())
    finally:
        with contextlib.suppress(OSError):  # a closed stdout (the reader went away) must not skip the stop
            print("stopping...", flush=True)
        stop_all(children)
    raise SystemExit(code)


if __name__ == "__main__":
    main()
