"""The pipeline trading end to end with mutual TLS on every gRPC port and on both of the engine's links."""

from __future__ import annotations

import asyncio

import pytest

from polyarb.runtime import auth
from polyarb.v1 import engine_pb2, engine_pb2_grpc, executor_pb2
from tests.e2e.test_pipeline import check_trace, next_results, wait_fresh

pytestmark = pytest.mark.integration


async def test_trades_end_to_end_over_mutual_tls(pipeline_factory, pki):
    pipeline = pipeline_factory(pki=pki)
    assert pipeline.tls is not None
    assert any(e.get("msg") == "serving" and e.get("peer_tls") == "mutual" and e.get("tls") == "mutual"
               for e in pipeline.engine.log_entries())
    reply = await pipeline.push_structure_and_enable()
    await wait_fresh(pipeline, reply.tokens)  # ingest link up and fresh, executor link up: both over TLS
    async with pipeline.channel(pipeline.engine) as channel:
        status = await engine_pb2_grpc.EngineStub(channel).GetStatus(engine_pb2.GetEngineStatusRequest())
    assert status.peer_tls and status.ingest_connected and status.executor_connected

    structure = pipeline.venue_get("/admin/structure")
    trio = structure["trios"][0]
    pipeline.venue_post("/admin/arbitrage", {"instance_id": trio["id"], "gap": 0.05, "size": 20, "ttl_s": None})
    (result,) = await next_results(pipeline, 0, 1)
    assert result.outcome == executor_pb2.OUTCOME_FILLED, result
    assert result.instance_id == trio["id"]
    check_trace(result)


async def test_engine_without_a_client_certificate_cannot_link(start_service, pki, tmp_path):
    served = ["--tls-cert-file", str(pki.server_cert), "--tls-key-file", str(pki.server_key),
              "--tls-client-ca-file", str(pki.ca)]
    ingest = start_service("ingest_svc", ["--ws-url", "ws://127.0.0.1:1/ws/market", *served])
    executor = start_service("executor_svc", ["--mode", "dry-run", "--journal", str(tmp_path / "j.sqlite"),
                                              *served])
    engine = start_service("engine_svc", ["--ingest-addr", ingest.grpc_addr, "--executor-addr",
                                          executor.grpc_addr, "--peer-tls-ca-file", str(pki.ca)])
    async with auth.channel(engine.grpc_addr) as channel:
        stub = engine_pb2_grpc.EngineStub(channel)
        for _ in range(30):
            status = await stub.GetStatus(engine_pb2.GetEngineStatusRequest(), timeout=5)
            if all(peer.reconnects for peer in status.peers):
                break
            await asyncio.sleep(0.2)
    assert status.peer_tls and not status.ingest_connected and not status.executor_connected
    assert all(peer.reconnects and peer.last_error for peer in status.peers), status.peers
