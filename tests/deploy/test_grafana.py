"""deploy/grafana/polyarb.json: a well-formed dashboard whose every query names a metric the services export.

The exported names are read from the live /metrics of the four services, started as real processes.
"""

from __future__ import annotations

import json
import pathlib
import re
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "polyarb.json"
PANEL_TYPES = {"row", "timeseries", "stat", "gauge", "table", "heatmap", "bargauge", "text"}
# what the issue asks the dashboard to show: panel query must use these metrics
REQUIRED = {
    "messages/s": "polyarb_ws_messages_total",
    "reconnects": "polyarb_ws_reconnects_total",
    "stale tokens": "polyarb_book_stale_tokens",
    "signals by strategy": "polyarb_signals_total",
    "denials by reason": "polyarb_signals_denied_total",
    "orders": "polyarb_orders_posted_total",
    "results by outcome": "polyarb_trade_results_total",
    "ingest latency": "polyarb_frame_to_send_seconds_bucket",
    "engine latency": "polyarb_eval_seconds_bucket",
    "signing latency": "polyarb_sign_seconds_bucket",
    "post latency": "polyarb_post_seconds_bucket",
    "circuit state": "polyarb_circuit_open",
}
METRIC = re.compile(r"\b(polyarb_[a-z0-9_]+)")


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def panels(board: dict) -> list[dict]:
    result = []
    for panel in board["panels"]:
        result.append(panel)
        result.extend(panel.get("panels", []))  # collapsed rows hold their panels
    return result


def queried_metrics(board: dict) -> set[str]:
    names = set()
    for panel in panels(board):
        for target in panel.get("targets", []):
            names.update(METRIC.findall(target["expr"]))
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            names.update(METRIC.findall(variable["definition"]))
    return names


def test_dashboard_is_valid_grafana_json():
    board = dashboard()
    for key, kind in (("title", str), ("uid", str), ("schemaVersion", int), ("panels", list), ("templating", dict)):
        assert isinstance(board.get(key), kind), f"dashboard {key}"
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", board["uid"])
    assert "id" not in board or board["id"] is None, "an exported dashboard carries no instance id"
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    ids = set()
    occupied = set()
    for panel in panels(board):
        assert panel["type"] in PANEL_TYPES, panel["type"]
        assert isinstance(panel["id"], int) and panel["id"] not in ids, f"duplicate panel id {panel['id']}"
        ids.add(panel["id"])
        grid = panel["gridPos"]
        assert all(isinstance(grid[k], int) for k in ("h", "w", "x", "y"))
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24 and grid["h"] > 0, f"panel {panel['title']}"
        columns, rows = range(grid["x"], grid["x"] + grid["w"]), range(grid["y"], grid["y"] + grid["h"])
        cells = {(x, y) for x in columns for y in rows}
        assert not cells & occupied, f"panel {panel['title']!r} overlaps another"
        occupied |= cells
        if panel["type"] == "row":
            continue
        assert panel["title"] and panel["targets"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        for target in panel["targets"]:
            assert target["refId"] and target["expr"]
            assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]
            for used in re.findall(r"\$(\w+)", target["expr"]):
                assert used in variables or used.startswith("__"), f"undefined variable ${used}"


def test_dashboard_shows_what_the_issue_asks_for():
    names = queried_metrics(dashboard())
    missing = {what: metric for what, metric in REQUIRED.items() if metric not in names}
    assert not missing, f"the dashboard shows no {missing}"


def exported_names(text: str) -> set[str]:
    """Every series name a /metrics page can produce: counters with _total, histograms with _bucket etc."""
    names = set()
    for line in text.splitlines():
        match = re.match(r"# TYPE (\S+) (\w+)", line)
        if match:
            name, kind = match.groups()
            names.add(name)
            if kind == "counter":
                names.update({name.removesuffix("_total") + "_total", name.removesuffix("_total") + "_created"})
            if kind == "histogram":
                names.update({name + "_bucket", name + "_sum", name + "_count", name + "_created"})
        elif line and not line.startswith("#"):
            names.add(re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line)[0])
    return names


@pytest.mark.integration
def test_every_queried_metric_is_exported_by_a_running_service(start_service, tmp_path):
    venue = start_service("paper_venue", ["--ws-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"])
    ingest = start_service("ingest_svc", ["--ws-url", "ws://127.0.0.1:9/ws/market"])
    executor = start_service("executor_svc", ["--mode", "dry-run", "--journal", str(tmp_path / "journal.sqlite")])
    engine = start_service("engine_svc", ["--ingest-addr", ingest.grpc_addr, "--executor-addr", executor.grpc_addr])
    exported = set()
    for service in (venue, ingest, executor, engine):
        with urllib.request.urlopen(f"http://{service.metrics_addr}/metrics", timeout=5) as reply:
            exported |= exported_names(reply.read().decode())
    missing = sorted(queried_metrics(dashboard()) - exported)
    assert not missing, f"the dashboard queries metrics no service exports: {missing}"
