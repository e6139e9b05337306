"""No secret in any output: the pipeline runs with a known signing key, API secret, passphrase and control
token, goes through the errors that carry the most text (refused calls, invalid requests, 5xx, HTML 403,
a time-out, a rejected leg, garbage on the market socket, debug logging), and then every output is
searched for every secret, whole and in pieces: the four processes' logs, /metrics of each, every
GetStatus, every TradeResult, and the details of every failed RPC.

tests/integration/test_services_start.py does the same for one service at a time at start-up; a
world-readable key file refused in `live` is its test_executor_live_mode_refuses_a_world_readable_key.
"""

from __future__ import annotations

import base64
import json
import urllib.request

import pytest
from grpc import aio

from polyarb.runtime.auth import insecure_channel
from polyarb.v1 import (
    engine_pb2,
    engine_pb2_grpc,
    executor_pb2,
    executor_pb2_grpc,
    ingest_pb2,
    ingest_pb2_grpc,
    venue_pb2,
    venue_pb2_grpc,
)
from tests.e2e.conftest import TOKEN
from tests.e2e.test_pipeline import _instances, next_results, wait_fresh

pytestmark = pytest.mark.integration

PIECE = 12  # any run of this many characters of a secret counts as a leak


def secret_forms(run_dir) -> dict[str, str]:
    key = (run_dir / "key.hex").read_text().strip()
    creds = json.loads((run_dir / "creds.json").read_text())
    return {
        "signing key": key,
        "API secret": creds["secret"],
        "API secret (its HMAC key, hex)": base64.urlsafe_b64decode(creds["secret"]).hex(),
        "passphrase": creds["passphrase"],
        "control token": TOKEN,
    }


def leaks(haystack: str, secrets: dict[str, str]) -> list[str]:
    lowered = haystack.lower()
    found = []
    for name, secret in secrets.items():
        pieces = {secret[i:i + PIECE].lower() for i in range(max(1, len(secret) - PIECE + 1))}
        if name == "control token":  # its words also name the flag (--control-token-file): only the whole
            pieces = {secret.lower()}
        hits = sorted(p for p in pieces if p in lowered)
        if hits:
            found.append(f"{name}: {hits[:3]}")
    return found


async def test_no_secret_in_logs_metrics_status_results_or_errors(pipeline_factory, tmp_path):
    # the 5xx batch below is settled from the venue's "not found" after 2 s (30 s by default)
    pipeline = pipeline_factory(ingest_args=("--log-level", "debug"),
                                executor_args=("--log-level", "debug", "--not-found-grace-s", "2"))
    secrets = secret_forms(tmp_path / "pipeline-0")
    failures: list[str] = []  # every failed RPC's code, details and debug string

    async def expect_failure(call) -> None:
        with pytest.raises(aio.AioRpcError) as failed:
            await call
        failures.append(f"{failed.value.code()} {failed.value.details()} {failed.value.debug_error_string()}")

    # refused calls: no token, a wrong one
    async with aio.insecure_channel(pipeline.executor.grpc_addr) as open_channel:
        await expect_failure(executor_pb2_grpc.ExecutorStub(open_channel).GetStatus(
            executor_pb2.GetExecutorStatusRequest()))
    async with insecure_channel(pipeline.engine.grpc_addr, "not-" + TOKEN) as wrong:
        await expect_failure(engine_pb2_grpc.EngineStub(wrong).GetStatus(engine_pb2.GetEngineStatusRequest()))

    # invalid requests
    async with pipeline.channel(pipeline.engine) as channel:
        engine = engine_pb2_grpc.EngineStub(channel)
        await expect_failure(engine.UpdateMarketStructure(engine_pb2.MarketStructure(
            trios=[engine_pb2.Trio(id="t", lower_bound=2, upper_bound=1)])))
        await expect_failure(engine.UpdateConfig(engine_pb2.EngineConfig(max_set_size=float("nan"))))
    async with pipeline.channel(pipeline.executor) as channel:
        executor = executor_pb2_grpc.ExecutorStub(channel)
        await expect_failure(executor.UpdateBalance(executor_pb2.UpdateBalanceRequest(collateral=-1)))
        await expect_failure(executor.UpdateConfig(executor_pb2.ExecutorConfig(order_type="GTC")))

    # trading through venue faults: a fill, a time-out, a rejected leg, a 5xx, an HTML 403
    reply = await pipeline.push_structure_and_enable()
    await wait_fresh(pipeline, reply.tokens)
    async with pipeline.channel(pipeline.executor) as channel:
        executor = executor_pb2_grpc.ExecutorStub(channel)
        config = (await executor.GetStatus(executor_pb2.GetExecutorStatusRequest())).config
        config.http_timeout_ms = 300
        config.max_signal_age_ms = 2000  # a loaded machine must not turn this into a latency test
        await executor.UpdateConfig(config)
    instances = [i["id"] for i in _instances(pipeline)]
    expected = 0
    for instance_id, fault in zip(instances, [{}, {"timeout": 1, "timeout_s": 1}, {"reject_leg": 1},
                                              {"http_5xx": 1}], strict=True):
        pipeline.venue_post("/admin/faults", fault)
        pipeline.venue_post("/admin/arbitrage", {"instance_id": instance_id, "gap": 0.05, "size": 10, "ttl_s": None})
        expected += 2 if fault.keys() & {"timeout", "http_5xx"} else 1  # an UNKNOWN is reconciled
        await next_results(pipeline, 0, expected, timeout=20)
    pipeline.venue_post("/admin/faults", {"html_403": 1, "ws_garbage": 3, "ws_oversized": 1})
    pipeline.venue_post("/admin/arbitrage", {"instance_id": instances[0], "gap": 0.06, "size": 10, "ttl_s": None})
    results = await next_results(pipeline, 0, expected + 1, timeout=20)
    assert any("403" in r.error for r in results)

    # everything every process said or serves
    haystack = [*failures, *(str(r) for r in results)]
    statuses = (
        (pipeline.venue, venue_pb2_grpc.PaperVenueStub, venue_pb2.GetVenueStatusRequest()),
        (pipeline.ingest, ingest_pb2_grpc.IngestStub, ingest_pb2.GetIngestStatusRequest()),
        (pipeline.engine, engine_pb2_grpc.EngineStub, engine_pb2.GetEngineStatusRequest(include_instances=True)),
        (pipeline.executor, executor_pb2_grpc.ExecutorStub, executor_pb2.GetExecutorStatusRequest()),
    )
    for process, stub, request in statuses:
        async with pipeline.channel(process) as channel:
            haystack.append(str(await stub(channel).GetStatus(request)))
        with urllib.request.urlopen(f"http://{process.metrics_addr}/metrics", timeout=5) as response:
            haystack.append(response.read().decode())
    for process in (pipeline.venue, pipeline.ingest, pipeline.engine, pipeline.executor):
        process.terminate()  # the shutdown logs too
        haystack.append(process.output())
    everything = "\n".join(haystack)
    assert "circuit breaker open" in everything and "403" in everything  # the errors did happen and were said
    assert any('"level": "debug"' in process.output() for process in (pipeline.ingest, pipeline.executor))
    assert leaks(everything, secrets) == []
