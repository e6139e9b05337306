"""A market WebSocket for load: exact offered rates of ``price_change`` frames, the rest proxied to the venue.

``python -m bench.market_source --upstream ws://VENUE/ws/market`` listens on /ws/market and speaks the
market channel as ingest expects it (polymarket-protocol.md 1.1): the first frame subscribes, later
``operation`` frames change the set, text PING gets PONG. Tokens are of two kinds:

- *synthetic* markets, declared by the harness: the source answers their subscription with ``book``
  snapshots (YES 0.08/0.90, NO 0.10/0.92: every trio sums to more than 2 and every complement to more
  than 1, so they never signal) and, during a load, sends current-schema ``price_change`` frames for
  them: the YES ask at 0.90 and the mirrored NO bid at 0.10 get a new size, so both tops change;
- every other token (the paper venue's) is subscribed on an upstream socket to the venue, one per
  ingest connection, and the venue's frames are relayed verbatim: injected arbitrages reach ingest
  exactly as the venue sends them, and the executor trades against the venue's own books.

Every frame's ``timestamp`` is epoch *milliseconds*, as the venue's are (protocol 1.1), ``book`` and
``price_change`` alike: ingest copies it into ``TopOfBook.venue_ts_ms``, so a subscriber can tell how
long a load frame waited in socket buffers before ingest stamped ``ws_recv_ns``, to the millisecond (a
microsecond stamp, as the load frames once carried, is not what the venue sends and reads as a time
a thousand times later in every ms field).

The WebSocket server side is written by hand (RFC 6455, unfragmented text frames, no extensions) so a
frame costs one ``transport.write`` of prebuilt bytes: the source must offer 10K frames/s on a machine
whose two cores also run the pipeline it is measuring. Frames are paced in ticks of about 1 ms (the
event loop's timer resolution): each tick sends every frame due by then. A frame for a socket whose
write buffer is over 1 MiB is not sent but counted as ``skipped`` (the offered load is honest, and the
source never queues without bound).

Control: JSON lines on stdin, one JSON reply line on stdout each (the first stdout line is the
"serving" line with ``ws_addr``)::

    {"cmd": "markets", "markets": [[condition_id, yes_token, no_token], ...]}   declare synthetic markets
    {"cmd": "load", "rate": 5000, "seconds": 10, "markets_per_frame": 1}       blocks until done
    {"cmd": "status"}
    {"cmd": "stop"}
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import struct
import sys
import time
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

PATH = "/ws/market"
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_WRITE_BUFFER = 1 << 20
TICK_S = 0.001
YES_BOOK = ((0.06, 0.07, 0.08), (0.92, 0.91, 0.90))  # bids ascending, asks descending: best last (1.2)
NO_BOOK = ((0.08, 0.09, 0.10), (0.94, 0.93, 0.92))
LEVEL_SIZE = "100"
ENTRY_HASH = "0" * 40
# Synthetic token ids: 77 decimal digits like real ones, "9999" first so they sort after the paper
# venue's (ingest shards the sorted tokens 50 per connection: a market's YES (...1) and NO (...2) then
# always share a connection).
SYNTHETIC_PREFIX = "9999"


# -- WebSocket framing (pure) ---------------------------------------------------------------------------


def accept_key(key: bytes) -> str:
    return base64.b64encode(hashlib.sha1(key.strip() + WS_GUID).digest()).decode()


def handshake_response(request: bytes) -> tuple[bytes, bool]:
    """The server's answer to an HTTP upgrade request, and whether the socket is now a WebSocket."""
    head = request.split(b"\r\n")
    target = head[0].split(b" ")[1] if len(head[0].split(b" ")) > 1 else b""
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    key = headers.get(b"sec-websocket-key")
    if target.split(b"?")[0].decode(errors="replace") != PATH or key is None:
        return b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", False
    return (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept_key(key).encode() + b"\r\n\r\n"), True


