"""Every label value the code can produce is declared beside its metric, and nothing else is.

The services create each declared series at 0 on import (polyarb.runtime.metrics.declare), so a series
exists from the first scrape. That only holds while the declarations match the code; this file reads
the code (its syntax tree) for every `.labels(...)` call and every ErrorCounter call and compares:
- a literal label value must be declared;
- a computed one must be one of the forms listed in COMPUTED below, which says where its values come
  from (an enum, a table, the classes that use it); a new form fails until it is listed;
- every declared value must be one the code can produce.
"""

from __future__ import annotations

import ast
import inspect
import pathlib
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from prometheus_client import REGISTRY

import engine_svc.metrics
import executor_svc.metrics
import ingest_svc.metrics
from engine_svc import peers, pipeline
from executor_svc import execution, portfolio_feed, reconcile
from executor_svc.deny import DenyReason
from ingest_svc import parse
from polyarb.runtime import metrics as runtime_metrics
from polyarb.v1 import executor_pb2

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGES = ("polyarb/runtime", "ingest_svc", "engine_svc", "executor_svc", "paper_venue")
METRICS_MODULES = {"ingest_svc": ingest_svc.metrics, "engine_svc": engine_svc.metrics,
                   "executor_svc": executor_svc.metrics}
ERROR_KINDS = {"ingest": ingest_svc.metrics.ERROR_KINDS, "engine": engine_svc.metrics.ERROR_KINDS,
               "executor": executor_svc.metrics.ERROR_KINDS}
# labelled metrics whose values are facts of the running process, set once at start, not declared
SET_AT_START = {"polyarb_build_info"}


def source_files() -> Iterator[tuple[str, pathlib.Path, ast.Module]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).glob("*.py")):
            yield package.replace("/", "."), path, ast.parse(path.read_text(), str(path))


def where(path: pathlib.Path, node: ast.AST) -> str:
    return f"{path.relative_to(ROOT)}:{node.lineno}"


# -- where computed label values come from ------------------------------------------------------------


def deny_reasons() -> set[str]:
    return {str(reason) for reason in DenyReason}


def outcomes_journaled() -> set[str]:
    # every Outcome but UNSPECIFIED: results are journaled with the outcome execution.py gives them
    return {execution.OUTCOME_NAMES[value] for value in executor_pb2.Outcome.values() if value}


def outcomes_reconciled() -> set[str]:
    # reconcile.outcome_for over every shape of fill: all legs, none, some
    shapes = (([1.0, 1.0], [1.0, 1.0]), ([1.0, 1.0], [0.0, 0.0]), ([1.0, 1.0], [1.0, 0.0]))
    return {execution.OUTCOME_NAMES[reconcile.outcome_for(sizes, filled)] for sizes, filled in shapes}


def parse_error_kinds() -> set[str]:
    """Every kind a ParseError is built with in ingest_svc (parse.py, book.py)."""
    kinds = set()
    for _, path, tree in source_files():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "ParseError":
                kind = node.args[0]
                if isinstance(kind, ast.Constant):
                    kinds.add(kind.value)
                elif ast.unparse(kind) == "_ERROR_KINDS.get(type(exc), 'wrong_type')":
                    kinds |= {*parse._ERROR_KINDS.values(), "wrong_type"}
                else:
                    pytest.fail(f"{where(path, node)}: ParseError kind {ast.unparse(kind)} is neither a literal "
                                f"nor _ERROR_KINDS: teach parse_error_kinds() where its values come from")
    return kinds


def concrete_subclasses(cls: type) -> list[type]:
    found = [cls] if not inspect.isabstract(cls) else []
    for sub in cls.__subclasses__():
        found += concrete_subclasses(sub)
    return found


def link_names() -> set[str]:
    return {link.name for link in concrete_subclasses(peers._Link)}


# (metric variable, the label argument's source) → the values it can take
COMPUTED: dict[tuple[str, str], Callable[[], set[str]]] = {
    ("SIGNALS_DENIED", "str(plan.reason)"): deny_reasons,
    ("SIGNALS_SKIPPED", "ack.reason or 'unspecified'"): lambda: deny_reasons() | {"unspecified"},
    ("SIGNALS", "STRATEGY_NAMES[opportunity.strategy]"): lambda: set(pipeline.STRATEGY_NAMES.values()),
    ("TRADE_RESULTS", "OUTCOME_NAMES[stored.outcome]"): outcomes_journaled,
    ("RECONCILED", "OUTCOME_NAMES[stored.outcome]"): outcomes_reconciled,
    ("PARSE_ERRORS", "error.kind"): parse_error_kinds,
    ("PEER_CONNECTED", "self.name"): link_names,
    ("EXPECTED_PNL", "name"): lambda: {n for v, n in portfolio_feed.STRATEGY_NAMES.items() if v},
    ("REALIZED_PNL", "name"): lambda: {n for v, n in portfolio_feed.STRATEGY_NAMES.items() if v},
}
# labels whose values are data, not code: a token id per series, bounded by portfolio_feed.POSITION_SERIES
# (no series exists before a position does; the dashboard and the rules do not use this metric)
DATA_LABELS = {("POSITION_SHARES", "token")}
DATA_LABEL_METRICS = {"polyarb_position_shares"}


# -- the label values each metric is used with ------------------------------------------------------------


@dataclass
class Use:
    site: str
    values: set[str]


