"""TLS for the gRPC ports and the channels to them: PEM files read once at start, checked, made into credentials.

A server serves TLS with a certificate chain and its key; with a client CA it also requires a client
certificate signed by that CA (mutual TLS). A client trusts a CA (or the system's roots) and may present
its own certificate. Health and reflection share the port, so they share its TLS too.

The files are checked with the standard library's `ssl` before grpc sees them: grpc accepts a key that
does not belong to its certificate and fails every handshake later with nothing in the log, while a
start that exits 2 naming the file is what an operator can act on.

Also here: whether a control token would cross the network in clear text (`token_exposed`), the one
question `--require-tls-for-token` and `polyarb_plaintext_token_exposed` answer.
"""

from __future__ import annotations

import ipaddress
import pathlib
import ssl
from dataclasses import dataclass

import grpc

from polyarb.runtime.config import ConfigError

__all__ = [
    "ClientTLS",
    "ServerTLS",
    "channel_credentials",
    "is_loopback",
    "load_client_tls",
    "load_server_tls",
    "server_credentials",
    "token_exposed",
]


@dataclass(frozen=True)
class ServerTLS:
    """What a gRPC port serves TLS with (PEM bytes)."""

    cert_chain: bytes
    private_key: bytes = b""  # never logged, never in repr
    client_ca: bytes | None = None  # set: mutual TLS, a client certificate signed by it is required

    def __repr__(self) -> str:
        return f"ServerTLS(mutual={self.client_ca is not None})"


@dataclass(frozen=True)
class ClientTLS:
    """What a channel connects with (PEM bytes): the CA it trusts and, for mutual TLS, its own certificate."""

    root_certs: bytes | None = None  # None: the system's roots
    cert_chain: bytes | None = None
    private_key: bytes | None = None  # never logged, never in repr

    def __repr__(self) -> str:
        return f"ClientTLS(ca={'file' if self.root_certs else 'system'}, client_cert={self.cert_chain is not None})"


def _read(flag: str, path: pathlib.Path | str) -> bytes:
    try:
        data = pathlib.Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{flag}: cannot read {path}: {exc.strerror or exc}") from None
    if b"-----BEGIN" not in data:
        raise ConfigError(f"{flag}: {path} is not PEM")
    return data


def _check_pair(cert_flag: str, cert_file: pathlib.Path | str, key_file: pathlib.Path | str) -> None:
    """The certificate parses and the key is its own (ssl refuses a mismatched pair)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)

    def encrypted() -> bytes:
        # without a callback OpenSSL would prompt on the terminal; grpc cannot read an encrypted key anyway
        raise ConfigError(f"{cert_flag}: the key {key_file} is encrypted; give it unencrypted (PEM, mode 0600)")

    try:
        context.load_cert_chain(str(cert_file), str(key_file), password=encrypted)
    except ssl.SSLError as exc:
        reason = exc.reason or str(exc)
        raise ConfigError(f"{cert_flag}: {cert_file} and its key {key_file} do not go together ({reason})") from None


def _check_ca(flag: str, ca_file: pathlib.Path | str) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cafile=str(ca_file))
    except ssl.SSLError as exc:
        raise ConfigError(f"{flag}: {ca_file} holds no usable CA certificate ({exc.reason or exc})") from None


def load_server_tls(
    cert_file: pathlib.Path | str | None,
    key_file: pathlib.Path | str | None,
    client_ca_file: pathlib.Path | str | None = None,
    prefix: str = "--tls-",
) -> ServerTLS | None:
    """--tls-cert-file/--tls-key-file[/--tls-client-ca-file] → ServerTLS, None when TLS is off.
    ConfigError (one line naming the flag) for a half-given pair, an unreadable, non-PEM or mismatched file."""
    if cert_file is None and key_file is None:
        if client_ca_file is not None:
            raise ConfigError(f"{prefix}client-ca-file needs {prefix}cert-file and {prefix}key-file")
        return None
    if cert_file is None or key_file is None:
        raise ConfigError(f"{prefix}cert-file and {prefix}key-file go together: give both or neither")
    chain, key = _read(f"{prefix}cert-file", cert_file), _read(f"{prefix}key-file", key_file)
    _check_pair(f"{prefix}cert-file", cert_file, key_file)
    client_ca = None
    if client_ca_file is not None:
        client_ca = _read(f"{prefix}client-ca-file", client_ca_file)
        _check_ca(f"{prefix}client-ca-file", client_ca_file)
    return ServerTLS(chain, key, client_ca)


def load_client_tls(
    ca_file: pathlib.Path | str | None,
    cert_file: pathlib.Path | str | None,
    key_file: pathlib.Path | str | None,
    prefix: str = "--tls-",
) -> ClientTLS | None:
    """--*-ca-file/--*-cert-file/--*-key-file → ClientTLS, None when none is given (plaintext).

    A CA alone: TLS, server verified against it. A certificate and key alone: TLS against the system's
    roots, presenting that certificate. ConfigError for a half-given pair or a bad file."""
    if ca_file is None and cert_file is None and key_file is None:
        return None
    if (cert_file is None) != (key_file is None):
        raise ConfigError(f"{prefix}cert-file and {prefix}key-file go together: give both or neither")
    root = None
    if ca_file is not None:
        root = _read(f"{prefix}ca-file", ca_file)
        _check_ca(f"{prefix}ca-file", ca_file)
    chain = key = None
    if cert_file is not None and key_file is not None:
        chain, key = _read(f"{prefix}cert-file", cert_file), _read(f"{prefix}key-file", key_file)
        _check_pair(f"{prefix}cert-file", cert_file, key_file)
    return ClientTLS(root, chain, key)


def server_credentials(tls: ServerTLS) -> grpc.ServerCredentials:
    return grpc.ssl_server_credentials(
        [(tls.private_key, tls.cert_chain)],
        root_certificates=tls.client_ca,
        require_client_auth=tls.client_ca is not None,
    )


def channel_credentials(tls: ClientTLS) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(tls.root_certs, tls.private_key, tls.cert_chain)


def is_loopback(grpc_addr: str) -> bool:
    """True when HOST of HOST:PORT only accepts connections from this machine (127.0.0.0/8, ::1, localhost).

    An empty host, a wildcard (0.0.0.0, [::]) or any other name or address is reachable from elsewhere."""
    host = grpc_addr.rpartition(":")[0].strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve to anything


def token_exposed(grpc_addr: str, token_set: bool, tls_on: bool) -> bool:
    """A control token would travel in clear text over a network: set, no TLS, and not loopback-only."""
    return token_set and not tls_on and not is_loopback(grpc_addr)
