"""What a POST /orders costs before its bytes reach the venue: aiohttp's request path against the
executor's own writer (executor_svc/batch_post.py: prepared bytes onto a kept-alive socket), A/B in
one run.

``python -m bench.bench_post [--gap-ms 50] [--count 400]``: a local HTTP server stamps the arrival of
each request's first byte; the client stamps just before it asks to send. Both clients send the same
bytes (the executor's headers and a 3-order body), one request at a time, ``gap-ms`` apart (a trading
bot posts rarely, so the path runs cold), alternating A B A B. Reported: call → first byte at the
server, p50 and p99 (µs), per client. This measures a lever of issue 15: the executor posts its
batches with batch_post since it won here (its other requests stay on aiohttp).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

import aiohttp

from executor_svc.batch_post import BatchPoster

_ORDER = (b'{"order":{"salt":1,"maker":"0x' + b"ab" * 20 + b'","tokenId":"' + b"7" * 77
          + b'","makerAmount":"5300000","takerAmount":"10000000","side":"BUY","signature":"0x' + b"cd" * 65
          + b'"},"owner":"00000000-0000-0000-0000-000000000000","orderType":"FOK"}')
BODY = b"[" + b",".join([_ORDER] * 3) + b"]"
HEADERS = {"POLY_ADDRESS": "0x" + "ab" * 20, "POLY_SIGNATURE": "x" * 44, "POLY_TIMESTAMP": "1700000000",
           "POLY_API_KEY": "00000000-0000-0000-0000-000000000000", "POLY_PASSPHRASE": "p" * 64,
           "Content-Type": "application/json"}
ANSWER = b'[{"success":true,"errorMsg":"","orderID":"0x1","status":"matched"}]'


class _Server(asyncio.Protocol):
    arrivals: list[int] = []

    def connection_made(self, transport):
        self.transport = transport
        self.buffer = b""

    def data_received(self, data):
        if not self.buffer:
            _Server.arrivals.append(time.time_ns())
        self.buffer += data
        head, sep, rest = self.buffer.partition(b"\r\n\r\n")
        if not sep:
            return
        length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length")))
        if len(rest) < length:
            return
        self.buffer = rest[length:]
        self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                             + str(len(ANSWER)).encode() + b"\r\n\r\n" + ANSWER)


async def _poster_client(port: int):
    """The executor's own writer (executor_svc/batch_post.py), warmed like the executor warms it."""
    poster = BatchPoster(f"http://127.0.0.1:{port}")
    headers = list(HEADERS.items())

    async def post() -> int:
        started = time.time_ns()  # before the call, as for aiohttp: building the request counts
        response, _posted_ns = await poster.post("/orders", headers, BODY, 2.0)
        assert response.status == 200
        return started

    return post, poster.close


async def _aiohttp_client(port: int):
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=16, keepalive_timeout=60))
    url = f"http://127.0.0.1:{port}/orders"
    timeout = aiohttp.ClientTimeout(total=2.0, connect=1.0)

    async def post() -> int:
        started = time.time_ns()
        async with session.post(url, data=BODY, headers=HEADERS, timeout=timeout) as response:
            await response.read()
        return started

    async def close():
        await session.close()

    return post, close


async def run(gap_ms: float = 50.0, count: int = 400) -> dict:
    server = await asyncio.get_running_loop().create_server(_Server, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    clients = {"aiohttp": await _aiohttp_client(port), "batch_post": await _poster_client(port)}
    samples: dict[str, list[int]] = {name: [] for name in clients}
    for i in range(count + 20):
        for name, (post, _close) in clients.items():
            _Server.arrivals.clear()
            started = await post()
            if i >= 20:  # the first ones open connections and warm imports
                samples[name].append(_Server.arrivals[0] - started)
            await asyncio.sleep(gap_ms / 1000)
    for _post, close in clients.values():
        result = close()
        if asyncio.iscoroutine(result):
            await result
    server.close()
    return {name: {"p50_us": statistics.median(s) / 1e3, "p99_us": sorted(s)[int(len(s) * 0.99) - 1] / 1e3,
                   "n": len(s)} for name, s in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_post", description=__doc__.splitlines()[0])
    parser.add_argument("--gap-ms", type=float, default=50.0, help="pause between requests (default 50)")
    parser.add_argument("--count", type=int, default=400, help="requests per client (default 400)")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}, gap {args.gap_ms:g} ms")
    for name, figures in asyncio.run(run(args.gap_ms, args.count)).items():
        print(f"{name:12s} call → first byte at the server p50 {figures['p50_us']:7.1f} µs  "
              f"p99 {figures['p99_us']:8.1f} µs")


if __name__ == "__main__":
    main()
