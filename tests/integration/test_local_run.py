"""`make run`'s launcher: four healthy processes, the scenario pushed, a trade, and Ctrl-C leaves none behind."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from polyarb.runtime.auth import insecure_channel
from polyarb.v1 import executor_pb2, executor_pb2_grpc
from tests.conftest import ROOT

pytestmark = pytest.mark.integration


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purpose; the launcher reaps its children
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"


async def first_trade(addr: str, timeout: float) -> executor_pb2.TradeResult:
    async with insecure_channel(addr) as channel:
        call = executor_pb2_grpc.ExecutorStub(channel).StreamTradeResults(
            executor_pb2.StreamTradeResultsRequest(from_seq=0))
        try:
            return await asyncio.wait_for(call.read(), timeout)
        finally:
            call.cancel()


def test_make_run_starts_pushes_trades_and_ctrl_c_stops_everything(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYARB_")}
    launcher = subprocess.Popen(
        [sys.executable, "-m", "polyarb.run", "--run-dir", str(tmp_path)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 90
    try:
        while not any(line.startswith("pushed structure") for line in lines):
            line = launcher.stdout.readline()
            assert line or launcher.poll() is None, "launcher exited:\n" + "".join(lines)
            lines.append(line)
            assert time.monotonic() < deadline, "".join(lines)
        pids = [int(m.group(1)) for line in lines if (m := re.search(r" pid (\d+)", line))]
        names = [line.split()[0] for line in lines if " pid " in line]
        assert sorted(names) == ["engine", "executor", "ingest", "paper_venue"]
        assert all(alive(pid) for pid in pids)
        # the structure came from `polyarbctl structure sync` over the venue's Gamma-shaped /events
        synced = (tmp_path / "logs" / "sync.log").read_text()
        assert "3 event(s) → 3 trio(s), 1 set(s)" in synced and "structure v1 in force: 4 instance(s)" in synced
        assert '"trios"' in (tmp_path / "structure.json").read_text()

        # the ladder scenario opens an arbitrage now and then: the pipeline trades it on the paper venue
        result = asyncio.run(first_trade("127.0.0.1:50053", timeout=90))
        assert result.outcome in (executor_pb2.OUTCOME_FILLED, executor_pb2.OUTCOME_PARTIAL), result
        assert result.mode == "paper"

        launcher.send_signal(signal.SIGINT)  # what Ctrl-C does
        rest, _ = launcher.communicate(timeout=30)
        assert launcher.returncode == 0, rest
        assert "trade results:" in rest  # the live view was drawn (plain frames when not a terminal)
        assert rest.count("exit 0") == 4, rest
        assert not [pid for pid in pids if alive(pid)]
        assert (tmp_path / "paper-key.hex").stat().st_mode & 0o077 == 0
    finally:
        if launcher.poll() is None:
            launcher.kill()
