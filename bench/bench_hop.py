"""One gRPC hop between two processes, alone: the levers of the hot path's streams, A/B in one run.

``python -m bench.bench_hop [--rate 200] [--count 1500]``: a server process and this client talk over
a bidirectional ExecuteSignals-shaped stream on loopback (Signal one way, SignalAck back), one message
at a time at a low rate, as the pipeline's signals go. For each variant it reports the one-way time
client send → server receive and server send → client receive (µs; stamps from time.time_ns on one
machine), p50 and p99:

- client: an async-generator request iterator fed from a queue (``gen``), or ``call.write()``;
- server: answers yielded from an async-generator handler (``gen``), or ``context.write()``;
- transport: loopback TCP, or a Unix domain socket (``write``/``write`` only);
- loop: asyncio's own, or uvloop (only when uvloop is installed: it is not a project dependency, since
  it measured no consistent gain here).

Variants run in turn (A B A B ...) so that a machine's drift falls on all of them alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from grpc import aio

from polyarb.v1 import executor_pb2, executor_pb2_grpc

try:
    import uvloop  # noqa: F401 - only to know whether it is there
    LOOPS = ("asyncio", "uvloop")
except ImportError:
    LOOPS = ("asyncio",)
VARIANTS = [(c, s, loop, "tcp") for loop in LOOPS for c in ("gen", "write") for s in ("gen", "write")]
# the transport, on the stream styles the services use: loopback TCP, or a Unix domain socket (the
# shard pod's containers share an emptyDir, so `--grpc-addr unix:///...` reaches the next stage)
VARIANTS.append(("write", "write", "asyncio", "unix"))


class _YieldingServicer(executor_pb2_grpc.ExecutorServicer):
    """Answers yielded from an async-generator handler (grpc drives it with `async for`)."""

    async def ExecuteSignals(self, request_iterator, context):
        async for signal in request_iterator:
            yield executor_pb2.SignalAck(signal_id=signal.signal_id, result_seq=time.time_ns())


class _WritingServicer(executor_pb2_grpc.ExecutorServicer):
    """Answers written with context.write() from a coroutine handler."""

    async def ExecuteSignals(self, request_iterator, context):
        async for signal in request_iterator:
            await context.write(executor_pb2.SignalAck(signal_id=signal.signal_id, result_seq=time.time_ns()))


async def _serve(style: str, unix_path: str | None) -> None:
    server = aio.server()
    servicer = _WritingServicer() if style == "write" else _YieldingServicer()
    executor_pb2_grpc.add_ExecutorServicer_to_server(servicer, server)
    if unix_path:
        server.add_insecure_port(f"unix://{unix_path}")
        addr = f"unix://{unix_path}"
    else:
        addr = f"127.0.0.1:{server.add_insecure_port('127.0.0.1:0')}"
    await server.start()
    print(json.dumps({"addr": addr}), flush=True)
    await server.wait_for_termination()


async def _client(addr: str, style: str, rate: float, count: int) -> list[int]:
    async with aio.insecure_channel(addr) as channel:
        stub = executor_pb2_grpc.ExecutorStub(channel)
        one_way: list[int] = []
        back: list[int] = []
        if style == "write":
            call = stub.ExecuteSignals()
            send = call.write
        else:
            queue: asyncio.Queue = asyncio.Queue()

            async def requests():
                while True:
                    yield await queue.get()

            call = stub.ExecuteSignals(requests())

            async def send(message) -> None:
                queue.put_nowait(message)

        async def read() -> None:
            async for ack in call:
                now = time.time_ns()
                one_way.append(ack.result_seq - int(ack.signal_id))
                back.append(now - ack.result_seq)

        reader = asyncio.create_task(read())
        await send(executor_pb2.Signal(signal_id=str(time.time_ns())))  # warm the stream
        await asyncio.sleep(0.2)
        one_way.clear()
        back.clear()
        gap = 1.0 / rate
        for _ in range(count):
            await send(executor_pb2.Signal(signal_id=str(time.time_ns())))
            await asyncio.sleep(gap)
        await asyncio.sleep(0.2)
        reader.cancel()
        call.cancel()
        return one_way, back


def _run_loop(coro, loop: str):
    if loop == "uvloop":
        import uvloop

        return uvloop.run(coro)
    return asyncio.run(coro)


def measure(client: str, server: str, loop: str, rate: float, count: int, transport: str = "tcp") -> dict:
    unix_dir = tempfile.mkdtemp(prefix="polyarb-hop-") if transport == "unix" else None
    unix_args = ["--unix", os.path.join(unix_dir, "hop.sock")] if unix_dir else []
    proc = subprocess.Popen([sys.executable, "-m", "bench.bench_hop", "--serve", server, "--loop", loop, *unix_args],
                            stdout=subprocess.PIPE, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        addr = json.loads(proc.stdout.readline())["addr"]
        there, back = _run_loop(_client(addr, client, rate, count), loop)
    finally:
        proc.kill()
        proc.wait()
        if unix_dir:
            shutil.rmtree(unix_dir, ignore_errors=True)
    return {"p50_us": statistics.median(there) / 1e3, "p99_us": sorted(there)[int(len(there) * 0.99) - 1] / 1e3,
            "back_p50_us": statistics.median(back) / 1e3, "n": len(there)}


def run(rate: float = 200.0, count: int = 1500, rounds: int = 2, only: str | None = None) -> dict:
    out: dict[str, list[dict]] = {}
    for _ in range(rounds):
        for client, server, loop, transport in VARIANTS:
            if only and only != f"client_{client}/server_{server}/{loop}/{transport}":
                continue
            out.setdefault(f"client_{client}/server_{server}/{loop}/{transport}", []).append(
                measure(client, server, loop, rate, count, transport))
    return {name: {"p50_us": statistics.median(r["p50_us"] for r in runs),
                   "p99_us": statistics.median(r["p99_us"] for r in runs),
                   "back_p50_us": statistics.median(r["back_p50_us"] for r in runs), "runs": runs}
            for name, runs in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_hop", description=__doc__.splitlines()[0])
    parser.add_argument("--serve", choices=("gen", "write"), help=argparse.SUPPRESS)
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio", help=argparse.SUPPRESS)
    parser.add_argument("--unix", help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=200.0, help="messages per second (default 200)")
    parser.add_argument("--count", type=int, default=1500, help="messages per variant and round (default 1500)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds over all variants (default 2)")
    parser.add_argument("--only", help="one variant, by its printed name (e.g. client_write/server_write/asyncio/tcp)")
    args = parser.parse_args()
    if args.serve:
        _run_loop(_serve(args.serve, args.unix), args.loop)
        return
    print(f"load average {os.getloadavg()[0]:.2f}")
    for name, figures in run(args.rate, args.count, args.rounds, args.only).items():
        print(f"{name:36s} client→server p50 {figures['p50_us']:6.1f} µs p99 {figures['p99_us']:7.1f} µs   "
              f"server→client p50 {figures['back_p50_us']:6.1f} µs")


if __name__ == "__main__":
    main()
