"""Bearer-token auth for control RPCs: a server interceptor and the client side that sends the token.

Health and reflection stay open: kubelet gRPC probes and grpcurl cannot send metadata.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

import grpc
from grpc import aio

from polyarb.runtime.tls import ClientTLS, channel_credentials

OPEN_METHOD_PREFIXES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)


def bearer_matches(metadata: Any, expected: bytes) -> bool:
    """True when the `authorization: Bearer <token>` entry equals the token (constant-time compare)."""
    for key, value in metadata or ():
        if key == "authorization":
            raw = value.encode() if isinstance(value, str) else bytes(value)
            scheme, _, presented = raw.partition(b" ")
            # compare_digest runs in time independent of where the bytes differ
            return scheme.lower() == b"bearer" and hmac.compare_digest(presented.strip(), expected)
    return False


def _denying_handler(handler: grpc.RpcMethodHandler, on_deny: Callable[[str], None], method: str):
    """A handler of the same arity as `handler` that fails with UNAUTHENTICATED.

    aio dispatches on request_streaming/response_streaming of the returned handler, so a unary
    abort handler returned for a streaming method would break it (jumpstarter PR #320).
    """

    async def deny(_request_or_iterator: Any, context: aio.ServicerContext) -> None:
        on_deny(method)
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")

    async def deny_stream(_request_or_iterator: Any, context: aio.ServicerContext):
        on_deny(method)
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")
        yield  # pragma: no cover - makes this an async generator; abort raises first

    kind = (handler.request_streaming, handler.response_streaming)
    if kind == (False, False):
        return grpc.unary_unary_rpc_method_handler(deny)
    if kind == (False, True):
        return grpc.unary_stream_rpc_method_handler(deny_stream)
    if kind == (True, False):
        return grpc.stream_unary_rpc_method_handler(deny)
    return grpc.stream_stream_rpc_method_handler(deny_stream)


class BearerTokenInterceptor(aio.ServerInterceptor):
    def __init__(self, token: str, on_deny: Callable[[str], None] = lambda _method: None) -> None:
        self._expected = token.encode()
        self._on_deny = on_deny

    async def intercept_service(self, continuation, handler_call_details: grpc.HandlerCallDetails):
        method = handler_call_details.method
        handler = await continuation(handler_call_details)
        if handler is None or method.startswith(OPEN_METHOD_PREFIXES):
            return handler
        if bearer_matches(handler_call_details.invocation_metadata, self._expected):
            return handler
        return _denying_handler(handler, self._on_deny, method)


# -- client side --------------------------------------------------------------------------------------


class _TokenMetadata:
    """Adds `authorization: Bearer <token>` to every call of an aio channel, whatever its arity."""

    def __init__(self, token: str) -> None:
        self._entry = ("authorization", f"Bearer {token}")

    def _with_token(self, details: aio.ClientCallDetails) -> aio.ClientCallDetails:
        metadata = aio.Metadata(*(details.metadata or ()))
        metadata.add(*self._entry)
        return aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
        )


class _UnaryUnary(_TokenMetadata, aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation, details, request):
        return await continuation(self._with_token(details), request)


class _UnaryStream(_TokenMetadata, aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation, details, request):
        return await continuation(self._with_token(details), request)


class _StreamUnary(_TokenMetadata, aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation, details, request_iterator):
        return await continuation(self._with_token(details), request_iterator)


class _StreamStream(_TokenMetadata, aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(self, continuation, details, request_iterator):
        return await continuation(self._with_token(details), request_iterator)


CHANNEL_OPTIONS = [
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.max_reconnect_backoff_ms", 5_000),
]


def channel(addr: str, token: str | None = None, tls: ClientTLS | None = None) -> aio.Channel:
    """The one way polyarb opens a gRPC channel: TLS when `tls` is given (else plaintext), and the control
    token on every call when set."""
    interceptors = None
    if token:
        interceptors = [cls(token) for cls in (_UnaryUnary, _UnaryStream, _StreamUnary, _StreamStream)]
    if tls is None:
        return aio.insecure_channel(addr, options=CHANNEL_OPTIONS, interceptors=interceptors)
    return aio.secure_channel(addr, channel_credentials(tls), options=CHANNEL_OPTIONS, interceptors=interceptors)


def insecure_channel(addr: str, token: str | None = None) -> aio.Channel:
    """A plaintext `channel` (loopback, tests)."""
    return channel(addr, token)
