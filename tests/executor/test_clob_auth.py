"""L2 HMAC and headers vs py-clob-client-v2 ("PCC2") and the protocol doc's vectors."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from py_clob_client_v2.clob_types import ApiCreds as PccApiCreds
from py_clob_client_v2.clob_types import RequestArgs
from py_clob_client_v2.headers.headers import create_level_2_headers
from py_clob_client_v2.signer import Signer as PccSigner
from py_clob_client_v2.signing.hmac import build_hmac_signature as pcc_build_hmac_signature

from executor_svc.clob_auth import ApiCreds, AuthError, build_hmac_signature, hmac_message, l2_headers

SECRET = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
HARDHAT_KEY_HEX = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
HARDHAT_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
VECTOR_10_BODY = (
    '{"order":{"salt":479249096354,"maker":"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",'
    '"signer":"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266","tokenId":"1234","makerAmount":"100000000",'
    '"takerAmount":"50000000","side":"BUY","expiration":"0","signatureType":0,"timestamp":"1713398400000",'
    '"metadata":"0x0000000000000000000000000000000000000000000000000000000000000000",'
    '"builder":"0x0000000000000000000000000000000000000000000000000000000000000000",'
    '"signature":"0x1048923a4542e743d5827534db4df2d1f0de831011c287566bd6aa2e9cad01c1'
    '0732fb3b3a602a8d47c181f2e3c7d304cbdff4221ba37dc0f2f4212b7303a0601c"},'
    '"owner":"00000000-0000-0000-0000-000000000000","orderType":"GTC","deferExec":false,"postOnly":false}'
)


@pytest.mark.parametrize(
    ("timestamp", "method", "path", "body", "expected"),
    [
        # vector 4 (PCC1 tests/signing/test_hmac.py): a body with a space
        ("1000000", "test-sign", "/orders", '{"hash": "0x123"}',
         "ZwAdJKvoYRlEKDkNMwd5BuwNNtg93kNaR_oU2HrfVvc="),
        # vector 5 (NT credential.rs): compact body, and an empty body
        ("1000000", "test-sign", "/orders", '{"hash":"0x123"}',
         "4gJVbox-R6XlDK4nlaicig0_ANVL1qdcahiL8CXfXLM="),
        ("1", "GET", "/", "", "eHaylCwqRSOa2LFD77Nt_SaTpbsxzN8eTEI3LryhEj4="),
        ("1", "GET", "/", None, "eHaylCwqRSOa2LFD77Nt_SaTpbsxzN8eTEI3LryhEj4="),
        # vector 10: the POST /order body of signing vector 6
        (1786728000, "POST", "/order", VECTOR_10_BODY, "LtTo4iZpvE8k1h1YUxrjM_khJGL3O1fjxJb94U2eCKA="),
    ],
)
def test_hmac_vectors_4_5_10(timestamp, method, path, body, expected):
    assert build_hmac_signature(SECRET, timestamp, method, path, body) == expected
    as_bytes = body.encode() if body is not None else None
    assert build_hmac_signature(SECRET, timestamp, method, path, as_bytes) == expected
    creds = ApiCreds("key", SECRET, "pass")
    if str(timestamp).isdigit():
        headers = l2_headers(creds, HARDHAT_ADDRESS, int(timestamp), method, path, as_bytes)
        assert headers["POLY_SIGNATURE"] == expected


def test_hmac_keeps_pcc2_apostrophe_quirk():
    assert hmac_message(1, "POST", "/x", "{'a': 1}") == b'1POST/x{"a": 1}'
    assert hmac_message(1, "POST", "/x", b"{'a': 1}") == b'1POST/x{"a": 1}'
    assert hmac_message(1, "POST", "/x", "") == hmac_message(1, "POST", "/x", None) == b"1POST/x"


SECRETS = st.binary(min_size=1, max_size=64).map(lambda b: base64.urlsafe_b64encode(b).decode())
METHODS = st.sampled_from(["GET", "POST", "DELETE", "PUT"])
PATHS = st.sampled_from(["/order", "/orders", "/cancel-all", "/balance-allowance", "/v1/heartbeats", "/"])
BODIES = st.one_of(st.none(), st.just(""), st.text(max_size=300), st.just(VECTOR_10_BODY))
TIMESTAMPS = st.one_of(st.integers(0, 2**40), st.integers(0, 2**40).map(str))


@settings(max_examples=200, deadline=None)
@given(secret=SECRETS, timestamp=TIMESTAMPS, method=METHODS, path=PATHS, body=BODIES)
def test_hmac_equals_pcc2(secret, timestamp, method, path, body):
    expected = pcc_build_hmac_signature(secret, timestamp, method, path, body)
    assert build_hmac_signature(secret, timestamp, method, path, body) == expected
    if body is not None:
        assert build_hmac_signature(secret, timestamp, method, path, body.encode("utf-8")) == expected


PCC_SIGNER = PccSigner(HARDHAT_KEY_HEX, 137)


@settings(max_examples=200, deadline=None)
@given(
    secret=SECRETS, api_key=st.uuids().map(str), passphrase=st.text(min_size=1, max_size=64),
    timestamp=st.integers(0, 2**40), method=METHODS, path=PATHS, body=BODIES,
)
def test_l2_headers_equal_pcc2(secret, api_key, passphrase, timestamp, method, path, body):
    pcc = create_level_2_headers(
        PCC_SIGNER,
        PccApiCreds(api_key, secret, passphrase),
        RequestArgs(method=method, request_path=path, serialized_body=body),
        timestamp=timestamp,
    )
    creds = ApiCreds(api_key, secret, passphrase)
    body_bytes = None if body is None else body.encode()
    ours = l2_headers(creds, HARDHAT_ADDRESS, timestamp, method, path, body_bytes)
    assert ours == pcc
    assert list(ours) == list(pcc)


def test_creds_repr_hides_secret_and_passphrase():
    creds = ApiCreds("the-key", "c2VjcmV0LXNlY3JldA==", "pass-phrase-x")
    for text in (repr(creds), str(creds), f"{creds}"):
        assert "the-key" in text
        assert "c2VjcmV0" not in text and "pass-phrase-x" not in text
        assert "c2VjcmV0LXNlY3JldA" not in text and "secret-secret" not in text


def test_creds_from_mapping():
    creds = ApiCreds.from_mapping({"apiKey": "k", "secret": SECRET, "passphrase": "p"})
    assert (creds.api_key, creds.secret, creds.passphrase) == ("k", SECRET, "p")
    assert creds.hmac_key == bytes(32)
    with pytest.raises(AuthError):
        ApiCreds.from_mapping({"apiKey": "k", "secret": SECRET})
    with pytest.raises(AuthError):
        ApiCreds.from_mapping({"apiKey": "k", "secret": 5, "passphrase": "p"})


def test_creds_reject_a_secret_that_is_not_base64():
    with pytest.raises(AuthError) as info:
        ApiCreds("k", "abc", "p")
    assert "abc" not in str(info.value)


def test_l2_headers_refuse_a_query_string():
    with pytest.raises(AuthError):
        l2_headers(ApiCreds("k", SECRET, "p"), HARDHAT_ADDRESS, 1, "GET", "/balance-allowance?asset_type=X")
