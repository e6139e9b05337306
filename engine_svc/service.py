"""The Engine gRPC servicer: a thin shell over the structure, the evaluator and the peer clients."""

from __future__ import annotations

import argparse

from polyarb.runtime.server import Registration, ServiceApp, service_info
from polyarb.v1 import common_pb2, engine_pb2, engine_pb2_grpc


class EngineServicer(engine_pb2_grpc.EngineServicer):
    def __init__(self, args: argparse.Namespace, auth_required: bool) -> None:
        self.args = args
        self.auth_required = auth_required

    async def GetStatus(self, request, context):
        return engine_pb2.EngineStatus(
            info=service_info("engine", "signals", self.auth_required),
            peers=[
                common_pb2.PeerState(name="ingest", address=self.args.ingest_addr, connected=False),
                common_pb2.PeerState(name="executor", address=self.args.executor_addr, connected=False),
            ],
        )


async def build_app(args: argparse.Namespace, token: str | None) -> ServiceApp:
    servicer = EngineServicer(args, auth_required=bool(token))
    return ServiceApp(
        name="engine",
        mode="signals",
        registrations=[Registration(engine_pb2_grpc.add_EngineServicer_to_server, servicer, "polyarb.v1.Engine")],
    )
