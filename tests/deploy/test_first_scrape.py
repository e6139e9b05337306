"""Acceptance (issue 17): before any traffic, every metric the dashboard and the alert rules use has a
series, and every series selector in them selects one, so no panel says "No data" and `increase()`
sees the first error.

The pipeline is `make run`'s: the paper venue, ingest on its WebSocket, the executor in paper mode
against its CLOB, and the engine between them, each a real process (tests/e2e's pipeline_factory).
Nothing is pushed: no structure, no balance, no trading, so no frame, signal or order has happened.
"""

from __future__ import annotations

import re
import urllib.request

import pytest

from tests.deploy.queries import dashboard_queries, metrics_used, rule_queries, selectors
from tests.e2e.conftest import pipeline_factory  # noqa: F401 - the fixture, shared

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+", re.M)
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
# labels Prometheus adds when it scrapes (job, instance) or the PodMonitor adds from the pod; a local
# process has none of them, so matchers on them are not the process's to satisfy
SCRAPE_LABELS = {"job", "instance", "namespace", "pod", "container", "endpoint"}


def scrape(addr: str) -> list[tuple[str, dict[str, str]]]:
    with urllib.request.urlopen(f"http://{addr}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    return [(name, dict(LABEL.findall(labels or ""))) for name, labels in SAMPLE.findall(text)]


def matches(labels: dict[str, str], op: str, value: str, label: str) -> bool:
    have = labels.get(label, "")
    if op == "=":
        return have == value
    if op == "!=":
        return have != value
    found = re.fullmatch(value, have) is not None
    return found if op == "=~" else not found


@pytest.mark.integration
def test_every_queried_series_exists_before_any_traffic(pipeline_factory):  # noqa: F811
    pipeline = pipeline_factory()
    series = []
    for process in (pipeline.venue, pipeline.ingest, pipeline.engine, pipeline.executor):
        series += scrape(process.metrics_addr)
    names = {name for name, _ in series}

    queries = dashboard_queries() + rule_queries()
    used = metrics_used(queries)
    assert {"polyarb_errors_total", "polyarb_signals_denied_total", "polyarb_reconciled_total"} <= used
    missing = sorted(used - names)
    assert not missing, f"metrics the dashboard or the rules use with no series before any traffic: {missing}"

    unmatched = []
    for name, matchers in sorted(selectors(queries)):
        relevant = [(label, op, value) for label, op, value in matchers
                    if label not in SCRAPE_LABELS and "$" not in value]
        if not any(n == name and all(matches(labels, op, value, label) for label, op, value in relevant)
                   for n, labels in series):
            unmatched.append(f"{name}{{{', '.join(f'{k}{o}{v!r}' for k, o, v in relevant)}}}")
    assert not unmatched, f"selectors that select no series before any traffic: {unmatched}"
