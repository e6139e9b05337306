"""Each service as a real subprocess: health, reflection, metrics, auth, flags, SIGTERM, no leaked secrets."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

import grpc
import pytest
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from polyarb.runtime import auth
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

pytestmark = pytest.mark.integration

TOKEN = "tok-9f3c2a7e5b1d4c6f8a0e2b4d6f8a1c3e"
PRIVATE_KEY = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
API_SECRET = "c2VjcmV0LWFwaS1rZXktdmFsdWUtZm9yLXRlc3Rz"
PASSPHRASE = "passphrase-4f1e9a"

SERVICES = {
    "ingest_svc": ("polyarb.v1.Ingest", ingest_pb2_grpc.IngestStub, ingest_pb2.GetIngestStatusRequest),
    "engine_svc": ("polyarb.v1.Engine", engine_pb2_grpc.EngineStub, engine_pb2.GetEngineStatusRequest),
    "executor_svc": ("polyarb.v1.Executor", executor_pb2_grpc.ExecutorStub, executor_pb2.GetExecutorStatusRequest),
    "paper_venue": ("polyarb.v1.PaperVenue", venue_pb2_grpc.PaperVenueStub, venue_pb2.GetVenueStatusRequest),
}


@pytest.fixture
def secret_files(tmp_path):
    key = tmp_path / "key.hex"
    key.write_text("0x" + PRIVATE_KEY + "\n")
    key.chmod(0o600)
    creds = tmp_path / "creds.json"
    creds.write_text(f'{{"apiKey": "00000000-0000-4000-8000-000000000000", "secret": "{API_SECRET}", '
                     f'"passphrase": "{PASSPHRASE}"}}')
    creds.chmod(0o600)
    return key, creds


def service_args(module: str, secret_files) -> list[str]:
    if module == "executor_svc":
        key, creds = secret_files
        return ["--mode", "dry-run", "--private-key-file", str(key), "--api-creds-file", str(creds),
                "--journal", str(key.parent / "journal.sqlite")]
    return []


async def list_services(channel) -> set[str]:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    call = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
    async for reply in call:
        return {s.name for s in reply.list_services_response.service}
    return set()


@pytest.mark.parametrize("module", sorted(SERVICES))
async def test_service_serves_health_reflection_metrics_auth_and_stops(module, start_service, secret_files):
    full_name, stub_cls, status_request = SERVICES[module]
    svc = start_service(module, service_args(module, secret_files), env={"POLYARB_CONTROL_TOKEN": TOKEN})

    async with aio.insecure_channel(svc.grpc_addr) as open_channel:
        health_stub = health_pb2_grpc.HealthStub(open_channel)
        for name in ("", full_name):
            reply = await health_stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        assert full_name in await list_services(open_channel)
        with pytest.raises(aio.AioRpcError) as missing:
            await stub_cls(open_channel).GetStatus(status_request(), timeout=5)
        assert missing.value.code() == grpc.StatusCode.UNAUTHENTICATED

    async with auth.insecure_channel(svc.grpc_addr, "wrong-" + TOKEN) as wrong_channel:
        with pytest.raises(aio.AioRpcError) as wrong:
            await stub_cls(wrong_channel).GetStatus(status_request(), timeout=5)
        assert wrong.value.code() == grpc.StatusCode.UNAUTHENTICATED

    async with auth.insecure_channel(svc.grpc_addr, TOKEN) as channel:
        status = await stub_cls(channel).GetStatus(status_request(), timeout=5)
    assert status.info.version and status.info.uptime_s >= 0 and status.info.auth_required
    if module == "executor_svc":
        assert status.info.mode == "dry-run" and status.trading.mode == "dry-run"
        assert not status.trading.enabled  # starts disabled (CONTRACT.md)
        assert status.signer_address == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"

    with urllib.request.urlopen(f"http://{svc.metrics_addr}/metrics", timeout=5) as response:
        metrics_text = response.read().decode()
    assert "polyarb_build_info{" in metrics_text
    assert "# TYPE polyarb_errors_total counter" in metrics_text
    assert 'kind="unauthenticated"' in metrics_text  # the two denials above were counted

    started = time.monotonic()
    assert svc.terminate(timeout=10) == 0
    assert time.monotonic() - started < 10
    everything = svc.output() + str(status) + metrics_text
    for secret in (TOKEN, PRIVATE_KEY, API_SECRET, PASSPHRASE):
        assert secret not in everything.lower() and secret not in everything
    assert any(entry.get("msg") == "stopped" for entry in svc.log_entries())


@pytest.mark.parametrize("module", sorted(SERVICES))
def test_help_exits_0_and_unknown_flag_exits_2(module):
    help_run = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=60)
    assert help_run.returncode == 0
    assert "--grpc-addr" in help_run.stdout and "POLYARB_GRPC_ADDR" in help_run.stdout
    bad = subprocess.run([sys.executable, "-m", module, "--no-such-flag"], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "--no-such-flag" in bad.stderr


@pytest.mark.parametrize(
    ("argv", "env", "named"),
    [
        (["--ping-interval", "0"], {}, "--ping-interval"),  # a zero ping interval would make the pinger spin
        (["--stale-after", "-5"], {}, "--stale-after"),
        ([], {"POLYARB_PING_INTERVAL": "0"}, "POLYARB_PING_INTERVAL"),
    ],
)
def test_a_zero_or_negative_interval_exits_2_naming_the_flag(argv, env, named):
    run = subprocess.run([sys.executable, "-m", "ingest_svc", *argv, "--grpc-addr", "127.0.0.1:0",
                          "--metrics-addr", "127.0.0.1:0"], capture_output=True, text=True, timeout=60,
                         env={**{k: v for k, v in os.environ.items() if not k.startswith("POLYARB_")}, **env})
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and named in run.stderr and "must be a finite number > 0" in run.stderr


def test_executor_live_mode_refuses_a_world_readable_key(secret_files):
    key, creds = secret_files
    key.chmod(0o644)
    run = subprocess.run(
        [sys.executable, "-m", "executor_svc", "--mode", "live", "--private-key-file", str(key),
         "--api-creds-file", str(creds), "--grpc-addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0"],
        capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 2
    assert "readable by others" in run.stderr
    assert PRIVATE_KEY not in run.stderr + run.stdout


def test_executor_rejects_a_malformed_key_without_echoing_it(tmp_path):
    key = tmp_path / "key.hex"
    key.write_text(PRIVATE_KEY[:-2] + "zz")
    run = subprocess.run(
        [sys.executable, "-m", "executor_svc", "--private-key-file", str(key), "--grpc-addr", "127.0.0.1:0",
         "--metrics-addr", "127.0.0.1:0"],
        capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 2
    assert "64-hex-digit" in run.stderr
    assert PRIVATE_KEY[:-2] not in run.stderr + run.stdout
