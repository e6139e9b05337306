"""EIP-712 V2 signing: fast path vs py-clob-client-v2 ("PCC2") and eth-account, golden vectors.

The end-to-end property drives PCC2's own ClobClient.create_order + post_order with salt and clock
injected (salt: PCC2's builder module gets an ExchangeOrderBuilderV2 whose generate_salt is fixed;
clock: its `time` module is replaced; HMAC timestamp: ClobClient._get_timestamp) and captures the
POST instead of sending it. Everything it would put on the wire must equal ours byte for byte.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import pickle
import types
from decimal import Decimal
from unittest import mock

import pytest
from eth_account import Account
from eth_utils import to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from py_clob_client_v2.client import ClobClient
from py_clob_client_v2.clob_types import ApiCreds as PccApiCreds
from py_clob_client_v2.clob_types import OrderArgsV2, PartialCreateOrderOptions
from py_clob_client_v2.order_builder import builder as pcc_builder
from py_clob_client_v2.order_utils.exchange_order_builder_v2 import ExchangeOrderBuilderV2
from py_clob_client_v2.signer import Signer as PccSigner

from executor_svc.clob_auth import ApiCreds, l2_headers
from executor_svc.orders import (
    BYTES32_ZERO,
    ROUNDING_CONFIG,
    OrderSide,
    OrderV2,
    SignatureType,
    build_order,
    exchange_address,
    order_body,
    order_parties,
    order_to_wire,
)
from executor_svc.signing import (
    ORDER_TYPE_HASH,
    ORDER_TYPE_STRING,
    ExchangeDomain,
    OrderSigner,
    SigningError,
    checksum_address,
    exchange_domain,
    order_hash,
    reference_order_hash,
    reference_signature,
)

HARDHAT_KEY = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
HARDHAT_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
KEYS = (
    HARDHAT_KEY,
    bytes.fromhex("59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"),  # hardhat #1
    bytes.fromhex("7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6"),  # hardhat #3
)
SECRET = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
ZERO_OWNER = "00000000-0000-0000-0000-000000000000"


@functools.cache
def our_signer(key: bytes, chain_id: int) -> OrderSigner:
    return OrderSigner(key, chain_id)


def vector_order(**changes) -> OrderV2:
    """Protocol doc section 4, vectors 6/7: chain 137, salt 479249096354, token 1234, BUY 100/50."""
    order = OrderV2(
        salt=479249096354,
        maker=HARDHAT_ADDRESS,
        signer=HARDHAT_ADDRESS,
        token_id="1234",
        maker_amount=100000000,
        taker_amount=50000000,
        side=OrderSide.BUY,
        signature_type=SignatureType.EOA,
        timestamp_ms=1713398400000,
    )
    return dataclasses.replace(order, **changes)


# --- golden vectors (polymarket-protocol.md section 4) ------------------------------------------


@pytest.mark.parametrize(
    ("neg_risk", "digest", "signature"),
    [
        (  # vector 6: the V2 CTF exchange
            False,
            "0x9a5c03e1e68d332686aba0ff15be80abccd917f28873c37304487b6ca6578471",
            "0x1048923a4542e743d5827534db4df2d1f0de831011c287566bd6aa2e9cad01c1"
            "0732fb3b3a602a8d47c181f2e3c7d304cbdff4221ba37dc0f2f4212b7303a0601c",
        ),
        (  # vector 7: the V2 neg-risk exchange
            True,
            "0x3a07c6dc76b5e66e4c0d0e3a8d270171493a058800249f43f75093ff3592f440",
            "0x50d3cdfc5662f5a84ab4777445fa1a61ccc3dd52f18f7dc049356a405883918"
            "710854a0c7417a73f9ff00f1b6104c00b4c8fa9cb3455c1d5d15092d4b9e363d21c",
        ),
    ],
)
def test_signing_vectors_6_and_7(neg_risk, digest, signature):
    signer = OrderSigner(HARDHAT_KEY, 137)
    signed = signer.sign(vector_order(), neg_risk=neg_risk)
    assert signed.order_hash == digest
    assert signed.signature == signature
    assert order_hash(vector_order(), exchange_domain(137, neg_risk)) == digest
    assert reference_signature(vector_order(), signer.domain(neg_risk), HARDHAT_KEY) == signature


def test_vector_10_end_to_end_body_and_hmac():
    signer = OrderSigner(HARDHAT_KEY, 137)
    signed = signer.sign(vector_order(), neg_risk=False)
    body = order_body(order_to_wire(signed.order, signed.signature, ZERO_OWNER, "GTC"))
    assert body == (
        b'{"order":{"salt":479249096354,"maker":"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",'
        b'"signer":"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266","tokenId":"1234",'
        b'"makerAmount":"100000000","takerAmount":"50000000","side":"BUY","expiration":"0",'
        b'"signatureType":0,"timestamp":"1713398400000",'
        b'"metadata":"0x0000000000000000000000000000000000000000000000000000000000000000",'
        b'"builder":"0x0000000000000000000000000000000000000000000000000000000000000000",'
        b'"signature":"0x1048923a4542e743d5827534db4df2d1f0de831011c287566bd6aa2e9cad01c1'
        b'0732fb3b3a602a8d47c181f2e3c7d304cbdff4221ba37dc0f2f4212b7303a0601c"},'
        b'"owner":"00000000-0000-0000-0000-000000000000","orderType":"GTC","deferExec":false,'
        b'"postOnly":false}'
    )
    creds = ApiCreds(ZERO_OWNER, SECRET, "pass")
    headers = l2_headers(creds, signer.address, 1786728000, "POST", "/order", body)
    assert headers["POLY_SIGNATURE"] == "LtTo4iZpvE8k1h1YUxrjM_khJGL3O1fjxJb94U2eCKA="


def test_type_hash_and_domain_separators_match_pcc2():
    assert ORDER_TYPE_HASH.hex() == "bb86318a2138f5fa8ae32fbe8e659f8fcf13cc6ae4014a707893055433818589"
    pcc_signer = PccSigner("0x" + HARDHAT_KEY.hex(), 137)
    for chain_id in (137, 80002):
        for neg_risk in (False, True):
            address = exchange_address(chain_id, neg_risk)
            pcc = ExchangeOrderBuilderV2(address, chain_id, pcc_signer)
            assert ExchangeDomain.of(chain_id, address).separator == pcc.app_domain_separator


# --- the acceptance property: everything on the wire equals PCC2's -----------------------------

SIDES = st.sampled_from([OrderSide.BUY, OrderSide.SELL])
TICKS = st.sampled_from(list(ROUNDING_CONFIG))
ADDRESSES = st.binary(min_size=20, max_size=20).map(to_checksum_address)
BYTES32 = st.one_of(st.just(BYTES32_ZERO), st.binary(min_size=32, max_size=32).map(lambda b: "0x" + b.hex()))
SIZES = st.one_of(
    st.floats(min_value=0.01, max_value=1e6, allow_nan=False, allow_infinity=False),
    st.integers(1, 10**8).map(lambda n: n / 100),
    st.integers(100, 10**8).map(lambda n: n / 10**4),
    st.integers(1, 10**5).map(float),
)


@st.composite
def grid_prices(draw, tick: str) -> float:
    steps = round(1 / Decimal(tick))
    return float(draw(st.integers(1, steps - 1)) * Decimal(tick))


@st.composite
def order_cases(draw) -> dict:
    tick = draw(TICKS)
    signature_type = draw(st.sampled_from(list(SignatureType)))
    order_type = draw(st.sampled_from(["GTC", "GTD", "FOK", "FAK"]))
    return {
        "key": draw(st.sampled_from(KEYS)),
        "chain_id": draw(st.sampled_from([137, 80002])),
        "side": draw(SIDES),
        "tick": tick,
        "price": draw(grid_prices(tick)),
        "size": draw(SIZES),
        "neg_risk": draw(st.booleans()),
        "signature_type": signature_type,
        "funder": None if signature_type == SignatureType.EOA else draw(ADDRESSES),
        "token_id": str(draw(st.one_of(st.integers(0, 2**256 - 1), st.integers(0, 10**6)))),
        "salt": draw(st.integers(0, 2**53)),
        "timestamp_ms": draw(st.integers(1_600_000_000_000, 2_000_000_000_000)),
        "expiration": draw(st.integers(1, 2**40) if order_type == "GTD" else st.sampled_from([0, 17867280])),
        "metadata": draw(BYTES32),
        "builder": draw(BYTES32),
        "order_type": order_type,
        "post_only": order_type in ("GTC", "GTD") and draw(st.booleans()),
        "defer_exec": draw(st.booleans()),
        "owner": str(draw(st.uuids())),
        "secret": draw(st.binary(min_size=32, max_size=32)).hex(),
        "timestamp_s": draw(st.integers(1_600_000_000, 2_000_000_000)),
    }


@contextlib.contextmanager
def pcc2_injected(salt: int, timestamp_ms: int):
    """PCC2 reads salt from generate_order_salt (a default argument) and the time from time.time_ns in
    order_builder/builder.py; swap both for the duration of one create_order."""
    fixed_clock = types.SimpleNamespace(time_ns=lambda: timestamp_ms * 1_000_000)
    fixed_salt = functools.partial(ExchangeOrderBuilderV2, generate_salt=lambda: str(salt))
    with (
        mock.patch.object(pcc_builder, "time", fixed_clock),
        mock.patch.object(pcc_builder, "ExchangeOrderBuilderV2", fixed_salt),
    ):
        yield


def pcc2_post_order(case: dict, secret_b64: str):
    """Run PCC2's create_order + post_order on the case; return (signed order, body str, headers)."""
    client = ClobClient(
        "https://clob.invalid",
        case["chain_id"],
        key="0x" + case["key"].hex(),
        creds=PccApiCreds(case["owner"], secret_b64, "passphrase"),
        signature_type=int(case["signature_type"]),
        funder=case["funder"],
    )
    client._ClobClient__tick_sizes[case["token_id"]] = case["tick"]  # no GET /tick-size
    client._get_timestamp = lambda: case["timestamp_s"]
    posted = []
    client._post = lambda endpoint, headers=None, data=None, params=None: posted.append((headers, data)) or {}
    args = OrderArgsV2(
        token_id=case["token_id"],
        price=case["price"],
        size=case["size"],
        side=case["side"].name,
        expiration=case["expiration"],
        builder_code=case["builder"],
        metadata=case["metadata"],
    )
    options = PartialCreateOrderOptions(tick_size=case["tick"], neg_risk=case["neg_risk"], version=2)
    with pcc2_injected(case["salt"], case["timestamp_ms"]):
        signed = client.create_order(args, options)
    client.post_order(signed, case["order_type"], case["post_only"], case["defer_exec"])
    (headers, body), = posted
    exchange = ExchangeOrderBuilderV2(
        exchange_address(case["chain_id"], case["neg_risk"]), case["chain_id"], client.signer
    )
    return signed, exchange.build_order_hash(exchange.build_order_typed_data(signed)), body, headers


