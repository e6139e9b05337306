"""The POST /orders connection (executor_svc/batch_post.py): response parsing, and what is reported
as not sent or as sent-with-unknown-answer, against raw servers that misbehave on purpose."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import ssl

import pytest
from hypothesis import given
from hypothesis import strategies as st

from executor_svc import batch_post
from executor_svc.batch_post import BadResponse, BatchPoster, NotSent, SentUnknown, parse_head, read_response

BODY = b'[{"order":{}}]'
HEADERS = [("POLY_ADDRESS", "0xabc"), ("Content-Type", "application/json")]


async def _parse(data: bytes, eof: bool = True):
    reader = asyncio.StreamReader(limit=batch_post.MAX_HEAD_BYTES)
    reader.feed_data(data)
    if eof:
        reader.feed_eof()
    return await read_response(reader)


def test_parse_head_reads_status_headers_and_keep_alive():
    assert parse_head(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-A:  b \r\n\r\n") == (
        200, {"content-type": "application/json", "x-a": "b"}, True)
    assert parse_head(b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n")[2] is False
    assert parse_head(b"HTTP/1.0 200 OK\r\n\r\n")[2] is False
    assert parse_head(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n")[2] is True
    assert parse_head(b"HTTP/1.1 204\r\n\r\n")[0] == 204  # no reason phrase


@pytest.mark.parametrize("head", [b"", b"hello\r\n\r\n", b"HTTP/2 200 OK\r\n\r\n", b"HTTP/1.1 20 OK\r\n\r\n",
                                  b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", b"HTTP/1.1 abc OK\r\n\r\n",
                                  b"HTTP/1.1 200 OK\r\n Folded: x\r\n\r\n"])
def test_parse_head_refuses_what_is_not_http(head):
    with pytest.raises(BadResponse):
        parse_head(head)


@given(st.binary(max_size=200))
def test_parse_head_never_fails_other_than_bad_response(data):
    with contextlib.suppress(BadResponse):
        parse_head(data)


async def test_content_length_body():
    response = await _parse(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA", eof=False)
    assert (response.status, response.body, response.keep_alive) == (200, b"hello", True)


async def test_chunked_body_with_extensions_and_trailers():
    data = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
            b"4;name=x\r\n[{\"a\r\n3\r\n\":1\r\n2\r\n}]\r\n0\r\nX-Trailer: t\r\n\r\n")
    response = await _parse(data, eof=False)
    assert response.body == b'[{"a":1}]' and response.content_type == "application/json"


async def test_close_delimited_body_ends_keep_alive():
    response = await _parse(b"HTTP/1.1 200 OK\r\n\r\n[1,2]")
    assert response.body == b"[1,2]" and not response.keep_alive


async def test_gzip_body_is_decoded_and_interim_responses_skipped():
    packed = gzip.compress(b'{"ok":true}')
    data = (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: "
            + str(len(packed)).encode() + b"\r\n\r\n" + packed)
    assert (await _parse(data)).body == b'{"ok":true}'


@pytest.mark.parametrize("data", [
    b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 1\r\n\r\nx",
    b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc",
])
async def test_bad_bodies_are_bad_responses(data):
    with pytest.raises(BadResponse):
        await _parse(data)


async def test_a_body_cut_short_is_an_incomplete_read():
    with pytest.raises(asyncio.IncompleteReadError):
        await _parse(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")


class RawServer:
    """Answers each request with `answers` in turn (bytes, or None to close without answering, or
    "hang" to never answer); records every request's bytes."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.requests: list[bytes] = []
        self.connections = 0
        self.writers: list[asyncio.StreamWriter] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                self.requests.append(head + await reader.readexactly(length))
                answer = self.answers.pop(0) if self.answers else OK
                if answer is None:
                    writer.close()
                    return
                if answer == "hang":
                    await asyncio.sleep(3600)
                writer.write(answer)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()  # cancelled: the test's loop is closing; end quietly

    async def __aenter__(self):
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc):
        for writer in self.writers:
            writer.close()
        self.server.close()


OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]"


async def test_the_request_bytes_and_a_kept_alive_connection():
    async with RawServer([OK, OK]) as server:
        poster = BatchPoster(server.url + "/prefix/")
        for _ in range(2):
            response, posted_ns = await poster.post("/orders", HEADERS, BODY, 2.0)
            assert response.status == 200 and response.body == b"[]" and posted_ns > 0
        assert server.connections == 1 and poster.connections_opened == 1
        host = server.url.removeprefix("http://")
        assert server.requests[0] == (
            f"POST /prefix/orders HTTP/1.1\r\nHost: {host}\r\nUser-Agent: polyarb-executor\r\nAccept: */*\r\n"
            "Connection: keep-alive\r\nPOLY_ADDRESS: 0xabc\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(BODY)}\r\n\r\n").encode() + BODY
        await poster.close()


