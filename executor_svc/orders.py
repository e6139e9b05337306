"""CLOB V2 orders: integer amounts from price and size, the V2 order struct and the POST body.

Mirrors py-clob-client-v2 1.2.1 ("PCC2") byte for byte; tests/executor/ checks every function here
against the package itself:
- order_builder/builder.py: ROUNDING_CONFIG, get_order_amounts, get_market_order_amounts, and which
  exchange and which signer an order uses;
- order_builder/helpers.py: the rounding steps (same names, same float arithmetic on purpose);
- order_utils/model/order_data_v2.py: order_to_json_v2; client.py post_order/post_orders: the body is
  json.dumps(..., separators=(",", ":"), ensure_ascii=False) and those exact bytes are sent and signed.

Pure: no I/O, no clock, no randomness. Salt and timestamp are arguments.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from enum import IntEnum
from types import MappingProxyType
from typing import NamedTuple

from polyarb.v1 import executor_pb2


class OrderError(ValueError):
    """An order that cannot be built as asked; the message names the field and the reason."""


class OrderSide(IntEnum):
    """The venue's side: the uint8 signed in the V2 struct (PCC2 order_utils/model/side.py)."""

    BUY = 0
    SELL = 1


class SignatureType(IntEnum):
    """PCC2 order_utils/model/signature_type_v2.py."""

    EOA = 0
    POLY_PROXY = 1
    POLY_GNOSIS_SAFE = 2
    POLY_1271 = 3


class RoundConfig(NamedTuple):
    """Decimal places kept for the price, the share size and the computed collateral amount."""

    price: int
    size: int
    amount: int


# PCC2 order_builder/builder.py ROUNDING_CONFIG, keyed like PCC2 by the tick's decimal text.
ROUNDING_CONFIG: Mapping[str, RoundConfig] = MappingProxyType(
    {
        "0.1": RoundConfig(price=1, size=2, amount=3),
        "0.01": RoundConfig(price=2, size=2, amount=4),
        "0.005": RoundConfig(price=3, size=2, amount=5),
        "0.0025": RoundConfig(price=4, size=2, amount=6),
        "0.001": RoundConfig(price=3, size=2, amount=5),
        "0.0001": RoundConfig(price=4, size=2, amount=6),
    }
)
_TICK_KEY_BY_FLOAT: Mapping[float, str] = MappingProxyType({float(k): k for k in ROUNDING_CONFIG})

TOKEN_DECIMALS = 6  # pUSD and outcome tokens alike (PCC2 constants.py)
BYTES32_ZERO = "0x" + "0" * 64
ORDER_TYPES = frozenset({"GTC", "GTD", "FOK", "FAK"})
MARKET_ORDER_TYPES = frozenset({"FOK", "FAK"})
MAX_ORDERS_PER_BATCH = 15  # POST /orders limit (docs api-reference post-orders; NT BATCH_ORDER_LIMIT)

# FOK/FAK precision enforced by the server whatever the tick (protocol doc 2.5): the maker amount
# at most 2 decimals, the taker amount at most 4. For a BUY the maker side is pUSD and the taker side
# shares; for a SELL the other way round, so one predicate covers both sides.
FOK_MAKER_DECIMALS = 2
FOK_TAKER_DECIMALS = 4


class ExchangeContracts(NamedTuple):
    exchange: str
    neg_risk_exchange: str


# V2 verifying contracts per chain (PCC2 config.py exchange_v2 / neg_risk_exchange_v2; the Amoy
# entry carries the same addresses there).
V2_EXCHANGES: Mapping[int, ExchangeContracts] = MappingProxyType(
    {
        137: ExchangeContracts(
            exchange="0xE111180000d2663C0091e4f400237545B87B996B",
            neg_risk_exchange="0xe2222d279d744050d28e00520010520000310F59",
        ),
        80002: ExchangeContracts(
            exchange="0xE111180000d2663C0091e4f400237545B87B996B",
            neg_risk_exchange="0xe2222d279d744050d28e00520010520000310F59",
        ),
    }
)


