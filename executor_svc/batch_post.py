"""The HTTP/1.1 connection that carries POST /orders: request bytes built from prepared pieces, written
with one call onto a kept-alive (TLS) connection, and the answer read back.

Why not aiohttp, which the executor uses for every other request: measured cold, as a bot posts (one
batch now and then), aiohttp's request path costs ~575 µs before the first byte leaves, this ~200 µs,
for the same bytes (`python -m bench.bench_post`). POST /orders is the one request on the critical
path, so it alone takes this road.

What a caller must know, because money depends on it:
- `NotSent`: no byte of the request was written (no connection could be opened). Nothing can have
  matched; the batch may be reported as not sent.
- `SentUnknown`: the request was (or may have been) written and no complete answer came back (time-out,
  reset, EOF, a response that is not HTTP). The venue may have matched it: never re-post, reconcile.
- A pooled connection that the server closed while idle is noticed before writing (EOF already read)
  and replaced; one that dies while the request is on its way is `SentUnknown`, never retried.

`parse_head` and `read_response` are the pure part (bytes → status, headers, body); `BatchPoster` is
the socket shell around them. Connections are kept warm: one is opened ahead of the first batch and
replaced before it idles long enough for a server or load balancer to drop it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
import zlib
from dataclasses import dataclass
from urllib.parse import urlsplit

USER_AGENT = "polyarb-executor"
MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 4 * 1024 * 1024
# A kept-alive connection older than this, idle, is replaced in the background: servers and load
# balancers drop idle connections (nginx 75 s, many 60 s), and a drop noticed at POST time costs a
# connect on the critical path (or, if it races the write, an unknown outcome).
IDLE_REPLACE_S = 20.0
KEEPER_TICK_S = 2.0


class PostError(Exception):
    """Base of what `BatchPoster.post` raises."""


class NotSent(PostError):
    """No byte of the request left this process."""


class SentUnknown(PostError):
    """The request was (or may have been) sent at posted_ns; its answer is not known."""

    def __init__(self, message: str, posted_ns: int) -> None:
        super().__init__(message)
        self.posted_ns = posted_ns


class BadResponse(ValueError):
    """Bytes that are not an HTTP/1.1 response this client can read."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names; a repeated header keeps its last value
    body: bytes
    keep_alive: bool

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


