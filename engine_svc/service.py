"""The Engine gRPC servicer: a thin shell over the pipeline and the two peer links."""

from __future__ import annotations

import argparse

import grpc

from engine_svc import metrics
from engine_svc.peers import ExecutorLink, IngestLink
from engine_svc.pipeline import Pipeline
from engine_svc.structure import StructureError
from engine_svc.structure_file import StructureFileWatcher
from polyarb.runtime.config import ConfigError
from polyarb.runtime.metrics import ErrorCounter
from polyarb.runtime.server import Registration, ServiceApp, service_info, status_details
from polyarb.v1 import common_pb2, engine_pb2, engine_pb2_grpc

errors = ErrorCounter("engine")


class EngineServicer(engine_pb2_grpc.EngineServicer):
    def __init__(self, pipeline: Pipeline, ingest: IngestLink, executor: ExecutorLink, auth_required: bool) -> None:
        self.pipeline = pipeline
        self.ingest = ingest
        self.executor = executor
        self.auth_required = auth_required

    def apply_structure(self, request: engine_pb2.MarketStructure) -> engine_pb2.UpdateMarketStructureResponse:
        """Validate whole and swap (the RPC and --structure-file both); StructureError leaves the running one."""
        added, removed = self.pipeline.replace_structure(request)
        self.ingest.change(added, removed)
        structure = self.pipeline.structure
        metrics.STALE_TOKENS.set(self.pipeline.evaluator.stale_token_count())
        return engine_pb2.UpdateMarketStructureResponse(
            version=structure.version, instances=structure.instance_count, tokens=structure.token_count
        )

    async def UpdateMarketStructure(self, request, context):
        try:
            return self.apply_structure(request)
        except StructureError as exc:
            errors("bad_structure", "structure refused", reason=status_details(str(exc)))
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, status_details(str(exc)))

    async def UpdateConfig(self, request, context):
        try:
            return self.pipeline.replace_config(request)
        except ConfigError as exc:
            errors("bad_config", "config refused", reason=status_details(str(exc)))
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, status_details(str(exc)))

    async def GetStatus(self, request, context):
        pipeline = self.pipeline
        structure = pipeline.structure
        stale = pipeline.evaluator.stale_token_count()
        metrics.STALE_TOKENS.set(stale)
        return engine_pb2.EngineStatus(
            structure_version=structure.version,
            instances=structure.instance_count,
            tokens=structure.token_count,
            stale_tokens=stale,
            config=pipeline.config,
            ingest_connected=self.ingest.connected,
            executor_connected=self.executor.connected,
            info=service_info("engine", "signals", self.auth_required),
            peers=[
                common_pb2.PeerState(name=link.name, address=link.address, connected=link.connected,
                                     reconnects=link.reconnects, last_error=link.last_error)
                for link in (self.ingest, self.executor)
            ],
            signals_by_strategy=dict(pipeline.signals_by_strategy),
            last_evaluation_ns=pipeline.last_evaluation_ns,
            in_flight=pipeline.in_flight(),
            skipped_acks=pipeline.skipped_acks,
            instance_views=pipeline.instance_views() if request.include_instances else (),
            capital=pipeline.evaluator.capital,
            held_instances=pipeline.held(),
            peer_tls=self.ingest.tls is not None,
        )


async def build_app(args: argparse.Namespace, token: str | None) -> ServiceApp:
    pipeline = Pipeline()
    peer_tls = getattr(args, "peer_tls", None)  # read and checked by __main__
    executor = ExecutorLink(args.executor_addr, token, pipeline, tls=peer_tls)
    ingest = IngestLink(args.ingest_addr, token, pipeline, executor.send, tls=peer_tls)
    servicer = EngineServicer(pipeline, ingest, executor, auth_required=bool(token))
    watcher = None
    if getattr(args, "structure_file", None) is not None:
        # __main__ read and validated it already (a bad file exits 2 there); from now on, changes apply
        servicer.apply_structure(args.initial_structure)
        watcher = StructureFileWatcher(args.structure_file, servicer.apply_structure)

    async def start() -> None:
        executor.start()
        ingest.start()
        if watcher is not None:
            watcher.start()

    async def stop() -> None:
        if watcher is not None:
            await watcher.stop()
        await ingest.stop()
        await executor.stop()

    return ServiceApp(
        name="engine",
        mode="signals",
        registrations=[Registration(engine_pb2_grpc.add_EngineServicer_to_server, servicer, "polyarb.v1.Engine")],
        start=start,
        stop=stop,
        extra={"ingest_addr": args.ingest_addr, "executor_addr": args.executor_addr,
               "peer_tls": "off" if peer_tls is None else "mutual" if peer_tls.cert_chain else "on",
               **({"structure_file": str(args.structure_file)} if watcher is not None else {})},
    )