def exchange_address(chain_id: int, neg_risk: bool) -> str:
    """The verifying contract an order is signed against: the neg-risk exchange for neg-risk markets."""
    contracts = V2_EXCHANGES.get(chain_id)
    if contracts is None:
        raise OrderError(f"no V2 exchange known for chain id {chain_id}")
    return contracts.neg_risk_exchange if neg_risk else contracts.exchange


# --- ticks and sides ------------------------------------------------------------------------------


def tick_key(tick_size: float | str) -> str:
    """The ROUNDING_CONFIG key of a tick given as a float (the proto's double) or as PCC2's text."""
    key = tick_size if isinstance(tick_size, str) else _TICK_KEY_BY_FLOAT.get(tick_size)
    if key not in ROUNDING_CONFIG:
        raise OrderError(f"unsupported tick size {tick_size!r}; expected one of {', '.join(ROUNDING_CONFIG)}")
    return key


def round_config(tick_size: float | str) -> RoundConfig:
    return ROUNDING_CONFIG[tick_key(tick_size)]


def order_side(side: int) -> OrderSide:
    """The venue side from OrderSide or its int (0 BUY, 1 SELL)."""
    try:
        return OrderSide(side)
    except ValueError:
        raise OrderError(f"side must be 0 (BUY) or 1 (SELL), got {side!r}") from None


def side_from_proto(side: int) -> OrderSide:
    """polyarb.v1.Side (SIDE_BUY = 1, SIDE_SELL = 2) to the venue side (BUY = 0, SELL = 1)."""
    if side == executor_pb2.SIDE_BUY:
        return OrderSide.BUY
    if side == executor_pb2.SIDE_SELL:
        return OrderSide.SELL
    raise OrderError(f"leg side must be SIDE_BUY or SIDE_SELL, got {side!r}")


# --- rounding: PCC2 order_builder/helpers.py, same float arithmetic so results match bit for bit ---


def round_down(x: float, digits: int) -> float:
    return math.floor(x * (10**digits)) / (10**digits)


def round_normal(x: float, digits: int) -> float:
    # Python's round(): half to even on the scaled float, as PCC2.
    return round(x * (10**digits)) / (10**digits)


def round_up(x: float, digits: int) -> float:
    return math.ceil(x * (10**digits)) / (10**digits)


def decimal_places(x: float) -> int:
    """PCC2's abs(Decimal(str(x)).as_tuple().exponent), read off the shortest repr without building a
    Decimal (5x faster; equal for every finite float, property-tested): "100.0" gives 1, "1e-05" 5,
    and exponent notation counts as PCC2 counts it, "1e+22" gives 22."""
    mantissa, _, exponent = repr(x).partition("e")
    return abs(int(exponent or 0) - len(mantissa.partition(".")[2]))


def to_token_decimals(x: float) -> int:
    """A decimal amount to 6-decimal integer units (PCC2 to_token_decimals).

    PCC2 rounds half-even only when the scaled float has a fraction digit and truncates otherwise;
    a float printed without one is integral already, so both branches are round() (property-tested).
    """
    return round((10**TOKEN_DECIMALS) * x)


def round_amount(amount: float, amount_digits: int) -> float:
    """The computed collateral amount: round up at amount+4 digits first, then down to amount digits.

    The first step absorbs float noise (0.1 * 3 = 0.30000000000000004 must stay 0.3); only an amount
    with genuinely more digits is cut (PCC2 get_order_amounts).
    """
    if decimal_places(amount) > amount_digits:
        amount = round_up(amount, amount_digits + 4)
        if decimal_places(amount) > amount_digits:
            amount = round_down(amount, amount_digits)
    return amount


# --- amounts --------------------------------------------------------------------------------------


