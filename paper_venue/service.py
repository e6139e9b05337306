"""The PaperVenue gRPC servicer (status); the market WebSocket and CLOB REST live beside it."""

from __future__ import annotations

import argparse

from polyarb.runtime.server import Registration, ServiceApp, service_info
from polyarb.v1 import venue_pb2, venue_pb2_grpc


class PaperVenueServicer(venue_pb2_grpc.PaperVenueServicer):
    def __init__(self, args: argparse.Namespace, auth_required: bool) -> None:
        self.args = args
        self.auth_required = auth_required

    async def GetStatus(self, request, context):
        return venue_pb2.VenueStatus(
            info=service_info("paper_venue", "paper", self.auth_required),
            scenario=self.args.scenario,
        )


async def build_app(args: argparse.Namespace, token: str | None) -> ServiceApp:
    servicer = PaperVenueServicer(args, auth_required=bool(token))
    return ServiceApp(
        name="paper_venue",
        mode="paper",
        registrations=[
            Registration(venue_pb2_grpc.add_PaperVenueServicer_to_server, servicer, "polyarb.v1.PaperVenue")
        ],
    )
