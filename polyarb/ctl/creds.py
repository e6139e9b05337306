"""`polyarbctl creds derive`: the CLOB API credentials of a wallet, from its key (Polymarket's L1 auth).

L1 (polymarket-protocol.md 2.6): headers POLY_ADDRESS (the key's address), POLY_SIGNATURE (EIP-712
`ClobAuth(address address,string timestamp,uint256 nonce,string message)` in the domain
{name "ClobAuthDomain", version "1", chainId}, no verifyingContract), POLY_TIMESTAMP (unix seconds,
the same text that was signed) and POLY_NONCE (default 0). `GET /auth/derive-api-key` answers the
credentials that exist for (address, nonce); when none do, `POST /auth/api-key` creates them. Both
answer {"apiKey", "secret", "passphrase"}.

The headers are byte-identical to py-clob-client-v2's `create_level_1_headers` for the same key,
timestamp and nonce (tests/ctl/test_creds.py compares them). The key and the secret never reach
stdout, stderr or an error message; only the apiKey is printed.
"""

from __future__ import annotations

import pathlib
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field

from eth_hash.auto import keccak

__all__ = ["CLOB_AUTH_MESSAGE", "CredsError", "WalletKey", "clob_auth_digest", "l1_headers", "load_key",
           "parse_creds"]

CLOB_AUTH_MESSAGE = "This message attests that I control the given wallet"
DERIVE_PATH = "/auth/derive-api-key"
CREATE_PATH = "/auth/api-key"
_HEX_KEY = re.compile(r"^(?:0x)?([0-9a-fA-F]{64})$")


class CredsError(ValueError):
    """A key file or an answer that cannot be used; the message never holds a secret."""


@dataclass(frozen=True)
class WalletKey:
    key: bytes = field(repr=False)
    address: str  # checksummed: safe to show


def load_key(path: pathlib.Path) -> tuple[WalletKey, str | None]:
    """The key file (64 hex digits, with or without 0x, whitespace ignored: CONTRACT.md) and a warning
    when other users can read it."""
    try:
        text = path.read_text().strip()
        mode = path.stat().st_mode
    except OSError as exc:
        raise CredsError(f"cannot read {path}: {exc.strerror or exc}") from None
    match = _HEX_KEY.match(text)
    if not match:
        raise CredsError(f"{path} does not hold a 64-hex-digit private key")
    from eth_account import Account  # slow to import: only this command needs it

    key = bytes.fromhex(match.group(1))
    warning = None
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        warning = f"{path} is readable by other users (mode {stat.filemode(mode)}); chmod 600 it"
    return WalletKey(key, Account.from_key(key).address), warning


def clob_auth_digest(address: str, timestamp: str, nonce: int, chain_id: int) -> bytes:
    """EIP-712 digest of the ClobAuth message: what POLY_SIGNATURE signs."""
    domain = keccak(
        keccak(b"EIP712Domain(string name,string version,uint256 chainId)")
        + keccak(b"ClobAuthDomain")
        + keccak(b"1")
        + chain_id.to_bytes(32, "big")
    )
    message = keccak(
        keccak(b"ClobAuth(address address,string timestamp,uint256 nonce,string message)")
        + bytes.fromhex(address[2:]).rjust(32, b"\0")
        + keccak(timestamp.encode())
        + nonce.to_bytes(32, "big")
        + keccak(CLOB_AUTH_MESSAGE.encode())
    )
    return keccak(b"\x19\x01" + domain + message)


def l1_headers(wallet: WalletKey, chain_id: int, timestamp_s: int, nonce: int) -> dict[str, str]:
    """POLY_ADDRESS, POLY_SIGNATURE, POLY_TIMESTAMP, POLY_NONCE for one L1 request (time passed in)."""
    from eth_account import Account

    timestamp = str(timestamp_s)
    signed = Account.unsafe_sign_hash(clob_auth_digest(wallet.address, timestamp, nonce, chain_id), wallet.key)
    signature = "0x" + bytes(signed.signature).hex()  # r || s || v, v = 27/28, as PCC2 sends it
    return {"POLY_ADDRESS": wallet.address, "POLY_SIGNATURE": signature, "POLY_TIMESTAMP": timestamp,
            "POLY_NONCE": str(nonce)}


def parse_creds(raw: object, source: str) -> dict[str, str]:
    """{"apiKey", "secret", "passphrase"} as non-empty strings, else CredsError (naming no value)."""
    if not isinstance(raw, Mapping):
        raise CredsError(f"{source}: expected a JSON object with apiKey, secret and passphrase")
    creds = {name: raw.get(name) for name in ("apiKey", "secret", "passphrase")}
    missing = [name for name, value in creds.items() if not isinstance(value, str) or not value]
    if missing:
        raise CredsError(f"{source}: no {', '.join(missing)} in the answer")
    return creds  # type: ignore[return-value]