def order_amounts(side: int, price: float, size: float, tick_size: float | str) -> tuple[int, int]:
    """(maker_amount_units, taker_amount_units) of a limit order, exactly PCC2 get_order_amounts.

    BUY pays pUSD (maker) for shares (taker); SELL gives shares (maker) for pUSD (taker). The price is
    rounded half-even to the tick's digits and the size is cut to 2 decimals. Note the float cut:
    round_down(0.29, 2) == 0.28 because 0.29 * 100 == 28.999999999999996; use exact_size() to pick a
    size that survives it.
    """
    cfg = round_config(tick_size)
    venue_side = order_side(side)
    rounded_price = round_normal(price, cfg.price)
    shares = round_down(size, cfg.size)
    collateral = round_amount(shares * rounded_price, cfg.amount)
    if venue_side is OrderSide.BUY:
        return to_token_decimals(collateral), to_token_decimals(shares)
    return to_token_decimals(shares), to_token_decimals(collateral)


def market_order_amounts(side: int, price: float, amount: float, tick_size: float | str) -> tuple[int, int]:
    """(maker_amount_units, taker_amount_units) of a market order, exactly PCC2 get_market_order_amounts.

    BUY: amount is pUSD to spend; SELL: amount is shares to sell. V2 cuts the price down to the tick's
    digits (V1 rounded it half-even).
    """
    cfg = round_config(tick_size)
    venue_side = order_side(side)
    rounded_price = round_down(price, cfg.price)
    if rounded_price <= 0:
        raise OrderError(f"price {price!r} rounds down to zero at tick {tick_key(tick_size)}")
    maker = round_down(amount, cfg.size)
    taker = maker / rounded_price if venue_side is OrderSide.BUY else maker * rounded_price
    return to_token_decimals(maker), to_token_decimals(round_amount(taker, cfg.amount))


def check_price(price: float, tick_size: float | str) -> None:
    """Raise OrderError unless tick <= price <= 1 - tick (PCC2 price_valid) and price is on the grid.

    On the grid means within float noise (1e-6 of a price digit) of a multiple of the tick, so an
    engine's 0.57 + 0.01 passes while 0.575 at tick 0.01 does not (PCC2 would silently round it).
    """
    key = tick_key(tick_size)
    tick = float(key)
    if not (math.isfinite(price) and tick <= price <= 1 - tick):
        raise OrderError(f"price {price!r} outside [{tick}, {1 - tick}] for tick {key}")
    digits = ROUNDING_CONFIG[key].price
    scaled = price * 10**digits
    nearest = round(scaled)
    ticks_per_digit = round(tick * 10**digits)  # 1, or 5 for 0.005, or 25 for 0.0025
    if abs(scaled - nearest) > 1e-6 or nearest % ticks_per_digit:
        raise OrderError(f"price {price!r} is not on the {key} tick grid")


def meets_fok_precision(maker_amount_units: int, taker_amount_units: int) -> bool:
    """True when FOK/FAK would accept these amounts: maker <= 2 decimals, taker <= 4 decimals."""
    return (
        maker_amount_units % 10 ** (TOKEN_DECIMALS - FOK_MAKER_DECIMALS) == 0
        and taker_amount_units % 10 ** (TOKEN_DECIMALS - FOK_TAKER_DECIMALS) == 0
    )


def exact_size(shares_hundredths: int) -> float:
    """A float size that PCC2's round_down(size, 2) maps to exactly shares_hundredths / 100.

    n / 100 is not always enough: 0.29 * 100 == 28.999999999999996 cuts to 0.28. One or two steps to
    the next float up fix that (1.13 becomes 1.1300000000000001) and sign the intended share count.
    """
    size = shares_hundredths / 100
    while math.floor(size * 100) < shares_hundredths:
        size = math.nextafter(size, math.inf)
    return size


