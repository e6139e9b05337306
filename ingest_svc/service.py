"""The Ingest gRPC servicer: a thin shell over the market feed (pool, books, streams)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from ingest_svc import metrics
from ingest_svc.feed import MarketFeed
from ingest_svc.record import FrameWriter, open_record
from polyarb.runtime.metrics import ErrorCounter
from polyarb.runtime.server import Registration, ServiceApp, service_info
from polyarb.v1 import common_pb2, ingest_pb2, ingest_pb2_grpc

log = logging.getLogger("ingest")
errors = ErrorCounter("ingest")


class IngestServicer(ingest_pb2_grpc.IngestServicer):
    def __init__(self, feed: MarketFeed, ws_url: str, auth_required: bool) -> None:
        self.feed = feed
        self.ws_url = ws_url
        self.auth_required = auth_required

    async def StreamTopOfBook(self, request_iterator, context):
        feed = self.feed
        sub = feed.hub.attach()

        async def read_subscriptions() -> None:
            async for request in request_iterator:
                sub.coalesce = request.coalesce
                await feed.change_subscription(sub, request.add_token_ids, request.remove_token_ids)

        reader = asyncio.create_task(read_subscriptions())
        reader.add_done_callback(lambda task: _reader_done(task, sub))
        try:
            while True:
                coalesced = sub.coalesced
                batch = await sub.next_batch()
                if batch is None:
                    return
                if sub.coalesced != coalesced:
                    metrics.COALESCED.inc(sub.coalesced - coalesced)
                metrics.FRAME_TO_SEND.observe(max(0, batch.sent_ns - batch.ws_recv_ns) / 1e9)
                yield batch
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            await feed.drop_stream(sub)

    async def GetStatus(self, request, context):
        feed = self.feed
        sockets = [
            common_pb2.PeerState(name=f"ws-{c.conn_id}", address=self.ws_url, connected=c.connected,
                                 reconnects=c.reconnects, last_error=c.last_error)
            for c in feed.pool.connections.values()
        ]
        return ingest_pb2.IngestStatus(
            info=service_info("ingest", "market-ws", self.auth_required),
            ws_url=self.ws_url,
            connections=feed.pool.open_connections(),
            subscribed_tokens=feed.pool.subscribed,
            stale_tokens=feed.books.stale_count(),
            last_frame_age_s=feed.last_frame_age_s(),
            messages_per_s=feed.messages_per_s(),
            streams=len(feed.hub.subscribers),
            sockets=sockets,
        )


def _reader_done(task: asyncio.Task, sub) -> None:
    """A client that half-closes keeps its stream; one whose request stream fails loses it."""
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        errors("stream_request", "subscription stream failed", error=repr(exc)[:200])
        sub.close("request stream failed")


async def build_app(args: argparse.Namespace, token: str | None) -> ServiceApp:
    record_file = open_record(args.record, "ab") if args.record else None
    feed = MarketFeed(
        args.ws_url,
        args.tokens_per_connection,
        args.ping_interval,
        args.stale_after,
        parser_backend=args.parser,
        recorder=FrameWriter(record_file) if record_file else None,
    )
    servicer = IngestServicer(feed, args.ws_url, auth_required=bool(token))
    sampler: asyncio.Task | None = None

    async def sample_forever() -> None:
        while True:
            feed.sample()
            if record_file is not None:
                record_file.flush()  # a killed process loses at most the last second of its recording
            await asyncio.sleep(1.0)

    async def start() -> None:
        nonlocal sampler
        sampler = asyncio.create_task(sample_forever())

    async def stop() -> None:
        if sampler is not None:
            sampler.cancel()
        await feed.pool.close()
        if record_file is not None:
            record_file.close()

    return ServiceApp(
        name="ingest",
        mode="market-ws",
        registrations=[Registration(ingest_pb2_grpc.add_IngestServicer_to_server, servicer, "polyarb.v1.Ingest")],
        start=start,
        stop=stop,
        extra={"ws_url": args.ws_url},
    )
