"""Every service over TLS and mutual TLS, as real processes, with certificates made in the test (tests/pki.py).

Also the plaintext-token guard: a token on a port reachable beyond loopback without TLS is a warning and
`polyarb_plaintext_token_exposed 1`, and `--require-tls-for-token` refuses to start.
"""

from __future__ import annotations

import subprocess
import sys
import urllib.request

import grpc
import pytest
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from polyarb.runtime import auth, tls
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

TOKEN = "tls-test-token-3a9c1e"
NOWHERE = "127.0.0.1:1"
SERVICES = {
    "ingest_svc": ("polyarb.v1.Ingest", ingest_pb2_grpc.IngestStub, ingest_pb2.GetIngestStatusRequest, []),
    "engine_svc": ("polyarb.v1.Engine", engine_pb2_grpc.EngineStub, engine_pb2.GetEngineStatusRequest,
                   ["--ingest-addr", NOWHERE, "--executor-addr", NOWHERE]),
    "executor_svc": ("polyarb.v1.Executor", executor_pb2_grpc.ExecutorStub, executor_pb2.GetExecutorStatusRequest,
                     ["--mode", "dry-run"]),
    "paper_venue": ("polyarb.v1.PaperVenue", venue_pb2_grpc.PaperVenueStub, venue_pb2.GetVenueStatusRequest,
                    ["--ws-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--scenario", "manual"]),
}


def tls_args(pki, mutual: bool) -> list[str]:
    args = ["--tls-cert-file", str(pki.server_cert), "--tls-key-file", str(pki.server_key)]
    return args + (["--tls-client-ca-file", str(pki.ca)] if mutual else [])


def module_args(module: str, tmp_path) -> list[str]:
    args = list(SERVICES[module][3])
    if module == "executor_svc":
        args += ["--journal", str(tmp_path / "journal.sqlite")]
    return args


async def health_of(channel) -> int:
    reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    return reply.status


async def reflected(channel) -> set[str]:
    call = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
    async for reply in call:
        return {s.name for s in reply.list_services_response.service}
    return set()


async def refused(channel, stub_cls, request) -> grpc.StatusCode:
    with pytest.raises(aio.AioRpcError) as failure:
        await stub_cls(channel).GetStatus(request(), timeout=5)
    return failure.value.code()


@pytest.mark.parametrize("module", sorted(SERVICES))
async def test_every_service_serves_mutual_tls_and_refuses_plaintext_and_strangers(module, start_service, pki,
                                                                                   tmp_path):
    full_name, stub_cls, request, _ = SERVICES[module]
    svc = start_service(module, [*module_args(module, tmp_path), *tls_args(pki, mutual=True)],
                        env={"POLYARB_CONTROL_TOKEN": TOKEN})
    assert any(e.get("msg") == "serving" and e.get("tls") == "mutual" for e in svc.log_entries())

    client = tls.load_client_tls(pki.ca, pki.client_cert, pki.client_key)
    async with auth.channel(svc.grpc_addr, TOKEN, client) as channel:
        assert await health_of(channel) == health_pb2.HealthCheckResponse.SERVING
        assert full_name in await reflected(channel)
        status = await stub_cls(channel).GetStatus(request(), timeout=5)
        assert status.info.auth_required
    async with auth.channel(svc.grpc_addr, None, client) as no_token:  # TLS does not replace the token
        assert await refused(no_token, stub_cls, request) == grpc.StatusCode.UNAUTHENTICATED

    async with auth.channel(svc.grpc_addr, TOKEN) as plaintext:
        assert await refused(plaintext, stub_cls, request) == grpc.StatusCode.UNAVAILABLE
    without_cert = tls.load_client_tls(pki.ca, None, None)
    async with auth.channel(svc.grpc_addr, TOKEN, without_cert) as anonymous:
        assert await refused(anonymous, stub_cls, request) == grpc.StatusCode.UNAVAILABLE
    stranger = tls.load_client_tls(pki.ca, pki.stranger_cert, pki.stranger_key)
    async with auth.channel(svc.grpc_addr, TOKEN, stranger) as other_ca:
        assert await refused(other_ca, stub_cls, request) == grpc.StatusCode.UNAVAILABLE

    with urllib.request.urlopen(f"http://{svc.metrics_addr}/metrics", timeout=5) as response:
        assert "polyarb_plaintext_token_exposed 0.0" in response.read().decode()
    assert svc.terminate(timeout=10) == 0
    text = svc.output()
    assert TOKEN not in text and pki.server_key.read_text().splitlines()[1] not in text


async def test_server_tls_without_client_ca_takes_any_client_and_checks_the_server(start_service, pki, tmp_path):
    svc = start_service("ingest_svc", tls_args(pki, mutual=False))
    async with auth.channel(svc.grpc_addr, None, tls.load_client_tls(pki.ca, None, None)) as channel:
        status = await ingest_pb2_grpc.IngestStub(channel).GetStatus(ingest_pb2.GetIngestStatusRequest(), timeout=5)
        assert not status.info.auth_required
    # a client that trusts another CA refuses this server
    other = tmp_path / "other-ca.pem"
    other.write_bytes(pki.stranger_cert.read_bytes())  # not our CA
    wrong_trust = tls.ClientTLS(root_certs=other.read_bytes())
    async with auth.channel(svc.grpc_addr, None, wrong_trust) as channel:
        with pytest.raises(aio.AioRpcError) as failure:
            await ingest_pb2_grpc.IngestStub(channel).GetStatus(ingest_pb2.GetIngestStatusRequest(), timeout=5)
        assert failure.value.code() == grpc.StatusCode.UNAVAILABLE