def fok_size(side: int, price: float, size: float, tick_size: float | str) -> float:
    """The largest share count <= size whose limit-order amounts meet the FOK/FAK precision, as a
    float size that signs exactly that count (see exact_size); 0.0 if there is none.

    Shares always have 2 decimals, so only the pUSD side constrains: shares x price must have at most
    2 decimals for a BUY (its maker side) and 4 for a SELL (its taker side). With the price as P units
    of 10^-p and shares as N hundredths, pUSD = N * P / 10^(2 + p), which needs N to be a multiple of
    m = 10^k / gcd(P, 10^k), k = 2 + p - pUSD decimals. At tick 0.01 a SELL is always fine and a BUY
    at 0.37 needs whole shares; at tick 0.0001 a BUY at 0.1237 needs multiples of 100 shares.
    The returned float goes through exact_size(), and the result is checked with order_amounts().
    """
    cfg = round_config(tick_size)
    venue_side = order_side(side)
    if not math.isfinite(size) or size <= 0:
        return 0.0
    price_units = round(round_normal(price, cfg.price) * 10**cfg.price)
    # The size as written (its shortest repr), so 0.29 means 29 hundredths, not PCC2's 28.
    hundredths = int(Decimal(repr(size)).scaleb(cfg.size).to_integral_value(ROUND_FLOOR))
    pusd_digits = FOK_MAKER_DECIMALS if venue_side is OrderSide.BUY else FOK_TAKER_DECIMALS
    k = cfg.size + cfg.price - pusd_digits
    modulus = 10 ** max(k, 0)
    step = modulus // math.gcd(price_units, modulus)
    n = hundredths - hundredths % step
    # Integer maths and PCC2's float path agree (property-tested); the few extra steps only guard it.
    for _ in range(4):
        if n <= 0:
            return 0.0
        candidate = exact_size(n)
        if meets_fok_precision(*order_amounts(venue_side, price, candidate, tick_size)):
            return candidate
        n -= step
    return 0.0


# --- the V2 order ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderV2:
    """The unsigned CLOB V2 order. Fields in signing order, plus expiration (sent, not signed)."""

    salt: int
    maker: str  # funder: holds the collateral (EOA, proxy, safe or deposit wallet)
    signer: str  # the key's address; the deposit wallet for POLY_1271
    token_id: str  # decimal text, sent verbatim
    maker_amount: int  # 6-decimal units
    taker_amount: int
    side: OrderSide
    signature_type: SignatureType
    timestamp_ms: int  # creation time; replaces V1's nonce for uniqueness
    metadata: str = BYTES32_ZERO
    builder: str = BYTES32_ZERO  # builder code, bytes32 hex
    expiration: int = 0  # unix seconds, 0 = none (GTD only)

    @property
    def share_units(self) -> int:
        return self.taker_amount if self.side is OrderSide.BUY else self.maker_amount

    @property
    def collateral_units(self) -> int:
        return self.maker_amount if self.side is OrderSide.BUY else self.taker_amount


def order_parties(signature_type: int, key_address: str, funder: str | None = None) -> tuple[str, str]:
    """(maker, signer) as PCC2 OrderBuilder: maker is the funder (default the key's address); the
    signer is the key's address except for POLY_1271, where the deposit wallet (funder) signs."""
    maker = funder if funder is not None else key_address
    signer = maker if signature_type == SignatureType.POLY_1271 else key_address
    return maker, signer


def salt_from(random_unit: float, now_ms: int) -> int:
    """PCC2 generate_order_salt: int(random() * now_ms); the caller supplies both numbers."""
    return int(random_unit * now_ms)


_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_UINT256_LIMIT = 2**256


def _check_hex(name: str, value: str, n_bytes: int) -> None:
    if not (isinstance(value, str) and _is_hex(value, n_bytes)):
        raise OrderError(f"{name} must be 0x and {2 * n_bytes} hex digits, got {value!r}")


@functools.lru_cache(maxsize=256)
def _is_hex(value: str, n_bytes: int) -> bool:
    # cached: maker, signer, metadata and builder are the same on every order of one identity
    return len(value) == 2 + 2 * n_bytes and value.startswith("0x") and _HEX_DIGITS.issuperset(value[2:])


def _check_uint(name: str, value: int) -> None:
    if not (isinstance(value, int) and 0 <= value < _UINT256_LIMIT):
        raise OrderError(f"{name} must be an integer in [0, 2^256), got {value!r}")


