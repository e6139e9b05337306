"""What a POST /orders answer means for each leg (pure classification)."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from executor_svc.clob import BatchFate, classify_batch_response


def reply(status, body, content_type="application/json", n=3):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return classify_batch_response(status, content_type, raw, n)


def test_answered_per_leg_with_amounts():
    body = [
        {"success": True, "errorMsg": "", "orderID": "0xa", "status": "matched", "makingAmount": "30",
         "takingAmount": "50"},
        {"success": True, "errorMsg": "not enough balance / allowance", "orderID": "", "status": ""},
        {"success": False, "errorMsg": "order couldn't be fully filled. FOK orders are fully filled or killed.",
         "orderID": "0xc", "status": "unmatched"},
    ]
    r = reply(200, body)
    assert r.fate == BatchFate.ANSWERED
    assert [leg.accepted for leg in r.legs] == [True, False, False]  # empty orderID = rejected
    assert (r.legs[0].making_amount, r.legs[0].taking_amount, r.legs[0].status) == (30.0, 50.0, "matched")
    assert r.legs[1].error == "not enough balance / allowance"


@pytest.mark.parametrize(("status", "body", "content_type", "fate"), [
    (500, {"error": "internal"}, "application/json", BatchFate.UNKNOWN),
    (502, b"<html>bad gateway</html>", "text/html", BatchFate.UNKNOWN),
    (403, b"<html>Access denied: your region is restricted</html>", "text/html", BatchFate.CONFIG),
    (401, {"error": "Unauthorized/Invalid api key"}, "application/json", BatchFate.CONFIG),
    (200, b"<!doctype html><p>captive portal", "text/html", BatchFate.CONFIG),
    (400, {"error": "order_version_mismatch"}, "application/json", BatchFate.REFUSED),
    (200, b"not json", "application/json", BatchFate.UNKNOWN),
    (200, [{"success": True}], "application/json", BatchFate.UNKNOWN),  # 1 entry for 3 orders
    (200, {"success": True}, "application/json", BatchFate.UNKNOWN),
])
def test_whole_batch_fates(status, body, content_type, fate):
    r = reply(status, body, content_type)
    assert r.fate == fate
    assert r.error  # every non-answer says why


def test_single_order_object_reply_is_one_leg():
    r = classify_batch_response(200, "application/json", b'{"success":true,"orderID":"0x1","status":"live"}', 1)
    assert r.fate == BatchFate.ANSWERED and r.legs[0].accepted and r.legs[0].status == "live"


def test_bad_amounts_are_unknown_not_crashes():
    r = reply(200, [{"success": True, "orderID": "0x1", "status": "matched", "makingAmount": "NaN",
                     "takingAmount": "-4"}], n=1)
    assert r.legs[0].making_amount is None and r.legs[0].taking_amount is None


@given(status=st.integers(100, 599), body=st.binary(max_size=200), content_type=st.sampled_from(
    ["application/json", "text/html", "", "text/plain"]), n=st.integers(1, 15))
def test_never_raises_on_any_answer(status, body, content_type, n):
    r = classify_batch_response(status, content_type, body, n)
    assert r.fate in BatchFate
    if r.fate == BatchFate.ANSWERED:
        assert len(r.legs) == n
