"""Issue 16 end to end on the paper venue (real processes): credentials derived by `polyarbctl creds derive`
trade, and the executor sizes with the CLOB's balance (`GET /balance-allowance`)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from polyarb.v1 import executor_pb2, executor_pb2_grpc
from tests.conftest import ROOT
from tests.e2e.conftest import TOKEN, Pipeline, _entry
from tests.e2e.test_pipeline import _instances, next_results, wait_fresh

pytestmark = pytest.mark.integration


def start_pipeline(start_service, tmp_path, executor_args: tuple[str, ...] = (), derive: bool = True) -> Pipeline:
    """venue → ingest → executor → engine, the executor's API credentials made by `creds derive`."""
    env = {"POLYARB_CONTROL_TOKEN": TOKEN}
    venue = start_service("paper_venue", ["--scenario", "manual", "--ws-addr", "127.0.0.1:0",
                                          "--http-addr", "127.0.0.1:0", "--seed", "7"], env)
    http = "http://" + _entry(venue, "http_addr")
    key = tmp_path / "key.hex"
    key.write_text(os.urandom(32).hex())
    key.chmod(0o600)
    creds = tmp_path / "api-creds.json"
    ctl_env = {k: v for k, v in os.environ.items() if not k.startswith("POLYARB_")}
    derived = subprocess.run([sys.executable, "-m", "polyarb.ctl", "creds", "derive", "--private-key-file", str(key),
                              "--clob-url", http, "--out", str(creds)], cwd=ROOT, env=ctl_env, capture_output=True,
                             text=True, timeout=60)
    assert derived.returncode == 0, derived.stderr
    assert creds.stat().st_mode & 0o777 == 0o600
    ingest = start_service("ingest_svc", ["--ws-url", "ws://" + _entry(venue, "ws_addr") + "/ws/market"], env)
    # --mode paper refuses a key file others can read only in live; 0600 is what live would need too
    executor = start_service("executor_svc", ["--mode", "paper", "--clob-url", http, "--journal",
                                              str(tmp_path / "journal.sqlite"), "--private-key-file", str(key),
                                              "--api-creds-file", str(creds), *executor_args], env)
    engine = start_service("engine_svc", ["--ingest-addr", ingest.grpc_addr, "--executor-addr",
                                          executor.grpc_addr], env)
    from eth_account import Account

    address = Account.from_key(bytes.fromhex(key.read_text())).address
    return Pipeline(venue, ingest, engine, executor, http, address)


async def executor_status(pipeline: Pipeline) -> executor_pb2.ExecutorStatus:
    async with pipeline.channel(pipeline.executor) as channel:
        return await executor_pb2_grpc.ExecutorStub(channel).GetStatus(executor_pb2.GetExecutorStatusRequest())


async def test_derived_credentials_trade(start_service, tmp_path):
    pipeline = start_pipeline(start_service, tmp_path)
    reply = await pipeline.push_structure_and_enable()
    await wait_fresh(pipeline, reply.tokens)
    trio = next(i for i in _instances(pipeline) if i["kind"] == "trio")
    pipeline.venue_post("/admin/arbitrage", {"instance_id": trio["id"], "gap": 0.05, "size": 20, "ttl_s": None})
    (result,) = await next_results(pipeline, 0, 1)
    assert result.outcome == executor_pb2.OUTCOME_FILLED, result
    # the venue booked the fills on the account of the signer whose key derived the credentials
    account = pipeline.venue_get(f"/balance?address={pipeline.address}")
    assert sorted(account["inventory"]) == sorted(leg.token_id for leg in result.legs)
