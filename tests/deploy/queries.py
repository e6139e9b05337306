"""What the operations files query: the alert rules, the Grafana dashboard and the runbook.

Shared by the deploy tests that parse those queries (test_promql.py), check the rules
(test_alert_rules.py) and check that every queried series exists from the first scrape
(test_first_scrape.py).
"""

from __future__ import annotations

import json
import pathlib
import re
from dataclasses import dataclass

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "polyarb-rules.yaml"
PROMETHEUS_RULE = ROOT / "deploy" / "k8s" / "components" / "podmonitor" / "prometheusrule.yaml"
RULES_TEST = pathlib.Path(__file__).with_name("rules_test.yaml")
DASHBOARD = ROOT / "deploy" / "grafana" / "polyarb.json"
RUNBOOK = ROOT / "docs" / "runbook.md"

METRIC = re.compile(r"\b(polyarb_[a-z0-9_]+)")
SELECTOR = re.compile(r"\b(polyarb_[a-z0-9_]+)\s*(?:\{([^}]*)\})?")
MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
FENCED_PROMQL = re.compile(r"```promql\n(.*?)```", re.S)


@dataclass(frozen=True)
class Query:
    where: str  # "rules: PolyarbCircuitOpen", "dashboard: panel 3 (Circuit breaker) A", ...
    expr: str


def rules_doc() -> dict:
    return yaml.safe_load(RULES.read_text())


def alert_rules() -> list[dict]:
    return [rule for group in rules_doc()["groups"] for rule in group["rules"] if "alert" in rule]


def rule_queries() -> list[Query]:
    return [Query(f"rules: {rule['alert']}", rule["expr"]) for rule in alert_rules()]


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def dashboard_panels(board: dict) -> list[dict]:
    result = []
    for panel in board["panels"]:
        result.append(panel)
        result.extend(panel.get("panels", []))  # collapsed rows hold their panels
    return result


def dashboard_queries() -> list[Query]:
    board = dashboard()
    queries = [Query(f"dashboard: panel {panel['id']} ({panel['title']}) {target['refId']}", target["expr"])
               for panel in dashboard_panels(board) for target in panel.get("targets", [])]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            # label_values(<series selector>, <label>): Grafana's function, not PromQL; its selector is
            match = re.fullmatch(r"label_values\((.*),\s*\w+\)", variable["definition"])
            assert match, f"dashboard variable {variable['name']}: not label_values(selector, label)"
            queries.append(Query(f"dashboard: variable {variable['name']}", match[1]))
    return queries


def runbook_queries() -> list[Query]:
    """The ```promql blocks of docs/runbook.md, one query per non-empty line."""
    queries = []
    for block in FENCED_PROMQL.findall(RUNBOOK.read_text()):
        for line in block.splitlines():
            if line.strip():
                queries.append(Query("runbook", line.strip()))
    return queries


def metrics_used(queries: list[Query]) -> set[str]:
    return {name for query in queries for name in METRIC.findall(query.expr)}


def selectors(queries: list[Query]) -> set[tuple[str, tuple[tuple[str, str, str], ...]]]:
    """(metric, ((label, op, value), ...)) for every polyarb series selector in the queries."""
    found = set()
    for query in queries:
        for name, body in SELECTOR.findall(query.expr):
            found.add((name, tuple(MATCHER.findall(body or ""))))
    return found


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, spaces to dashes."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def runbook_anchors() -> set[str]:
    return {github_anchor(line.lstrip("#")) for line in RUNBOOK.read_text().splitlines() if line.startswith("#")}
