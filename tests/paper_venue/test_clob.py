"""The CLOB REST API over a real socket: auth, orders, batches, duplicates, faults, admin, PCC2 itself."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from google.protobuf import json_format
from py_clob_client_v2.client import ClobClient
from py_clob_client_v2.clob_types import OrderArgsV2, OrderType
from py_clob_client_v2.utilities import generate_orderbook_summary_hash, parse_raw_orderbook_summary

from paper_venue.auth import PAPER_CREDS, ApiKey
from paper_venue.orders import parse_posted_order, signed_order_id
from polyarb.v1 import engine_pb2
from tests.paper_venue.signing import ADDRESS, OTHER_ADDRESS, OTHER_KEY, compact, l2_headers, order_body, signed_order

YES_100K = "btc-above-100000"  # manual scenario: fair 0.5, bids .49/.48/.47, asks .51/.52/.53 (150/300/600)


def base(venue) -> str:
    return f"http://{venue.http_address}"


def token(venue, slug: str = YES_100K, yes: bool = True) -> str:
    market = venue.scenario.market(slug)
    return market.yes_token_id if yes else market.no_token_id


async def post(session, venue, path: str, payload, **headers_kw) -> tuple[int, object]:
    body = compact(payload)
    async with session.post(base(venue) + path, data=body, headers=l2_headers("POST", path, body, **headers_kw)) as r:
        text = await r.text()
        return r.status, json.loads(text) if r.content_type == "application/json" else text


async def get(session, venue, path: str, signed: bool = False, **params) -> tuple[int, object]:
    headers = l2_headers("GET", path) if signed else {}
    async with session.get(base(venue) + path, params=params, headers=headers) as r:
        return r.status, await r.json()


def order_id(body: dict, neg_risk: bool = False) -> str:
    return signed_order_id(parse_posted_order(body).order, neg_risk)


async def test_market_data_endpoints(venue):
    t = token(venue)
    async with aiohttp.ClientSession() as s:
        assert await get(s, venue, "/version") == (200, {"version": 2})
        status, now = await get(s, venue, "/time")
        assert status == 200 and isinstance(now, int)
        assert await get(s, venue, "/tick-size", token_id=t) == (200, {"minimum_tick_size": 0.01})
        assert await get(s, venue, "/neg-risk", token_id=t) == (200, {"neg_risk": False})
        bucket = token(venue, "btc-bucket-95000-100000")
        assert await get(s, venue, "/neg-risk", token_id=bucket) == (200, {"neg_risk": True})
        status, book = await get(s, venue, "/book", token_id=t)
        assert status == 200
        assert [b["price"] for b in book["bids"]] == ["0.47", "0.48", "0.49"]  # best last
        assert [a["price"] for a in book["asks"]] == ["0.53", "0.52", "0.51"]
        assert book["asks"][-1]["size"] == "150" and book["min_order_size"] == "5" and book["tick_size"] == "0.01"
        assert generate_orderbook_summary_hash(parse_raw_orderbook_summary(book)) == book["hash"]
        assert (await get(s, venue, "/book"))[0] == 400
        assert await get(s, venue, "/book", token_id="123") == (
            404, {"error": "No orderbook exists for the requested token id"})
        market = venue.scenario.market(YES_100K)
        status, info = await get(s, venue, f"/clob-markets/{market.condition_id}")
        assert info["t"][0]["t"] == t and info["mts"] == 0.01 and info["nr"] is False


async def test_fok_buy_fills_moves_balances_and_is_reconcilable(venue):
    body = order_body(signed_order(token(venue), 0.51, 10), "FOK")
    async with aiohttp.ClientSession() as s:
        status, reply = await post(s, venue, "/order", body)
        assert status == 200, reply
        assert reply["success"] is True and reply["status"] == "matched" and reply["errorMsg"] == ""
        assert reply["orderID"] == order_id(body)
        assert (reply["makingAmount"], reply["takingAmount"]) == ("5.1", "10")
        assert len(reply["tradeIDs"]) == 1 and reply["transactionsHashes"][0].startswith("0x")
        status, balance = await get(s, venue, "/balance", address=ADDRESS)
        assert balance["collateral"] == pytest.approx(10_000 - 5.1) and balance["inventory"] == {token(venue): 10.0}
        status, record = await get(s, venue, f"/data/order/{reply['orderID']}", signed=True)
        assert status == 200 and record["status"] == "MATCHED" and record["size_matched"] == "10"
        assert record["associate_trades"] == reply["tradeIDs"]
        assert (await get(s, venue, f"/data/order/{reply['orderID']}"))[0] == 401  # L2 required
        status, after = await get(s, venue, "/book", token_id=token(venue))
        assert after["asks"][-1] == {"price": "0.51", "size": "140"} and after["last_trade_price"] == "0.51"


async def test_bad_auth_is_401_with_an_error_body(venue):
    body = compact(order_body(signed_order(token(venue), 0.51, 10)))
    wrong = ApiKey(PAPER_CREDS.api_key, "c2VjcmV0LWFwaS1rZXktdmFsdWUtZm9yLXRlc3Rz", PAPER_CREDS.passphrase)
    cases = [
        l2_headers("POST", "/order", body, creds=wrong),  # wrong secret
        {k: v for k, v in l2_headers("POST", "/order", body).items() if k != "POLY_SIGNATURE"},
        l2_headers("POST", "/order", body, creds=ApiKey("unknown", PAPER_CREDS.secret, PAPER_CREDS.passphrase)),
        l2_headers("POST", "/order", body + " "),  # signed other bytes
        l2_headers("POST", "/orders", body),  # signed another path
    ]
    async with aiohttp.ClientSession() as s:
        for headers in cases:
            async with s.post(base(venue) + "/order", data=body, headers=headers) as r:
                assert r.status == 401
                assert (await r.json())["error"].startswith("Unauthorized/Invalid api key")
    assert venue.exchange.counters.orders_received == 0


async def test_owner_signer_and_market_rules(venue):
    t = token(venue)
    async with aiohttp.ClientSession() as s:
        status, reply = await post(s, venue, "/order", order_body(signed_order(t, 0.51, 10), owner="someone-else"))
        assert (status, reply) == (400, {"error": "the order owner has to be the same as the API KEY"})
        status, reply = await post(s, venue, "/order", order_body(signed_order(t, 0.51, 10)), address=OTHER_ADDRESS)
        assert status == 400 and "signer" in reply["error"]
        status, reply = await post(s, venue, "/order", order_body(signed_order(t, 0.51, 2)))
        assert status == 400 and "lower than the minimum: 5" in reply["error"]
        status, reply = await post(s, venue, "/order", order_body(signed_order(t, 0.51, 1000)))
        assert status == 400
        assert reply["error"] == "order couldn't be fully filled. FOK orders are fully filled or killed."
        status, reply = await post(s, venue, "/order", order_body(signed_order(t, 0.50, 10), "FAK"))
        assert status == 400 and reply["error"].startswith("no orders found to match with FAK order")
        status, reply = await post(s, venue, "/order", order_body(signed_order(t, 0.51, 10, "SELL")))
        assert (status, reply) == (400, {"error": "not enough balance / allowance"})
        status, reply = await post(s, venue, "/order", order_body(signed_order(t, 0.51, 10, neg_risk=True)))
        assert (status, reply) == (400, {"error": "invalid signature"})


async def test_a_marketable_buy_under_one_dollar_is_refused_as_the_venue_does(venue):
    t = token(venue, "btc-above-90000", yes=False)  # a cheap token: NO of "above 90k" at spot 100k
    async with aiohttp.ClientSession() as s:
        async with s.post(base(venue) + "/admin/book", json={"token_id": t, "bids": [["0.01", "100"]],
                                                            "asks": [["0.03", "100"]]}) as r:
            assert r.status == 200
        status, reply = await post(s, venue, "/order", order_body(signed_order(t, 0.03, 10)))  # $0.30
        assert (status, reply) == (400, {"error": "invalid amount for a marketable BUY order ($0.3), min size: $1"})
        legs = [order_body(signed_order(t, 0.04, 20), "FAK"),  # $0.80, FAK is marketable too
                order_body(signed_order(t, 0.03, 20), "GTC"),  # a limit BUY crossing the ask is marketable
                order_body(signed_order(t, 0.02, 20), "GTC"),  # resting: only the 5-share minimum applies
                order_body(signed_order(t, 0.03, 34))]  # $1.02
        status, replies = await post(s, venue, "/orders", legs)
        assert status == 200
        assert [r["success"] for r in replies] == [False, False, True, True]
        assert [r["errorMsg"] for r in replies[:2]] == [
            "invalid amount for a marketable BUY order ($0.8), min size: $1",
            "invalid amount for a marketable BUY order ($0.6), min size: $1",
        ]
        assert [r["status"] for r in replies[2:]] == ["live", "matched"] and replies[3]["makingAmount"] == "1.02"
        status, reply = await post(s, venue, "/order", order_body(signed_order(t, 0.01, 10, "SELL")))
        assert status == 200 and reply["status"] == "matched"  # sells have no minimum: $0.10 received
        _, stats = await get(s, venue, "/admin/stats")
    assert stats["rejections"]["invalid amount for a marketable BUY order"] == 3


async def test_batch_of_up_to_15_answers_per_order(venue):
    t = token(venue)
    legs = [order_body(signed_order(t, 0.51, 5)), order_body(signed_order(t, 0.51, 10_000)),
            order_body(signed_order(t, 0.45, 5), "GTC")]
    async with aiohttp.ClientSession() as s:
        status, replies = await post(s, venue, "/orders", legs)
        assert status == 200 and len(replies) == 3
        assert [r["success"] for r in replies] == [True, False, True]
        assert [r["status"] for r in replies] == ["matched", "", "live"]
        assert replies[1]["orderID"] == "" and "FOK" in replies[1]["errorMsg"]
        assert replies[2]["makingAmount"] == "" and replies[2]["orderID"] == order_id(legs[2])
        sixteen = [order_body(signed_order(t, 0.51, 5)) for _ in range(16)]
        status, reply = await post(s, venue, "/orders", sixteen)
        assert status == 400 and "max allowed is 15" in reply["error"]
        assert (await post(s, venue, "/orders", []))[0] == 400
        assert (await post(s, venue, "/orders", legs[0]))[0] == 400
        assert (await post(s, venue, "/order", legs))[0] == 400
    assert venue.exchange.counters.orders_received == 3


async def test_duplicate_post_is_rejected_and_counted(venue):
    body = order_body(signed_order(token(venue), 0.51, 10))
    async with aiohttp.ClientSession() as s:
        assert (await post(s, venue, "/order", body))[0] == 200
        status, reply = await post(s, venue, "/order", body)
        assert status == 400 and "Duplicated" in reply["error"]
        status, replies = await post(s, venue, "/orders", [body])
        assert replies[0]["success"] is False and "Duplicated" in replies[0]["errorMsg"]
        _, stats = await get(s, venue, "/admin/stats")
    assert stats["duplicates"] == 2 and stats["posts_by_hash"][order_id(body)] == 3
    assert stats["orders_filled"] == 1 and stats["trades"] == 1


async def test_faults_5xx_html_403_reject_leg_and_timeout(venue):
    t = token(venue)
    async with aiohttp.ClientSession() as s:
        status, _ = await post(s, venue, "/admin/faults", {"http_5xx": 1, "html_403": 1, "reject_leg": 1,
                                                           "timeout": 1, "timeout_s": 0.5})
        assert status == 200
        first = order_body(signed_order(t, 0.51, 5))
        status, page = await post(s, venue, "/order", first)  # html_403 goes first
        assert status == 403 and "<html>" in page
        status, reply = await post(s, venue, "/order", first)
        assert status == 503 and "error" in reply
        assert venue.exchange.counters.orders_received == 0  # neither was processed
        legs = [order_body(signed_order(t, 0.51, 5)) for _ in range(2)]
        status, replies = await post(s, venue, "/orders", legs)  # reject_leg, and the delayed answer
        # the timeout fault fires on this post too: the answer comes, 0.5 s late
        assert status == 200
        assert replies[0]["success"] is True and replies[0]["orderID"]
        assert replies[1] == {"success": True, "errorMsg": "not enough balance / allowance", "orderID": "",
                              "status": "", "makingAmount": "", "takingAmount": "", "transactionsHashes": [],
                              "tradeIDs": []}
        # a client that gives up before the answer: the order was matched all the same
        await post(s, venue, "/admin/faults", {"timeout": 1, "timeout_s": 0.8})
        late = order_body(signed_order(t, 0.51, 5))
        body = compact(late)
        with pytest.raises(asyncio.TimeoutError):
            async with s.post(base(venue) + "/order", data=body, headers=l2_headers("POST", "/order", body),
                              timeout=aiohttp.ClientTimeout(total=0.3)):
                pass
        status, record = await get(s, venue, f"/data/order/{order_id(late)}", signed=True)
        assert status == 200 and record["status"] == "MATCHED"
        status, faults = await get(s, venue, "/admin/faults")
        assert faults["fired"] == {"html_403": 1, "http_5xx": 1, "reject_leg": 1, "timeout": 2}
        assert (await post(s, venue, "/admin/faults", {"bogus": 1}))[0] == 400


async def test_gtc_rests_holds_collateral_and_cancels(venue):
    t = token(venue)
    body = order_body(signed_order(t, 0.45, 10), "GTC")
    async with aiohttp.ClientSession() as s:
        status, reply = await post(s, venue, "/order", body)
        assert (status, reply["status"]) == (200, "live")
        _, balance = await get(s, venue, "/balance", address=ADDRESS)
        assert balance["reserved_collateral"] == pytest.approx(4.5)
        _, book = await get(s, venue, "/book", token_id=t)
        assert {"price": "0.45", "size": "10"} in book["bids"]
        payload = {"orderID": reply["orderID"]}
        raw = compact(payload)
        async with s.delete(base(venue) + "/order", data=raw, headers=l2_headers("DELETE", "/order", raw)) as r:
            assert await r.json() == {"canceled": [reply["orderID"]], "not_canceled": {}}
        _, balance = await get(s, venue, "/balance", address=ADDRESS)
        assert balance["reserved_collateral"] == 0
        _, record = await get(s, venue, f"/data/order/{reply['orderID']}", signed=True)
        assert record["status"] == "CANCELED"


async def test_admin_structure_book_arbitrage_resolve(venue):
    async with aiohttp.ClientSession() as s:
        status, structure = await get(s, venue, "/admin/structure")
        msg = json_format.ParseDict(structure, engine_pb2.MarketStructure())
        assert len(msg.trios) == 3 and len(msg.sets) == 1 and len(msg.sets[0].members) == 4
        assert all(m.neg_risk for m in msg.sets[0].members) and not msg.trios[0].lower.neg_risk
        assert len(msg.trios[0].lower.yes_token_id) == 77
        assert (await get(s, venue, "/admin/starting-balance"))[1] == {"collateral": 10000.0, "inventory": {}}

        t = token(venue)
        status, book = await post(s, venue, "/admin/book", {"token_id": t, "bids": [["0.30", "7"]],
                                                            "asks": [{"price": "0.35", "size": "8"}]})
        assert status == 200 and book["bids"] == [{"price": "0.3", "size": "7"}]
        assert (await post(s, venue, "/admin/book", {"token_id": t, "asks": [["0.355", "1"]]}))[0] == 400

        status, arb = await post(s, venue, "/admin/arbitrage", {"instance_id": "btc-trio-95000-100000", "gap": 0.04,
                                                                 "size": 20})
        assert status == 200 and float(arb["ask_sum"]) <= 2 - 0.04 + 1e-9
        legs = [order_body(signed_order(leg, price, 20))
                for leg, price in [(leg, venue.exchange.books[leg].best_ask() / 1e6) for leg in arb["legs"]]]
        status, replies = await post(s, venue, "/orders", legs)
        assert [r["status"] for r in replies] == ["matched"] * 3
        spent = sum(float(r["makingAmount"]) for r in replies)
        assert spent <= 2 * 20 - 0.04 * 20 + 1e-9

        lower = venue.scenario.market("btc-above-95000")
        status, _ = await post(s, venue, "/admin/resolve", {"winning_token_id": lower.yes_token_id})
        assert status == 200
        _, balance = await get(s, venue, "/balance", address=ADDRESS)
        assert lower.yes_token_id not in balance["inventory"]
        assert balance["collateral"] == pytest.approx(10_000 - spent + 20)


async def test_py_clob_client_v2_derives_a_key_and_trades(venue):
    """The reference client end to end: L1 derive, tick size and neg-risk look-ups, signed FOK post."""
    t = token(venue)

    def trade() -> dict:
        client = ClobClient(base(venue), 137, key=OTHER_KEY)
        client.set_api_creds(client.create_or_derive_api_key())
        order = client.create_order(OrderArgsV2(token_id=t, price=0.51, size=10, side="BUY"))
        return client.post_order(order, OrderType.FOK)

    reply = await asyncio.to_thread(trade)
    assert reply["success"] is True and reply["status"] == "matched"
    assert venue.exchange.accounts.get(OTHER_ADDRESS).positions == {t: 10_000_000}


async def test_hang_fault_drops_the_post_unprocessed_after_holding_it(venue):
    t = token(venue)
    async with aiohttp.ClientSession() as s:
        await post(s, venue, "/admin/faults", {"hang": 1, "timeout_s": 0.6})
        lost = order_body(signed_order(t, 0.51, 5))
        body = compact(lost)
        with pytest.raises(asyncio.TimeoutError):  # the client gives up first, as on a queued request
            async with s.post(base(venue) + "/order", data=body, headers=l2_headers("POST", "/order", body),
                              timeout=aiohttp.ClientTimeout(total=0.3)):
                pass
        await asyncio.sleep(0.5)  # the venue has dropped it by now
        status, _ = await get(s, venue, f"/data/order/{order_id(lost)}", signed=True)
        assert status == 404  # never processed: "not found" for good
        assert venue.exchange.counters.orders_received == 0
        status, stats = await get(s, venue, "/admin/stats")
        assert stats["order_posts"] == 1 and stats["faults"]["fired"] == {"hang": 1}
