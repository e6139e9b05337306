"""Loading the signing key and the CLOB API credentials from files, without ever exposing them.

Every loaded secret is registered with the log redactor before anything else can print it.
"""

from __future__ import annotations

import json
import pathlib
import stat
from dataclasses import dataclass, field

import coincurve

from executor_svc.clob_auth import ApiCreds, AuthError
from executor_svc.signing import checksum_address, keccak256
from polyarb.runtime.logs import register_secret


class KeyFileError(ValueError):
    """A key or credentials file that cannot be used; the message never contains the secret."""


@dataclass(frozen=True)
class SigningKey:
    key: bytes = field(repr=False)
    address: str  # checksummed public address: safe to show


def _check_private(path: pathlib.Path, strict: bool) -> None:
    mode = path.stat().st_mode
    if strict and mode & stat.S_IROTH:
        raise KeyFileError(f"{path} is readable by others (mode {stat.filemode(mode)}); chmod 600 it")


def load_signing_key(path: pathlib.Path, strict: bool) -> SigningKey:
    """64 hex digits, with or without 0x, surrounding whitespace ignored (CONTRACT.md).

    strict (live mode): refuse a file other users can read.
    """
    _check_private(path, strict)
    text = path.read_text().strip()
    register_secret(text)
    digits = text[2:] if text.lower().startswith("0x") else text
    if len(digits) != 64 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise KeyFileError(f"{path} does not hold a 64-hex-digit private key")
    key = bytes.fromhex(digits)
    # the address with coincurve and keccak, as OrderSigner derives it: importing eth_account for this
    # alone cost the executor about 19 MB of RSS and 0.9 s of start-up
    try:
        public = coincurve.PrivateKey(key).public_key.format(compressed=False)[1:]
    except ValueError:
        raise KeyFileError(f"{path} does not hold a valid secp256k1 private key") from None
    return SigningKey(key=key, address=checksum_address(keccak256(public)[-20:]))


def load_api_credentials(path: pathlib.Path, strict: bool) -> ApiCreds:
    """JSON {"apiKey": .., "secret": .., "passphrase": ..}."""
    _check_private(path, strict)
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise KeyFileError(f"{path} is not JSON (line {exc.lineno})") from None
    if not isinstance(raw, dict):
        raise KeyFileError(f"{path} must hold a JSON object")
    for name in ("secret", "passphrase"):
        if isinstance(raw.get(name), str):
            register_secret(raw[name])
    try:
        return ApiCreds.from_mapping(raw)
    except AuthError as exc:
        raise KeyFileError(f"{path}: {exc}") from None
