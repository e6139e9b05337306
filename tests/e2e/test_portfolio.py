"""Issue 18, acceptance 4: after paper trades and a restarted executor, `polyarbctl pnl` shows positions that
match the venue's and PnL that matches the journal's results; /metrics exports the same figures."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import urllib.request
from collections import defaultdict

import pytest

from polyarb.v1 import executor_pb2, executor_pb2_grpc
from tests.e2e.conftest import TOKEN
from tests.e2e.test_pipeline import next_results, wait_fresh
from tests.faults.conftest import restart_same_port

pytestmark = pytest.mark.integration

ROOT = pathlib.Path(__file__).resolve().parents[2]


def pnl_json(executor_addr: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYARB_")}
    env["POLYARB_CONTROL_TOKEN"] = TOKEN
    run = subprocess.run([sys.executable, "-m", "polyarb.ctl", "--executor-addr", executor_addr, "pnl", "--json"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def venue_positions(pipeline) -> dict[str, float]:
    """What the venue says the account holds, less what the paper account started with."""
    held = pipeline.venue_get(f"/balance?address={pipeline.address}")["inventory"]
    start = pipeline.venue_get("/admin/starting-balance").get("inventory", {})
    moved = {token: shares - start.get(token, 0.0) for token, shares in held.items()}
    return {token: shares for token, shares in moved.items() if abs(shares) > 1e-9}


async def test_pnl_matches_the_venue_and_the_journal_across_a_restart(pipeline_factory, start_service):
    pipeline = pipeline_factory()
    reply = await pipeline.push_structure_and_enable()
    await wait_fresh(pipeline, reply.tokens)
    structure = pipeline.venue_get("/admin/structure")
    instances = [structure["trios"][0]["id"], structure["sets"][0]["id"]]
    results = []
    for instance_id in instances:
        pipeline.venue_post("/admin/arbitrage", {"instance_id": instance_id, "gap": 0.05, "size": 20, "ttl_s": None})
        results += await next_results(pipeline, len(results), 1)
    assert [r.outcome for r in results] == [executor_pb2.OUTCOME_FILLED] * 2, results

    expected_positions: dict[str, float] = defaultdict(float)
    expected_pnl: dict[str, float] = defaultdict(float)
    for result in results:
        name = executor_pb2.Strategy.Name(result.strategy)
        expected_pnl[name] += result.expected_pnl
        for leg in result.legs:
            sign = 1.0 if leg.side == executor_pb2.SIDE_BUY else -1.0
            expected_positions[leg.token_id] += sign * leg.filled_size
    assert venue_positions(pipeline) == pytest.approx(dict(expected_positions))

    async with pipeline.channel(pipeline.executor) as channel:
        status = await executor_pb2_grpc.ExecutorStub(channel).GetStatus(executor_pb2.GetExecutorStatusRequest())
    before = pnl_json(pipeline.executor.grpc_addr)
    assert before["through_seq"] == str(status.last_seq) == str(results[-1].seq)

    pipeline.executor.kill()
    pipeline.executor = restart_same_port(start_service, pipeline.executor, {"POLYARB_CONTROL_TOKEN": TOKEN})
    after = pnl_json(pipeline.executor.grpc_addr)
    assert after == before  # the same figures, from the journal alone

    positions = {p["token_id"]: p["shares"] for p in after["positions"]}
    assert positions == pytest.approx(venue_positions(pipeline))
    for position in after["positions"]:
        cost = sum(leg.filled_size * (leg.avg_price or leg.price) for r in results for leg in r.legs
                   if leg.token_id == position["token_id"])
        assert position["cost_basis"] == pytest.approx(cost, abs=1e-5)
    by_strategy = {s["strategy"]: s for s in after["strategies"]}
    assert set(by_strategy) == set(expected_pnl)
    for name, pnl in expected_pnl.items():
        assert by_strategy[name]["expected_pnl"] == pytest.approx(pnl, abs=1e-6)
        assert by_strategy[name]["results"] == "1" and by_strategy[name]["realized_pnl"] == 0
    assert after["expected_pnl"] == pytest.approx(sum(expected_pnl.values()), abs=1e-6)
    assert after["exposure"] == 0 and after["unknown_results"] == 0 and after["max_exposure"] == 1000

    with urllib.request.urlopen(f"http://{pipeline.executor.metrics_addr}/metrics", timeout=5) as response:
        text = response.read().decode()
    assert "polyarb_exposure_pusd 0.0" in text
    for token, shares in positions.items():
        assert f'polyarb_position_shares{{token="{token}"}} {float(shares)}' in text
    trio = by_strategy["STRATEGY_TRIO"]["expected_pnl"]
    assert any(line.startswith('polyarb_expected_pnl_pusd_total{strategy="trio"}')
               and float(line.split()[-1]) == pytest.approx(trio) for line in text.splitlines())

    shown = subprocess.run([sys.executable, "-m", "polyarb.ctl", "--executor-addr", pipeline.executor.grpc_addr,
                            "pnl"], cwd=ROOT, capture_output=True, text=True, timeout=30,
                           env={**{k: v for k, v in os.environ.items() if not k.startswith("POLYARB_")},
                                "POLYARB_CONTROL_TOKEN": TOKEN})
    assert shown.returncode == 0 and "pnl expected +" in shown.stdout and "trio" in shown.stdout
    assert all(token in shown.stdout for token in positions)
