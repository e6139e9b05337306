"""CLOB L2 authentication: the HMAC over each request and the five POLY_* headers.

Mirrors py-clob-client-v2 1.2.1 ("PCC2") signing/hmac.py build_hmac_signature and
headers/headers.py create_level_2_headers byte for byte (tests/executor/test_clob_auth.py):
- key = urlsafe-base64-decoded API secret;
- message = str(timestamp) + METHOD + request path (no query string) + body, the body only if
  non-empty and with every "'" turned into '"' (a PCC2 quirk kept so signatures stay equal; our
  compact-JSON bodies never contain an apostrophe);
- signature = urlsafe base64 of HMAC-SHA256, '=' padding kept.
Sign the exact bytes that are sent (orders.compact_json). Pure: the timestamp is an argument.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field

POLY_ADDRESS = "POLY_ADDRESS"
POLY_SIGNATURE = "POLY_SIGNATURE"
POLY_TIMESTAMP = "POLY_TIMESTAMP"
POLY_API_KEY = "POLY_API_KEY"
POLY_PASSPHRASE = "POLY_PASSPHRASE"


class AuthError(ValueError):
    """Unusable credentials or request; the message never contains a secret."""


def _decode_secret(secret: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(secret)
    except (binascii.Error, ValueError):
        raise AuthError("the API secret is not urlsafe base64") from None


@dataclass(frozen=True)
class ApiCreds:
    """L2 credentials (from POST /auth/api-key). repr shows the key only; the HMAC key is decoded once."""

    api_key: str
    secret: str = field(repr=False)
    passphrase: str = field(repr=False)
    hmac_key: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hmac_key", _decode_secret(self.secret))

    @classmethod
    def from_mapping(cls, raw: Mapping[str, object]) -> ApiCreds:
        """From the venue's JSON shape {"apiKey", "secret", "passphrase"}."""
        values = [raw.get(name) for name in ("apiKey", "secret", "passphrase")]
        if not all(isinstance(v, str) and v for v in values):
            raise AuthError('credentials need non-empty strings "apiKey", "secret" and "passphrase"')
        return cls(*values)


def hmac_message(timestamp: int | str, method: str, path: str, body: bytes | str | None) -> bytes:
    """The signed bytes: timestamp + method + path [+ body with ' turned into "] (PCC2 hmac.py)."""
    head = (str(timestamp) + str(method) + str(path)).encode("utf-8")
    if not body:
        return head
    if isinstance(body, str):
        body = body.encode("utf-8")
    return head + body.replace(b"'", b'"')


def _hmac_b64(key: bytes, message: bytes) -> str:
    return base64.urlsafe_b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode("ascii")


def build_hmac_signature(
    secret: str, timestamp: int | str, method: str, path: str, body: bytes | str | None = None
) -> str:
    """PCC2 build_hmac_signature for a str body, and for the same body as UTF-8 bytes."""
    return _hmac_b64(_decode_secret(secret), hmac_message(timestamp, method, path, body))


def l2_headers(
    creds: ApiCreds,
    address: str,
    timestamp_s: int,
    method: str,
    path: str,
    body: bytes | str | None = None,
) -> dict[str, str]:
    """The five L2 headers (PCC2 create_level_2_headers), same keys in the same order.

    address is the signing key's address (not the funder); timestamp_s is unix seconds; path is the
    endpoint without its query string (GET /balance-allowance?x=1 signs "/balance-allowance").
    """
    if "?" in path:
        raise AuthError(f"sign the path without its query string, got {path!r}")
    return {
        POLY_ADDRESS: address,
        POLY_SIGNATURE: _hmac_b64(creds.hmac_key, hmac_message(timestamp_s, method, path, body)),
        POLY_TIMESTAMP: str(timestamp_s),
        POLY_API_KEY: creds.api_key,
        POLY_PASSPHRASE: creds.passphrase,
    }