def label_uses() -> dict[tuple[str, str], list[Use]]:
    """(package, metric variable) → each `metrics.X.labels(v)` call in that package and the values v takes."""
    uses: dict[tuple[str, str], list[Use]] = defaultdict(list)
    for package, path, tree in source_files():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "labels"):
                continue
            target = node.func.value
            if not (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                    and target.value.id == "metrics"):
                continue  # not a metric of the service's metrics module (runtime's own are checked apart)
            metric = target.attr
            assert len(node.args) == 1 and not node.keywords, f"{where(path, node)}: one positional label"
            arg = node.args[0]
            if isinstance(arg, ast.Constant):
                values = {arg.value}
            else:
                source = ast.unparse(arg)
                if (metric, source) in DATA_LABELS:
                    continue
                assert (metric, source) in COMPUTED, (
                    f"{where(path, node)}: metrics.{metric}.labels({source}): where do its values come from? "
                    f"Declare them beside the metric and add the expression to COMPUTED in this test")
                values = COMPUTED[metric, source]()
            uses[package, metric].append(Use(where(path, node), values))
    return uses


USES = label_uses()


@pytest.mark.parametrize("package,metric", sorted(USES), ids=[f"{p}.{m}" for p, m in sorted(USES)])
def test_declared_label_values_are_those_the_code_uses(package, metric):
    module = METRICS_MODULES[package]
    declared = declared_values(module, metric)
    produced = set()
    for use in USES[package, metric]:
        missing = use.values - set(declared)
        assert not missing, f"{use.site}: {metric} gets {sorted(missing)}, not declared in {module.__name__}"
        produced |= use.values
    never = set(declared) - produced
    assert not never, f"{module.__name__} declares {metric} values the code never uses: {sorted(never)}"
    assert len(declared) == len(set(declared)), f"{metric}: a value declared twice"


def declared_values(module, metric: str) -> tuple[str, ...]:
    name = getattr(module, metric).describe()[0].name
    if name not in runtime_metrics.DECLARED:
        pytest.fail(f"{module.__name__}.{metric} has labels but no values declared with declare()")
    return runtime_metrics.DECLARED[name]


# -- polyarb_errors_total{service,kind}: the ErrorCounter calls -------------------------------------------


def error_counts() -> dict[str | None, dict[str, str]]:
    """service (None: the service's own name at run time) → kind → where it is counted."""
    found: dict[str | None, dict[str, str]] = defaultdict(dict)
    for _package, path, tree in source_files():
        counters: dict[str, str | None] = {}  # variable name → service
        for node in ast.walk(tree):
            if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
                    and ast.unparse(node.value.func).endswith("ErrorCounter")):
                service = node.value.args[0]
                for name in node.targets:
                    counters[name.id] = service.value if isinstance(service, ast.Constant) else None
        if not counters:
            continue
        classes = {id(child): cls for cls in ast.walk(tree) if isinstance(cls, ast.ClassDef)
                   for child in ast.walk(cls)}
        module = None
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in counters):
                continue
            service, kind = counters[node.func.id], node.args[0]
            if isinstance(kind, ast.Constant):
                found[service][kind.value] = where(path, node)
            elif isinstance(kind, ast.JoinedStr) and id(node) in classes:
                # f"{self.name}_link" in a method: its value for every concrete class that inherits the method
                if module is None:
                    module = __import__(".".join(path.relative_to(ROOT).with_suffix("").parts), fromlist=["_"])
                cls = getattr(module, classes[id(node)].name)
                code = compile(ast.Expression(kind), str(path), "eval")
                for concrete in concrete_subclasses(cls):
                    found[service][eval(code, {"self": concrete})] = where(path, node)
            else:
                pytest.fail(f"{where(path, node)}: error kind {ast.unparse(kind)} is not a literal: "
                            f"use one, so it can be declared")
    return found


ERROR_COUNTS = error_counts()


def test_some_error_counts_were_found():
    """The scan itself works: it finds the counts known to exist."""
    assert ERROR_COUNTS["executor"]["journal"] and ERROR_COUNTS["engine"]["ingest_link"]
    assert ERROR_COUNTS[None]["unauthenticated"].startswith("polyarb/runtime/server.py")


@pytest.mark.parametrize("service", sorted(ERROR_KINDS))
def test_declared_error_kinds_are_those_the_service_counts(service):
    counted = ERROR_COUNTS.get(service, {})
    declared = set(ERROR_KINDS[service]) - set(runtime_metrics.COMMON_ERROR_KINDS)
    missing = {kind: site for kind, site in counted.items() if kind not in declared}
    assert not missing, f"error kinds counted but not declared in {service}'s metrics.py: {missing}"
    never = declared - set(counted)
    assert not never, f"{service}'s metrics.py declares error kinds nothing counts: {sorted(never)}"


def test_common_error_kinds_are_those_the_shared_runtime_counts():
    assert set(ERROR_COUNTS[None]) == set(runtime_metrics.COMMON_ERROR_KINDS)
    unknown = set(ERROR_COUNTS) - {None, *ERROR_KINDS}
    assert not unknown, f"ErrorCounter used for services whose metrics.py declares no kinds: {unknown}"


# -- the outcome: series at 0 -----------------------------------------------------------------------------


def test_every_labelled_metric_has_its_series_before_anything_happened():
    """Importing the metrics modules (as each service does at start) created every declared series."""
    bare = []
    for collector in set(REGISTRY._collector_to_names):
        for family in collector.collect():
            ours = (family.name.startswith("polyarb_") and family.name not in SET_AT_START
                    and family.name not in DATA_LABEL_METRICS)
            if ours and getattr(collector, "_labelnames", ()) and not family.samples:
                bare.append(family.name)
    assert not bare, f"labelled metrics with no series until first used: {sorted(bare)}"
    text = {f"{s.name}{s.labels}" for c in set(REGISTRY._collector_to_names) for f in c.collect() for s in f.samples}
    assert "polyarb_errors_total{'service': 'executor', 'kind': 'journal'}" in text
    assert "polyarb_signals_denied_total{'reason': 'signal_too_old'}" in text
