"""The paper venue's Gamma `/events` (capped pages, closed markets) and CLOB `/balance-allowance` (L2, from the
accounts, both faults), over a real socket."""

from __future__ import annotations

import json

import aiohttp

from paper_venue.clob import COLLATERAL_SPENDERS, GAMMA_PAGE_MAX, MAX_UINT256
from tests.paper_venue.signing import ADDRESS, l2_headers
from tests.paper_venue.test_clob import base, get, token


async def all_events(session, venue, **params) -> list[dict]:
    events: list[dict] = []
    while True:
        status, page = await get(session, venue, "/events", limit=500, offset=len(events), **params)
        assert status == 200 and len(page) <= GAMMA_PAGE_MAX
        if not page:
            return events
        events += page


async def test_events_are_gamma_shaped_paged_below_the_limit_and_show_resolutions(venue):
    async with aiohttp.ClientSession() as s:
        events = await all_events(s, venue, closed="false")
        assert [e["slug"] for e in events] == ["btc-above-on-december-31", "btc-price-on-december-31", "btc-buckets"]
        market = events[0]["markets"][2]
        assert json.loads(market["clobTokenIds"]) == [token(venue), token(venue, yes=False)]  # a JSON string
        assert (market["groupItemTitle"], market["negRisk"], market["closed"]) == ("100,000", False, False)
        assert events[2]["negRisk"] and not events[2]["negRiskAugmented"]

        status, _ = await get(s, venue, "/events", limit="x")
        assert status == 400
        async with s.post(base(venue) + "/admin/resolve", json={"winning_token_id": token(venue)}) as r:
            assert r.status == 200
        ladder = (await all_events(s, venue))[0]["markets"]
        assert [m["closed"] for m in ladder] == [False, False, True, False]
        assert not (await all_events(s, venue, closed="true"))  # the event itself still has open markets

        async with s.post(base(venue) + "/admin/faults", json={"gamma_5xx": 1}) as r:
            assert r.status == 200
        assert (await get(s, venue, "/events"))[0] == 500
        assert (await get(s, venue, "/events"))[0] == 200


async def test_balance_allowance_answers_from_the_accounts_with_l2_auth(venue):
    path = "/balance-allowance"
    query = {"asset_type": "COLLATERAL", "signature_type": "0"}
    async with aiohttp.ClientSession() as s:
        async with s.get(base(venue) + path, params=query) as r:
            assert r.status == 401  # L2 headers required
        status, answer = await get(s, venue, path, signed=True, **query)
        assert status == 200
        assert answer == {"balance": str(10_000 * 10**6),
                          "allowances": {spender: str(MAX_UINT256) for spender in COLLATERAL_SPENDERS}}
        async with s.post(base(venue) + "/admin/balance", json={"address": ADDRESS, "collateral": 12.5,
                                                                "allowance": 3}) as r:
            assert r.status == 200
        _, answer = await get(s, venue, path, signed=True, **query)
        assert answer["balance"] == "12500000" and set(answer["allowances"].values()) == {"3000000"}

        async with s.post(base(venue) + "/admin/faults", json={"balance_5xx": 2}) as r:
            assert r.status == 200
        for _ in range(2):
            assert (await get(s, venue, path, signed=True, **query))[0] == 500
        assert (await get(s, venue, path, signed=True, **query))[0] == 200
        headers = l2_headers("GET", path)
        async with s.get(base(venue) + path, params={"asset_type": "OTHER"}, headers=headers) as r:
            assert r.status == 400
