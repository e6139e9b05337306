"""Amounts, rounding, validation, FOK sizing and the wire body vs py-clob-client-v2 ("PCC2")."""

from __future__ import annotations

import dataclasses
import json
import math
from decimal import Decimal

import pytest
from eth_utils import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st
from py_clob_client_v2.client import ClobClient
from py_clob_client_v2.clob_types import ApiCreds as PccApiCreds
from py_clob_client_v2.clob_types import PostOrdersV2Args
from py_clob_client_v2.order_builder import builder as pcc_builder
from py_clob_client_v2.order_builder import helpers as pcc_helpers
from py_clob_client_v2.order_builder.builder import OrderBuilder
from py_clob_client_v2.order_utils import Side as PccSide
from py_clob_client_v2.order_utils import SignatureTypeV2
from py_clob_client_v2.order_utils.model.order_data_v2 import SignedOrderV2, order_to_json_v2
from py_clob_client_v2.signer import Signer as PccSigner

from executor_svc.orders import (
    BYTES32_ZERO,
    MAX_ORDERS_PER_BATCH,
    ROUNDING_CONFIG,
    OrderError,
    OrderSide,
    OrderV2,
    SignatureType,
    batch_body,
    build_order,
    check_price,
    decimal_places,
    exact_size,
    exchange_address,
    fok_size,
    market_order_amounts,
    meets_fok_precision,
    order_amounts,
    order_body,
    order_parties,
    order_to_wire,
    round_amount,
    round_config,
    round_down,
    round_normal,
    round_up,
    side_from_proto,
    tick_key,
    to_token_decimals,
)
from polyarb.v1 import executor_pb2

HARDHAT_KEY_HEX = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
HARDHAT_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
PCC_BUILDER = OrderBuilder(PccSigner(HARDHAT_KEY_HEX, 137))
TICKS = st.sampled_from(list(ROUNDING_CONFIG))
SIDES = st.sampled_from([OrderSide.BUY, OrderSide.SELL])
ADDRESSES = st.binary(min_size=20, max_size=20).map(to_checksum_address)
BYTES32 = st.one_of(st.just(BYTES32_ZERO), st.binary(min_size=32, max_size=32).map(lambda b: "0x" + b.hex()))
SIZES = st.one_of(
    st.floats(min_value=0.01, max_value=1e6, allow_nan=False, allow_infinity=False),
    st.integers(1, 10**8).map(lambda n: n / 100),
    st.integers(100, 10**8).map(lambda n: n / 10**4),
)


def pcc_side(side: OrderSide) -> PccSide:
    return PccSide.BUY if side is OrderSide.BUY else PccSide.SELL


@st.composite
def grid_prices(draw, tick: str) -> float:
    steps = round(1 / Decimal(tick))
    return float(draw(st.integers(1, steps - 1)) * Decimal(tick))


def simple_order(**changes) -> dict:
    fields = {
        "side": OrderSide.BUY,
        "token_id": "1234",
        "price": 0.5,
        "size": 10.0,
        "tick_size": 0.01,
        "maker": HARDHAT_ADDRESS,
        "signer": HARDHAT_ADDRESS,
        "signature_type": 0,
        "salt": 1,
        "timestamp_ms": 1713398400000,
    }
    return {**fields, **changes}


# --- the table and the rounding steps ------------------------------------------------------------


def test_rounding_config_equals_pcc2():
    assert set(ROUNDING_CONFIG) == set(pcc_builder.ROUNDING_CONFIG)
    for tick, cfg in ROUNDING_CONFIG.items():
        pcc = pcc_builder.ROUNDING_CONFIG[tick]
        assert (cfg.price, cfg.size, cfg.amount) == (pcc.price, pcc.size, pcc.amount)


@pytest.mark.parametrize("tick", list(ROUNDING_CONFIG))
def test_tick_key_accepts_float_and_text(tick):
    assert tick_key(float(tick)) == tick_key(tick) == tick
    assert round_config(float(tick)) is ROUNDING_CONFIG[tick]


