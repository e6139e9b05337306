"""`make run`: start the paper venue and the three services, wait for health, show them, stop on Ctrl-C.

Each service runs as its own process (as in production), with its log in run/logs/<service>.log.
Ctrl-C (or SIGTERM) sends SIGTERM to every child, waits for their graceful stop, and kills whatever
is still alive after the grace period: no process is left behind.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import pathlib
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

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


def plan(run_dir: pathlib.Path) -> list[Child]:
    return [
        Child("paper_venue", "paper_venue", "127.0.0.1:50054", "127.0.0.1:9104",
              ["--ws-addr", "127.0.0.1:8765", "--http-addr", "127.0.0.1:8766"]),
        Child("ingest", "ingest_svc", "127.0.0.1:50051", "127.0.0.1:9101",
              ["--ws-url", "ws://127.0.0.1:8765/ws/market"]),
        Child("executor", "executor_svc", "127.0.0.1:50053", "127.0.0.1:9103",
              ["--mode", "dry-run", "--clob-url", "http://127.0.0.1:8766",
               "--journal", str(run_dir / "journal.sqlite")]),
        Child("engine", "engine_svc", "127.0.0.1:50052", "127.0.0.1:9102",
              ["--ingest-addr", "127.0.0.1:50051", "--executor-addr", "127.0.0.1:50053"]),
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
        print(f"  stopped {child.name:<12} exit {child.proc.returncode}", flush=True)


async def supervise(children: list[Child], log_dir: pathlib.Path, stop: asyncio.Event) -> int:
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
    while not stop.is_set():
        for child in children:
            if child.proc.poll() is not None:
                print(f"{child.name} exited with {child.proc.returncode}; stopping the rest", flush=True)
                return 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="polyarb.run", description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", default=str(ROOT / "run"), help="where logs and the journal go")
    args = parser.parse_args(argv)
    run_dir = pathlib.Path(args.run_dir)
    log_dir = run_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    children = plan(run_dir)

    async def run() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            return await supervise(children, log_dir, stop)
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            return 1

    code = 1
    try:
        code = asyncio.run(run())
    finally:
        print("stopping...", flush=True)
        stop_all(children)
    raise SystemExit(code)


if __name__ == "__main__":
    main()