def server_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One unmasked, final frame (servers never mask, RFC 6455 5.1)."""
    n = len(payload)
    if n < 126:
        return bytes((0x80 | opcode, n)) + payload
    if n < 65536:
        return bytes((0x80 | opcode, 126)) + struct.pack("!H", n) + payload
    return bytes((0x80 | opcode, 127)) + struct.pack("!Q", n) + payload


def read_frames(buffer: bytearray) -> list[tuple[int, bytes]]:
    """Complete (opcode, unmasked payload) frames from the front of buffer, which keeps the rest."""
    out = []
    while len(buffer) >= 2:
        opcode, masked, n = buffer[0] & 0x0F, buffer[1] & 0x80, buffer[1] & 0x7F
        at = 2
        if n == 126:
            if len(buffer) < 4:
                break
            (n,) = struct.unpack_from("!H", buffer, 2)
            at = 4
        elif n == 127:
            if len(buffer) < 10:
                break
            (n,) = struct.unpack_from("!Q", buffer, 2)
            at = 10
        mask = b""
        if masked:
            mask = bytes(buffer[at:at + 4])
            at += 4
        if len(buffer) < at + n:
            break
        payload = bytes(buffer[at:at + n])
        del buffer[:at + n]
        if mask and payload:
            key = (mask * (n // 4 + 1))[:n]
            payload = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")
        out.append((opcode, payload))
    return out


# -- market frames (pure) -------------------------------------------------------------------------------


def synthetic_markets(count: int) -> list[tuple[str, str, str]]:
    """(condition_id, yes_token, no_token) of synthetic markets 0..count-1, the same on every run."""
    return [(f"0x{0xBE7C000000 + i:064x}", f"{SYNTHETIC_PREFIX}{i:072d}1", f"{SYNTHETIC_PREFIX}{i:072d}2")
            for i in range(count)]


@dataclass(slots=True)
class SyntheticMarket:
    condition_id: str
    yes: str
    no: str
    updates: int = 0


def venue_timestamp(now_ns: int) -> str:
    """A frame's ``timestamp``: epoch milliseconds as a string, the venue's unit (protocol 1.1)."""
    return str(now_ns // 1_000_000)


def book_frames(markets: list[SyntheticMarket], tokens: set[str], now_ns: int) -> list[dict]:
    """``book`` snapshots of the given tokens of these markets, stamped ``now_ns`` (in ms)."""
    stamp = venue_timestamp(now_ns)
    out = []
    for market in markets:
        for token, (bids, asks) in ((market.yes, YES_BOOK), (market.no, NO_BOOK)):
            if token in tokens:
                out.append({
                    "event_type": "book", "asset_id": token, "market": market.condition_id,
                    "bids": [{"price": f"{p:.2f}", "size": LEVEL_SIZE} for p in bids],
                    "asks": [{"price": f"{p:.2f}", "size": LEVEL_SIZE} for p in asks],
                    "timestamp": stamp, "hash": ENTRY_HASH, "tick_size": "0.01",
                })
    return out


def price_change_frame(markets: list[SyntheticMarket], sent_ns: int) -> bytes:
    """Each market's YES ask size at 0.90 and the mirrored NO bid at 0.10 change (two entries of one
    current-schema ``price_change``, protocol 1.2), stamped with the send time ``sent_ns`` (in ms).
    Several markets make an array of such objects (a frame may be an array of events, protocol 1.1)."""
    stamp = venue_timestamp(sent_ns)
    events = []
    for market in markets:
        market.updates += 1
        size = 100 + market.updates % 900  # always a new size: both tops of book change
        events.append(
            f'{{"market":"{market.condition_id}","price_changes":['
            f'{{"asset_id":"{market.yes}","price":"0.90","size":"{size}","side":"SELL","hash":"{ENTRY_HASH}",'
            f'"best_bid":"0.08","best_ask":"0.90"}},'
            f'{{"asset_id":"{market.no}","price":"0.10","size":"{size}","side":"BUY","hash":"{ENTRY_HASH}",'
            f'"best_bid":"0.10","best_ask":"0.92"}}],"timestamp":"{stamp}","event_type":"price_change"}}'
        )
    return (events[0] if len(events) == 1 else "[" + ",".join(events) + "]").encode()


# -- the server ---------------------------------------------------------------------------------------


@dataclass(eq=False)
class Client(asyncio.Protocol):
    source: MarketSource
    transport: asyncio.Transport | None = None
    open: bool = False
    paused: bool = False
    synthetic: set[str] = field(default_factory=set)
    upstream_tokens: set[str] = field(default_factory=set)
    upstream: ClientConnection | None = None
    upstream_task: asyncio.Task | None = None
    _buffer: bytearray = field(default_factory=bytearray)

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        self.source.forget(self)

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if not self.open:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            request = bytes(self._buffer[:end])
            del self._buffer[:end + 4]
            answer, self.open = handshake_response(request)
            self.transport.write(answer)
            if not self.open:
                self.transport.close()
                return
            self.source.clients.add(self)
        for opcode, payload in read_frames(self._buffer):
            if opcode in (0x1, 0x2):
                self.source.on_message(self, payload.decode(errors="replace"))
            elif opcode == 0x8:
                self.transport.write(server_frame(payload[:2], 0x8))
                self.transport.close()
            elif opcode == 0x9:
                self.transport.write(server_frame(payload, 0xA))

    def send(self, frame: bytes) -> bool:
        """Write one prebuilt frame; False (not sent) when the socket is gone or too far behind."""
        transport = self.transport
        if not self.open or self.paused or transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
            return False
        transport.write(frame)
        return True


class MarketSource:
    def __init__(self, upstream_url: str | None) -> None:
        self.upstream_url = upstream_url
        self.clients: set[Client] = set()
        self.markets: dict[str, SyntheticMarket] = {}  # token (yes or no) -> its market
        self.owner: dict[str, Client] = {}  # synthetic token -> the socket subscribed to it
        self.upstream_frames = 0

    def forget(self, client: Client) -> None:
        self.clients.discard(client)
        for token in client.synthetic:
            if self.owner.get(token) is client:
                del self.owner[token]
        if client.upstream_task is not None:
            client.upstream_task.cancel()

    def on_message(self, client: Client, text: str) -> None:
        if text.strip() == "PING":
            client.send(server_frame(b"PONG"))
            return
        try:
            request = json.loads(text)
        except ValueError:
            return
        if not isinstance(request, dict):
            return
        ids = [a for a in request.get("assets_ids") or () if isinstance(a, str)]
        synthetic = [a for a in ids if a in self.markets]
        others = [a for a in ids if a not in self.markets]
        if request.get("operation") == "unsubscribe":
            for token in synthetic:
                client.synthetic.discard(token)
                if self.owner.get(token) is client:
                    del self.owner[token]
            client.upstream_tokens.difference_update(others)
            self._upstream_send(client, {"operation": "unsubscribe", "assets_ids": others})
            return
        new = [t for t in synthetic if t not in client.synthetic]
        client.synthetic.update(new)
        for token in new:
            self.owner[token] = client
        if new:
            wanted = set(new)
            markets = list({id(m): m for m in (self.markets[t] for t in new)}.values())
            client.send(server_frame(json.dumps(book_frames(markets, wanted, time.time_ns()),
                                                separators=(",", ":")).encode()))
        fresh = [t for t in others if t not in client.upstream_tokens]
        if fresh:
            client.upstream_tokens.update(fresh)
            if client.upstream_task is None:
                client.upstream_task = asyncio.create_task(self._relay(client))
            else:
                self._upstream_send(client, {"operation": "subscribe", "assets_ids": fresh,
                                             "custom_feature_enabled": True})

    def _upstream_send(self, client: Client, body: dict) -> None:
        if client.upstream is not None and body["assets_ids"]:
            task = asyncio.create_task(client.upstream.send(json.dumps(body)))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def _relay(self, client: Client) -> None:
        """One upstream socket per ingest socket: subscribe its venue tokens, relay every frame."""
        if self.upstream_url is None:
            return
        with contextlib.suppress(OSError, WebSocketException):
            async with connect(self.upstream_url, compression=None, ping_interval=None, max_size=1 << 24,
                               proxy=None) as ws:
                client.upstream = ws
                await ws.send(json.dumps({"assets_ids": sorted(client.upstream_tokens), "type": "market",
                                          "custom_feature_enabled": True}))
                async for message in ws:
                    data = message.encode() if isinstance(message, str) else message
                    if client.open:
                        client.transport.write(server_frame(data))
                        self.upstream_frames += 1
        client.upstream = None

    # -- load -----------------------------------------------------------------------------------

    def declare(self, markets: list[list[str]]) -> int:
        for condition_id, yes, no in markets:
            market = SyntheticMarket(condition_id, yes, no)
            self.markets[yes] = self.markets[no] = market
        return len(markets)

    def _frame_plan(self, markets_per_frame: int) -> list[tuple[Client, list[SyntheticMarket]]]:
        """Groups of markets_per_frame markets, each on one socket, covering the subscribed markets;
        sockets interleaved so consecutive frames go to different connections, as a busy feed does."""
        by_client: dict[Client, list[SyntheticMarket]] = {}
        seen: set[int] = set()
        for token, client in self.owner.items():
            market = self.markets[token]
            if id(market) in seen or not self.owner.get(market.yes) is client is self.owner.get(market.no):
                continue  # a market split over two sockets (never with paired ids): left out of the load
            seen.add(id(market))
            by_client.setdefault(client, []).append(market)
        n = markets_per_frame
        per_client = [[markets[i:i + n] for i in range(0, len(markets) - n + 1, n)] for markets in by_client.values()]
        clients = list(by_client)
        plan = []
        for i in range(max((len(groups) for groups in per_client), default=0)):
            for client, groups in zip(clients, per_client, strict=True):
                if i < len(groups):
                    plan.append((client, groups[i]))
        return plan

    async def load(self, rate: float, seconds: float, markets_per_frame: int = 1) -> dict:
        plan = self._frame_plan(max(1, markets_per_frame))
        if not plan or rate <= 0:
            return {"sent_frames": 0, "skipped": 0, "planned": 0, "elapsed_s": 0.0, "groups": len(plan)}
        total = int(rate * seconds)
        sent = skipped = 0
        clock = time.perf_counter
        start = clock()
        k = 0
        max_lag_frames = 0
        while k < total:
            due = min(total, int((clock() - start) * rate) + 1)
            max_lag_frames = max(max_lag_frames, due - k)
            while k < due:
                client, markets = plan[k % len(plan)]
                frame = server_frame(price_change_frame(markets, time.time_ns()))
                if client.send(frame):
                    sent += 1
                else:
                    skipped += 1
                k += 1
            await asyncio.sleep(TICK_S)
        elapsed = clock() - start
        return {"planned": total, "sent_frames": sent, "skipped": skipped, "elapsed_s": elapsed,
                "offered_fps": total / elapsed if elapsed else 0.0, "markets_per_frame": markets_per_frame,
                "groups": len(plan), "max_burst_frames": max_lag_frames}

    def status(self) -> dict:
        return {"clients": len(self.clients), "synthetic_subscribed": len(self.owner),
                "upstream_sockets": sum(1 for c in self.clients if c.upstream is not None),
                "upstream_frames": self.upstream_frames, "markets": len({id(m) for m in self.markets.values()})}


async def _control(source: MarketSource, stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while not stop.is_set():
        line = await reader.readline()
        if not line:
            break
        try:
            command = json.loads(line)
            name = command.get("cmd")
            if name == "markets":
                reply = {"ok": True, "markets": source.declare(command["markets"])}
            elif name == "load":
                reply = {"ok": True, **await source.load(float(command["rate"]), float(command["seconds"]),
                                                         int(command.get("markets_per_frame", 1)))}
            elif name == "status":
                reply = {"ok": True, **source.status()}
            elif name == "stop":
                reply = {"ok": True}
                stop.set()
            else:
                reply = {"ok": False, "error": f"unknown command {name!r}"}
        except (KeyError, TypeError, ValueError) as exc:
            reply = {"ok": False, "error": repr(exc)}
        print(json.dumps(reply), flush=True)
    stop.set()


async def main_async(listen: str, upstream: str | None) -> None:
    host, _, port = listen.rpartition(":")
    source = MarketSource(upstream)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Client(source), host, int(port))
    bound = server.sockets[0].getsockname()[1]
    print(json.dumps({"msg": "serving", "ws_addr": f"{host}:{bound}"}), flush=True)
    stop = asyncio.Event()
    control = asyncio.create_task(_control(source, stop))
    try:
        await stop.wait()
    finally:
        control.cancel()
        server.close()
        for client in list(source.clients):
            if client.transport is not None:
                client.transport.abort()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT (port 0: a free one)")
    parser.add_argument("--upstream", default=None, help="the venue's market WebSocket URL, for other tokens")
    args = parser.parse_args()
    asyncio.run(main_async(args.listen, args.upstream))


if __name__ == "__main__":
    main()
