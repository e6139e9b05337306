"""API keys and the CLOB's two authentication levels, checked the way the real venue checks them.

Pure. Facts from shared/docs/polymarket-protocol.md 2.6:
- L2 (every trading call): headers POLY_ADDRESS, POLY_SIGNATURE, POLY_TIMESTAMP, POLY_API_KEY,
  POLY_PASSPHRASE; signature = urlsafe-base64(HMAC-SHA256(urlsafe-b64decode(secret),
  timestamp + METHOD + path-without-query [+ body with ' turned into "])), '=' padding kept.
- L1 (create/derive an API key): POLY_ADDRESS, POLY_SIGNATURE (EIP-712 ClobAuth, domain
  {name "ClobAuthDomain", version "1", chainId}), POLY_TIMESTAMP, POLY_NONCE.

Keys the venue accepts: the ones loaded at start-up (a creds JSON file, an object or an array of
objects {"apiKey", "secret", "passphrase"[, "address"]}), the built-in PAPER_CREDS when no file is
given, any key registered at run time through the admin endpoint, and any key an address created
with L1 (`POST /auth/api-key`; deterministic per address and nonce). Like the real venue,
`GET /auth/derive-api-key` answers only a key that was created before, else "Could not derive api
key!", so that clients meet the create fallback. A key with an address
accepts only that POLY_ADDRESS; a key without one (the paper key, a file entry without "address")
accepts any address, and the order's signer must then equal POLY_ADDRESS (exchange.py).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from eth_hash.auto import keccak

from paper_venue.orders import recover_signer

L2_HEADERS = ("POLY_ADDRESS", "POLY_SIGNATURE", "POLY_TIMESTAMP", "POLY_API_KEY", "POLY_PASSPHRASE")
L1_HEADERS = ("POLY_ADDRESS", "POLY_SIGNATURE", "POLY_TIMESTAMP", "POLY_NONCE")
UNAUTHORIZED = "Unauthorized/Invalid api key"  # docs error-codes page, 401 on any authenticated endpoint
INVALID_L1 = "Invalid L1 Request headers"
NO_KEY_TO_DERIVE = "Could not derive api key!"
CLOB_AUTH_MESSAGE = "This message attests that I control the given wallet"


class AuthError(ValueError):
    """401: the message starts with the real venue's text; the rest says why, never a secret."""


@dataclass(frozen=True)
class ApiKey:
    api_key: str
    secret: str = field(repr=False)
    passphrase: str = field(repr=False)
    address: str | None = None  # lower case; None accepts any POLY_ADDRESS

    def as_json(self) -> dict[str, str]:
        return {"apiKey": self.api_key, "secret": self.secret, "passphrase": self.passphrase}


def _paper_creds() -> ApiKey:
    # Paper-only, derived from fixed text so every run (and the executor's paper config) agrees.
    # Never valid anywhere but on this venue.
    def digest(label: str) -> bytes:
        return hashlib.sha256(f"polyarb paper venue {label}".encode()).digest()

    return ApiKey(
        api_key=str(uuid.UUID(bytes=digest("api key")[:16], version=4)),
        secret=base64.urlsafe_b64encode(digest("api secret")).decode(),
        passphrase=digest("passphrase").hex()[:32],
    )


PAPER_CREDS = _paper_creds()


def hmac_signature(secret: str, timestamp: str, method: str, path: str, body: bytes | str = b"") -> str:
    """PCC2 signing/hmac.py build_hmac_signature over bytes."""
    try:
        key = base64.urlsafe_b64decode(secret)
    except (binascii.Error, ValueError):
        raise AuthError(f"{UNAUTHORIZED} (the key's secret is not urlsafe base64)") from None
    message = (str(timestamp) + method + path).encode()
    if body:
        raw = body.encode() if isinstance(body, str) else body
        message += raw.replace(b"'", b'"')
    return base64.urlsafe_b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def parse_creds(raw: Any) -> list[ApiKey]:
    """A creds JSON value (object or array of objects) → keys; ValueError naming what is wrong."""
    entries = raw if isinstance(raw, list) else [raw]
    keys = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise ValueError(f"creds entry #{i} is not an object")
        values = [entry.get(k) for k in ("apiKey", "secret", "passphrase")]
        if not all(isinstance(v, str) and v for v in values):
            raise ValueError(f'creds entry #{i} needs non-empty strings "apiKey", "secret" and "passphrase"')
        address = entry.get("address")
        if address is not None and not _is_address(address):
            raise ValueError(f"creds entry #{i}: address must be 0x and 40 hex digits")
        keys.append(ApiKey(*values, address=address.lower() if address else None))
    return keys


