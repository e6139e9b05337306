"""The whole pipeline as real processes: paper venue → ingest → engine → executor → paper venue."""

from __future__ import annotations

import base64
import json
import os
import urllib.request
import uuid
from dataclasses import dataclass

import pytest
from google.protobuf import json_format

from polyarb.runtime import auth
from polyarb.runtime.tls import ClientTLS, load_client_tls
from polyarb.v1 import engine_pb2, engine_pb2_grpc, executor_pb2, executor_pb2_grpc

TOKEN = "e2e-control-token-5b8f0d3a"


@dataclass
class Pipeline:
    venue: object
    ingest: object
    engine: object
    executor: object
    http: str  # the venue's CLOB REST base URL
    address: str  # the executor's signer address
    tls: ClientTLS | None = None  # set when the pipeline was started with TLS (pki=...)

    def venue_get(self, path: str):
        with urllib.request.urlopen(self.http + path, timeout=5) as response:
            return json.loads(response.read())

    def venue_post(self, path: str, body: dict):
        request = urllib.request.Request(self.http + path, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())

    def channel(self, service):
        return auth.channel(service.grpc_addr, TOKEN, self.tls)

    async def push_structure_and_enable(self) -> engine_pb2.UpdateMarketStructureResponse:
        structure = json_format.ParseDict(self.venue_get("/admin/structure"), engine_pb2.MarketStructure())
        balance = json_format.ParseDict(self.venue_get("/admin/starting-balance"),
                                        executor_pb2.UpdateBalanceRequest())
        async with self.channel(self.engine) as channel:
            reply = await engine_pb2_grpc.EngineStub(channel).UpdateMarketStructure(structure)
        async with self.channel(self.executor) as channel:
            stub = executor_pb2_grpc.ExecutorStub(channel)
            await stub.UpdateBalance(balance)
            await stub.SetTradingEnabled(executor_pb2.SetTradingEnabledRequest(enabled=True, reason="e2e"))
        return reply


def _entry(service, key: str) -> str:
    for entry in service.log_entries():
        if entry.get("msg") == "serving":
            return entry[key]
    raise AssertionError(f"no {key} in {service.module} log")


@pytest.fixture
def pipeline_factory(start_service, tmp_path):
    def start(scenario: str = "manual", venue_args: tuple[str, ...] = (), executor_args: tuple[str, ...] = (),
              ingest_args: tuple[str, ...] = (), pki=None):
        """pki (tests/pki.py): ingest, executor and engine serve mutual TLS, the engine's links and the test's
        own channels present the client certificate."""
        run_dir = tmp_path / f"pipeline-{len(list(tmp_path.glob('pipeline-*')))}"  # one folder per pipeline
        run_dir.mkdir()
        key = run_dir / "key.hex"
        key.write_text(os.urandom(32).hex())
        key.chmod(0o600)
        creds = run_dir / "creds.json"
        creds.write_text(json.dumps({"apiKey": str(uuid.uuid4()),
                                     "secret": base64.urlsafe_b64encode(os.urandom(32)).decode(),
                                     "passphrase": os.urandom(8).hex()}))
        creds.chmod(0o600)
        env = {"POLYARB_CONTROL_TOKEN": TOKEN}
        served: list[str] = []
        peer: list[str] = []
        if pki is not None:
            served = ["--tls-cert-file", str(pki.server_cert), "--tls-key-file", str(pki.server_key),
                      "--tls-client-ca-file", str(pki.ca)]
            peer = ["--peer-tls-ca-file", str(pki.ca), "--peer-tls-cert-file", str(pki.client_cert),
                    "--peer-tls-key-file", str(pki.client_key)]
        venue = start_service("paper_venue", ["--scenario", scenario, "--ws-addr", "127.0.0.1:0",
                                              "--http-addr", "127.0.0.1:0", "--api-creds-file", str(creds),
                                              "--seed", "7", *venue_args], env)
        http = "http://" + _entry(venue, "http_addr")
        ingest = start_service("ingest_svc", ["--ws-url", "ws://" + _entry(venue, "ws_addr") + "/ws/market",
                                              *ingest_args, *served], env)
        executor = start_service("executor_svc", ["--mode", "paper", "--clob-url", http, "--journal",
                                                  str(run_dir / "journal.sqlite"), "--private-key-file", str(key),
                                                  "--api-creds-file", str(creds), *executor_args, *served], env)
        engine = start_service("engine_svc", ["--ingest-addr", ingest.grpc_addr, "--executor-addr",
                                              executor.grpc_addr, *served, *peer], env)
        from eth_account import Account

        address = Account.from_key(bytes.fromhex(key.read_text())).address
        client_tls = None if pki is None else load_client_tls(pki.ca, pki.client_cert, pki.client_key)
        return Pipeline(venue, ingest, engine, executor, http, address, client_tls)

    return start
