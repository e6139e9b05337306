"""The Ingest gRPC servicer: a thin shell over the WebSocket pool and the books."""

from __future__ import annotations

import argparse

from polyarb.runtime.server import Registration, ServiceApp, service_info
from polyarb.v1 import ingest_pb2, ingest_pb2_grpc


class IngestServicer(ingest_pb2_grpc.IngestServicer):
    def __init__(self, args: argparse.Namespace, auth_required: bool) -> None:
        self.args = args
        self.auth_required = auth_required

    async def GetStatus(self, request, context):
        return ingest_pb2.IngestStatus(
            info=service_info("ingest", "market-ws", self.auth_required),
            ws_url=self.args.ws_url,
            connections=0,
            subscribed_tokens=0,
            stale_tokens=0,
            last_frame_age_s=-1,
            messages_per_s=0,
            streams=0,
        )


async def build_app(args: argparse.Namespace, token: str | None) -> ServiceApp:
    servicer = IngestServicer(args, auth_required=bool(token))
    return ServiceApp(
        name="ingest",
        mode="market-ws",
        registrations=[Registration(ingest_pb2_grpc.add_IngestServicer_to_server, servicer, "polyarb.v1.Ingest")],
    )
