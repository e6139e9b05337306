"""The grpc.aio bootstrap every service runs: health, reflection, auth, metrics, graceful shutdown.

Start-up: health NOT_SERVING → service's `start()` → SERVING. SIGTERM/SIGINT: NOT_SERVING → the
service's `stop()` → server.stop(grace) → exit 0. Modelled on grpc's
examples/python/helloworld/async_greeter_server_with_graceful_shutdown.py, plus the SIGTERM handler
that example lacks (grpc PR #26622).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from grpc import aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

import polyarb
from polyarb.runtime import auth, metrics, tls
from polyarb.v1 import common_pb2

SERVER_OPTIONS = [
    # clients ping every 10 s (auth.CHANNEL_OPTIONS); without these the server answers too_many_pings
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
    ("grpc.http2.max_ping_strikes", 0),
]

_STARTED = time.monotonic()

# Status details travel in the grpc-message trailer, percent-encoded (up to 12 bytes for a character), and
# clients refuse trailers over 8 KiB by default (grpc.max_metadata_size): a longer reason would reach them
# as RESOURCE_EXHAUSTED, its code and text lost. 512 characters stay under that whatever they are.
MAX_STATUS_DETAILS = 512


def status_details(reason: str) -> str:
    """A refusal's reason as sent in a status (and logged): bounded, however long the value it quotes."""
    if len(reason) <= MAX_STATUS_DETAILS:
        return reason
    return reason[:MAX_STATUS_DETAILS - 30] + f"... ({len(reason)} characters)"


def service_info(service: str, mode: str, auth_required: bool) -> common_pb2.ServiceInfo:
    return common_pb2.ServiceInfo(
        service=service,
        version=polyarb.__version__,
        uptime_s=round(time.monotonic() - _STARTED, 3),
        mode=mode,
        auth_required=auth_required,
    )


@dataclass
class Registration:
    """One gRPC service to serve: the generated add_*_to_server function and its servicer."""

    add_to_server: Callable[[Any, aio.Server], None]
    servicer: Any
    full_name: str  # e.g. "polyarb.v1.Ingest"


@dataclass
class ServiceApp:
    name: str  # "ingest", "engine", "executor", "paper_venue"
    mode: str
    registrations: Sequence[Registration]
    start: Callable[[], Awaitable[None]] | None = None  # runs before health turns SERVING
    stop: Callable[[], Awaitable[None]] | None = None  # runs after health turns NOT_SERVING
    extra: dict[str, str] = field(default_factory=dict)  # more "listening" fields to log


