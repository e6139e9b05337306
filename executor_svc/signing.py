"""EIP-712 signing of CLOB V2 orders: a fast path and an eth-account reference to check it against.

Mirrors py-clob-client-v2 1.2.1 ("PCC2") order_utils/exchange_order_builder_v2.py byte for byte:
- digest = keccak256(0x1901 || domainSeparator || hashStruct(order)); that digest is also the
  order id the venue returns and cancels by (PCC2 build_order_hash);
- signature = secp256k1 over the digest, 65 bytes r || s || v with v = 27/28, "0x" hex;
- POLY_1271 (type 3): PCC2 _build_poly_1271_order_signature, an ERC-7739 (Solady TypedDataSign)
  wrapper: the key signs a TypedDataSign struct under the exchange's domain whose own domain fields
  name the deposit wallet, and the signature carries the exchange domain separator, the order's
  struct hash and the Order type string after r || s || v.

Fast path: the type hashes and each exchange's domain separator are computed once; the struct is
ABI-encoded by hand (every field is one 32-byte word; the words of addresses and bytes32 fields are
cached, they are the same on every order of one identity) and hashed with pycryptodome's keccak
through its raw C functions on a reused per-thread state (eth_hash's backend dispatch adds about
3 µs per hash, pycryptodome's hash object another 2.3 µs); coincurve signs with RFC 6979 nonces and
low-s, the same bytes eth-account produces. The reference path (reference_*) uses eth-account's
encode_typed_data and is imported lazily so the service never loads it.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field

import coincurve
from Crypto.Hash import keccak as _keccak_mod
from Crypto.Util import _raw_api

from executor_svc.orders import BYTES32_ZERO, OrderV2, SignatureType, exchange_address

EXCHANGE_DOMAIN_NAME = "Polymarket CTF Exchange"
EXCHANGE_DOMAIN_VERSION = "2"
ORDER_TYPE_STRING = (
    "Order(uint256 salt,address maker,address signer,uint256 tokenId,"
    "uint256 makerAmount,uint256 takerAmount,uint8 side,uint8 signatureType,"
    "uint256 timestamp,bytes32 metadata,bytes32 builder)"
)
DOMAIN_TYPE_STRING = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
# POLY_1271: Solady ERC-7739 nested typed data; the deposit wallet's own domain is fixed
# (name "DepositWallet", version "1", zero salt) and its verifyingContract is the order's signer.
TYPED_DATA_SIGN_TYPE_STRING = (
    "TypedDataSign(Order contents,string name,string version,uint256 chainId,"
    "address verifyingContract,bytes32 salt)" + ORDER_TYPE_STRING
)
DEPOSIT_WALLET_DOMAIN_NAME = "DepositWallet"
DEPOSIT_WALLET_DOMAIN_VERSION = "1"


class SigningError(ValueError):
    """An order this key cannot sign (wrong signer, unknown chain, malformed key)."""


def _keccak256_object(data: bytes) -> bytes:
    return _keccak_mod.new(digest_bits=256, data=data).digest()


class _KeccakState(threading.local):
    """One keccak-256 state per thread, reset for each hash (pycryptodome's keccak_reset)."""

    def __init__(self) -> None:
        ffi, lib = _raw_api.ffi, _keccak_mod._raw_keccak_lib
        holder = ffi.new("void **")
        if lib.keccak_init(holder, 64, 24):  # capacity 2 x 32 bytes, 24 rounds: keccak-256
            raise RuntimeError("keccak_init failed")
        self.state = ffi.gc(holder[0], lib.keccak_destroy)
        self.out = ffi.new("uint8_t[32]")


def _keccak256_raw(data: bytes) -> bytes:
    local = _KECCAK
    state, out, lib = local.state, local.out, _keccak_mod._raw_keccak_lib
    lib.keccak_reset(state)
    lib.keccak_absorb(state, data, len(data))
    lib.keccak_digest(state, out, 32, 0x01)  # 0x01: Keccak's padding, not SHA-3's 0x06
    return bytes(out)


# pycryptodome loads its C code through cffi or ctypes; the raw path needs cffi (the usual backend)
if getattr(_raw_api, "backend", "") == "cffi":
    _KECCAK = _KeccakState()
    keccak256 = _keccak256_raw
else:  # pragma: no cover - ctypes backend
    keccak256 = _keccak256_object


ORDER_TYPE_HASH = keccak256(ORDER_TYPE_STRING.encode())
DOMAIN_TYPE_HASH = keccak256(DOMAIN_TYPE_STRING.encode())
TYPED_DATA_SIGN_TYPE_HASH = keccak256(TYPED_DATA_SIGN_TYPE_STRING.encode())
_DEPOSIT_WALLET_NAME_HASH = keccak256(DEPOSIT_WALLET_DOMAIN_NAME.encode())
_DEPOSIT_WALLET_VERSION_HASH = keccak256(DEPOSIT_WALLET_DOMAIN_VERSION.encode())
_ZERO_WORD = bytes(32)
# The tail of a POLY_1271 signature: the contents type and its length as 2 big-endian bytes.
_POLY_1271_TYPE_TAIL_HEX = ORDER_TYPE_STRING.encode().hex() + len(ORDER_TYPE_STRING).to_bytes(2, "big").hex()


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


@functools.lru_cache(maxsize=64)
def _address_word(address: str) -> bytes:
    return bytes(12) + bytes.fromhex(address[2:])


@functools.lru_cache(maxsize=64)
def _bytes32_word(hex_text: str) -> bytes:
    # PCC2 _hex_to_bytes32 left-pads short hex; OrderV2 holds full 32-byte hex, so this is exact.
    return bytes.fromhex(hex_text[2:].zfill(64))


def checksum_address(address: str | bytes) -> str:
    """EIP-55 mixed-case form of a 20-byte address given as bytes or hex text (any case)."""
    raw = address if isinstance(address, bytes) else bytes.fromhex(address.removeprefix("0x"))
    if len(raw) != 20:
        raise SigningError(f"an address has 20 bytes, got {len(raw)}")
    lower = raw.hex()
    nibbles = keccak256(lower.encode()).hex()[:40]
    return "0x" + "".join(c.upper() if int(n, 16) >= 8 else c for c, n in zip(lower, nibbles, strict=True))


@dataclass(frozen=True, slots=True)
class ExchangeDomain:
    """The EIP-712 domain of one V2 exchange contract, with its separator precomputed."""

    chain_id: int
    verifying_contract: str
    separator: bytes = field(repr=False)

    @classmethod
    def of(cls, chain_id: int, verifying_contract: str) -> ExchangeDomain:
        separator = keccak256(
            DOMAIN_TYPE_HASH
            + keccak256(EXCHANGE_DOMAIN_NAME.encode())
            + keccak256(EXCHANGE_DOMAIN_VERSION.encode())
            + _word(chain_id)
            + _address_word(verifying_contract)
        )
        return cls(chain_id, verifying_contract, separator)


def exchange_domain(chain_id: int, neg_risk: bool) -> ExchangeDomain:
    """The domain an order on a (neg-risk or not) market of this chain is signed under."""
    return ExchangeDomain.of(chain_id, exchange_address(chain_id, neg_risk))


def order_struct_hash(order: OrderV2) -> bytes:
    """hashStruct(Order): keccak256 of the type hash and the 11 fields, one 32-byte word each."""
    return keccak256(
        b"".join(
            (
                ORDER_TYPE_HASH,
                _word(order.salt),
                _address_word(order.maker),
                _address_word(order.signer),
                _word(int(order.token_id)),
                _word(order.maker_amount),
                _word(order.taker_amount),
                _word(order.side),
                _word(order.signature_type),
                _word(order.timestamp_ms),
                _bytes32_word(order.metadata),
                _bytes32_word(order.builder),
            )
        )
    )


def _eip712_digest(separator: bytes, struct_hash: bytes) -> bytes:
    return keccak256(b"\x19\x01" + separator + struct_hash)


def order_digest(order: OrderV2, domain: ExchangeDomain) -> bytes:
    return _eip712_digest(domain.separator, order_struct_hash(order))


def order_hash(order: OrderV2, domain: ExchangeDomain) -> str:
    """The order id: "0x" + the EIP-712 digest (PCC2 build_order_hash), whatever the signature type."""
    return "0x" + order_digest(order, domain).hex()


def poly_1271_digest(order: OrderV2, domain: ExchangeDomain, contents_hash: bytes) -> bytes:
    """What the key signs for a POLY_1271 order: TypedDataSign(contents, deposit wallet domain)."""
    typed_data_sign_hash = keccak256(
        TYPED_DATA_SIGN_TYPE_HASH
        + contents_hash
        + _DEPOSIT_WALLET_NAME_HASH
        + _DEPOSIT_WALLET_VERSION_HASH
        + _word(domain.chain_id)
        + _address_word(order.signer)
        + _ZERO_WORD
    )
    return _eip712_digest(domain.separator, typed_data_sign_hash)


def poly_1271_signature(inner_rsv: bytes, domain: ExchangeDomain, contents_hash: bytes) -> str:
    """r || s || v, then the exchange domain separator, the order struct hash and the Order type."""
    return "0x" + inner_rsv.hex() + domain.separator.hex() + contents_hash.hex() + _POLY_1271_TYPE_TAIL_HEX


@dataclass(frozen=True, slots=True)
class SignedOrder:
    order: OrderV2
    signature: str  # "0x" hex; 65 bytes, longer for POLY_1271
    order_hash: str  # "0x" + digest: the venue's order id


class OrderSigner:
    """Holds one secp256k1 key; signs V2 orders for one chain. Never shows the key.

    Create once at start-up (deriving the address and the two domain separators costs ~100 µs);
    sign() then costs one struct hash, one digest hash and one signature.
    """

    __slots__ = ("_domains", "_key", "address", "chain_id")

    def __init__(self, private_key: bytes, chain_id: int = 137) -> None:
        if not (isinstance(private_key, bytes) and len(private_key) == 32):
            raise SigningError("the private key must be 32 bytes")
        try:
            self._key = coincurve.PrivateKey(private_key)
        except ValueError:
            raise SigningError("the private key is not a valid secp256k1 scalar") from None
        public = self._key.public_key.format(compressed=False)[1:]
        self.address = checksum_address(keccak256(public)[-20:])
        self.chain_id = chain_id
        try:
            self._domains = {nr: exchange_domain(chain_id, nr) for nr in (False, True)}
        except ValueError as exc:
            raise SigningError(str(exc)) from None

    def __repr__(self) -> str:
        return f"OrderSigner(address={self.address}, chain_id={self.chain_id})"

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("OrderSigner holds a private key and cannot be pickled")

    def domain(self, neg_risk: bool) -> ExchangeDomain:
        return self._domains[bool(neg_risk)]

    def sign_digest(self, digest: bytes) -> bytes:
        """65 bytes r || s || v, v = 27 or 28 (eth-account's convention)."""
        rsv = self._key.sign_recoverable(digest, hasher=None)
        return rsv[:64] + bytes((rsv[64] + 27,))

    def sign(self, order: OrderV2, neg_risk: bool) -> SignedOrder:
        """Sign for the (neg-risk) exchange of this signer's chain.

        As PCC2 ExchangeOrderBuilderV2.build_order: the order's signer must be this key's address,
        except for POLY_1271 where it is the deposit wallet the key controls.
        """
        if order.signature_type != SignatureType.POLY_1271 and order.signer.lower() != self.address.lower():
            raise SigningError(f"order signer {order.signer} is not this key's address {self.address}")
        domain = self._domains[bool(neg_risk)]
        struct_hash = order_struct_hash(order)
        digest = _eip712_digest(domain.separator, struct_hash)
        if order.signature_type == SignatureType.POLY_1271:
            inner = self.sign_digest(poly_1271_digest(order, domain, struct_hash))
            signature = poly_1271_signature(inner, domain, struct_hash)
        else:
            signature = "0x" + self.sign_digest(digest).hex()
        return SignedOrder(order, signature, "0x" + digest.hex())


# --- reference path (eth-account), for tests and the bench only -----------------------------------


def reference_typed_data(order: OrderV2, domain: ExchangeDomain) -> dict:
    """The EIP-712 message as PCC2 build_order_typed_data builds it."""
    return {
        "primaryType": "Order",
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Order": [
                {"name": "salt", "type": "uint256"},
                {"name": "maker", "type": "address"},
                {"name": "signer", "type": "address"},
                {"name": "tokenId", "type": "uint256"},
                {"name": "makerAmount", "type": "uint256"},
                {"name": "takerAmount", "type": "uint256"},
                {"name": "side", "type": "uint8"},
                {"name": "signatureType", "type": "uint8"},
                {"name": "timestamp", "type": "uint256"},
                {"name": "metadata", "type": "bytes32"},
                {"name": "builder", "type": "bytes32"},
            ],
        },
        "domain": {
            "name": EXCHANGE_DOMAIN_NAME,
            "version": EXCHANGE_DOMAIN_VERSION,
            "chainId": domain.chain_id,
            "verifyingContract": domain.verifying_contract,
        },
        "message": {
            "salt": order.salt,
            "maker": order.maker,
            "signer": order.signer,
            "tokenId": int(order.token_id),
            "makerAmount": order.maker_amount,
            "takerAmount": order.taker_amount,
            "side": int(order.side),
            "signatureType": int(order.signature_type),
            "timestamp": order.timestamp_ms,
            "metadata": _bytes32_word(order.metadata),
            "builder": _bytes32_word(order.builder),
        },
    }


