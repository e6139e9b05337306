"""`python -m polyarb.ctl` as a subprocess against real engine and executor processes (tests/conftest.py)."""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import queue
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from polyarb.ctl.__main__ import DEFAULT_ADDRS, main
from polyarb.runtime.auth import insecure_channel
from polyarb.runtime.server import DEFAULT_PORTS
from polyarb.v1 import common_pb2, executor_pb2, executor_pb2_grpc

pytestmark = pytest.mark.integration

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = pathlib.Path(__file__).parent / "fixtures"
TOKEN = "ctl-test-token"
NOWHERE = "127.0.0.1:1"  # nothing listens on port 1: the peers the engine cannot reach, by design


def ctl_env(token: str | None = TOKEN) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYARB_")}
    if token is not None:
        env["POLYARB_CONTROL_TOKEN"] = token
    return env


def ctl(*args: str, token: str | None = TOKEN, **addrs: str) -> subprocess.CompletedProcess:
    flags = [f"--{name}-addr={addr}" for name, addr in addrs.items()]
    return subprocess.run([sys.executable, "-m", "polyarb.ctl", *flags, *args], cwd=ROOT, env=ctl_env(token),
                          capture_output=True, text=True, timeout=30)


def service_env() -> dict[str, str]:
    return {"POLYARB_CONTROL_TOKEN": TOKEN}


def start_engine(start_service):
    return start_service("engine_svc", ["--ingest-addr", NOWHERE, "--executor-addr", NOWHERE], service_env())


def start_executor(start_service, journal: pathlib.Path, grpc_addr: str | None = None):
    args = ["--mode", "dry-run", "--journal", str(journal)]
    if grpc_addr:
        args += ["--grpc-addr", grpc_addr]  # after the fixture's own 127.0.0.1:0, so it wins
    return start_service("executor_svc", args, service_env())


def test_status_trading_switch_and_auth(start_service, tmp_path):
    engine, executor = start_engine(start_service), start_executor(start_service, tmp_path / "j.sqlite")
    addrs = {"engine": engine.grpc_addr, "executor": executor.grpc_addr}

    shown = ctl("status", "engine", "executor", **addrs)
    assert shown.returncode == 0, shown.stderr
    assert "structure v0: 0 instance(s)" in shown.stdout and "trading disabled" in shown.stdout
    assert "sized from pushed" in shown.stdout  # a dry-run executor polls no CLOB balance

    enabled = ctl("enable", "--reason", "cli test", **addrs)
    assert enabled.returncode == 0 and enabled.stdout.startswith("trading ENABLED") and "cli test" in enabled.stdout
    as_json = json.loads(ctl("status", "executor", "--json", **addrs).stdout)
    assert as_json["executor"]["trading"]["enabled"] is True and as_json["executor"]["info"]["auth_required"]
    disabled = ctl("disable", **addrs)
    assert disabled.returncode == 0 and disabled.stdout.startswith("trading disabled")

    for token, hint in ((None, "unauthenticated: set POLYARB_CONTROL_TOKEN"), ("wrong", "refused the control token")):
        refused = ctl("disable", token=token, **addrs)
        assert refused.returncode == 1 and refused.stdout == ""
        assert refused.stderr.count("\n") == 1 and hint in refused.stderr

    token_file = tmp_path / "token"
    token_file.write_text(f"{TOKEN}\n")
    from_file = ctl("disable", "--control-token-file", str(token_file), token=None, **addrs)
    assert from_file.returncode == 0, from_file.stderr

    # all four by default: the two that are not running are reported, and the exit status says so
    everything = ctl("status", ingest=NOWHERE, venue=NOWHERE, **addrs)
    assert everything.returncode == 1
    assert f"cannot reach ingest at {NOWHERE}" in everything.stdout and "trading disabled" in everything.stdout


