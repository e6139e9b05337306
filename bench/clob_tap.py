"""A TCP tap in front of the venue's CLOB REST: when did the bytes of each ``POST /orders`` arrive?

``python -m bench.clob_tap --upstream HOST:PORT`` forwards every connection to the venue byte for byte
and stamps ``time.time_ns()`` when a chunk from the client starts a ``POST /orders`` request: the
moment the executor's order batch is on the venue's side of the socket. The executor's own
``posted_ns`` is taken before aiohttp builds and writes the request, so the tap is what "WS frame →
POST bytes at the venue" is measured to. The hop adds a loopback round trip to the venue's answer
(after that moment), which the benchmark reports as part of the venue round trip.

Control as in bench.market_source: JSON lines on stdin, one reply line each on stdout (first line:
"serving" with ``addr``). ``{"cmd": "posts"}`` returns and forgets the arrival times seen so far.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time

POST_ORDERS = b"POST /orders "


class Tap:
    def __init__(self, upstream: str) -> None:
        self.host, _, port = upstream.rpartition(":")
        self.port = int(port)
        self.arrivals_ns: list[int] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
        except OSError:
            writer.close()
            return

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, stamp: bool) -> None:
            with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                while chunk := await src.read(1 << 16):
                    if stamp and chunk.startswith(POST_ORDERS):
                        self.arrivals_ns.append(time.time_ns())
                    dst.write(chunk)
                    await dst.drain()
            with contextlib.suppress(OSError):
                dst.close()

        await asyncio.gather(pipe(reader, up_writer, True), pipe(up_reader, writer, False))


async def main_async(listen: str, upstream: str) -> None:
    tap = Tap(upstream)
    host, _, port = listen.rpartition(":")
    server = await asyncio.start_server(tap.handle, host, int(port))
    print(json.dumps({"msg": "serving", "addr": f"{host}:{server.sockets[0].getsockname()[1]}"}), flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while line := await reader.readline():
            command = json.loads(line)
            if command.get("cmd") == "posts":
                reply = {"ok": True, "arrivals_ns": tap.arrivals_ns}
                tap.arrivals_ns = []
            elif command.get("cmd") == "stop":
                print(json.dumps({"ok": True}), flush=True)
                break
            else:
                reply = {"ok": False, "error": f"unknown command {command!r}"}
            print(json.dumps(reply), flush=True)
    finally:
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:0")
    parser.add_argument("--upstream", required=True, help="the venue's CLOB REST HOST:PORT")
    args = parser.parse_args()
    asyncio.run(main_async(args.listen, args.upstream))


if __name__ == "__main__":
    main()