def ours_post_order(case: dict, secret_b64: str):
    signer = our_signer(case["key"], case["chain_id"])
    maker, order_signer = order_parties(case["signature_type"], signer.address, case["funder"])
    order = build_order(
        side=case["side"],
        token_id=case["token_id"],
        price=case["price"],
        size=case["size"],
        tick_size=float(case["tick"]),
        maker=maker,
        signer=order_signer,
        signature_type=case["signature_type"],
        salt=case["salt"],
        timestamp_ms=case["timestamp_ms"],
        expiration=case["expiration"],
        metadata=case["metadata"],
        builder=case["builder"],
    )
    signed = signer.sign(order, neg_risk=case["neg_risk"])
    wire = order_to_wire(order, signed.signature, case["owner"], case["order_type"], case["post_only"],
                         case["defer_exec"])
    body = order_body(wire)
    creds = ApiCreds(case["owner"], secret_b64, "passphrase")
    return signed, body, l2_headers(creds, signer.address, case["timestamp_s"], "POST", "/order", body)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(order_cases())
def test_orders_signatures_hashes_and_bodies_equal_pcc2(case):
    import base64

    secret_b64 = base64.urlsafe_b64encode(bytes.fromhex(case["secret"])).decode()
    pcc_order, pcc_hash, pcc_body, pcc_headers = pcc2_post_order(case, secret_b64)
    ours, body, headers = ours_post_order(case, secret_b64)
    assert ours.order.maker_amount == int(pcc_order.makerAmount)
    assert ours.order.taker_amount == int(pcc_order.takerAmount)
    assert ours.signature == pcc_order.signature
    assert ours.order_hash == pcc_hash
    assert body == pcc_body.encode("utf-8")
    assert headers == pcc_headers


