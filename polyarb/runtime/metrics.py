"""Prometheus metrics: one registry per process (prometheus_client's default), served on --metrics-addr.

Every service exports polyarb_build_info{service,version,mode} and polyarb_errors_total{service,kind};
stage metrics are declared in each service's own metrics module.

A labelled series exists only once its label values are used, so a counter that has never counted
would have no series at all: a panel shows "No data" instead of 0, and `increase()` misses the first
error, the one an alert exists for. So every label value the code can produce is declared once,
beside its metric, with `declare` / `declare_error_kinds`, which create each series at 0;
tests/deploy/test_declared_labels.py compares the declared values with the ones the code uses.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from wsgiref.simple_server import WSGIServer

from prometheus_client import Counter, Gauge, start_http_server

import polyarb

BUILD_INFO = Gauge("polyarb_build_info", "Build and mode of this process (value 1)", ["service", "version", "mode"])
ERRORS = Counter("polyarb_errors_total", "Errors by kind (bad input, failed peers, ...)", ["service", "kind"])
# Kinds any service can count: the shared server bootstrap (server.py) counts refused control calls.
COMMON_ERROR_KINDS = ("unauthenticated",)
PLAINTEXT_TOKEN_EXPOSED = Gauge(
    "polyarb_plaintext_token_exposed",
    "1 when a control token is set and the gRPC port listens beyond loopback without TLS (the token travels in clear)",
)

log = logging.getLogger("polyarb.metrics")


class ErrorCounter:
    """Counts an error of a kind and logs it once per call, for a service."""

    def __init__(self, service: str) -> None:
        self.service = service

    def __call__(self, kind: str, message: str = "", level: int = logging.WARNING, **fields: object) -> None:
        ERRORS.labels(self.service, kind).inc()
        if message:
            log.log(level, message, extra={"kind": kind, **fields})


DECLARED: dict[str, tuple[str, ...]] = {}  # metric name → the label values declared, for the test


def declare(metric: Counter | Gauge, values: Iterable[str]) -> tuple[str, ...]:
    """Create the series of a one-label metric at 0 for each value; returns the values."""
    values = tuple(values)
    for value in values:
        metric.labels(value)
    DECLARED[metric.describe()[0].name] = values
    return values


def declare_error_kinds(service: str, kinds: Iterable[str]) -> tuple[str, ...]:
    """Create polyarb_errors_total{service,kind} at 0 for every kind the service counts (its own and
    COMMON_ERROR_KINDS); call it once, in the service's metrics module, with the kinds listed there."""
    kinds = tuple(dict.fromkeys((*kinds, *COMMON_ERROR_KINDS)))
    for kind in kinds:
        ERRORS.labels(service, kind)
    return kinds


def set_build_info(service: str, mode: str) -> None:
    BUILD_INFO.labels(service, polyarb.__version__, mode).set(1)
    declare_error_kinds(service, ())  # a service without a metrics module of its own (paper_venue) too


def start_metrics_server(addr: str) -> tuple[WSGIServer, str]:
    """Serve /metrics on addr (HOST:PORT, port 0 = any); return the server and the bound address."""
    host, _, port = addr.rpartition(":")
    server, _thread = start_http_server(int(port), addr=host.strip("[]"))
    return server, f"{host}:{server.server_port}"
