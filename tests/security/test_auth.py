"""Control-plane auth on real processes: every RPC of every service, unary and streaming alike, refuses a
call without the bearer token or with a wrong one (UNAUTHENTICATED, and nothing happens); health and
reflection stay open, as kubelet probes and grpcurl need.

The RPCs are read from the services' descriptors, so an RPC added later is covered without editing this.
tests/integration/test_services_start.py checks GetStatus of each service the same way, one service at
a time, and that `live` refuses a world-readable key file (test_executor_live_mode_refuses_a_world_readable_key).
"""

from __future__ import annotations

import re
import urllib.request

import grpc
import pytest
from google.protobuf import message_factory
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from polyarb.runtime.auth import insecure_channel
from polyarb.v1 import engine_pb2, engine_pb2_grpc, executor_pb2, executor_pb2_grpc, ingest_pb2, venue_pb2
from tests.e2e.conftest import TOKEN

pytestmark = pytest.mark.integration

SERVICES = {  # the process each service runs in (Pipeline attribute) and its descriptor
    "venue": venue_pb2.DESCRIPTOR.services_by_name["PaperVenue"],
    "ingest": ingest_pb2.DESCRIPTOR.services_by_name["Ingest"],
    "engine": engine_pb2.DESCRIPTOR.services_by_name["Engine"],
    "executor": executor_pb2.DESCRIPTOR.services_by_name["Executor"],
}
# Wrong ways to present the token: each must fail like no token at all.
WRONG = {
    "wrong token": f"Bearer wrong-{TOKEN}",
    "a prefix of it": f"Bearer {TOKEN[:-1]}",
    "it plus more": f"Bearer {TOKEN}x",
    "another scheme": f"Basic {TOKEN}",
    "no scheme": TOKEN,
    "empty": "Bearer ",
}


def method_call(channel: aio.Channel, method):
    """A call of any arity with an empty request (none written on a request stream: the refusal comes
    before any message, and a write racing it would surface as the client's own INTERNAL); the returned
    coroutine function gives the call's final (code, details)."""
    path = f"/{method.containing_service.full_name}/{method.name}"
    request_cls = message_factory.GetMessageClass(method.input_type)
    reply_cls = message_factory.GetMessageClass(method.output_type)
    kinds = {(False, False): channel.unary_unary, (False, True): channel.unary_stream,
             (True, False): channel.stream_unary, (True, True): channel.stream_stream}
    factory = kinds[(method.client_streaming, method.server_streaming)]
    multi = factory(path, request_serializer=request_cls.SerializeToString, response_deserializer=reply_cls.FromString)

    async def call(metadata) -> tuple[grpc.StatusCode, str]:
        if method.client_streaming:
            reply = multi(metadata=metadata, timeout=5)
        else:
            reply = multi(request_cls(), metadata=metadata, timeout=5)
        try:
            if method.server_streaming:
                async for _ in reply:
                    break  # a served stream: one message is enough
                reply.cancel()
            else:
                await reply
        except aio.AioRpcError:
            pass  # the status says why
        return await reply.code(), await reply.details()

    return call


async def test_every_rpc_of_every_service_refuses_missing_or_wrong_tokens(pipeline_factory):
    pipeline = pipeline_factory()
    refused = 0
    for name, service in SERVICES.items():
        process = getattr(pipeline, name)
        async with aio.insecure_channel(process.grpc_addr) as channel:
            for method in service.methods:
                call = method_call(channel, method)
                for label, metadata in [("no token", ()), *((k, (("authorization", v),)) for k, v in WRONG.items())]:
                    code, details = await call(metadata)
                    assert code == grpc.StatusCode.UNAUTHENTICATED, (name, method.name, label, code, details)
                    assert TOKEN not in (details or "")
                    refused += 1
    assert refused == 12 * (1 + len(WRONG))  # 12 RPCs in 4 services

    # nothing a refused call asked for happened
    async with insecure_channel(pipeline.executor.grpc_addr, TOKEN) as channel:
        status = await executor_pb2_grpc.ExecutorStub(channel).GetStatus(executor_pb2.GetExecutorStatusRequest())
    # no UpdateBalance got through (the collateral itself comes from the venue's balance: the paper
    # executor polls GET /balance-allowance, issue 16)
    assert not status.trading.enabled and status.last_seq == 0 and status.balance_figures.pushed_collateral == -1
    async with insecure_channel(pipeline.engine.grpc_addr, TOKEN) as channel:
        engine = await engine_pb2_grpc.EngineStub(channel).GetStatus(engine_pb2.GetEngineStatusRequest())
    assert engine.structure_version == 0 and engine.config.min_profit_abs == pytest.approx(0.01)
    # and each refusal was counted
    for name, service in SERVICES.items():
        process = getattr(pipeline, name)
        with urllib.request.urlopen(f"http://{process.metrics_addr}/metrics", timeout=5) as response:
            text = response.read().decode()
        counted = re.search(r'polyarb_errors_total\{kind="unauthenticated",service="\w+"\} (\S+)', text)
        assert counted and float(counted.group(1)) == len(service.methods) * (1 + len(WRONG)), name


async def test_health_and_reflection_are_open_and_the_right_token_works(pipeline_factory):
    pipeline = pipeline_factory()
    for name, service in SERVICES.items():
        process = getattr(pipeline, name)
        async with aio.insecure_channel(process.grpc_addr) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            for target in ("", service.full_name):
                reply = await health.Check(health_pb2.HealthCheckRequest(service=target), timeout=5)
                assert reply.status == health_pb2.HealthCheckResponse.SERVING
            watch = health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=5)
            assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING
            watch.cancel()
            reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
            call = reflection.ServerReflectionInfo(iter([
                reflection_pb2.ServerReflectionRequest(list_services=""),
                reflection_pb2.ServerReflectionRequest(file_containing_symbol=service.full_name)]), timeout=5)
            replies = [reply async for reply in call]
            assert service.full_name in {s.name for s in replies[0].list_services_response.service}
            assert replies[1].file_descriptor_response.file_descriptor_proto
        async with insecure_channel(process.grpc_addr, TOKEN) as channel:  # the right token: served
            code, _ = await method_call(channel, service.methods_by_name["GetStatus"])(())
            assert code == grpc.StatusCode.OK