async def serve(app: ServiceApp, grpc_addr: str, metrics_addr: str, token: str | None, grace_s: float,
                server_tls: tls.ServerTLS | None = None, health_addr: str | None = None) -> int:
    log = logging.getLogger(app.name)
    metrics.set_build_info(app.name, app.mode)
    exposed = tls.token_exposed(grpc_addr, bool(token), server_tls is not None)
    metrics.PLAINTEXT_TOKEN_EXPOSED.set(1 if exposed else 0)
    if exposed:
        log.warning("the control token travels in clear text: the gRPC port is reachable beyond loopback without "
                    "TLS; serve TLS (--tls-cert-file, --tls-key-file) or refuse this with --require-tls-for-token",
                    extra={"grpc_addr": grpc_addr})
    errors = metrics.ErrorCounter(app.name)
    interceptors = []
    if token:
        interceptors.append(
            auth.BearerTokenInterceptor(token, on_deny=lambda method: errors("unauthenticated", "", method=method))
        )
    else:
        log.warning("no control token configured: control RPCs are open to anyone who can reach the port")

    server = aio.server(interceptors=interceptors, options=SERVER_OPTIONS)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for reg in app.registrations:
        reg.add_to_server(reg.servicer, server)
    names = [reg.full_name for reg in app.registrations]
    reflection.enable_server_reflection((*names, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    for name in ("", *names):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)

    try:
        if server_tls is None:
            port = server.add_insecure_port(grpc_addr)
        else:  # health and reflection are on this port too, under the same TLS
            port = server.add_secure_port(grpc_addr, tls.server_credentials(server_tls))
    except RuntimeError as exc:  # grpc raises RuntimeError when it cannot bind
        log.error("cannot listen on grpc address", extra={"grpc_addr": grpc_addr, "error": str(exc)})
        return 1
    # Health alone on a second, plaintext port: kubelet gRPC probes speak no TLS. It answers only
    # grpc.health.v1 (no reflection, no control RPC), from the same servicer, so both ports agree.
    health_server = None
    bound_health = ""
    if health_addr is not None:
        health_server = aio.server(options=SERVER_OPTIONS)
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, health_server)
        try:
            health_port = health_server.add_insecure_port(health_addr)
        except RuntimeError as exc:
            log.error("cannot listen on health address", extra={"health_addr": health_addr, "error": str(exc)})
            return 1
        bound_health = f"{health_addr.rpartition(':')[0]}:{health_port}"
    try:
        _metrics_server, bound_metrics = metrics.start_metrics_server(metrics_addr)
    except OSError as exc:
        log.error("cannot listen on metrics address", extra={"metrics_addr": metrics_addr, "error": str(exc)})
        return 1

    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)

    await server.start()
    if health_server is not None:
        await health_server.start()
    host = grpc_addr.rpartition(":")[0]
    bound_grpc = f"{host}:{port}"
    if app.start is not None:
        await app.start()
    for name in ("", *names):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info(
        "serving",
        extra={"grpc_addr": bound_grpc, "metrics_addr": bound_metrics, "mode": app.mode,
               "tls": "off" if server_tls is None else "mutual" if server_tls.client_ca else "on",
               "grpc_experiments": os.environ.get("GRPC_EXPERIMENTS", ""),
               **({"health_addr": bound_health} if bound_health else {}), **app.extra},
    )

    await stopping.wait()
    log.info("stopping: health NOT_SERVING, draining", extra={"grace_s": grace_s})
    await health_servicer.enter_graceful_shutdown()
    if app.stop is not None:
        try:
            await app.stop()
        except Exception:  # a failing cleanup must not keep the process from stopping
            log.exception("error while stopping")
    await server.stop(grace_s)
    if health_server is not None:
        await health_server.stop(None)
    log.info("stopped")
    return 0


def run(app_factory: Callable[[], Awaitable[ServiceApp]], args: Any, token: str | None) -> None:
    """Build the app inside the loop, serve it until SIGTERM/SIGINT, exit with serve's code."""

    async def main() -> int:
        app = await app_factory()
        return await serve(app, args.grpc_addr, args.metrics_addr, token, args.grace_s,
                           getattr(args, "server_tls", None), getattr(args, "health_addr", None))

    raise SystemExit(asyncio.run(main()))


# Each service's own default ports, so that all four run side by side on one machine.
DEFAULT_PORTS = {
    "ingest": (50051, 9101),
    "engine": (50052, 9102),
    "executor": (50053, 9103),
    "paper_venue": (50054, 9104),
}


def prepare(
    prog: str, service: str, description: str, flags: Sequence[Any], argv: Sequence[str] | None = None
) -> tuple[Any, str | None]:
    """Flags → logging → control token → TLS files, for a service's __main__. Exits 2 on bad configuration.

    The TLS files, read and checked here, go on as `args.server_tls` (None: plaintext)."""
    from polyarb.runtime import config, logs  # kept local: only __main__ modules need it

    grpc_port, metrics_port = DEFAULT_PORTS[service]
    defaults = {"grpc-addr": f"127.0.0.1:{grpc_port}", "metrics-addr": f"127.0.0.1:{metrics_port}"}
    args = config.parse_flags(prog, description, flags, argv, defaults=defaults)
    logs.setup_logging(service, args.log_level)
    try:
        token = config.load_control_token(args)
    except (OSError, config.ConfigError) as exc:
        config.fail(prog, str(exc))
    logs.register_secret(token)
    try:
        args.server_tls = tls.load_server_tls(args.tls_cert_file, args.tls_key_file, args.tls_client_ca_file)
    except config.ConfigError as exc:
        config.fail(prog, str(exc))
    if args.require_tls_for_token and tls.token_exposed(args.grpc_addr, bool(token), args.server_tls is not None):
        config.fail(prog, f"--require-tls-for-token: a control token is set and --grpc-addr {args.grpc_addr} is "
                          "reachable beyond loopback without TLS; give --tls-cert-file and --tls-key-file")
    return args, token
