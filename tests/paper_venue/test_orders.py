"""Posted V2 orders: the doc's vectors (protocol 4: 6, 7, 10), PCC2-signed orders, every rejection."""

from __future__ import annotations

import copy
import json

import pytest

from paper_venue.auth import AuthError, Keyring, clob_auth_digest, hmac_signature, parse_creds
from paper_venue.orders import (
    EXCHANGE_V2,
    NEG_RISK_EXCHANGE_V2,
    MarketRules,
    OrderRejected,
    domain_separator,
    order_digest,
    parse_posted_order,
    recover_signer,
    signed_order_id,
    verify,
)
from tests.paper_venue.signing import ADDRESS, KEY, order_body, signed_order

ZERO32 = "0x" + "0" * 64
VECTOR_6_DIGEST = "0x9a5c03e1e68d332686aba0ff15be80abccd917f28873c37304487b6ca6578471"
VECTOR_6_SIGNATURE = (
    "0x1048923a4542e743d5827534db4df2d1f0de831011c287566bd6aa2e9cad01c10732fb3b3a602a8d47c181f2e3c7d304cbdff4221ba37dc0f2"
    "f4212b7303a0601c"
)
VECTOR_7_DIGEST = "0x3a07c6dc76b5e66e4c0d0e3a8d270171493a058800249f43f75093ff3592f440"
VECTOR_7_SIGNATURE = (
    "0x50d3cdfc5662f5a84ab4777445fa1a61ccc3dd52f18f7dc049356a405883918710854a0c7417a73f9ff00f1b6104c00b4c8fa9cb3455c1d5d1"
    "5092d4b9e363d21c"
)
# Vector 10: vector 6 as PCC2 puts it on the wire, the exact bytes, and its HMAC.
VECTOR_10_BODY = (
    '{"order":{"salt":479249096354,"maker":"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266","signer":'
    '"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266","tokenId":"1234","makerAmount":"100000000","takerAmount":"50000000",'
    '"side":"BUY","expiration":"0","signatureType":0,"timestamp":"1713398400000","metadata":'
    '"0x0000000000000000000000000000000000000000000000000000000000000000","builder":'
    '"0x0000000000000000000000000000000000000000000000000000000000000000","signature":"' + VECTOR_6_SIGNATURE
    + '"},"owner":"00000000-0000-0000-0000-000000000000","orderType":"GTC","deferExec":false,"postOnly":false}'
)
SECRET = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


def vector(neg_risk_signature: bool = False) -> dict:
    body = json.loads(VECTOR_10_BODY)
    if neg_risk_signature:
        body["order"]["signature"] = VECTOR_7_SIGNATURE
    return body


def test_vectors_6_and_7_digests_and_signers():
    order = parse_posted_order(vector()).order
    assert "0x" + order_digest(order, 137, neg_risk=False).hex() == VECTOR_6_DIGEST
    assert "0x" + order_digest(order, 137, neg_risk=True).hex() == VECTOR_7_DIGEST
    assert recover_signer(bytes.fromhex(VECTOR_6_DIGEST[2:]), VECTOR_6_SIGNATURE) == ADDRESS.lower()
    assert recover_signer(bytes.fromhex(VECTOR_7_DIGEST[2:]), VECTOR_7_SIGNATURE) == ADDRESS.lower()
    assert domain_separator(137, EXCHANGE_V2) != domain_separator(137, NEG_RISK_EXCHANGE_V2)


def test_vector_10_wire_body_parses_and_its_order_id_is_the_digest():
    posted = parse_posted_order(json.loads(VECTOR_10_BODY))
    assert posted.owner == "00000000-0000-0000-0000-000000000000" and posted.order_type == "GTC"
    assert posted.order.salt == 479249096354 and posted.order.maker_amount == 100_000_000
    assert signed_order_id(posted.order, neg_risk=False) == VECTOR_6_DIGEST
    assert hmac_signature(SECRET, "1786728000", "POST", "/order", VECTOR_10_BODY) == (
        "LtTo4iZpvE8k1h1YUxrjM_khJGL3O1fjxJb94U2eCKA=")


