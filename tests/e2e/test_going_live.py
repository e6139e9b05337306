"""Issue 16 end to end on the paper venue (real processes): credentials derived by `polyarbctl creds derive`
trade, and the executor sizes with the CLOB's balance (`GET /balance-allowance`)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest

from polyarb.v1 import executor_pb2, executor_pb2_grpc
from tests.conftest import ROOT
from tests.e2e.conftest import TOKEN, Pipeline, _entry
from tests.e2e.test_pipeline import _instances, next_results, wait_fresh

pytestmark = pytest.mark.integration


def start_pipeline(start_service, tmp_path, executor_args: tuple[str, ...] = (),
                   account: dict | None = None) -> Pipeline:
    """venue → ingest → executor → engine, the executor's API credentials made by `creds derive`; `account`
    (POST /admin/balance fields) sets the wallet's paper balance before the executor first looks."""
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
    from eth_account import Account

    address = Account.from_key(bytes.fromhex(key.read_text())).address
    if account is not None:
        post(http, "/admin/balance", {"address": address, **account})
    ingest = start_service("ingest_svc", ["--ws-url", "ws://" + _entry(venue, "ws_addr") + "/ws/market"], env)
    # --mode paper refuses a key file others can read only in live; 0600 is what live would need too
    executor = start_service("executor_svc", ["--mode", "paper", "--clob-url", http, "--journal",
                                              str(tmp_path / "journal.sqlite"), "--private-key-file", str(key),
                                              "--api-creds-file", str(creds), *executor_args], env)
    engine = start_service("engine_svc", ["--ingest-addr", ingest.grpc_addr, "--executor-addr",
                                          executor.grpc_addr], env)
    return Pipeline(venue, ingest, engine, executor, http, address)