def test_structure_from_gamma_push_and_a_refused_structure(start_service, tmp_path):
    engine = start_engine(start_service)
    fixtures = sorted(str(p) for p in FIXTURES.glob("*.json"))
    out = tmp_path / "structure.json"

    built = ctl("structure", "from-gamma", *fixtures, "--out", str(out), "--version", "3")
    assert built.returncode == 0, built.stderr
    assert "negRiskAugmented" in built.stderr and "3 trio(s), 2 set(s)" in built.stderr
    structure = json.loads(out.read_text())
    assert structure["trios"][0]["id"] == "bitcoin-november-10-90000-95000"

    pushed = ctl("structure", "push", str(out), engine=engine.grpc_addr)
    assert pushed.returncode == 0, pushed.stderr
    assert pushed.stdout.strip() == "structure v3 in force: 5 instance(s), 20 token(s)"

    structure["trios"][0]["upper_bound"] = structure["trios"][0]["lower_bound"]  # L >= U
    bad = tmp_path / "bad.yaml"  # YAML by extension
    bad.write_text(json.dumps(structure))
    refused = ctl("structure", "push", str(bad), engine=engine.grpc_addr)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        "polyarbctl: error: engine refused: trio 'bitcoin-november-10-90000-95000': "
        "lower_bound 90000.0 must be < upper_bound 90000.0"
    )

    # --push straight away: the version follows the engine's; the refused push left v3 in force
    direct = ctl("structure", "from-gamma", *fixtures, "--push", engine=engine.grpc_addr)
    assert direct.returncode == 0, direct.stderr
    assert direct.stdout.strip() == "structure v4 in force: 5 instance(s), 20 token(s)"


def test_balance_and_config(start_service, tmp_path):
    executor = start_executor(start_service, tmp_path / "j.sqlite")
    addr = {"executor": executor.grpc_addr}
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("2135818888515942355588478329023205386481853832011445788789986799176885991305: 10\n")

    assert ctl("balance", "set", "--collateral", "250.5", "--inventory", str(inventory), **addr).returncode == 0
    shown = ctl("balance", "--json", **addr)
    assert json.loads(shown.stdout) == {
        "collateral": 250.5, "reserved": 0.0,
        "inventory": {"2135818888515942355588478329023205386481853832011445788789986799176885991305": 10.0},
    }
    kept = ctl("balance", "set", "--collateral", "100", "--keep-inventory", **addr)
    assert kept.stdout.splitlines()[0] == "collateral 100.000000 pUSD, reserved 0.000000, 1 token(s) held"

    changed = ctl("config", "executor", "--set", "order_type=FAK", "--set", "slippage_ticks=2", **addr)
    assert changed.returncode == 0 and "order_type = FAK" in changed.stdout and "slippage_ticks = 2" in changed.stdout
    refused = ctl("config", "executor", "--set", "order_type=GTC", **addr)
    assert refused.returncode == 1 and "executor refused: order_type must be FOK or FAK" in refused.stderr
    assert "order_type = FAK" in ctl("config", "executor", **addr).stdout  # the refused update changed nothing

    usage = ctl("config", "executor", "--set", "nope=1", **addr)
    assert usage.returncode == 2 and "no field 'nope' in ExecutorConfig" in usage.stderr