def run_service(module: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, "--grpc-addr", "127.0.0.1:0", "--metrics-addr",
                           "127.0.0.1:0", *args], capture_output=True, text=True, timeout=60, env=env)


@pytest.mark.parametrize("case", ["mismatched", "half", "missing", "not_pem", "ca_alone"])
def test_bad_tls_files_exit_2_with_one_line(case, pki, tmp_path):
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    args = {
        "mismatched": ["--tls-cert-file", str(pki.server_cert), "--tls-key-file", str(pki.client_key)],
        "half": ["--tls-cert-file", str(pki.server_cert)],
        "missing": ["--tls-cert-file", str(tmp_path / "nope.pem"), "--tls-key-file", str(pki.server_key)],
        "not_pem": ["--tls-cert-file", str(garbage), "--tls-key-file", str(pki.server_key)],
        "ca_alone": ["--tls-client-ca-file", str(pki.ca)],
    }[case]
    run = run_service("ingest_svc", *args)
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip().count("\n") == 0 and "tls-" in run.stderr
    assert "PRIVATE KEY" not in run.stderr


def test_require_tls_for_token_refuses_a_wildcard_address_without_tls(pki):
    env = {"POLYARB_CONTROL_TOKEN": TOKEN, "PATH": "/usr/bin:/bin"}
    run = run_service("ingest_svc", "--grpc-addr", "0.0.0.0:0", "--require-tls-for-token", env=env)
    assert run.returncode == 2 and "--require-tls-for-token" in run.stderr
    assert run.stderr.strip().count("\n") == 0 and TOKEN not in run.stderr
    # the environment variable works as well (POLYARB_REQUIRE_TLS_FOR_TOKEN)
    run = run_service("engine_svc", "--grpc-addr", "0.0.0.0:0",
                      env={**env, "POLYARB_REQUIRE_TLS_FOR_TOKEN": "1"})
    assert run.returncode == 2 and "--require-tls-for-token" in run.stderr


async def test_require_tls_for_token_starts_with_tls_or_on_loopback(start_service, pki):
    env = {"POLYARB_CONTROL_TOKEN": TOKEN, "POLYARB_REQUIRE_TLS_FOR_TOKEN": "true"}
    start_service("ingest_svc", ["--grpc-addr", "0.0.0.0:0", *tls_args(pki, mutual=False)], env)
    start_service("ingest_svc", [], env)  # 127.0.0.1 (the fixture's address): never leaves the machine


async def test_token_on_a_wildcard_address_without_tls_warns_and_sets_the_metric(start_service):
    svc = start_service("ingest_svc", ["--grpc-addr", "0.0.0.0:0"], {"POLYARB_CONTROL_TOKEN": TOKEN})
    warnings = [e for e in svc.log_entries() if "clear text" in e.get("msg", "")]
    assert len(warnings) == 1 and warnings[0]["level"] == "warning"
    with urllib.request.urlopen(f"http://{svc.metrics_addr}/metrics", timeout=5) as response:
        text = response.read().decode()
    assert "polyarb_plaintext_token_exposed 1.0" in text


async def test_no_token_or_loopback_is_not_exposed(start_service):
    for args, env in ((["--grpc-addr", "0.0.0.0:0"], {}), ([], {"POLYARB_CONTROL_TOKEN": TOKEN})):
        svc = start_service("ingest_svc", args, env)
        with urllib.request.urlopen(f"http://{svc.metrics_addr}/metrics", timeout=5) as response:
            assert "polyarb_plaintext_token_exposed 0.0" in response.read().decode()
        assert not [e for e in svc.log_entries() if "clear text" in e.get("msg", "")]


async def test_health_port_answers_plaintext_probes_and_nothing_else(start_service, pki, tmp_path):
    svc = start_service("executor_svc", [*module_args("executor_svc", tmp_path), *tls_args(pki, mutual=True),
                                         "--health-addr", "127.0.0.1:0"], {"POLYARB_CONTROL_TOKEN": TOKEN})
    serving = next(e for e in svc.log_entries() if e.get("msg") == "serving")
    health_addr = serving["health_addr"]
    assert health_addr != svc.grpc_addr
    async with aio.insecure_channel(health_addr) as probe:  # what a kubelet gRPC probe does
        assert await health_of(probe) == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(aio.AioRpcError) as control:
            await executor_pb2_grpc.ExecutorStub(probe).GetStatus(executor_pb2.GetExecutorStatusRequest(), timeout=5)
        assert control.value.code() == grpc.StatusCode.UNIMPLEMENTED
        with pytest.raises(aio.AioRpcError) as reflection:
            await reflected(probe)
        assert reflection.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert svc.terminate(timeout=10) == 0