def build_order(
    *,
    side: int,
    token_id: str,
    price: float,
    size: float,
    tick_size: float | str,
    maker: str,
    signer: str,
    signature_type: int,
    salt: int,
    timestamp_ms: int,
    expiration: int = 0,
    metadata: str = BYTES32_ZERO,
    builder: str = BYTES32_ZERO,
) -> OrderV2:
    """A validated limit order (PCC2 ClobClient.create_order + OrderBuilder.build_order, version 2).

    Rejects with OrderError what PCC2 would reject or silently round: a price off the tick grid or
    outside [tick, 1 - tick], a size that rounds to zero shares, malformed ids and addresses.
    """
    venue_side = order_side(side)
    check_price(price, tick_size)
    if not (isinstance(token_id, str) and token_id.isascii() and token_id.isdigit()):
        raise OrderError(f"token_id must be decimal digits, got {token_id!r}")
    _check_uint("token_id", int(token_id))
    if not math.isfinite(size) or size <= 0:
        raise OrderError(f"size must be a positive number of shares, got {size!r}")
    _check_hex("maker", maker, 20)
    _check_hex("signer", signer, 20)
    _check_hex("metadata", metadata, 32)
    _check_hex("builder", builder, 32)
    try:
        sig_type = SignatureType(signature_type)
    except ValueError:
        raise OrderError(f"signature_type must be 0..3, got {signature_type!r}") from None
    for name, value in (("salt", salt), ("timestamp_ms", timestamp_ms), ("expiration", expiration)):
        _check_uint(name, value)
    maker_amount, taker_amount = order_amounts(venue_side, price, size, tick_size)
    if maker_amount <= 0 or taker_amount <= 0:
        raise OrderError(f"size {size!r} at price {price!r} rounds to a zero amount")
    return OrderV2(
        salt=salt,
        maker=maker,
        signer=signer,
        token_id=token_id,
        maker_amount=maker_amount,
        taker_amount=taker_amount,
        side=venue_side,
        signature_type=sig_type,
        timestamp_ms=timestamp_ms,
        metadata=metadata,
        builder=builder,
        expiration=expiration,
    )


# --- the POST body --------------------------------------------------------------------------------


def order_to_wire(
    order: OrderV2,
    signature: str,
    owner: str,
    order_type: str,
    post_only: bool = False,
    defer_exec: bool = False,
) -> dict:
    """One POST /order payload, keys and types exactly as PCC2 order_to_json_v2.

    salt and signatureType are JSON integers, amounts/ids/timestamps strings; owner is the API key.
    """
    if order_type not in ORDER_TYPES:
        raise OrderError(f"order_type must be one of {sorted(ORDER_TYPES)}, got {order_type!r}")
    if post_only and order_type in MARKET_ORDER_TYPES:
        raise OrderError("post_only is not supported for FOK/FAK orders")  # PCC2 client.post_order
    if order_type == "GTD" and order.expiration == 0:
        raise OrderError("a GTD order needs an expiration")
    return {
        "order": {
            "salt": order.salt,
            "maker": order.maker,
            "signer": order.signer,
            "tokenId": order.token_id,
            "makerAmount": str(order.maker_amount),
            "takerAmount": str(order.taker_amount),
            "side": order.side.name,
            "expiration": str(order.expiration),
            "signatureType": int(order.signature_type),
            "timestamp": str(order.timestamp_ms),
            "metadata": order.metadata,
            "builder": order.builder,
            "signature": signature,
        },
        "owner": owner,
        "orderType": order_type,
        "deferExec": defer_exec,
        "postOnly": post_only,
    }


def compact_json(payload: object) -> bytes:
    """The exact bytes PCC2 sends and signs: json.dumps(separators=(",", ":"), ensure_ascii=False)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def order_body(wire: dict) -> bytes:
    """POST /order body."""
    return compact_json(wire)


def batch_body(wires: Sequence[dict]) -> bytes:
    """POST /orders body: a JSON array of 1..15 order payloads."""
    if not 1 <= len(wires) <= MAX_ORDERS_PER_BATCH:
        raise OrderError(f"a batch holds 1..{MAX_ORDERS_PER_BATCH} orders, got {len(wires)}")
    return compact_json(list(wires))