@pytest.mark.parametrize("tick", [0.02, 0.05, 0.010000000000000002, "0.010", 0.0, -0.01, "1"])
def test_unsupported_ticks_are_rejected(tick):
    with pytest.raises(OrderError):
        tick_key(tick)


def test_round_down_cuts_and_keeps_pcc2_float_quirk():
    assert round_down(1.239, 2) == 1.23
    assert round_down(12.8205, 2) == 12.82
    assert round_down(0.29, 2) == 0.28  # 0.29 * 100 == 28.999999999999996 (as PCC2)


def test_round_normal_is_half_even_on_the_scaled_float():
    assert round_normal(0.125, 2) == 0.12  # 12.5 rounds to even
    assert round_normal(0.135, 2) == 0.14  # 13.500000000000002
    assert round_normal(0.5749, 2) == 0.57


def test_round_up_ceils():
    assert round_up(1.231, 2) == 1.24
    assert round_up(1.23, 2) == 1.23


def test_decimal_places_counts_the_shortest_repr():
    assert decimal_places(1.5) == 1
    assert decimal_places(100.0) == 1
    assert decimal_places(1e-05) == 5
    assert decimal_places(0.1 * 3) == 17
    assert decimal_places(1e22) == 22  # exponent notation, as PCC2


def test_to_token_decimals_rounds_only_a_fractional_unit():
    assert to_token_decimals(0.3) == 300000
    assert to_token_decimals(12.82) == 12820000
    assert to_token_decimals(0.0000014) == 1
    assert to_token_decimals(2435.89) == 2435890000


def test_round_amount_absorbs_float_noise_then_cuts():
    assert round_amount(0.1 * 3, 4) == 0.3  # up at 8 digits: noise gone, no cut needed
    assert round_amount(0.29999999999999993, 4) == 0.3
    assert round_amount(0.123456789, 4) == 0.1234  # genuinely longer: cut down
    assert round_amount(0.12345, 5) == 0.12345  # short enough: untouched


@settings(max_examples=200, deadline=None)
@given(x=st.floats(min_value=0, max_value=1e9, allow_nan=False), digits=st.integers(0, 10))
def test_rounding_steps_equal_pcc2_helpers(x, digits):
    assert round_down(x, digits) == pcc_helpers.round_down(x, digits)
    assert round_normal(x, digits) == pcc_helpers.round_normal(x, digits)
    assert round_up(x, digits) == pcc_helpers.round_up(x, digits)


DECIMAL_FLOATS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300),
    st.builds(lambda n, k: n / 10**k, st.integers(-(10**18), 10**18), st.integers(0, 20)),
    st.builds(lambda a, b: a * b, st.floats(0, 1e7), st.floats(0, 1)),
)


@settings(max_examples=200, deadline=None)
@given(DECIMAL_FLOATS)
def test_decimal_places_and_token_units_equal_pcc2_for_finite_floats(x):
    """Ours read the repr and use round(); PCC2 builds a Decimal and branches. Same answers."""
    assert decimal_places(x) == pcc_helpers.decimal_places(x)
    assert to_token_decimals(x) == pcc_helpers.to_token_decimals(x)


def test_decimal_places_and_token_units_equal_pcc2_on_a_sweep():
    for i in range(1, 20_001):
        for x in (i / 100 * 0.37, i * 0.0001, i / 7, i * 1e-9, i * 1e12 + 0.5):
            assert decimal_places(x) == pcc_helpers.decimal_places(x), x
            assert to_token_decimals(x) == pcc_helpers.to_token_decimals(x), x


