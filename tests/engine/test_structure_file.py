"""`engine_svc --structure-file`: loaded at start, re-read on change, a bad file refused (real processes), and
the watcher's rules on their own (a ConfigMap-style symlink swap, a refused file judged once)."""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import subprocess
import sys
import time

import pytest
from google.protobuf import json_format

from engine_svc.structure import StructureError
from engine_svc.structure_file import StructureFileWatcher, read_structure_file
from paper_venue import scenarios
from polyarb.runtime.auth import insecure_channel
from polyarb.runtime.documents import InputError
from polyarb.v1 import engine_pb2, engine_pb2_grpc
from tests.conftest import ROOT

TOKEN = "structure-file-test-token"
NOWHERE = "127.0.0.1:1"


def scenario_structure(version: int, trios: int = 3, sets: bool = True) -> dict:
    document = scenarios.load("manual").structure(version)
    document["trios"] = document["trios"][:trios]
    if not sets:
        document["sets"] = []
    return document


def write(path: pathlib.Path, document: dict | str) -> None:
    temp = path.with_suffix(".tmp")
    temp.write_text(document if isinstance(document, str) else json.dumps(document))
    os.replace(temp, path)  # how sync --out and the kubelet both replace it: whole, never half written


async def engine_status(engine) -> engine_pb2.EngineStatus:
    async with insecure_channel(engine.grpc_addr, TOKEN) as channel:
        return await engine_pb2_grpc.EngineStub(channel).GetStatus(engine_pb2.GetEngineStatusRequest(), timeout=5)


async def wait_version(engine, version: int, within_s: float) -> float:
    started = time.monotonic()
    while (await engine_status(engine)).structure_version != version:
        if time.monotonic() - started > within_s:
            raise AssertionError(f"structure version {version} not in force after {within_s}s")
        await asyncio.sleep(0.2)
    return time.monotonic() - started


@pytest.mark.integration
async def test_a_running_engine_follows_its_structure_file(start_service, tmp_path):
    path = tmp_path / "structure.json"
    write(path, scenario_structure(1))
    engine = start_service("engine_svc", ["--ingest-addr", NOWHERE, "--executor-addr", NOWHERE,
                                          "--structure-file", str(path)], {"POLYARB_CONTROL_TOKEN": TOKEN})
    status = await engine_status(engine)
    assert (status.structure_version, status.instances) == (1, 4)  # in force before the first RPC

    write(path, scenario_structure(2, trios=1))
    assert await wait_version(engine, 2, within_s=10) < 10
    assert (await engine_status(engine)).instances == 2

    # a push by RPC wins while the file stays as it is
    pushed = json_format.ParseDict(scenario_structure(50, trios=2, sets=False), engine_pb2.MarketStructure())
    async with insecure_channel(engine.grpc_addr, TOKEN) as channel:
        await engine_pb2_grpc.EngineStub(channel).UpdateMarketStructure(pushed, timeout=5)
    await asyncio.sleep(4.5)  # two looks of the watcher at an unchanged file
    assert (await engine_status(engine)).structure_version == 50

    # a broken file is refused with a logged reason; the running structure keeps trading
    broken = scenario_structure(3)
    broken["trios"][0]["lower_bound"] = broken["trios"][0]["upper_bound"]  # L >= U
    write(path, broken)
    deadline = time.monotonic() + 10
    while not any(e.get("msg", "").startswith("structure file refused") for e in engine.log_entries()):
        assert time.monotonic() < deadline, engine.output()
        await asyncio.sleep(0.2)
    refusal = next(e for e in engine.log_entries() if e.get("msg", "").startswith("structure file refused"))
    assert refusal["kind"] == "bad_structure_file" and str(path) in refusal["path"] and refusal["reason"]
    write(path, "{ not json")
    await asyncio.sleep(4.5)
    status = await engine_status(engine)
    assert (status.structure_version, status.instances) == (50, 2)
    assert engine.proc.poll() is None

    # and the next good file is in force again
    write(path, scenario_structure(4))
    await wait_version(engine, 4, within_s=10)
    metrics = _metrics(engine)
    assert 'polyarb_structure_file_loads_total{result="refused"} 2.0' in metrics
    assert 'polyarb_structure_file_loads_total{result="applied"} 2.0' in metrics
    assert 'polyarb_errors_total{kind="bad_structure_file",service="engine"} 2.0' in metrics


def _metrics(service) -> str:
    import urllib.request

    with urllib.request.urlopen(f"http://{service.metrics_addr}/metrics", timeout=5) as response:
        return response.read().decode()


@pytest.mark.parametrize(("content", "reason"), [
    ("{ not json", "is not valid JSON"),
    (json.dumps({"trios": [], "sets": [{"id": "s", "members": []}]}), "set"),
    (json.dumps({"version": 1, "unknown_field": 3}), "unknown_field"),
])
def test_a_bad_file_at_start_exits_2_with_one_line(tmp_path, content, reason):
    path = tmp_path / "structure.json"
    path.write_text(content)
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYARB_")}
    env["POLYARB_STRUCTURE_FILE"] = str(path)  # the environment form of the flag
    done = subprocess.run([sys.executable, "-m", "engine_svc", "--grpc-addr", "127.0.0.1:0",
                           "--metrics-addr", "127.0.0.1:0"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("engine_svc: error: --structure-file:")
    assert reason in done.stderr


def test_the_watcher_applies_each_new_content_once(tmp_path):
    """A ConfigMap mount: the file is a symlink into a ..data directory the kubelet swaps."""
    applied: list[int] = []

    def apply(structure: engine_pb2.MarketStructure) -> None:
        if not structure.trios and not structure.sets:
            raise StructureError("empty")  # stands in for the engine's own refusal
        applied.append(structure.version)

    def publish(name: str, document: dict | str) -> None:
        data = tmp_path / name
        data.mkdir()
        (data / "structure.json").write_text(document if isinstance(document, str) else json.dumps(document))
        link = tmp_path / "..data.tmp"
        link.symlink_to(name)
        os.replace(link, tmp_path / "..data")

    publish("v1", scenario_structure(1))
    (tmp_path / "structure.json").symlink_to("..data/structure.json")
    path = tmp_path / "structure.json"
    assert read_structure_file(path).version == 1
    watcher = StructureFileWatcher(path, apply)
    assert watcher.check() is False and applied == []  # what start-up loaded is not applied twice

    publish("v2", scenario_structure(2))
    assert watcher.check() is True and applied == [2]
    assert watcher.check() is False

    publish("v3", {"version": 3, "trios": [], "sets": []})
    assert watcher.check() is False and applied == [2]  # refused, judged once
    assert watcher.check() is False

    publish("v4", "[1, 2")
    assert watcher.check() is False
    publish("v5", scenario_structure(5))
    assert watcher.check() is True and applied == [2, 5]
    with pytest.raises(InputError):
        read_structure_file(tmp_path / "v4" / "structure.json")
