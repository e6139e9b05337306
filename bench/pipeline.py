"""The paper pipeline as real processes, with bench.market_source in front of ingest.

    paper_venue ◄─ws─ market_source ◄─ws─ ingest ══gRPC══► engine ══gRPC══► executor ─HTTP─► clob_tap ─► paper_venue
                      (+ synthetic load)

The market source relays the venue's own tokens (so injected arbitrages trade against the venue's
books) and adds synthetic markets at exact offered rates (ids: bench.market_source.synthetic_markets).
A tap (bench.clob_tap) sits between the executor and the venue's CLOB REST to stamp when each
POST /orders arrives. For the same-run comparison the peer bot (bench.peer_bot) joins:

    paper_venue ◄─ws─ peer_bot ─HTTP─► peer_tap ─► paper_venue     (Pipeline(with_peer=True))

Start-up mirrors polyarb/run.py: paper key and credentials, structure and balance from the venue's
admin endpoints, trading enabled. No control token (the services warn and run open).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import pathlib
import subprocess
import time
import urllib.request
import uuid
from dataclasses import dataclass, field

import aiohttp
from google.protobuf import json_format
from grpc import aio

from bench.market_source import synthetic_markets
from bench.processes import Proc, spawn, stop_all
from polyarb.v1 import engine_pb2, engine_pb2_grpc, executor_pb2, executor_pb2_grpc, ingest_pb2_grpc

START_TIMEOUT_S = 60.0


def synthetic_trios(tokens: int) -> tuple[list[dict], list[tuple[str, str, str]]]:
    """ceil(tokens / 6) trios of three synthetic markets each (6 tokens per trio), as proto3 JSON."""
    trios = -(-tokens // 6)
    markets = synthetic_markets(3 * trios)

    def market_json(m: tuple[str, str, str]) -> dict:
        return {"condition_id": m[0], "yes_token_id": m[1], "no_token_id": m[2], "tick_size": 0.01,
                "min_order_size": 5.0, "neg_risk": False, "fee_rate_bps": 0.0}

    out = [{"id": f"bench-trio-{t}", "lower": market_json(markets[3 * t]), "upper": market_json(markets[3 * t + 1]),
            "range": market_json(markets[3 * t + 2]), "lower_bound": 1000.0 + t, "upper_bound": 1001.0 + t}
           for t in range(trios)]
    return out, markets


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text → {"name{labels}": value}; comments skipped."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        try:
            out[name] = float(value)
        except ValueError:
            continue
    return out


@dataclass
class Pipeline:
    run_dir: pathlib.Path
    with_peer: bool = False  # also start the peer bot and its tap (bench.peer_bot), for bench_macro's "peer"
    procs: dict[str, Proc] = field(default_factory=dict)
    venue_http: str = ""
    structure_version: int = 0
    venue_structure: dict = field(default_factory=dict)
    synthetic_tokens: list[str] = field(default_factory=list)
    _channels: dict[str, aio.Channel] = field(default_factory=dict)
    _http: aiohttp.ClientSession | None = None

    # -- life ------------------------------------------------------------------------------------

    def start(self) -> None:
        """Venue, then source, ingest and executor together, then engine; each until it serves."""
        key, creds = self._paper_secrets()
        venue_creds = creds
        if self.with_peer:  # the venue accepts both keys (a creds file may hold an array)
            _, peer_creds = self._paper_secrets("peer")
            venue_creds = self.run_dir / "venue-creds.json"
            venue_creds.write_text(json.dumps([json.loads(creds.read_text()), json.loads(peer_creds.read_text())]))
            venue_creds.chmod(0o600)
        logs = self.run_dir
        venue = self._spawn("paper_venue", ["-m", "paper_venue", *_ports(), "--ws-addr", "127.0.0.1:0",
                                             "--http-addr", "127.0.0.1:0", "--scenario", "manual", "--seed", "7",
                                             "--starting-balance", "1000000", "--api-creds-file", str(venue_creds)],
                            logs)
        served = venue.wait_serving(START_TIMEOUT_S)
        self.venue_http = "http://" + served["http_addr"]
        if self.with_peer:
            self._start_peer(served)
        source = self._spawn_tool("market_source", ["-m", "bench.market_source", "--upstream",
                                                    f"ws://{served['ws_addr']}/ws/market"], logs)
        tap = self._spawn_tool("clob_tap", ["-m", "bench.clob_tap", "--upstream", served["http_addr"]], logs)
        ingest = self._spawn("ingest", ["-m", "ingest_svc", *_ports(), "--ws-url",
                                        f"ws://{source.serving['ws_addr']}/ws/market"], logs)
        executor = self._spawn("executor", ["-m", "executor_svc", *_ports(), "--mode", "paper", "--clob-url",
                                            f"http://{tap.serving['addr']}", "--journal",
                                            str(self.run_dir / "journal.sqlite"), "--private-key-file", str(key),
                                            "--api-creds-file", str(creds)], logs)
        ingest.wait_serving(START_TIMEOUT_S)
        executor.wait_serving(START_TIMEOUT_S)
        engine = self._spawn("engine", ["-m", "engine_svc", *_ports(), "--ingest-addr", ingest.serving["grpc_addr"],
                                        "--executor-addr", executor.serving["grpc_addr"]], logs)
        engine.wait_serving(START_TIMEOUT_S)

    def _start_peer(self, venue: dict) -> None:
        """The peer bot (bench.peer_bot) on the venue's own market WebSocket, posting through a tap of
        its own (the same code as the executor's, so "bytes at the venue" is stamped at the same point).
        Started with the others, before any gRPC channel exists in this process: a fork once gRPC's
        threads run can crash the child in PR_SET_PDEATHSIG's preexec_fn (seen: SIGSEGV)."""
        with urllib.request.urlopen(f"http://{venue['http_addr']}/admin/structure", timeout=10) as answer:
            structure = self.run_dir / "peer-structure.json"
            structure.write_bytes(answer.read())
        tap = self._spawn_tool("peer_tap", ["-m", "bench.clob_tap", "--upstream", venue["http_addr"]], self.run_dir)
        key, creds = self.run_dir / "peer-key.hex", self.run_dir / "peer-creds.json"
        self._spawn_tool("peer_bot", [
            "-m", "bench.peer_bot", "--ws-url", f"ws://{venue['ws_addr']}/ws/market", "--clob-url",
            f"http://{tap.serving['addr']}", "--structure", str(structure), "--key-file", str(key),
            "--creds-file", str(creds)], self.run_dir)

    async def fund_peer(self) -> dict:
        """The peer's paper account gets the executor's starting collateral; its "serving" line."""
        serving = self.procs["peer_bot"].serving
        starting = await self.venue("/admin/starting-balance")
        await self.venue("/admin/balance", {"address": serving["address"], "collateral": starting.get("collateral", 0)})
        return serving

    def stop_peer(self) -> None:
        procs = [self.procs.pop(name) for name in ("peer_bot", "peer_tap") if name in self.procs]
        for proc in procs:
            if proc.alive():
                with contextlib.suppress(OSError, ValueError, RuntimeError):
                    proc.popen.stdin.write(b'{"cmd": "stop"}\n')
                    proc.popen.stdin.flush()
        stop_all(procs)

    def _spawn(self, name: str, argv: list[str], logs: pathlib.Path) -> Proc:
        proc = spawn(name, argv, logs)
        self.procs[name] = proc
        return proc

    def _spawn_tool(self, name: str, argv: list[str], logs: pathlib.Path) -> Proc:
        """A bench tool controlled by JSON lines on stdin/stdout; its first line says where it serves."""
        proc = spawn(name, argv, logs, stdin=subprocess.PIPE, stdout_pipe=True)
        self.procs[name] = proc
        line = proc.popen.stdout.readline()
        try:
            first = json.loads(line or b"{}")
        except ValueError:
            first = {}
        if first.get("msg") != "serving":
            raise RuntimeError(f"{name} did not start (exit {proc.popen.poll()}, first line {line[:200]!r}):\n"
                               f"{proc.log_tail()}")
        proc.serving = first
        return proc

    def _paper_secrets(self, prefix: str = "paper") -> tuple[pathlib.Path, pathlib.Path]:
        key, creds = self.run_dir / f"{prefix}-key.hex", self.run_dir / f"{prefix}-creds.json"
        key.write_text(os.urandom(32).hex())
        creds.write_text(json.dumps({"apiKey": str(uuid.uuid4()), "passphrase": os.urandom(16).hex(),
                                     "secret": base64.urlsafe_b64encode(os.urandom(32)).decode()}))
        for path in (key, creds):
            path.chmod(0o600)
        return key, creds

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()
        if self._http is not None:
            await self._http.close()
            self._http = None

    def stop(self) -> None:
        self.stop_peer()
        for tool in ("market_source", "clob_tap"):
            if tool in self.procs and self.procs[tool].alive():
                with contextlib.suppress(OSError, ValueError, RuntimeError):
                    self.command(tool, {"cmd": "stop"})
        stop_all(list(self.procs.values()))

    def pids(self) -> dict[str, int]:
        return {name: proc.pid for name, proc in self.procs.items()}

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if not proc.alive():
                raise RuntimeError(f"{name} exited with {proc.popen.returncode}:\n{proc.log_tail()}")

    # -- the market source -----------------------------------------------------------------------

    def command(self, tool: str, command: dict) -> dict:
        """One JSON line to a bench tool, its one-line answer (blocking: run it in a thread when long)."""
        proc = self.procs[tool]
        proc.popen.stdin.write(json.dumps(command).encode() + b"\n")
        proc.popen.stdin.flush()
        line = proc.popen.stdout.readline()
        if not line:
            raise RuntimeError(f"{tool} gone:\n{proc.log_tail()}")
        reply = json.loads(line)
        if not reply.get("ok"):
            raise RuntimeError(f"{tool}: {reply}")
        return reply

    def source_command(self, command: dict) -> dict:
        return self.command("market_source", command)

    def post_arrivals(self) -> list[int]:
        """When POST /orders requests reached the venue (ns), since the last call."""
        return self.command("clob_tap", {"cmd": "posts"})["arrivals_ns"]

    async def load(self, rate: float, seconds: float, markets_per_frame: int = 1) -> dict:
        return await asyncio.to_thread(self.source_command, {"cmd": "load", "rate": rate, "seconds": seconds,
                                                             "markets_per_frame": markets_per_frame})

    # -- gRPC and HTTP ---------------------------------------------------------------------------

    def channel(self, name: str) -> aio.Channel:
        if name not in self._channels:
            self._channels[name] = aio.insecure_channel(
                self.procs[name].serving["grpc_addr"],
                options=[("grpc.max_receive_message_length", 64 << 20), ("grpc.max_send_message_length", 64 << 20)])
        return self._channels[name]

    def engine(self) -> engine_pb2_grpc.EngineStub:
        return engine_pb2_grpc.EngineStub(self.channel("engine"))

    def executor(self) -> executor_pb2_grpc.ExecutorStub:
        return executor_pb2_grpc.ExecutorStub(self.channel("executor"))

    def ingest(self) -> ingest_pb2_grpc.IngestStub:
        return ingest_pb2_grpc.IngestStub(self.channel("ingest"))

    async def http(self, method: str, url: str, body: dict | None = None) -> dict:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        async with self._http.request(method, url, json=body) as response:
            text = await response.text()
            if response.status >= 400:
                raise RuntimeError(f"{method} {url}: HTTP {response.status} {text[:200]}")
            return json.loads(text) if text.strip().startswith(("{", "[")) else {"text": text}

    async def venue(self, path: str, body: dict | None = None) -> dict:
        return await self.http("POST" if body is not None else "GET", self.venue_http + path, body)

    async def metrics(self, name: str) -> dict[str, float]:
        addr = self.procs[name].serving["metrics_addr"]
        result = await self.http("GET", f"http://{addr}/metrics")
        return parse_metrics(result.get("text", ""))

    # -- structure -------------------------------------------------------------------------------

    async def enable_trading(self) -> None:
        self.venue_structure = await self.venue("/admin/structure")
        starting = await self.venue("/admin/starting-balance")
        balance = json_format.ParseDict(starting, executor_pb2.UpdateBalanceRequest())
        await self.executor().UpdateBalance(balance, timeout=10)
        await self.executor().SetTradingEnabled(
            executor_pb2.SetTradingEnabledRequest(enabled=True, reason="make bench"), timeout=10)

    async def push_structure(self, synthetic_tokens: int, timeout_s: float = 120.0) -> dict:
        """The venue's structure plus synthetic trios of about synthetic_tokens tokens; returns once the
        engine sees every token fresh (ingest subscribed, snapshots applied)."""
        trios, markets = synthetic_trios(synthetic_tokens)
        self.source_command({"cmd": "markets", "markets": [list(m) for m in markets]})
        self.structure_version += 1
        structure = dict(self.venue_structure)
        structure["version"] = self.structure_version
        structure["trios"] = list(self.venue_structure.get("trios", [])) + trios
        message = json_format.ParseDict(structure, engine_pb2.MarketStructure())
        started = time.monotonic()
        reply = await self.engine().UpdateMarketStructure(message, timeout=60)
        self.synthetic_tokens = [t for m in markets for t in m[1:]]
        deadline = time.monotonic() + timeout_s
        while True:
            status = await self.engine().GetStatus(engine_pb2.GetEngineStatusRequest(), timeout=10)
            if (status.structure_version == self.structure_version and status.tokens == reply.tokens
                    and status.stale_tokens == 0 and status.executor_connected and status.capital > 0):
                break
            self.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"engine not fresh after {timeout_s:.0f}s: {status.tokens} tokens, "
                                   f"{status.stale_tokens} stale")
            await asyncio.sleep(0.2)
        return {"tokens": reply.tokens, "instances": reply.instances, "synthetic_tokens": len(self.synthetic_tokens),
                "fresh_after_s": time.monotonic() - started}


def _ports() -> list[str]:
    return ["--grpc-addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0"]
