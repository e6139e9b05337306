"""Prometheus metrics: one registry per process (prometheus_client's default), served on --metrics-addr.

Every service exports polyarb_build_info{service,version,mode} and polyarb_errors_total{service,kind};
stage metrics are declared in each service's own metrics module.
"""

from __future__ import annotations

import logging
from wsgiref.simple_server import WSGIServer

from prometheus_client import Counter, Gauge, start_http_server

import polyarb

BUILD_INFO = Gauge("polyarb_build_info", "Build and mode of this process (value 1)", ["service", "version", "mode"])
ERRORS = Counter("polyarb_errors_total", "Errors by kind (bad input, failed peers, ...)", ["service", "kind"])
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


def set_build_info(service: str, mode: str) -> None:
    BUILD_INFO.labels(service, polyarb.__version__, mode).set(1)


def start_metrics_server(addr: str) -> tuple[WSGIServer, str]:
    """Serve /metrics on addr (HOST:PORT, port 0 = any); return the server and the bound address."""
    host, _, port = addr.rpartition(":")
    server, _thread = start_http_server(int(port), addr=host.strip("[]"))
    return server, f"{host}:{server.server_port}"