# --- amounts -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "price", "size", "tick", "maker", "taker"),
    [
        # protocol doc 2.4: PCC1 test_create_order_decimal_accuracy (tick 0.01), reproduced with PCC2
        (OrderSide.BUY, 0.24, 15, "0.01", 3600000, 15000000),
        (OrderSide.SELL, 0.24, 15, "0.01", 15000000, 3600000),
        (OrderSide.BUY, 0.82, 101, "0.01", 82820000, 101000000),
        (OrderSide.BUY, 0.78, 12.8205, "0.01", 9999600, 12820000),
        (OrderSide.SELL, 0.39, 2435.89, "0.01", 2435890000, 949997100),
        (OrderSide.SELL, 0.43, 19.1, "0.01", 19100000, 8213000),
        (OrderSide.BUY, 0.58, 18233.33, "0.01", 10575331400, 18233330000),
        # PCC1 test_create_order_buy_0_1
        (OrderSide.BUY, 0.5, 21.04, "0.1", 10520000, 21040000),
        # computed with PCC2 (doc 2.4)
        (OrderSide.SELL, 0.9975, 10, "0.0025", 10000000, 9975000),
        (OrderSide.BUY, 0.123, 7.777, "0.005", 955710, 7770000),
    ],
)
def test_limit_amount_vectors(side, price, size, tick, maker, taker):
    assert order_amounts(side, price, size, tick) == (maker, taker)
    assert order_amounts(side, price, size, float(tick)) == (maker, taker)


@pytest.mark.parametrize(
    ("side", "price", "amount", "maker", "taker"),
    [(OrderSide.BUY, 0.55, 10, 10000000, 18181800), (OrderSide.SELL, 0.55, 10, 10000000, 5500000)],
)
def test_market_amount_vectors(side, price, amount, maker, taker):
    assert market_order_amounts(side, price, amount, 0.01) == (maker, taker)


@settings(max_examples=200, deadline=None)
@given(side=SIDES, tick=TICKS, price=st.floats(min_value=0.0001, max_value=0.9999), size=SIZES)
def test_order_amounts_equal_pcc2_even_off_grid(side, tick, price, size):
    cfg = pcc_builder.ROUNDING_CONFIG[tick]
    _, maker, taker = PCC_BUILDER.get_order_amounts(pcc_side(side), size, price, cfg)
    assert order_amounts(side, price, size, tick) == (maker, taker)


@settings(max_examples=200, deadline=None)
@given(side=SIDES, tick=TICKS, price=st.floats(min_value=0.1, max_value=0.9999), amount=SIZES)
def test_market_order_amounts_equal_pcc2(side, tick, price, amount):
    cfg = pcc_builder.ROUNDING_CONFIG[tick]
    _, maker, taker = PCC_BUILDER.get_market_order_amounts(pcc_side(side), amount, price, cfg)
    assert market_order_amounts(side, price, amount, tick) == (maker, taker)


def test_market_order_price_rounding_to_zero_is_rejected():
    with pytest.raises(OrderError):
        market_order_amounts(OrderSide.BUY, 0.009, 10, 0.01)


def test_order_amounts_rejects_a_bad_side():
    with pytest.raises(OrderError):
        order_amounts(2, 0.5, 10, 0.01)


# --- price and field validation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "tick"),
    [
        (0.0, 0.01), (0.005, 0.01), (0.999, 0.01), (1.0, 0.01), (-0.5, 0.01), (1.5, 0.01),
        (0.0099999, 0.01), (0.95, 0.1), (0.0001, 0.001), (0.99991, 0.0001),
        (math.nan, 0.01), (math.inf, 0.01),
    ],
)
def test_price_outside_tick_and_one_minus_tick_is_rejected(price, tick):
    with pytest.raises(OrderError, match="outside"):
        check_price(price, tick)