def reference_order_hash(order: OrderV2, domain: ExchangeDomain) -> str:
    from eth_account.messages import encode_typed_data  # slow import, kept off the service's path

    signable = encode_typed_data(full_message=reference_typed_data(order, domain))
    return "0x" + keccak256(b"\x19" + signable.version + signable.header + signable.body).hex()


def reference_signature(order: OrderV2, domain: ExchangeDomain, private_key: bytes) -> str:
    """The same signature through eth-account's encode_typed_data + sign_message.

    For POLY_1271 the TypedDataSign struct is given to eth-account as nested typed data (it derives
    the type string, the referenced Order type and both hashes itself), so no fast-path code is reused.
    """
    from eth_account import Account  # slow import, kept off the service's path
    from eth_account.messages import encode_typed_data

    typed = reference_typed_data(order, domain)
    if order.signature_type != SignatureType.POLY_1271:
        return "0x" + Account.sign_message(encode_typed_data(full_message=typed), private_key).signature.hex()
    order_signable = encode_typed_data(full_message=typed)
    wrapper = {
        "primaryType": "TypedDataSign",
        "types": {
            "EIP712Domain": typed["types"]["EIP712Domain"],
            "TypedDataSign": [
                {"name": "contents", "type": "Order"},
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
                {"name": "salt", "type": "bytes32"},
            ],
            "Order": typed["types"]["Order"],
        },
        "domain": typed["domain"],
        "message": {
            "contents": typed["message"],
            "name": DEPOSIT_WALLET_DOMAIN_NAME,
            "version": DEPOSIT_WALLET_DOMAIN_VERSION,
            "chainId": domain.chain_id,
            "verifyingContract": order.signer,
            "salt": bytes.fromhex(BYTES32_ZERO[2:]),
        },
    }
    inner = Account.sign_message(encode_typed_data(full_message=wrapper), private_key).signature
    return (
        "0x"
        + bytes(inner).hex()
        + bytes(order_signable.header).hex()
        + bytes(order_signable.body).hex()
        + _POLY_1271_TYPE_TAIL_HEX
    )