def test_vector_signature_passes_and_then_its_price_is_refused():
    # Vector 6 buys 50 shares for 100 pUSD: price 2. The signature is checked first, so the refusal
    # names the price, proving the signer was recovered.
    with pytest.raises(OrderRejected, match=r"invalid price \(2\)"):
        verify(parse_posted_order(vector()), MarketRules("0.01", neg_risk=False))


def test_neg_risk_domain_is_chosen_by_the_market():
    standard, neg_risk = parse_posted_order(vector()), parse_posted_order(vector(neg_risk_signature=True))
    assert signed_order_id(neg_risk.order, neg_risk=True) == VECTOR_7_DIGEST
    assert signed_order_id(neg_risk.order, neg_risk=False) is None
    assert signed_order_id(standard.order, neg_risk=True) is None
    assert signed_order_id(neg_risk.order, neg_risk=None) == VECTOR_7_DIGEST  # unknown: either domain
    with pytest.raises(OrderRejected, match="invalid signature"):
        verify(standard, MarketRules("0.01", neg_risk=True))


def test_tampered_amount_no_longer_recovers_the_signer():
    body = order_body(signed_order("1234", 0.5, 10))
    assert verify(parse_posted_order(body), MarketRules("0.01", False)).order.share_units == 10_000_000
    tampered = copy.deepcopy(body)
    tampered["order"]["takerAmount"] = str(int(tampered["order"]["takerAmount"]) * 2)  # twice the shares
    with pytest.raises(OrderRejected, match="invalid signature"):
        verify(parse_posted_order(tampered), MarketRules("0.01", False))


@pytest.mark.parametrize(("side", "price", "size", "tick"), [
    ("BUY", 0.24, 15, "0.01"), ("SELL", 0.24, 15, "0.01"), ("BUY", 0.82, 101, "0.01"),
    ("SELL", 0.9975, 10, "0.0025"), ("BUY", 0.123, 7.77, "0.001"),
])
def test_pcc2_limit_orders_verify_with_their_price_and_size(side, price, size, tick):
    body = order_body(signed_order("1234", price, size, side, tick), "GTC")
    verified = verify(parse_posted_order(body), MarketRules(tick, False))
    assert verified.price == round(price * 1_000_000)
    assert verified.size == round(size * 100) * 10_000
    assert verified.order_id.startswith("0x") and len(verified.order_id) == 66


def test_neg_risk_pcc2_order_verifies_only_on_the_neg_risk_exchange():
    body = order_body(signed_order("1234", 0.3, 10, neg_risk=True))
    assert verify(parse_posted_order(body), MarketRules("0.01", True))
    with pytest.raises(OrderRejected, match="invalid signature"):
        verify(parse_posted_order(body), MarketRules("0.01", False))


def test_price_off_the_market_tick_grid_is_refused():
    body = order_body(signed_order("1234", 0.245, 10, tick="0.001"), "GTC")
    verify(parse_posted_order(body), MarketRules("0.001", False))
    with pytest.raises(OrderRejected, match="breaks minimum tick size rule"):
        verify(parse_posted_order(body), MarketRules("0.01", False))


def test_fok_precision_maker_two_decimals_taker_four():
    # BUY 12.82 at 0.78 = 9.9996 pUSD: fine as a limit order, too precise for FOK/FAK (protocol 2.5)
    order = signed_order("1234", 0.78, 12.82)
    verify(parse_posted_order(order_body(order, "GTC")), MarketRules("0.01", False))
    with pytest.raises(OrderRejected, match="max accuracy of 2 decimals"):
        verify(parse_posted_order(order_body(order, "FOK")), MarketRules("0.01", False))
    verify(parse_posted_order(order_body(signed_order("1234", 0.78, 13), "FAK")), MarketRules("0.01", False))


def test_post_only_is_refused_with_fok():
    body = order_body(signed_order("1234", 0.5, 10), "FOK", post_only=True)
    with pytest.raises(OrderRejected, match="post-only"):
        verify(parse_posted_order(body), MarketRules("0.01", False))