def post(http: str, path: str, body: dict) -> dict:
    request = urllib.request.Request(http + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def metric(service, line_start: str) -> float:
    with urllib.request.urlopen(f"http://{service.metrics_addr}/metrics", timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(line_start):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


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


async def wait_status(pipeline: Pipeline, condition, timeout_s: float, what: str) -> executor_pb2.ExecutorStatus:
    deadline = time.monotonic() + timeout_s
    while True:
        status = await executor_status(pipeline)
        if condition(status):
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {status.balance} {status.balance_figures}")
        await asyncio.sleep(0.2)


async def test_collateral_follows_the_venues_balance_and_a_push_cannot_raise_it(start_service, tmp_path):
    # a poll every 60 s: what the executor learns after the trade comes from the poll right after it
    pipeline = start_pipeline(start_service, tmp_path, ("--balance-poll-s", "60"), account={"collateral": 500})
    first = await wait_status(pipeline, lambda s: s.balance_figures.clob_age_s >= 0, 10, "the first poll")
    assert first.balance_figures.clob_collateral == 500 and first.balance_figures.polling
    reply = await pipeline.push_structure_and_enable()  # pushes the scenario's 10 000 pUSD
    status = await executor_status(pipeline)
    assert status.balance.collateral == 500 and status.balance_source == executor_pb2.BALANCE_SOURCE_CLOB
    assert status.balance_figures.pushed_collateral == 10_000
    assert any(e.get("msg", "").startswith("pushed collateral above the CLOB") for e in pipeline.executor.log_entries())

    async with pipeline.channel(pipeline.executor) as channel:  # a lower push is a budget: it counts
        lowered = await executor_pb2_grpc.ExecutorStub(channel).UpdateBalance(
            executor_pb2.UpdateBalanceRequest(collateral=300))
    assert lowered.collateral == 300
    assert (await executor_status(pipeline)).balance_source == executor_pb2.BALANCE_SOURCE_PUSHED

    await wait_fresh(pipeline, reply.tokens)
    trio = next(i for i in _instances(pipeline) if i["kind"] == "trio")
    pipeline.venue_post("/admin/arbitrage", {"instance_id": trio["id"], "gap": 0.05, "size": 20, "ttl_s": None})
    (result,) = await next_results(pipeline, 0, 1)
    assert result.outcome == executor_pb2.OUTCOME_FILLED, result
    venue = pipeline.venue_get(f"/balance?address={pipeline.address}")["collateral"]
    assert venue < 500
    after = await wait_status(pipeline, lambda s: abs(s.balance_figures.clob_collateral - venue) < 1e-6, 5,
                              "the poll after the trade")
    assert after.balance_figures.clob_age_s < 10  # not the 60 s poll: the one the trade triggered
    assert after.balance.collateral == pytest.approx(300 - result.cost, abs=1e-6)  # the budget, less the spend
    assert metric(pipeline.executor, "polyarb_balance_age_seconds") < 10
    assert metric(pipeline.executor, 'polyarb_balance_source{source="pushed"}') == 1.0
    shown = subprocess.run([sys.executable, "-m", "polyarb.ctl", f"--executor-addr={pipeline.executor.grpc_addr}",
                            "balance"], cwd=ROOT, env={**os.environ, "POLYARB_CONTROL_TOKEN": TOKEN},
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0 and "sized from pushed" in shown.stdout and f"CLOB {venue:.6f} pUSD" in shown.stdout


async def test_an_allowance_below_the_cost_denies(start_service, tmp_path):
    pipeline = start_pipeline(start_service, tmp_path, ("--balance-poll-s", "1"),
                              account={"collateral": 500, "allowance": 1})
    reply = await pipeline.push_structure_and_enable()
    await wait_fresh(pipeline, reply.tokens)
    status = await wait_status(pipeline, lambda s: s.balance_figures.clob_age_s >= 0, 10, "the first poll")
    assert status.balance_figures.clob_allowance == 1.0
    trio = next(i for i in _instances(pipeline) if i["kind"] == "trio")
    pipeline.venue_post("/admin/arbitrage", {"instance_id": trio["id"], "gap": 0.05, "size": 20, "ttl_s": None})
    deadline = time.monotonic() + 20
    while metric(pipeline.executor, 'polyarb_signals_denied_total{reason="allowance"}') == 0:
        assert time.monotonic() < deadline, "no signal denied for its allowance"
        await asyncio.sleep(0.2)
    assert (await executor_status(pipeline)).last_seq == 0  # nothing was posted


async def test_a_dead_balance_endpoint_stops_trading_after_30_s_and_a_live_one_restarts_it(start_service, tmp_path):
    pipeline = start_pipeline(start_service, tmp_path, ("--balance-poll-s", "1"))
    reply = await pipeline.push_structure_and_enable()
    await wait_fresh(pipeline, reply.tokens)
    await wait_status(pipeline, lambda s: s.balance_source == executor_pb2.BALANCE_SOURCE_CLOB, 10, "a good poll")
    post(pipeline.http, "/admin/faults", {"balance_5xx": 1_000_000})
    died = time.monotonic()
    still = await executor_status(pipeline)
    assert still.balance_source == executor_pb2.BALANCE_SOURCE_CLOB  # the last figure is kept for now
    unknown = await wait_status(pipeline, lambda s: s.balance_source == executor_pb2.BALANCE_SOURCE_UNKNOWN, 45,
                                "the balance to go unknown")
    waited = time.monotonic() - died
    assert 28 <= waited <= 40, waited  # 30 s after the last good poll (which was up to 1 s before the fault)
    assert unknown.balance_age_s > 30 and "HTTP 500" in unknown.balance_figures.last_error
    assert metric(pipeline.executor, "polyarb_balance_age_seconds") > 30
    shown = subprocess.run([sys.executable, "-m", "polyarb.ctl", f"--executor-addr={pipeline.executor.grpc_addr}",
                            "status", "executor"], cwd=ROOT, env={**os.environ, "POLYARB_CONTROL_TOKEN": TOKEN},
                           capture_output=True, text=True, timeout=60)
    assert "sized from unknown" in shown.stdout and "last balance poll failed: HTTP 500" in shown.stdout

    trio = next(i for i in _instances(pipeline) if i["kind"] == "trio")
    pipeline.venue_post("/admin/arbitrage", {"instance_id": trio["id"], "gap": 0.05, "size": 20, "ttl_s": None})
    deadline = time.monotonic() + 20
    while metric(pipeline.executor, 'polyarb_signals_denied_total{reason="balance_unknown"}') == 0:
        assert time.monotonic() < deadline, "no signal denied for an unknown balance"
        await asyncio.sleep(0.2)
    assert (await executor_status(pipeline)).last_seq == 0

    post(pipeline.http, "/admin/faults", {"balance_5xx": 0})
    await wait_status(pipeline, lambda s: s.balance_source == executor_pb2.BALANCE_SOURCE_CLOB, 10, "a good poll")
    # trading resumed by itself: the next arbitrage trades (a fresh one: the engine counts the liquidity it
    # signalled as taken until the venue shows the level again)
    other = next(i for i in _instances(pipeline) if i["kind"] == "trio" and i["id"] != trio["id"])
    pipeline.venue_post("/admin/arbitrage", {"instance_id": other["id"], "gap": 0.05, "size": 20, "ttl_s": None})
    (result,) = await next_results(pipeline, 0, 1)
    assert result.outcome == executor_pb2.OUTCOME_FILLED, result