@pytest.mark.parametrize(
    ("price", "tick"),
    [(0.575, 0.01), (0.55, 0.1), (0.0026, 0.0025), (0.006, 0.005), (0.5051, 0.001), (0.12345, 0.0001),
     (0.501, 0.0025)],
)
def test_price_off_the_grid_is_rejected(price, tick):
    with pytest.raises(OrderError, match="grid"):
        check_price(price, tick)
    with pytest.raises(OrderError):
        build_order(**simple_order(price=price, tick_size=tick))


@pytest.mark.parametrize(
    ("price", "tick"),
    [(0.57 + 0.01, 0.01), (0.1 + 0.2, 0.1), (0.01, 0.01), (0.99, 0.01), (0.0025, 0.0025), (0.9975, 0.0025),
     (0.005, 0.005), (0.995, 0.005), (0.0001, 0.0001), (0.9999, 0.0001), (0.1, 0.1), (0.9, 0.1)],
)
def test_prices_on_the_grid_within_float_noise_pass(price, tick):
    check_price(price, tick)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_every_grid_price_passes_and_pcc2_agrees(data):
    tick = data.draw(TICKS)
    price = data.draw(grid_prices(tick))
    check_price(price, float(tick))
    assert float(tick) <= price <= 1 - float(tick)  # PCC2 price_valid


@pytest.mark.parametrize(
    "changes",
    [
        {"token_id": "12a"}, {"token_id": ""}, {"token_id": "١٢"}, {"token_id": str(2**256)},
        {"token_id": 1234},
        {"size": 0.0}, {"size": -1.0}, {"size": 0.009}, {"size": math.nan}, {"size": math.inf},
        {"maker": "0x1234"}, {"signer": HARDHAT_ADDRESS[2:] + "00"}, {"maker": "0x" + "g" * 40},
        {"metadata": "0x01"}, {"builder": "0x" + "0" * 63},
        {"signature_type": 4}, {"side": 2}, {"side": executor_pb2.SIDE_SELL},
        {"salt": -1}, {"salt": 2**256}, {"salt": 1.5}, {"timestamp_ms": -5}, {"expiration": -1},
        {"tick_size": 0.02},
    ],
)
def test_build_order_rejects_bad_fields(changes):
    with pytest.raises(OrderError):
        build_order(**simple_order(**changes))


def test_build_order_fills_the_struct():
    order = build_order(**simple_order(side=OrderSide.SELL, price=0.37, size=12.5, expiration=5))
    assert order == OrderV2(
        salt=1, maker=HARDHAT_ADDRESS, signer=HARDHAT_ADDRESS, token_id="1234", maker_amount=12500000,
        taker_amount=4625000, side=OrderSide.SELL, signature_type=SignatureType.EOA,
        timestamp_ms=1713398400000, metadata=BYTES32_ZERO, builder=BYTES32_ZERO, expiration=5,
    )
    assert (order.share_units, order.collateral_units) == (12500000, 4625000)
    with pytest.raises(dataclasses.FrozenInstanceError):
        order.salt = 2


def test_side_from_proto():
    assert side_from_proto(executor_pb2.SIDE_BUY) is OrderSide.BUY
    assert side_from_proto(executor_pb2.SIDE_SELL) is OrderSide.SELL
    with pytest.raises(OrderError):
        side_from_proto(executor_pb2.SIDE_UNSPECIFIED)


@pytest.mark.parametrize("signature_type", list(SignatureType))
@pytest.mark.parametrize("funder", [None, "0x" + "ab" * 20])
def test_order_parties_equal_pcc2_order_builder(signature_type, funder):
    pcc = OrderBuilder(PccSigner(HARDHAT_KEY_HEX, 137), SignatureTypeV2(signature_type), funder)
    assert order_parties(signature_type, HARDHAT_ADDRESS, funder) == (pcc.funder, pcc._v2_order_signer())


def test_exchange_addresses():
    assert exchange_address(137, False) == "0xE111180000d2663C0091e4f400237545B87B996B"
    assert exchange_address(137, True) == "0xe2222d279d744050d28e00520010520000310F59"
    assert exchange_address(80002, True) == "0xe2222d279d744050d28e00520010520000310F59"
    with pytest.raises(OrderError):
        exchange_address(1, False)


