"""`polyarbctl structure sync`: shards and paging (pure), then the command against a real paper venue's
`/events` and a real engine (tests/conftest.py starts them)."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import time
import urllib.request

import pytest
from google.protobuf import json_format

from polyarb.ctl import sync
from polyarb.ctl.gamma import structure_from_gamma
from polyarb.v1 import engine_pb2
from tests.ctl.test_cli import FIXTURES, NOWHERE, ROOT, TOKEN, ctl, ctl_env, service_env

# -- pure ---------------------------------------------------------------------------------------------


def fixture_events() -> list[dict]:
    events = []
    for path in sorted(FIXTURES.glob("*.json")):
        data = json.loads(path.read_text())
        events += data if isinstance(data, list) else [data]
    return events


def test_parse_shard():
    assert sync.parse_shard("0/2") == sync.Shard(0, 2)
    assert str(sync.parse_shard("3/4")) == "3/4"
    for bad in ("2/2", "1", "a/2", "-1/2", "0/0", "1/2/3"):
        with pytest.raises(ValueError):
            sync.parse_shard(bad)


def test_shard_of_is_stable_and_spreads():
    # sha256, not Python's salted hash(): the same answer in every process (these values are fixed)
    assert sync.shard_of("btc-price-on-december-31", 2) == 0
    assert sync.shard_of("btc-buckets", 2) == 1
    counts = [0, 0, 0, 0]
    for i in range(400):
        counts[sync.shard_of(f"event-{i}", 4)] += 1
    assert all(70 < c < 130 for c in counts), counts


def test_shards_partition_the_groups_and_keep_an_event_together():
    events = fixture_events()
    whole, _ = structure_from_gamma(events, 7)
    assert len(whole.trios) == 3 and len(whole.sets) == 2
    for count in (1, 2, 3, 5):
        parts = [sync.keep_shard(whole, events, sync.Shard(i, count)) for i in range(count)]
        trio_ids = [t.id for p in parts for t in p.trios]
        set_ids = [s.id for p in parts for s in p.sets]
        assert sorted(trio_ids) == sorted(t.id for t in whole.trios)  # every group once: disjoint, complete
        assert sorted(set_ids) == sorted(s.id for s in whole.sets)
        assert all(p.version == 7 for p in parts)
        # the neg-risk range event gives the trios and a set: one group, so one shard holds all of them
        holder = [p for p in parts if any(s.id == "bitcoin-price-on-november-10" for s in p.sets)]
        assert len(holder) == 1 and len(holder[0].trios) == 3


def test_same_structure_ignores_the_version():
    events = fixture_events()
    a, _ = structure_from_gamma(events, 1)
    b, _ = structure_from_gamma(events, 9)
    assert sync.same_structure(a, b)
    del b.trios[0]
    assert not sync.same_structure(a, b)
    assert not sync.same_structure(a, None) and sync.same_structure(None, None)


async def test_fetch_events_advances_by_what_arrived():
    served = [{"slug": f"e{i}"} for i in range(7)]
    asked = []

    async def capped_server(url, params):  # answers at most 3, whatever the limit
        asked.append(dict(params))
        offset = int(params["offset"])
        return served[offset:offset + min(int(params["limit"]), 3)]

    events = await sync.fetch_events(capped_server, "http://gamma.test/")
    assert events == served
    assert [a["offset"] for a in asked] == ["0", "3", "6", "7"]
    assert all(a["limit"] == "500" and a["closed"] == "false" for a in asked)

    async def not_a_list(url, params):
        return {"error": "nope"}

    with pytest.raises(sync.GammaError, match="expected a JSON list"):
        await sync.fetch_events(not_a_list, "http://gamma.test")


# -- against the paper venue --------------------------------------------------------------------------

def venue_http(venue) -> str:
    for entry in venue.log_entries():
        if entry.get("msg") == "serving":
            return "http://" + entry["http_addr"]
    raise AssertionError("no http_addr in the venue's log")


def venue_call(http: str, path: str, body: dict | None = None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(http + path, data=data, method="GET" if body is None else "POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def start_venue(start_service):
    return start_service("paper_venue", ["--scenario", "manual", "--ws-addr", "127.0.0.1:0",
                                         "--http-addr", "127.0.0.1:0"], service_env())


def without_ids(structure: engine_pb2.MarketStructure) -> tuple[list, list]:
    trios = [(t.lower, t.upper, t.range, t.lower_bound, t.upper_bound) for t in structure.trios]
    sets = [(s.id, list(s.members)) for s in structure.sets]
    return trios, sets


def read_structure(path: pathlib.Path) -> engine_pb2.MarketStructure:
    return json_format.Parse(path.read_text(), engine_pb2.MarketStructure())


@pytest.mark.integration
def test_sync_builds_and_pushes_the_scenarios_structure_through_capped_pages(start_service, tmp_path):
    venue = start_venue(start_service)
    http = venue_http(venue)
    engine = start_service("engine_svc", ["--ingest-addr", NOWHERE, "--executor-addr", NOWHERE], service_env())
    first_page = venue_call(http, "/events?closed=false&limit=500&offset=0")
    assert 0 < len(first_page) < 3  # the venue caps its pages below the limit asked for: 3 events need 2+

    out = tmp_path / "structure.json"
    done = ctl("structure", "sync", "--gamma-url", http, "--out", str(out), "--push", engine=engine.grpc_addr)
    assert done.returncode == 0, done.stderr
    assert "3 event(s) → 3 trio(s), 1 set(s)" in done.stderr
    assert done.stdout.startswith("structure v1 in force: 4 instance(s)"), done.stdout
    expected = json_format.ParseDict(venue_call(http, "/admin/structure"), engine_pb2.MarketStructure())
    written = read_structure(out)
    assert without_ids(written) == without_ids(expected)  # same markets, bounds and set as the scenario's
    assert written.version == 1 and oct(out.stat().st_mode & 0o777) == "0o644"
    status = json.loads(ctl("status", "engine", "--json", engine=engine.grpc_addr).stdout)["engine"]
    assert status["instances"] == 4

    again = ctl("structure", "sync", "--gamma-url", http, "--out", str(out), engine=engine.grpc_addr)
    assert again.returncode == 0 and "unchanged (version 1)" in again.stderr


@pytest.mark.integration
def test_two_shards_partition_the_scenarios_groups(start_service, tmp_path):
    http = venue_http(start_venue(start_service))
    whole_file, parts = tmp_path / "whole.json", [tmp_path / "shard-0.json", tmp_path / "shard-1.json"]
    assert ctl("structure", "sync", "--gamma-url", http, "--out", str(whole_file)).returncode == 0
    for i, path in enumerate(parts):
        done = ctl("structure", "sync", "--gamma-url", http, "--shard", f"{i}/2", "--out", str(path))
        assert done.returncode == 0, done.stderr
    whole = read_structure(whole_file)
    shards = [read_structure(p) for p in parts]
    assert all(s.trios or s.sets for s in shards)  # december-31 puts the two groups in different shards
    trio_ids = [t.id for s in shards for t in s.trios]
    set_ids = [x.id for s in shards for x in s.sets]
    assert sorted(trio_ids) == sorted(t.id for t in whole.trios)
    assert sorted(set_ids) == sorted(x.id for x in whole.sets)
    bad = ctl("structure", "sync", "--gamma-url", http, "--shard", "2/2")
    assert bad.returncode == 2 and "shard" in bad.stderr


@pytest.mark.integration
def test_sync_every_keeps_the_last_good_structure_through_gamma_500s(start_service, tmp_path):
    venue = start_venue(start_service)
    http = venue_http(venue)
    engine = start_service("engine_svc", ["--ingest-addr", NOWHERE, "--executor-addr", NOWHERE], service_env())
    out = tmp_path / "structure.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "polyarb.ctl", f"--engine-addr={engine.grpc_addr}", "structure", "sync",
         "--gamma-url", http, "--out", str(out), "--push", "--every", "1"],
        cwd=ROOT, env=ctl_env(TOKEN), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: out.exists() and read_structure(out).version == 1, 20, "the first structure")
        assert engine_instances(engine) == 4
        # Gamma fails 3 times, and meanwhile a ladder market resolves: the structure must change only after
        above_100k = next(m for offset in (0, 2) for e in venue_call(http, f"/events?offset={offset}")
                          for m in e["markets"] if m["slug"] == "btc-above-100000")
        venue_call(http, "/admin/faults", {"gamma_5xx": 3})
        venue_call(http, "/admin/resolve", {"winning_token_id": json.loads(above_100k["clobTokenIds"])[0]})
        wait_for(lambda: venue_call(http, "/admin/faults")["gamma_5xx"] == 0, 20, "the three 500s")
        assert read_structure(out).version == 1 and engine_instances(engine) == 4  # still the last good one
        wait_for(lambda: read_structure(out).version == 2, 20, "the structure after the 500s")
        assert len(read_structure(out).trios) == 1  # (90k, 95k] only: 95k-100k and 100k-105k lost a leg
        wait_for(lambda: engine_instances(engine) == 2, 10, "the push of version 2")
        # the engine runs something else (a restart, another push): the next round pushes ours again
        other = ctl("structure", "push", str(out), "--version", "77", engine=engine.grpc_addr)
        assert other.returncode == 0 and "v77" in other.stdout
        wait_for(lambda: engine_version(engine) == 2, 10, "version 2 pushed again")
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    failures = [line for line in err.splitlines() if "sync failed" in line]
    assert len(failures) == 3 and all("HTTP 500" in line and "keeping version 1" in line for line in failures), err
    assert "retrying in 1s" in failures[0] and "retrying in 1s" in failures[1]  # 1, 2, 4 s capped at --every


def engine_version(engine) -> int:
    return int(json.loads(ctl("status", "engine", "--json", engine=engine.grpc_addr).stdout)["engine"]
               ["structure_version"])


def engine_instances(engine) -> int:
    return json.loads(ctl("status", "engine", "--json", engine=engine.grpc_addr).stdout)["engine"]["instances"]


def wait_for(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


async def test_a_failed_write_is_written_again_next_round(tmp_path):
    import argparse

    from polyarb.ctl.__main__ import SyncState, sync_round
    from polyarb.runtime.documents import InputError

    events = fixture_events()

    async def gamma(url, params):
        return events if params["offset"] == "0" else []

    out = tmp_path / "not-yet" / "structure.json"
    args = argparse.Namespace(gamma_url="http://gamma.test", shard=None, out=out, push=False, every=1.0)
    state = SyncState()
    with pytest.raises(InputError, match="cannot write"):
        await sync_round(None, args, gamma, state)
    assert state.last is None and state.version == 0  # nothing recorded as written
    out.parent.mkdir()
    await sync_round(None, args, gamma, state)
    assert read_structure(out).version == 1 and state.version == 1
