"""python -m paper_venue as a process: status over gRPC, REST and WebSocket up, SIGTERM exits 0."""

from __future__ import annotations

import json
import urllib.request

from grpc import aio

from polyarb.v1 import venue_pb2, venue_pb2_grpc
from tests.conftest import spawn


async def test_process_serves_status_rest_and_stops_cleanly(start_service):
    svc = start_service("paper_venue", ["--ws-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--seed", "3",
                                        "--faults", '{"http_5xx": 1}'])
    serving = next(e for e in svc.log_entries() if e.get("msg") == "serving")
    http = serving["http_addr"]
    with urllib.request.urlopen(f"http://{http}/admin/faults", timeout=5) as r:
        assert json.load(r)["http_5xx"] == 1
    with urllib.request.urlopen(f"http://{http}/admin/structure", timeout=5) as r:
        assert len(json.load(r)["trios"]) == 3
    async with aio.insecure_channel(svc.grpc_addr) as channel:
        status = await venue_pb2_grpc.PaperVenueStub(channel).GetStatus(venue_pb2.GetVenueStatusRequest(), timeout=5)
    assert status.scenario == "ladder" and status.tokens == 22 and status.info.mode == "paper"
    assert status.ws_addr == serving["ws_addr"] and status.http_addr == http and not status.ws_addr.endswith(":0")
    assert svc.terminate() == 0


def test_bad_flags_exit_2(tmp_path):
    creds = tmp_path / "creds.json"
    creds.write_text('{"apiKey": "k"}')
    for args in (["--faults", '{"bogus": 1}'], ["--scenario", "/nonexistent/recording.jsonl"],
                 ["--api-creds-file", str(creds)], ["--step-s", "0"]):
        proc = spawn("paper_venue", args)
        assert proc.proc.wait(30) == 2, proc.output()