# --- FOK/FAK precision ---------------------------------------------------------------------------


def test_meets_fok_precision():
    assert meets_fok_precision(3700000, 10000000)  # BUY 10 @ 0.37: $3.70 for 10 shares
    assert not meets_fok_precision(3705000, 10010000)  # $3.705: 3 decimals
    assert meets_fok_precision(10000000, 1237000)  # SELL 10 @ 0.1237: 1.237 pUSD, 4 decimals ok
    assert not meets_fok_precision(10010000, 1238237)  # 1.238237 pUSD: 6 decimals


@pytest.mark.parametrize(
    ("side", "price", "size", "tick", "expected"),
    [
        (OrderSide.BUY, 0.37, 12.5, 0.01, 12.0),  # 0.37 x shares in cents needs whole shares
        (OrderSide.BUY, 0.5, 12.57, 0.01, 12.56),
        (OrderSide.BUY, 0.5, 0.29, 0.01, 0.28),
        (OrderSide.SELL, 0.37, 12.57, 0.01, 12.57),  # 4 decimals of pUSD: always fine at tick 0.01
        (OrderSide.BUY, 0.1237, 250, 0.0001, 200.0),  # whole cents need multiples of 100 shares
        (OrderSide.BUY, 0.1237, 99.99, 0.0001, 0.0),
        (OrderSide.SELL, 0.1237, 10.01, 0.0001, 10.0),
        (OrderSide.BUY, 0.005, 10.01, 0.005, 10.0),
        (OrderSide.BUY, 0.9975, 7.3, 0.0025, 4.0),
        (OrderSide.SELL, 0.5, 0.0, 0.01, 0.0),
    ],
)
def test_fok_size_examples(side, price, size, tick, expected):
    assert fok_size(side, price, size, tick) == expected


def test_fok_size_signs_the_written_share_count_despite_the_float_cut():
    # 0.29 through PCC2's round_down is 0.28 shares; fok_size returns a float that signs 0.29.
    size = fok_size(OrderSide.SELL, 0.5, 0.29, 0.01)
    assert order_amounts(OrderSide.SELL, 0.5, size, 0.01) == (290000, 145000)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), side=SIDES, tick=TICKS, hundredths=st.integers(1, 12_000))
def test_fok_size_is_the_largest_fitting_size(data, side, tick, hundredths):
    price = data.draw(grid_prices(tick))
    size = hundredths / 100
    chosen = fok_size(side, price, size, tick)
    if chosen:
        maker, taker = order_amounts(side, price, chosen, tick)
        assert meets_fok_precision(maker, taker)
        chosen_hundredths = (taker if side is OrderSide.BUY else maker) // 10**4
        assert chosen_hundredths <= hundredths
    else:
        chosen_hundredths = 0
    for n in range(hundredths, chosen_hundredths, -1):  # nothing larger fits
        assert not meets_fok_precision(*order_amounts(side, price, exact_size(n), tick))


def test_exact_size_survives_round_down_for_every_hundredth():
    for n in range(1, 50_001):
        assert math.floor(exact_size(n) * 100) == n
        assert exact_size(n) - n / 100 < 1e-12


# --- wire JSON -----------------------------------------------------------------------------------