# --- fast path vs the eth-account reference ------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    key=st.sampled_from(KEYS),
    chain_id=st.sampled_from([137, 80002]),
    neg_risk=st.booleans(),
    signature_type=st.sampled_from(list(SignatureType)),
    funder=ADDRESSES,
    salt=st.integers(0, 2**256 - 1),
    token=st.integers(0, 2**256 - 1),
    maker_amount=st.integers(1, 2**128),
    taker_amount=st.integers(1, 2**128),
    side=SIDES,
    timestamp_ms=st.integers(0, 2**64),
    metadata=BYTES32,
    builder=BYTES32,
)
def test_fast_path_equals_eth_account_reference(
    key, chain_id, neg_risk, signature_type, funder, salt, token, maker_amount, taker_amount, side,
    timestamp_ms, metadata, builder,
):
    signer = our_signer(key, chain_id)
    maker, order_signer = order_parties(signature_type, signer.address, funder)
    order = OrderV2(salt, maker, order_signer, str(token), maker_amount, taker_amount, side, signature_type,
                    timestamp_ms, metadata, builder)
    signed = signer.sign(order, neg_risk=neg_risk)
    domain = signer.domain(neg_risk)
    assert signed.order_hash == reference_order_hash(order, domain)
    assert signed.signature == reference_signature(order, domain, key)