def test_shape_errors():
    v1 = {"order": {"salt": 1, "maker": ADDRESS, "signer": ADDRESS, "taker": "0x" + "0" * 40, "nonce": "0",
                    "feeRateBps": "0"}, "owner": "k", "orderType": "GTC"}
    with pytest.raises(OrderRejected, match="order_version_mismatch"):
        parse_posted_order(v1)
    body = vector()
    body["order"]["makerAmount"] = 1.5
    with pytest.raises(OrderRejected, match="makerAmount"):
        parse_posted_order(body)
    body = vector()
    body["order"]["side"] = "buy"
    with pytest.raises(OrderRejected, match="side"):
        parse_posted_order(body)
    with pytest.raises(OrderRejected, match="order type"):
        parse_posted_order({**vector(), "orderType": "IOC"})


def test_eoa_maker_must_be_the_signer_and_1271_is_not_supported():
    body = vector()
    body["order"]["maker"] = "0x" + "12" * 20
    with pytest.raises(OrderRejected, match="maker must be the signer"):
        verify(parse_posted_order(body), MarketRules("0.01", False))
    body = vector()
    body["order"]["signatureType"] = 3
    with pytest.raises(OrderRejected, match="POLY_1271"):
        verify(parse_posted_order(body), MarketRules("0.01", False))


def test_l2_hmac_vectors_and_checks():
    # protocol 4, vectors 4 and 5
    assert hmac_signature(SECRET, "1000000", "test-sign", "/orders", '{"hash": "0x123"}') == (
        "ZwAdJKvoYRlEKDkNMwd5BuwNNtg93kNaR_oU2HrfVvc=")
    assert hmac_signature(SECRET, "1000000", "test-sign", "/orders", '{"hash":"0x123"}') == (
        "4gJVbox-R6XlDK4nlaicig0_ANVL1qdcahiL8CXfXLM=")
    assert hmac_signature(SECRET, "1", "GET", "/") == "eHaylCwqRSOa2LFD77Nt_SaTpbsxzN8eTEI3LryhEj4="
    key = parse_creds({"apiKey": "k", "secret": SECRET, "passphrase": "p", "address": ADDRESS})[0]
    ring = Keyring([key])
    headers = {"POLY_ADDRESS": ADDRESS, "POLY_TIMESTAMP": "1786728000", "POLY_API_KEY": "k", "POLY_PASSPHRASE": "p",
               "POLY_SIGNATURE": "LtTo4iZpvE8k1h1YUxrjM_khJGL3O1fjxJb94U2eCKA="}
    assert ring.check_l2(headers, "POST", "/order", VECTOR_10_BODY.encode())[1] == ADDRESS
    for change in ({"POLY_PASSPHRASE": "q"}, {"POLY_API_KEY": "x"}, {"POLY_TIMESTAMP": "1786728001"},
                   {"POLY_ADDRESS": "0x" + "12" * 20}):
        with pytest.raises(AuthError, match="Unauthorized/Invalid api key"):
            ring.check_l2({**headers, **change}, "POST", "/order", VECTOR_10_BODY.encode())
    with pytest.raises(AuthError):
        ring.check_l2(headers, "POST", "/order", VECTOR_10_BODY.encode() + b" ")


def test_l1_clob_auth_vector_9_and_derived_keys_are_stable():
    signature = ("0x1a7118db6100dfd8efd102be36f472b59475dcac56eb4c9a2a94748d3655ba7c3c89deb8c19ee79eceb0a531122fbfbe88e"
                 "d118034f9d8212e2b725e7b296b9d1c")
    assert recover_signer(clob_auth_digest(ADDRESS, "10000000", 23, 137), signature) == ADDRESS.lower()
    ring = Keyring(chain_id=137)
    headers = {"POLY_ADDRESS": ADDRESS, "POLY_SIGNATURE": signature, "POLY_TIMESTAMP": "10000000", "POLY_NONCE": "23"}
    assert ring.check_l1(headers) == (ADDRESS.lower(), 23)
    assert ring.derive(ADDRESS, 23) == ring.derive(ADDRESS, 23)
    assert ring.derive(ADDRESS, 23).api_key in ring
    with pytest.raises(AuthError, match="Invalid L1"):
        ring.check_l1({**headers, "POLY_NONCE": "24"})
    assert KEY  # the vectors are the Hardhat key's