@st.composite
def wire_cases(draw):
    tick = draw(TICKS)
    order_type = draw(st.sampled_from(["GTC", "GTD", "FOK", "FAK"]))
    signature_type = draw(st.sampled_from(list(SignatureType)))
    order = build_order(
        side=draw(SIDES), token_id=str(draw(st.integers(0, 2**256 - 1))), price=draw(grid_prices(tick)),
        size=draw(SIZES), tick_size=tick, maker=draw(ADDRESSES), signer=draw(ADDRESSES),
        signature_type=signature_type, salt=draw(st.integers(0, 2**64)),
        timestamp_ms=draw(st.integers(0, 2**45)),
        expiration=draw(st.integers(1, 2**40)) if order_type == "GTD" else draw(st.sampled_from([0, 9])),
        metadata=draw(BYTES32), builder=draw(BYTES32),
    )
    signature = "0x" + draw(st.binary(min_size=65, max_size=65)).hex()
    return {
        "order": order, "signature": signature, "owner": str(draw(st.uuids())), "order_type": order_type,
        "post_only": order_type in ("GTC", "GTD") and draw(st.booleans()), "defer_exec": draw(st.booleans()),
    }


def pcc_signed(order: OrderV2, signature: str) -> SignedOrderV2:
    return SignedOrderV2(
        salt=str(order.salt), maker=order.maker, signer=order.signer, tokenId=order.token_id,
        makerAmount=str(order.maker_amount), takerAmount=str(order.taker_amount), side=pcc_side(order.side),
        signatureType=SignatureTypeV2(order.signature_type), timestamp=str(order.timestamp_ms),
        metadata=order.metadata, builder=order.builder, expiration=str(order.expiration), signature=signature,
    )


def pcc_compact(payload) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@settings(max_examples=200, deadline=None)
@given(wire_cases())
def test_order_to_wire_equals_pcc2_order_to_json_v2(case):
    wire = order_to_wire(case["order"], case["signature"], case["owner"], case["order_type"],
                         case["post_only"], case["defer_exec"])
    pcc = order_to_json_v2(pcc_signed(case["order"], case["signature"]), case["owner"], case["order_type"],
                           case["post_only"], case["defer_exec"])
    assert wire == pcc
    assert order_body(wire) == pcc_compact(pcc)


@settings(max_examples=50, deadline=None)
@given(cases=st.lists(wire_cases(), min_size=1, max_size=MAX_ORDERS_PER_BATCH),
       post_only=st.booleans(), defer_exec=st.booleans())
def test_batch_body_equals_what_pcc2_post_orders_sends(cases, post_only, defer_exec):
    """PCC2 post_orders applies one post_only/defer_exec and one owner to the whole batch."""
    if post_only and any(c["order_type"] in ("FOK", "FAK") for c in cases):
        post_only = False
    client = ClobClient("https://clob.invalid", 137, key=HARDHAT_KEY_HEX,
                        creds=PccApiCreds("owner-key", "AAAA", "pass"))
    posted = []
    client._post = lambda endpoint, headers=None, data=None, params=None: posted.append(data) or []
    pcc_args = [PostOrdersV2Args(order=pcc_signed(c["order"], c["signature"]), orderType=c["order_type"])
                for c in cases]
    client.post_orders(pcc_args, post_only, defer_exec)
    wires = [order_to_wire(c["order"], c["signature"], "owner-key", c["order_type"], post_only, defer_exec)
             for c in cases]
    assert batch_body(wires) == posted[0].encode("utf-8")


def test_batch_body_size_limits():
    wire = order_to_wire(build_order(**simple_order()), "0x00", "owner", "FOK")
    assert batch_body([wire] * MAX_ORDERS_PER_BATCH).startswith(b'[{"order":')
    with pytest.raises(OrderError):
        batch_body([])
    with pytest.raises(OrderError):
        batch_body([wire] * (MAX_ORDERS_PER_BATCH + 1))


@pytest.mark.parametrize(
    ("order_type", "post_only", "expiration"),
    [("FOK", True, 0), ("FAK", True, 0), ("GTD", False, 0), ("IOC", False, 0), ("gtc", False, 0)],
)
def test_order_to_wire_rejects_invalid_combinations(order_type, post_only, expiration):
    order = build_order(**simple_order(expiration=expiration))
    with pytest.raises(OrderError):
        order_to_wire(order, "0x00", "owner", order_type, post_only=post_only)
