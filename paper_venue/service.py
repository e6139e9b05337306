"""The PaperVenue gRPC servicer (status) and the app that starts the market WebSocket and CLOB REST."""

from __future__ import annotations

import argparse
import logging

from paper_venue.accounts import DEFAULT_STARTING_COLLATERAL
from paper_venue.auth import PAPER_CREDS
from paper_venue.matching import SHARE_SCALE
from paper_venue.venue import PaperVenue, VenueConfig
from polyarb.runtime.server import Registration, ServiceApp, service_info
from polyarb.v1 import venue_pb2, venue_pb2_grpc

log = logging.getLogger("paper_venue")


class PaperVenueServicer(venue_pb2_grpc.PaperVenueServicer):
    def __init__(self, venue: PaperVenue, auth_required: bool) -> None:
        self.venue = venue
        self.auth_required = auth_required

    async def GetStatus(self, request, context):
        return venue_pb2.VenueStatus(info=service_info("paper_venue", "paper", self.auth_required),
                                     **self.venue.status())


def venue_config(args: argparse.Namespace) -> VenueConfig:
    keys = getattr(args, "api_keys", None)
    balance = getattr(args, "starting_balance", None)
    return VenueConfig(
        scenario=args.scenario,
        seed=getattr(args, "seed", None),
        replay_speed=getattr(args, "replay_speed", 1.0),
        step_s=getattr(args, "step_s", 0.25),
        chain_id=getattr(args, "chain_id", 137),
        starting_collateral=DEFAULT_STARTING_COLLATERAL if balance is None else round(balance * SHARE_SCALE),
        api_keys=tuple(keys) if keys else (PAPER_CREDS,),
        faults=getattr(args, "fault_settings", None),
    )


async def build_app(args: argparse.Namespace, token: str | None) -> ServiceApp:
    venue = PaperVenue(venue_config(args))
    servicer = PaperVenueServicer(venue, auth_required=bool(token))
    extra: dict[str, str] = {}

    async def start() -> None:
        try:
            await venue.start(args.ws_addr, args.http_addr)
        except OSError as exc:
            log.error("cannot listen", extra={"ws_addr": args.ws_addr, "http_addr": args.http_addr,
                                              "error": str(exc)})
            await venue.stop()
            raise SystemExit(1) from None
        extra.update(ws_addr=venue.feed.address, http_addr=venue.http_address, scenario=venue.scenario.name)

    return ServiceApp(
        name="paper_venue",
        mode="paper",
        registrations=[
            Registration(venue_pb2_grpc.add_PaperVenueServicer_to_server, servicer, "polyarb.v1.PaperVenue")
        ],
        start=start,
        stop=venue.stop,
        extra=extra,
    )