@pytest.mark.parametrize(
    "args",
    [
        (), ("status", "bogus"), ("results", "--from-seq", "-1"), ("balance", "set"),
        ("status", "--engine-addr", "nohost"), ("structure", "push", "missing.json"),
        ("status", "--timeout", "0"), ("--timeout", "-1", "status"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args, capsys, monkeypatch):
    monkeypatch.delenv("POLYARB_CONTROL_TOKEN", raising=False)
    try:
        code = main(list(args))  # in-process: nothing here reaches a service
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("polyarbctl: error:"), err


def test_default_addresses_are_the_services_defaults():
    services = {"ingest": "ingest", "engine": "engine", "executor": "executor", "venue": "paper_venue"}
    expected = {name: f"127.0.0.1:{DEFAULT_PORTS[service][0]}" for name, service in services.items()}
    assert expected == DEFAULT_ADDRS


def test_an_unreachable_service_is_one_line_and_exit_1():
    unreachable = ctl("enable", executor=NOWHERE)
    assert unreachable.returncode == 1 and f"cannot reach executor at {NOWHERE}" in unreachable.stderr
    assert unreachable.stderr.count("\n") == 1


# -- results ------------------------------------------------------------------------------------------


def free_addr() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


async def make_results(addr: str, first: int, count: int) -> None:
    """`count` dry-run trade results, through the executor's own ExecuteSignals."""
    def signal_msg(i: int) -> executor_pb2.Signal:
        legs = [executor_pb2.Leg(token_id=str(t) * 77, side=executor_pb2.SIDE_BUY, price=0.6, size=5, tick_size=0.01,
                                 min_order_size=5) for t in (4, 5, 6)]
        return executor_pb2.Signal(signal_id=f"sig-{i}", instance_id=f"trio-{i}", strategy=executor_pb2.STRATEGY_TRIO,
                                   payout=2.0, expected_profit=0.2, min_profit_abs=0.01, legs=legs,
                                   trace=common_pb2.Trace(signal_sent_ns=time.time_ns()))

    async with insecure_channel(addr, TOKEN) as channel:
        stub = executor_pb2_grpc.ExecutorStub(channel)
        await stub.SetTradingEnabled(executor_pb2.SetTradingEnabledRequest(enabled=True, reason="test"))
        await stub.UpdateBalance(executor_pb2.UpdateBalanceRequest(collateral=1_000_000))

        async def signals():
            for i in range(first, first + count):
                yield signal_msg(i)

        done = 0
        async for ack in stub.ExecuteSignals(signals()):
            assert ack.accepted, ack.reason
            done += ack.done
            if done == count:
                return


def seq_of(line: str) -> int:
    return int(line.split()[0].lstrip("#"))


class Follower:
    """`results --follow` running in the background; its stdout lines arrive on a queue."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "polyarb.ctl", *args], cwd=ROOT, env=ctl_env(),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [self.lines.put(line.rstrip("\n")) for line in self.proc.stdout],
                         daemon=True).start()

    def take(self, count: int, timeout: float = 15.0) -> list[str]:
        deadline = time.monotonic() + timeout
        return [self.lines.get(timeout=max(0.01, deadline - time.monotonic())) for _ in range(count)]

    def stop(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGINT)  # Ctrl-C is how a person stops --follow
        _, err = self.proc.communicate(timeout=10)
        return self.proc.returncode, err


async def test_results_until_now_and_follow_across_an_executor_restart(start_service, tmp_path):
    journal, addr = tmp_path / "j.sqlite", free_addr()
    executor = start_executor(start_service, journal, addr)
    await make_results(addr, 0, 3)

    everything = ctl("results", executor=addr)
    assert everything.returncode == 0, everything.stderr
    assert [seq_of(line) for line in everything.stdout.splitlines()] == [1, 2, 3]
    assert "DRY_RUN  trio  trio-0" in everything.stdout
    newer = ctl("results", "--from-seq", "1", "--json", executor=addr)
    assert [json.loads(line)["signal_id"] for line in newer.stdout.splitlines()] == ["sig-1", "sig-2"]

    follower = Follower(f"--executor-addr={addr}", "results", "--follow", "--from-seq", "1")
    try:
        assert [seq_of(line) for line in follower.take(2)] == [2, 3]
        executor.kill()  # SIGKILL: the stream breaks without goodbye
        executor = start_executor(start_service, journal, addr)
        await make_results(addr, 3, 2)
        assert [seq_of(line) for line in follower.take(2)] == [4, 5]
        await asyncio.sleep(0.3)
        assert follower.lines.empty()  # nothing printed twice after the reconnect
    finally:
        code, err = follower.stop()
    assert code == 0
    assert "reconnecting" in err and "resuming after seq 3" in err