def test_poly_1271_signature_layout():
    funder = "0x" + "ab" * 20
    signer = OrderSigner(HARDHAT_KEY, 137)
    order = vector_order(maker=funder, signer=funder, signature_type=SignatureType.POLY_1271)
    signed = signer.sign(order, neg_risk=False)
    raw = bytes.fromhex(signed.signature[2:])
    type_len = len(ORDER_TYPE_STRING)
    assert len(raw) == 65 + 32 + 32 + type_len + 2
    assert raw[64] in (27, 28)
    assert raw[65:97] == signer.domain(False).separator
    assert raw[129:129 + type_len] == ORDER_TYPE_STRING.encode()
    assert int.from_bytes(raw[-2:], "big") == type_len
    assert signed.order_hash == order_hash(order, signer.domain(False))  # the id is the plain digest


# --- the signer object ---------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 2**256 - 2**129).map(lambda n: n.to_bytes(32, "big")))
def test_signer_address_equals_eth_account(key):
    assert OrderSigner(key).address == Account.from_key(key).address


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=20, max_size=20))
def test_checksum_address_equals_eth_utils(raw):
    assert checksum_address(raw) == to_checksum_address(raw)
    assert checksum_address("0x" + raw.hex().upper()) == to_checksum_address(raw)


def test_signer_never_shows_the_key():
    signer = OrderSigner(HARDHAT_KEY)
    for text in (repr(signer), str(signer), f"{signer}", f"{signer!r}"):
        assert HARDHAT_KEY.hex() not in text.lower()
        assert HARDHAT_ADDRESS in text
    with pytest.raises(TypeError):
        pickle.dumps(signer)


@pytest.mark.parametrize("key", [b"", b"\x01" * 31, bytes(32), (2**256 - 1).to_bytes(32, "big"), "ab" * 32])
def test_signer_rejects_bad_keys(key):
    with pytest.raises(SigningError):
        OrderSigner(key)


def test_signer_rejects_unknown_chain():
    with pytest.raises(SigningError):
        OrderSigner(HARDHAT_KEY, chain_id=1)


@pytest.mark.parametrize(
    "signature_type", [SignatureType.EOA, SignatureType.POLY_PROXY, SignatureType.POLY_GNOSIS_SAFE]
)
def test_sign_refuses_an_order_for_another_signer(signature_type):
    order = vector_order(signer="0x" + "12" * 20, signature_type=signature_type)
    with pytest.raises(SigningError):
        OrderSigner(HARDHAT_KEY).sign(order, neg_risk=False)


def test_sign_accepts_lower_case_own_address():
    signed = OrderSigner(HARDHAT_KEY).sign(vector_order(signer=HARDHAT_ADDRESS.lower()), neg_risk=False)
    assert signed.signature.startswith("0x") and len(signed.signature) == 132


@given(st.binary(max_size=600))
def test_the_raw_keccak_is_pycryptodome_s_keccak_256(data):
    from executor_svc.signing import _keccak256_object, keccak256
    assert keccak256(data) == _keccak256_object(data)


def test_the_raw_keccak_has_one_state_per_thread():
    import threading

    from executor_svc.signing import _keccak256_object, keccak256

    found: list[bool] = []

    def hash_many(seed: int) -> None:
        found.extend(keccak256(bytes([seed]) * n) == _keccak256_object(bytes([seed]) * n) for n in range(300))

    threads = [threading.Thread(target=hash_many, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert found == [True] * 1200
