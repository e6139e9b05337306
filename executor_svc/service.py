"""The Executor gRPC servicer: a thin shell over validation, signing, the CLOB client and the journal."""

from __future__ import annotations

import argparse

from executor_svc.clob_auth import ApiCreds
from executor_svc.keys import SigningKey
from polyarb.runtime.server import Registration, ServiceApp, service_info
from polyarb.v1 import common_pb2, executor_pb2, executor_pb2_grpc


class ExecutorServicer(executor_pb2_grpc.ExecutorServicer):
    def __init__(
        self,
        args: argparse.Namespace,
        auth_required: bool,
        key: SigningKey | None,
        creds: ApiCreds | None,
    ) -> None:
        self.args = args
        self.auth_required = auth_required
        self.key = key
        self.creds = creds

    async def GetStatus(self, request, context):
        mode = self.args.mode
        return executor_pb2.ExecutorStatus(
            trading=executor_pb2.TradingState(enabled=False, reason="starts disabled", mode=mode),
            balance=executor_pb2.BalanceState(),
            info=service_info("executor", mode, self.auth_required),
            peers=[common_pb2.PeerState(name="clob", address=self.args.clob_url, connected=False)],
            signer_address=self.key.address if self.key else "",
        )


async def build_app(
    args: argparse.Namespace, token: str | None, key: SigningKey | None, creds: ApiCreds | None
) -> ServiceApp:
    servicer = ExecutorServicer(args, bool(token), key, creds)
    return ServiceApp(
        name="executor",
        mode=args.mode,
        registrations=[
            Registration(executor_pb2_grpc.add_ExecutorServicer_to_server, servicer, "polyarb.v1.Executor")
        ],
    )