async def test_no_server_is_not_sent():
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    with pytest.raises(NotSent):
        await BatchPoster(f"http://127.0.0.1:{port}").post("/orders", HEADERS, BODY, 1.0)


@pytest.mark.parametrize("answer, why", [(None, "closed before"), ("hang", "no answer within"),
                                         (b"garbage\r\n\r\n", "unreadable answer"),
                                         (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n[", "no answer within")])
async def test_sent_then_no_complete_answer_is_unknown_and_never_resent(answer, why):
    async with RawServer([answer]) as server:
        poster = BatchPoster(server.url)
        with pytest.raises(SentUnknown, match=why) as caught:
            await poster.post("/orders", HEADERS, BODY, 0.3)
        assert caught.value.posted_ns > 0
        await asyncio.sleep(0.05)
        assert len(server.requests) == 1
        await poster.close()


async def test_a_connection_the_server_closed_while_idle_is_replaced_before_writing():
    async with RawServer([OK, OK]) as server:
        poster = BatchPoster(server.url)
        await poster.post("/orders", HEADERS, BODY, 2.0)
        server.writers[0].close()  # the server drops the idle connection
        await asyncio.sleep(0.05)
        response, _ = await poster.post("/orders", HEADERS, BODY, 2.0)
        assert response.status == 200 and server.connections == 2 and len(server.requests) == 2
        await poster.close()


async def test_a_connection_with_unasked_bytes_is_not_reused():
    """A server may write (408 Request Timeout) on an idle connection and close it later: an answer
    read from that connection would be the wrong one."""
    async with RawServer([OK, OK]) as server:
        poster = BatchPoster(server.url)
        await poster.post("/orders", HEADERS, BODY, 2.0)
        server.writers[0].write(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n")
        await asyncio.sleep(0.05)
        response, _ = await poster.post("/orders", HEADERS, BODY, 2.0)
        assert response.status == 200 and server.connections == 2
        await poster.close()


async def test_connection_close_in_the_answer_is_honoured():
    closing = b"HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"
    async with RawServer([closing, OK]) as server:
        poster = BatchPoster(server.url)
        assert (await poster.post("/orders", HEADERS, BODY, 2.0))[0].status == 500
        assert (await poster.post("/orders", HEADERS, BODY, 2.0))[0].status == 200
        assert server.connections == 2
        await poster.close()


async def test_the_keeper_opens_a_connection_ahead_and_replaces_an_old_one(monkeypatch):
    monkeypatch.setattr(batch_post, "KEEPER_TICK_S", 0.05)
    monkeypatch.setattr(batch_post, "IDLE_REPLACE_S", 0.2)
    async with RawServer([]) as server:
        poster = BatchPoster(server.url)
        poster.start()
        await asyncio.sleep(0.1)
        assert server.connections == 1  # before any POST
        await asyncio.sleep(0.4)
        assert server.connections >= 2 and len(poster._idle) == 1  # replaced, not accumulated
        opened = poster.connections_opened
        await poster.post("/orders", HEADERS, BODY, 2.0)
        assert poster.connections_opened == opened  # the POST found a warm connection
        await poster.close()


async def test_tls_to_a_server_the_context_trusts(pki):
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(pki.server_cert, pki.server_key)
    raw = RawServer([OK])
    server = await asyncio.start_server(raw.handle, "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    client_ctx = ssl.create_default_context(cafile=str(pki.ca))
    poster = BatchPoster(f"https://localhost:{port}", ssl_context=client_ctx)
    assert (await poster.post("/orders", HEADERS, BODY, 2.0))[0].status == 200
    assert raw.requests[0].startswith(b"POST /orders HTTP/1.1\r\nHost: localhost:")
    untrusting = BatchPoster(f"https://localhost:{port}")  # the system's CAs do not know the test CA
    with pytest.raises(NotSent):
        await untrusting.post("/orders", HEADERS, BODY, 2.0)
    await poster.close()
    for writer in raw.writers:
        writer.close()
    server.close()


def test_a_url_that_is_not_http_is_refused():
    with pytest.raises(ValueError):
        BatchPoster("ftp://example.com")


async def test_send_now_hands_the_bytes_to_the_kernel_before_returning():
    async with RawServer([OK]) as server:
        poster = BatchPoster(server.url)
        assert poster.send_now("/orders", HEADERS, BODY) is None  # nothing warm: post() would open one
        await poster.post("/orders", HEADERS, BODY, 2.0)  # leaves a warm connection
        sent = poster.send_now("/orders", HEADERS, BODY)
        assert sent is not None and sent.conn.writer.transport.get_write_buffer_size() == 0  # nothing queued
        assert (await poster.answer(sent, 2.0)).status == 200 and len(server.requests) == 2
        await poster.close()