def parse_head(head: bytes) -> tuple[int, dict[str, str], bool]:
    """Status line and headers (with the blank line or without) → (status, headers, keep_alive)."""
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError as exc:  # latin-1 decodes any byte; kept for clarity of intent
        raise BadResponse("undecodable response head") from exc
    lines = text.rstrip("\r\n").split("\r\n")
    status_line = lines[0]
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or parts[0] not in ("HTTP/1.1", "HTTP/1.0") or not (len(parts[1]) == 3 and parts[1].isdigit()):
        raise BadResponse(f"not an HTTP status line: {status_line[:80]!r}")
    status = int(parts[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise BadResponse(f"malformed header line: {line[:80]!r}")
        headers[name.lower()] = value.strip()
    connection = headers.get("connection", "").lower()
    keep_alive = "close" not in connection if parts[0] == "HTTP/1.1" else "keep-alive" in connection
    return status, headers, keep_alive


async def read_response(reader: asyncio.StreamReader) -> Response:
    """One response from `reader`: Content-Length, chunked or close-delimited bodies; gzip/deflate
    bodies are decoded. Interim 1xx responses are skipped. Raises BadResponse, or
    asyncio.IncompleteReadError / ConnectionError when the connection ends early."""
    while True:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError as exc:
            raise BadResponse("response head too long") from exc
        if len(head) > MAX_HEAD_BYTES:
            raise BadResponse("response head too long")
        status, headers, keep_alive = parse_head(head)
        if not 100 <= status < 200:
            break
    if status in (204, 304):
        body = b""
    elif "chunked" in headers.get("transfer-encoding", "").lower():
        body = await _read_chunked(reader)
    elif "content-length" in headers:
        length_text = headers["content-length"]
        if not length_text.isdigit() or int(length_text) > MAX_BODY_BYTES:
            raise BadResponse(f"bad Content-Length {length_text[:40]!r}")
        body = await reader.readexactly(int(length_text))
    else:  # delimited by the server closing the connection
        body = await reader.read(MAX_BODY_BYTES + 1)
        while body and not reader.at_eof():
            more = await reader.read(MAX_BODY_BYTES + 1 - len(body))
            if not more:
                break
            body += more
        if len(body) > MAX_BODY_BYTES:
            raise BadResponse("response body too long")
        keep_alive = False
    encoding = headers.get("content-encoding", "identity").lower()
    if encoding in ("gzip", "deflate"):
        try:
            body = zlib.decompress(body, 47)  # 32 + 15: gzip or zlib header, detected
        except zlib.error as exc:
            raise BadResponse(f"{encoding} body does not decode") from exc
    elif encoding not in ("identity", ""):
        raise BadResponse(f"unsupported Content-Encoding {encoding[:40]!r}")
    return Response(status, headers, body, keep_alive)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks = []
    total = 0
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size_text = size_line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise BadResponse(f"bad chunk size {size_text[:20]!r}") from None
        if size < 0:
            raise BadResponse("negative chunk size")
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers, then the end
                pass
            return b"".join(chunks)
        total += size
        if total > MAX_BODY_BYTES:
            raise BadResponse("response body too long")
        chunks.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise BadResponse("chunk not followed by CRLF")


@dataclass
class InFlight:
    """A request written (posted_ns: just before the write) whose answer is still to be read."""

    conn: _Connection
    posted_ns: int
    write_error: str = ""


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float

    def usable(self) -> bool:
        """False once the server has closed its side (EOF read) or sent bytes nobody asked for."""
        reader = self.reader
        return not (self.writer.is_closing() or reader.at_eof() or reader.exception() is not None
                    or len(reader._buffer))

    def close(self) -> None:
        self.writer.close()


class BatchPoster:
    """POSTs to one origin over kept-alive connections, one request per connection at a time."""

    def __init__(self, base_url: str, *, ssl_context: ssl.SSLContext | None = None,
                 connect_timeout_s: float = 1.0) -> None:
        url = urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"the CLOB URL must be http(s)://host[:port][/prefix], got {base_url!r}")
        self.host = url.hostname
        self.tls = url.scheme == "https"
        self.port = url.port or (443 if self.tls else 80)
        self.prefix = url.path.rstrip("/")
        default_port = 443 if self.tls else 80
        host_header = self.host if ":" not in self.host else f"[{self.host}]"
        if self.port != default_port:
            host_header += f":{self.port}"
        self.host_header = host_header
        self.ssl_context = (ssl_context or ssl.create_default_context()) if self.tls else None
        self.connect_timeout_s = connect_timeout_s
        self._idle: list[_Connection] = []
        self._opening: asyncio.Task | None = None
        self._keeper: asyncio.Task | None = None
        self.connections_opened = 0

    def request_head(self, path: str, headers: list[tuple[str, str]], body_length: int) -> bytes:
        """The request line and headers of a POST, as written on the wire."""
        lines = [f"POST {self.prefix}{path} HTTP/1.1", f"Host: {self.host_header}", f"User-Agent: {USER_AGENT}",
                 "Accept: */*", "Connection: keep-alive"]
        lines.extend(f"{name}: {value}" for name, value in headers)
        lines.append(f"Content-Length: {body_length}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def _open(self) -> _Connection:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port, ssl=self.ssl_context,
                                    server_hostname=self.host if self.tls else None, limit=MAX_HEAD_BYTES),
            self.connect_timeout_s)
        self.connections_opened += 1
        return _Connection(reader, writer, time.monotonic())

    def _take_idle(self) -> _Connection | None:
        while self._idle:
            conn = self._idle.pop()
            if conn.usable():
                return conn
            conn.close()
        return None

    def send_now(self, path: str, headers: list[tuple[str, str]], body: bytes) -> InFlight | None:
        """Write the request in the caller's turn of the loop, on a warm connection: the bytes leave
        before the caller yields. None when no connection is warm (then `post` opens one)."""
        request = self.request_head(path, headers, len(body)) + body  # before taking a connection: may raise
        conn = self._take_idle()
        return None if conn is None else self._write(conn, request)

    def _write(self, conn: _Connection, request: bytes) -> InFlight:
        posted_ns = time.time_ns()
        try:
            conn.writer.write(request)  # a write that fails shows as an error on the reader: `answer` says so
        except Exception as exc:  # whatever it is, bytes may have left: the answer is unknown
            return InFlight(conn, posted_ns, f"{type(exc).__name__}: {exc}"[:300])
        return InFlight(conn, posted_ns)

    async def answer(self, sent: InFlight, timeout_s: float) -> Response:
        """The response to a request `send_now` (or `post`) wrote. Raises SentUnknown."""
        conn, posted_ns = sent.conn, sent.posted_ns
        if sent.write_error:
            conn.close()
            raise SentUnknown(sent.write_error, posted_ns)
        try:
            async with asyncio.timeout(timeout_s):
                response = await read_response(conn.reader)
        except TimeoutError:
            conn.close()
            raise SentUnknown(f"no answer within {timeout_s * 1000:.0f} ms", posted_ns) from None
        except asyncio.IncompleteReadError:
            conn.close()
            raise SentUnknown("the connection closed before the answer was complete", posted_ns) from None
        except (BadResponse, asyncio.LimitOverrunError) as exc:
            conn.close()
            raise SentUnknown(f"unreadable answer: {exc}"[:300], posted_ns) from None
        except (OSError, ssl.SSLError) as exc:
            conn.close()
            raise SentUnknown(f"{type(exc).__name__}: {exc}"[:300], posted_ns) from None
        if response.keep_alive:
            conn.idle_since = time.monotonic()
            self._idle.append(conn)
        else:
            conn.close()
        return response

    async def post(self, path: str, headers: list[tuple[str, str]], body: bytes,
                   timeout_s: float) -> tuple[Response, int]:
        """Send one POST once, on a warm connection or a new one; (response, posted_ns), posted_ns
        stamped just before the write. Raises NotSent or SentUnknown (see the module's docstring)."""
        sent = self.send_now(path, headers, body)
        if sent is None:
            try:
                conn = await self._open()
            except (TimeoutError, OSError, ssl.SSLError) as exc:
                raise NotSent(f"connect to {self.host}:{self.port} failed: {type(exc).__name__}: {exc}"[:300]) from None
            sent = self._write(conn, self.request_head(path, headers, len(body)) + body)
        return await self.answer(sent, timeout_s), sent.posted_ns

    # -- warmth -------------------------------------------------------------------------------------

    def start(self) -> None:
        """Open a connection ahead of the first batch and keep one fresh (call inside the loop)."""
        if self._keeper is None:
            self._keeper = asyncio.create_task(self._keep_warm())

    async def _keep_warm(self) -> None:
        while True:
            now = time.monotonic()
            stale = [c for c in self._idle if not c.usable() or now - c.idle_since >= IDLE_REPLACE_S]
            if len(stale) == len(self._idle):  # none fresh: open one before closing any, so a POST meanwhile finds one
                # unreachable now: a POST will say so (NotSent), and this tries again next tick
                with contextlib.suppress(TimeoutError, OSError, ssl.SSLError):
                    self._idle.append(await self._open())
            for conn in stale:
                if conn in self._idle:  # one a POST took during the open is that POST's, not closed here
                    self._idle.remove(conn)
                    conn.close()
            await asyncio.sleep(KEEPER_TICK_S)

    async def close(self) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
            self._keeper = None
        for conn in self._idle:
            conn.close()
        self._idle.clear()