class Keyring:
    def __init__(self, keys: list[ApiKey] | None = None, chain_id: int = 137, seed: str = "paper") -> None:
        self._keys: dict[str, ApiKey] = {}
        self.chain_id = chain_id
        self._seed = seed  # makes derived keys differ between venues that want them to
        self._created: set[tuple[str, int]] = set()  # (address, nonce) that POST /auth/api-key made
        for key in keys or []:
            self.add(key)

    def add(self, key: ApiKey) -> None:
        self._keys[key.api_key] = key

    def __contains__(self, api_key: str) -> bool:
        return api_key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def check_l2(self, headers: Mapping[str, str], method: str, path: str, body: bytes) -> tuple[ApiKey, str]:
        """(key, POLY_ADDRESS) of a correctly signed request, else AuthError."""
        missing = [h for h in L2_HEADERS if not headers.get(h)]
        if missing:
            raise AuthError(f"{UNAUTHORIZED} (missing {', '.join(missing)})")
        key = self._keys.get(headers["POLY_API_KEY"])
        if key is None:
            raise AuthError(f"{UNAUTHORIZED} (unknown api key)")
        if not hmac.compare_digest(headers["POLY_PASSPHRASE"], key.passphrase):
            raise AuthError(f"{UNAUTHORIZED} (wrong passphrase)")
        address = headers["POLY_ADDRESS"]
        if not _is_address(address):
            raise AuthError(f"{UNAUTHORIZED} (POLY_ADDRESS is not an address)")
        if key.address is not None and key.address != address.lower():
            raise AuthError(f"{UNAUTHORIZED} (POLY_ADDRESS is not the key's address)")
        timestamp = headers["POLY_TIMESTAMP"]
        if not timestamp.isdigit():
            raise AuthError(f"{UNAUTHORIZED} (POLY_TIMESTAMP must be unix seconds)")
        expected = hmac_signature(key.secret, timestamp, method, path, body)
        if not hmac.compare_digest(headers["POLY_SIGNATURE"].encode(), expected.encode()):
            raise AuthError(f"{UNAUTHORIZED} (HMAC signature does not match)")
        return key, address

    def check_l1(self, headers: Mapping[str, str]) -> tuple[str, int]:
        """(address, nonce) of a valid L1 ClobAuth signature, else AuthError."""
        missing = [h for h in L1_HEADERS if h != "POLY_NONCE" and not headers.get(h)]
        if missing:
            raise AuthError(f"{INVALID_L1} (missing {', '.join(missing)})")
        address, signature, timestamp = (headers[h] for h in L1_HEADERS[:3])
        nonce_text = headers.get("POLY_NONCE") or "0"
        if not (_is_address(address) and nonce_text.isdigit()):
            raise AuthError(f"{INVALID_L1} (bad POLY_ADDRESS or POLY_NONCE)")
        nonce = int(nonce_text)
        digest = clob_auth_digest(address, timestamp, nonce, self.chain_id)
        if recover_signer(digest, signature) != address.lower():
            raise AuthError(f"{INVALID_L1} (signature does not recover POLY_ADDRESS)")
        return address.lower(), nonce

    def create(self, address: str, nonce: int) -> ApiKey:
        """POST /auth/api-key: the key of (address, nonce), accepted from now on and derivable."""
        self._created.add((address.lower(), nonce))
        return self.derive(address, nonce)

    def existing(self, address: str, nonce: int) -> ApiKey | None:
        """GET /auth/derive-api-key: the key of (address, nonce) if it was created, else None."""
        return self.derive(address, nonce) if (address.lower(), nonce) in self._created else None

    def derive(self, address: str, nonce: int) -> ApiKey:
        """The key of (address, nonce): the same every time (derive-api-key), and now accepted."""
        def digest(label: str) -> bytes:
            return hashlib.sha256(f"{self._seed}:{label}:{address.lower()}:{nonce}".encode()).digest()

        key = ApiKey(
            api_key=str(uuid.UUID(bytes=digest("key")[:16], version=4)),
            secret=base64.urlsafe_b64encode(digest("secret")).decode(),
            passphrase=digest("passphrase").hex()[:32],
            address=address.lower(),
        )
        self.add(key)
        return key


def clob_auth_digest(address: str, timestamp: str, nonce: int, chain_id: int) -> bytes:
    """EIP-712 digest of ClobAuth(address address,string timestamp,uint256 nonce,string message)."""
    domain = keccak(
        keccak(b"EIP712Domain(string name,string version,uint256 chainId)")
        + keccak(b"ClobAuthDomain")
        + keccak(b"1")
        + chain_id.to_bytes(32, "big")
    )
    struct = keccak(
        keccak(b"ClobAuth(address address,string timestamp,uint256 nonce,string message)")
        + bytes.fromhex(address[2:]).rjust(32, b"\0")
        + keccak(str(timestamp).encode())
        + nonce.to_bytes(32, "big")
        + keccak(CLOB_AUTH_MESSAGE.encode())
    )
    return keccak(b"\x19\x01" + domain + struct)


def _is_address(value: Any) -> bool:
    return (isinstance(value, str) and len(value) == 42 and value[:2] in ("0x", "0X")
            and all(c in "0123456789abcdefABCDEF" for c in value[2:]))
