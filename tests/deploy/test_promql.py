"""Every query of the dashboard, the alert rules and the runbook is PromQL that Prometheus' own grammar
parses (@prometheus-io/lezer-promql, pinned in tools/package.json, run by tools/promql_check.mjs)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.deploy.queries import ROOT, Query, dashboard_queries, rule_queries, runbook_queries

CHECKER = ROOT / "tools" / "promql_check.mjs"
PARSER = ROOT / "tools" / "node_modules" / "@prometheus-io" / "lezer-promql"


def check(queries: list[Query]) -> subprocess.CompletedProcess:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on the PATH: the build needs Node 20 (Makefile)", pytrace=False)
    if not PARSER.is_dir():
        pytest.fail(f"{PARSER.relative_to(ROOT)} is missing: run `make tools` (npm ci in tools/)", pytrace=False)
    payload = json.dumps([{"where": q.where, "expr": q.expr} for q in queries])
    return subprocess.run([node, str(CHECKER)], input=payload, capture_output=True, text=True, cwd=ROOT / "tools",
                          timeout=60)


def test_every_dashboard_rule_and_runbook_query_parses():
    queries = dashboard_queries() + rule_queries() + runbook_queries()
    assert len(rule_queries()) >= 10 and len(dashboard_queries()) >= 40 and runbook_queries()
    proc = check(queries)
    assert proc.returncode == 0, f"queries that do not parse:\n{proc.stdout}{proc.stderr}"
    assert f"{len(queries)} queries checked, 0 failed" in proc.stdout


def test_the_checker_reports_a_query_that_does_not_parse():
    """A misspelt function, an unclosed bracket, a dangling operator: each is caught, and named."""
    bad = [Query("typo", "rat(polyarb_ws_messages_total[5m])"),
           Query("unclosed", "sum by (pod (polyarb_ws_connections)"),
           Query("dangling", "polyarb_circuit_open ==")]
    good = Query("good", 'sum by (pod) (rate(polyarb_ws_messages_total{pod=~"$pod"}[$__rate_interval]))')
    proc = check([*bad, good])
    assert proc.returncode == 1, proc.stdout + proc.stderr
    failed = {line.split(":")[0] for line in proc.stdout.splitlines() if "does not parse" in line}
    assert failed == {"typo", "unclosed", "dangling"}
    assert "4 queries checked, 3 failed" in proc.stdout
