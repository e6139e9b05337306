"""Posted V2 orders: parse the wire JSON, check the amounts, recover the EIP-712 signer.

Pure. The venue's own EIP-712 code (keccak from eth-hash, recovery from coincurve), independent of
the executor's signing so that one cannot hide a bug in the other. Facts from
shared/docs/polymarket-protocol.md:
- body shape: section 2.5 (`order_to_json_v2`): salt and signatureType integers, side "BUY"/"SELL",
  amounts, tokenId, expiration and timestamp decimal strings;
- struct, type string and domain: section 2.2 (name "Polymarket CTF Exchange", version "2", the V2
  exchange or, for neg-risk markets, the V2 neg-risk exchange as verifyingContract); `expiration`
  is sent but not signed;
- the order ID is the EIP-712 digest (2.2);
- implied price = maker/taker (BUY) or taker/maker (SELL) (2.4), on the market's tick grid within
  [tick, 1 - tick]; FOK/FAK amounts at most 2 decimals on the maker side and 4 on the taker side (2.5).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from coincurve import PublicKey
from eth_hash.auto import keccak

from paper_venue.matching import PRICE_SCALE, TIME_IN_FORCE, Side

EXCHANGE_V2 = "0xE111180000d2663C0091e4f400237545B87B996B"
NEG_RISK_EXCHANGE_V2 = "0xe2222d279d744050d28e00520010520000310F59"
DOMAIN_NAME = "Polymarket CTF Exchange"
DOMAIN_VERSION = "2"
DEFAULT_CHAIN_ID = 137

DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
ORDER_TYPE = (
    "Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,uint256 takerAmount,"
    "uint8 side,uint8 signatureType,uint256 timestamp,bytes32 metadata,bytes32 builder)"
)
DOMAIN_TYPEHASH = keccak(DOMAIN_TYPE.encode())
ORDER_TYPEHASH = keccak(ORDER_TYPE.encode())

TOKEN_DECIMALS = 6
FOK_MAKER_DECIMALS = 2
FOK_TAKER_DECIMALS = 4
ORDER_VERSION_MISMATCH = "order_version_mismatch"  # PCC2 constants.py: a V1 body posted to V2
SIGNATURE_TYPES = {0: "EOA", 1: "POLY_PROXY", 2: "POLY_GNOSIS_SAFE", 3: "POLY_1271"}
_UINT256 = 2**256
_HEX = frozenset("0123456789abcdefABCDEF")


class OrderRejected(ValueError):
    """An order the venue refuses; str() is the errorMsg sent back."""


@dataclass(frozen=True, slots=True)
class SignedOrder:
    salt: int
    maker: str
    signer: str
    token_id: str
    maker_amount: int
    taker_amount: int
    side: Side
    signature_type: int
    timestamp_ms: int
    metadata: str
    builder: str
    expiration: int
    signature: str

    @property
    def share_units(self) -> int:
        return self.taker_amount if self.side is Side.BUY else self.maker_amount

    @property
    def collateral_units(self) -> int:
        return self.maker_amount if self.side is Side.BUY else self.taker_amount


@dataclass(frozen=True, slots=True)
class PostedOrder:
    """One element of a POST /order or POST /orders body."""

    order: SignedOrder
    owner: str
    order_type: str
    post_only: bool
    defer_exec: bool


@dataclass(frozen=True, slots=True)
class MarketRules:
    """What verification needs to know of the order's market. neg_risk None: unknown (replayed
    books), so either V2 domain is accepted."""

    tick_size: str  # decimal text, "0.01"
    neg_risk: bool | None


@dataclass(frozen=True, slots=True)
class VerifiedOrder:
    order_id: str  # 0x + the EIP-712 digest (protocol 2.2)
    order: SignedOrder
    owner: str
    order_type: str
    post_only: bool
    price: int  # limit price in PRICE_SCALE units
    size: int  # share units

    @property
    def side(self) -> Side:
        return self.order.side


# -- parsing --------------------------------------------------------------------------------------


def parse_posted_order(raw: Any) -> PostedOrder:
    """The wire object {"order": {...}, "owner", "orderType", "deferExec", "postOnly"} → PostedOrder."""
    if not isinstance(raw, Mapping):
        raise OrderRejected("invalid payload: each order must be a JSON object")
    body = raw.get("order")
    if not isinstance(body, Mapping):
        raise OrderRejected("invalid payload: missing order object")
    if "timestamp" not in body and any(k in body for k in ("nonce", "feeRateBps", "taker")):
        raise OrderRejected(ORDER_VERSION_MISMATCH)
    order_type = raw.get("orderType", "GTC")
    if order_type not in TIME_IN_FORCE:
        raise OrderRejected(f"invalid order type {order_type!r}")
    owner = raw.get("owner")
    if not isinstance(owner, str) or not owner:
        raise OrderRejected("invalid payload: missing owner")
    post_only = _bool(raw.get("postOnly", False), "postOnly")
    defer_exec = _bool(raw.get("deferExec", False), "deferExec")
    side_text = body.get("side")
    if side_text not in ("BUY", "SELL"):
        raise OrderRejected(f"invalid side {side_text!r}")
    order = SignedOrder(
        salt=_uint(body.get("salt"), "salt"),
        maker=_address(body.get("maker"), "maker"),
        signer=_address(body.get("signer"), "signer"),
        token_id=str(_uint(body.get("tokenId"), "tokenId")),
        maker_amount=_uint(body.get("makerAmount"), "makerAmount"),
        taker_amount=_uint(body.get("takerAmount"), "takerAmount"),
        side=Side.BUY if side_text == "BUY" else Side.SELL,
        signature_type=_uint(body.get("signatureType"), "signatureType"),
        timestamp_ms=_uint(body.get("timestamp"), "timestamp"),
        metadata=_hex(body.get("metadata", "0x" + "0" * 64), "metadata", 32),
        builder=_hex(body.get("builder", "0x" + "0" * 64), "builder", 32),
        expiration=_uint(body.get("expiration", "0"), "expiration"),
        signature=_hex(body.get("signature"), "signature", 65),
    )
    return PostedOrder(order, owner, order_type, post_only, defer_exec)


def _bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise OrderRejected(f"invalid payload: {name} must be true or false")
    return value


def _uint(value: Any, name: str) -> int:
    # The wire has integers (salt, signatureType) and decimal strings (amounts, ids, times); accept
    # either for each, never a float or a bool.
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise OrderRejected(f"invalid payload: {name} must be an unsigned integer")
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit()):
            raise OrderRejected(f"invalid payload: {name} must be decimal digits")
        value = int(value)
    if not 0 <= value < _UINT256:
        raise OrderRejected(f"invalid payload: {name} out of range")
    return value


def _hex(value: Any, name: str, n_bytes: int) -> str:
    if not (isinstance(value, str) and len(value) == 2 + 2 * n_bytes and value[:2] in ("0x", "0X")
            and _HEX.issuperset(value[2:])):
        raise OrderRejected(f"invalid payload: {name} must be 0x and {2 * n_bytes} hex digits")
    return value


def _address(value: Any, name: str) -> str:
    return _hex(value, name, 20)


# -- EIP-712 --------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def domain_separator(chain_id: int, verifying_contract: str) -> bytes:
    return keccak(
        DOMAIN_TYPEHASH
        + keccak(DOMAIN_NAME.encode())
        + keccak(DOMAIN_VERSION.encode())
        + chain_id.to_bytes(32, "big")
        + bytes.fromhex(verifying_contract[2:]).rjust(32, b"\0")
    )


def struct_hash(order: SignedOrder) -> bytes:
    def word(n: int) -> bytes:
        return n.to_bytes(32, "big")

    def address(a: str) -> bytes:
        return bytes.fromhex(a[2:]).rjust(32, b"\0")

    return keccak(
        ORDER_TYPEHASH
        + word(order.salt)
        + address(order.maker)
        + address(order.signer)
        + word(int(order.token_id))
        + word(order.maker_amount)
        + word(order.taker_amount)
        + word(int(order.side))
        + word(order.signature_type)
        + word(order.timestamp_ms)
        + bytes.fromhex(order.metadata[2:])
        + bytes.fromhex(order.builder[2:])
    )


def exchange_for(neg_risk: bool) -> str:
    return NEG_RISK_EXCHANGE_V2 if neg_risk else EXCHANGE_V2


def order_digest(order: SignedOrder, chain_id: int = DEFAULT_CHAIN_ID, neg_risk: bool = False) -> bytes:
    """keccak256(0x1901 ‖ domainSeparator ‖ hashStruct(order)) (protocol 2.2)."""
    return keccak(b"\x19\x01" + domain_separator(chain_id, exchange_for(neg_risk)) + struct_hash(order))


def recover_signer(digest: bytes, signature: str) -> str | None:
    """The address (lower-case 0x hex) whose key made this 65-byte r‖s‖v signature; None if none."""
    try:
        raw = bytes.fromhex(signature[2:] if signature[:2] in ("0x", "0X") else signature)
    except ValueError:
        return None
    if len(raw) != 65:
        return None
    v = raw[64] - 27 if raw[64] >= 27 else raw[64]
    if v not in (0, 1):
        return None
    try:
        public = PublicKey.from_signature_and_message(raw[:64] + bytes([v]), digest, hasher=None)
    except ValueError:
        return None
    return "0x" + keccak(public.format(compressed=False)[1:])[-20:].hex()


# -- verification ---------------------------------------------------------------------------------


def implied_price(order: SignedOrder) -> tuple[int, int]:
    """(numerator, denominator) of the price per share the amounts imply (protocol 2.4)."""
    if order.side is Side.BUY:
        return order.maker_amount, order.taker_amount
    return order.taker_amount, order.maker_amount


def tick_units(tick_size: str) -> int:
    units = Decimal(tick_size) * PRICE_SCALE
    if units != units.to_integral_value() or units <= 0:
        raise ValueError(f"unsupported tick size {tick_size!r}")
    return int(units)


def check_amounts(order: SignedOrder, order_type: str, tick_size: str) -> int:
    """The limit price in PRICE_SCALE units, or OrderRejected naming what is wrong with the amounts."""
    if order.maker_amount <= 0 or order.taker_amount <= 0:
        raise OrderRejected("invalid amounts: makerAmount and takerAmount must be positive")
    num, den = implied_price(order)
    tick = tick_units(tick_size)
    scaled = num * PRICE_SCALE
    if scaled % den or (scaled // den) % tick:
        price = Decimal(num) / Decimal(den)
        raise OrderRejected(f"invalid price ({price:.8g}): breaks minimum tick size rule: {tick_size}")
    price = scaled // den
    if not tick <= price <= PRICE_SCALE - tick:
        raise OrderRejected(
            f"invalid price ({Decimal(price) / PRICE_SCALE}), min: {tick_size} - max: {1 - Decimal(tick_size)}"
        )
    if order_type in ("FOK", "FAK"):
        maker_step = 10 ** (TOKEN_DECIMALS - FOK_MAKER_DECIMALS)
        taker_step = 10 ** (TOKEN_DECIMALS - FOK_TAKER_DECIMALS)
        if order.maker_amount % maker_step or order.taker_amount % taker_step:
            kind = "buy" if order.side is Side.BUY else "sell"
            raise OrderRejected(
                f"invalid amounts, the market {kind} orders maker amount supports a max accuracy of "
                f"{FOK_MAKER_DECIMALS} decimals, taker amount a max of {FOK_TAKER_DECIMALS} decimals"
            )
    return price


def verify(posted: PostedOrder, rules: MarketRules, chain_id: int = DEFAULT_CHAIN_ID) -> VerifiedOrder:
    """Signature type, EIP-712 signer, then amounts; the verified order with its ID, or OrderRejected.

    The signature comes first: an order that does not prove its signer is refused as such, whatever
    else is wrong with it.
    """
    order = posted.order
    if order.signature_type not in SIGNATURE_TYPES:
        raise OrderRejected(f"invalid signature type {order.signature_type}")
    if order.signature_type == 3:
        # POLY_1271 wraps the digest in a Solady TypedDataSign checked by the deposit wallet contract
        # on chain (protocol 2.2); there is no chain here.
        raise OrderRejected("signature type 3 (POLY_1271) is not supported by the paper venue")
    if order.signature_type == 0 and order.maker.lower() != order.signer.lower():
        raise OrderRejected("invalid order: maker must be the signer for EOA orders (signatureType 0)")
    order_id = signed_order_id(order, rules.neg_risk, chain_id)
    if order_id is None:
        raise OrderRejected("invalid signature")
    if posted.post_only and posted.order_type in ("FOK", "FAK"):
        raise OrderRejected("invalid post-only order: post-only is only allowed for GTC and GTD orders")
    price = check_amounts(order, posted.order_type, rules.tick_size)
    return VerifiedOrder(
        order_id=order_id,
        order=order,
        owner=posted.owner,
        order_type=posted.order_type,
        post_only=posted.post_only,
        price=price,
        size=order.share_units,
    )


def signed_order_id(order: SignedOrder, neg_risk: bool | None, chain_id: int = DEFAULT_CHAIN_ID) -> str | None:
    """The order ID when the signature recovers order.signer under the market's domain, else None.

    neg_risk None (a replayed market whose flag is unknown) tries both V2 exchanges.
    """
    candidates = (False, True) if neg_risk is None else (neg_risk,)
    for candidate in candidates:
        digest = order_digest(order, chain_id, candidate)
        if recover_signer(digest, order.signature) == order.signer.lower():
            return "0x" + digest.hex()
    return None
