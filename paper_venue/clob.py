"""The CLOB REST API (aiohttp): the endpoints a trading client uses, plus paper-only helpers.

Polymarket endpoints (shared/docs/polymarket-protocol.md 2.5, 2.6):
  POST /order, POST /orders (≤ 15), DELETE /order, DELETE /orders, DELETE /cancel-all,
  GET /data/order/{id}                          — L2 HMAC headers required
  GET /book?token_id=, POST /books, GET /tick-size?token_id=, GET /neg-risk?token_id=,
  GET /fee-rate?token_id=, GET /clob-markets/{condition_id}, GET /time, GET /version, GET /
  GET /balance-allowance?asset_type=COLLATERAL|CONDITIONAL[&token_id=]&signature_type=  — L2; the
                                                  newer answer shape {"balance", "allowances": {spender: ..}}
  POST /auth/api-key, GET /auth/derive-api-key  — L1 headers (ClobAuth EIP-712)
Gamma (polymarket-protocol.md 3), for `polyarbctl structure sync`:
  GET /events?closed=false&limit=&offset=        — the scenario's events; a page holds at most
                                                  GAMMA_PAGE_MAX events whatever the limit asked
Paper-only (no auth; the venue listens on localhost):
  GET /balance?address=                         — collateral, inventory and what is held back
  GET /admin/structure, GET /admin/starting-balance, GET /admin/stats,
  GET|POST /admin/faults, POST /admin/book, POST /admin/books, POST /admin/arbitrage, POST /admin/tick-size,
  POST /admin/resolve, POST /admin/balance, POST /admin/api-keys

Errors are {"error": "..."} with a 4xx status (docs error-codes page); a rejected order in a batch is
one element of the answer array (success false, empty orderID, errorMsg).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from paper_venue import wire
from paper_venue.auth import NO_KEY_TO_DERIVE, AuthError, parse_creds
from paper_venue.exchange import Submission
from paper_venue.faults import GEOBLOCK_HTML, FaultError
from paper_venue.matching import PRICE_SCALE, SHARE_SCALE, Side
from paper_venue.orders import tick_units

if TYPE_CHECKING:
    from paper_venue.venue import PaperVenue

MAX_BATCH = 15  # POST /orders (docs api-reference post-orders; NT BATCH_ORDER_LIMIT)
# Gamma may answer fewer events than `limit` (protocol 3): a client must advance `offset` by what
# arrived. The venue caps its pages far below any limit a client asks for, so that clients meet it.
GAMMA_PAGE_MAX = 2
VENUE_KEY: web.AppKey[PaperVenue] = web.AppKey("venue")
LIVE_QUIRK_REJECTION = "not enough balance / allowance"
MAX_UINT256 = 2**256 - 1
# who pulls pUSD: the V2 exchange, the V2 neg-risk exchange and the neg-risk adapter (protocol 2.1)
COLLATERAL_SPENDERS = ("0xE111180000d2663C0091e4f400237545B87B996B", "0xe2222d279d744050d28e00520010520000310F59",
                       "0xd91E80cF2E7be2e162c6513ceD06f1dD0dA35296")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def create_app(venue: PaperVenue) -> web.Application:
    app = web.Application(client_max_size=4 * 1024 * 1024)
    app[VENUE_KEY] = venue
    app.add_routes([
        web.get("/", ok),
        web.post("/order", post_order),
        web.post("/orders", post_orders),
        web.delete("/order", cancel_order),
        web.delete("/orders", cancel_orders),
        web.delete("/cancel-all", cancel_all),
        web.get("/data/order/{order_id}", get_order),
        web.get("/book", get_book),
        web.post("/books", post_books),
        web.get("/tick-size", get_tick_size),
        web.get("/neg-risk", get_neg_risk),
        web.get("/fee-rate", get_fee_rate),
        web.get("/clob-markets/{condition_id}", get_clob_market),
        web.get("/time", get_time),
        web.get("/version", get_version),
        web.post("/auth/api-key", create_api_key),
        web.get("/auth/derive-api-key", derive_api_key),
        web.get("/events", get_events),
        web.get("/balance-allowance", get_balance_allowance),
        web.get("/balance", get_balance),
        web.get("/admin/structure", admin_structure),
        web.get("/admin/starting-balance", admin_starting_balance),
        web.get("/admin/stats", admin_stats),
        web.get("/admin/faults", admin_get_faults),
        web.post("/admin/faults", admin_set_faults),
        web.post("/admin/book", admin_book),
        web.post("/admin/books", admin_books),
        web.post("/admin/arbitrage", admin_arbitrage),
        web.post("/admin/tick-size", admin_tick_size),
        web.post("/admin/resolve", admin_resolve),
        web.post("/admin/balance", admin_balance),
        web.post("/admin/api-keys", admin_api_keys),
    ])
    return app


def error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status, dumps=wire.compact)


def answer(obj: Any, status: int = 200) -> web.Response:
    return web.json_response(obj, status=status, dumps=wire.compact)


def _venue(request: web.Request) -> PaperVenue:
    return request.app[VENUE_KEY]


async def _l2(request: web.Request, body: bytes) -> tuple[str, str] | web.Response:
    """(api key, POLY_ADDRESS) of a correctly signed request, or the 401 to send."""
    try:
        key, address = _venue(request).keyring.check_l2(request.headers, request.method, request.path, body)
    except AuthError as exc:
        return error(401, str(exc))
    return key.api_key, address


async def _json(request: web.Request) -> Any:
    try:
        return json.loads(await request.read() or b"null")
    except ValueError:
        return _BAD


_BAD = object()


# -- orders -----------------------------------------------------------------------------------------


def _publish_fills(venue: PaperVenue, events) -> None:
    """The market-feed events of a submission, unless the feed is set to lag fills (ws_hide_fills)."""
    if not venue.faults.ws_hide_fills:
        venue.publish(events)


async def _post_fault(venue: PaperVenue) -> web.Response | None:
    """An HTTP fault that answers instead of the venue (the order is not processed)."""
    faults = venue.faults
    if faults.take("hang"):
        # queued at the edge, then lost: the client times out, the order never reaches matching
        await asyncio.sleep(faults.timeout_s)
        return error(504, "paper venue fault hang: request dropped at the edge")
    if faults.take("html_403"):
        return web.Response(status=403, text=GEOBLOCK_HTML, content_type="text/html")
    if faults.take("http_5xx"):
        return error(faults.http_5xx_status, "paper venue fault http_5xx: service unavailable")
    return None


def _order_json(sub: Submission) -> dict[str, Any]:
    if not sub.ok:
        return wire.order_response(success=False, error=sub.error)
    return wire.order_response(
        success=True, order_id=sub.order_id, status=sub.status, making=sub.making, taking=sub.taking,
        transactions_hashes=sub.transaction_hashes, trade_ids=sub.trade_ids,
    )


async def post_order(request: web.Request) -> web.Response:
    venue = _venue(request)
    body = await request.read()
    auth = await _l2(request, body)
    if isinstance(auth, web.Response):
        return auth
    venue.exchange.counters.order_posts += 1
    fault = await _post_fault(venue)
    if fault is not None:
        return fault
    try:
        raw = json.loads(body)
    except ValueError:
        return error(400, "Invalid order payload")
    if not isinstance(raw, dict):
        return error(400, "Invalid order payload: expected one order object (POST /orders takes an array)")
    delay = venue.faults.timeout_s if venue.faults.take("timeout") else 0.0
    api_key, address = auth
    sub = venue.exchange.submit(raw, api_key=api_key, address=address, now_ms=venue.now_ms())
    _publish_fills(venue, sub.events)
    if delay:
        await asyncio.sleep(delay)  # processed, but the client gives up first: an UNKNOWN outcome
    if not sub.ok:
        return error(400, sub.error)
    return answer(_order_json(sub))


async def post_orders(request: web.Request) -> web.Response:
    venue = _venue(request)
    body = await request.read()
    auth = await _l2(request, body)
    if isinstance(auth, web.Response):
        return auth
    try:
        raw = json.loads(body)
    except ValueError:
        return error(400, "Invalid order payload")
    if not isinstance(raw, list):
        return error(400, "Invalid order payload: expected an array of orders")
    if not raw:
        return error(400, "Invalid order payload: no orders provided")
    if len(raw) > MAX_BATCH:
        return error(400, f"Too many orders in payload: {len(raw)}, max allowed is {MAX_BATCH}")
    venue.exchange.counters.order_posts += 1
    fault = await _post_fault(venue)
    if fault is not None:
        return fault
    delay = venue.faults.timeout_s if venue.faults.take("timeout") else 0.0
    reject_at = None
    if venue.faults.take("reject_leg"):
        reject_at = venue.faults.reject_leg_index % len(raw)
    api_key, address = auth
    results = []
    events = []
    for i, leg in enumerate(raw):
        if i == reject_at:
            # How a rejected leg came back live: success true, no orderID, the reason in errorMsg
            # (protocol 2.5; NT execution/responses.rs). Clients must treat an empty orderID as rejected.
            venue.exchange.counters.orders_received += 1
            venue.exchange.counters.orders_rejected += 1
            venue.exchange.counters.rejections["fault reject_leg"] += 1
            results.append({**wire.order_response(success=True, error=LIVE_QUIRK_REJECTION)})
            continue
        sub = venue.exchange.submit(leg, api_key=api_key, address=address, now_ms=venue.now_ms())
        events.extend(sub.events)
        results.append(_order_json(sub))
    _publish_fills(venue, events)
    if delay:
        await asyncio.sleep(delay)
    return answer(results)


async def cancel_order(request: web.Request) -> web.Response:
    body = await request.read()
    auth = await _l2(request, body)
    if isinstance(auth, web.Response):
        return auth
    try:
        raw = json.loads(body)
    except ValueError:
        return error(400, "Invalid payload")
    if not isinstance(raw, dict) or not isinstance(raw.get("orderID"), str):
        return error(400, 'Invalid payload: expected {"orderID": "0x..."}')
    return _cancel(request, auth[0], [raw["orderID"]])


async def cancel_orders(request: web.Request) -> web.Response:
    body = await request.read()
    auth = await _l2(request, body)
    if isinstance(auth, web.Response):
        return auth
    try:
        raw = json.loads(body)
    except ValueError:
        return error(400, "Invalid payload")
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        return error(400, "Invalid payload: expected an array of order ids")
    return _cancel(request, auth[0], raw)


async def cancel_all(request: web.Request) -> web.Response:
    auth = await _l2(request, await request.read())
    if isinstance(auth, web.Response):
        return auth
    return _cancel(request, auth[0], _venue(request).exchange.live_orders(auth[0]))


def _cancel(request: web.Request, api_key: str, order_ids: list[str]) -> web.Response:
    venue = _venue(request)
    canceled, not_canceled, events = [], {}, []
    for order_id in order_ids:
        reason, evs = venue.exchange.cancel(order_id, api_key)
        if reason is None:
            canceled.append(order_id)
            events.extend(evs)
        else:
            not_canceled[order_id] = reason
    venue.publish(events)
    return answer({"canceled": canceled, "not_canceled": not_canceled})


async def get_order(request: web.Request) -> web.Response:
    """The order as the venue knows it: how an executor settles an UNKNOWN outcome (a time-out)."""
    auth = await _l2(request, b"")
    if isinstance(auth, web.Response):
        return auth
    record = _venue(request).exchange.records.get(request.match_info["order_id"])
    if record is None or record.owner != auth[0]:
        return error(404, "order not found")
    return answer({
        "id": record.order_id,
        "status": record.status,
        "owner": record.owner,
        "maker_address": record.maker,
        "market": record.market,
        "asset_id": record.token_id,
        "side": "BUY" if record.side is Side.BUY else "SELL",
        "original_size": wire.decimal_text(record.original_size, SHARE_SCALE),
        "size_matched": wire.decimal_text(record.size_matched, SHARE_SCALE),
        "price": wire.decimal_text(record.price),
        "outcome": record.outcome,
        "expiration": str(record.expiration),
        "order_type": record.order_type,
        "associate_trades": list(record.trade_ids),
        "created_at": record.created_at_s,
    })


# -- market data ------------------------------------------------------------------------------------


async def ok(request: web.Request) -> web.Response:
    return answer("OK")


def _token_market(request: web.Request):
    token = request.query.get("token_id", "")
    if not token:
        return None, error(400, "Invalid token id")
    market = _venue(request).exchange.market_of(token)
    if market is None:
        return None, error(404, "No orderbook exists for the requested token id")
    return market, None


async def get_book(request: web.Request) -> web.Response:
    _, failure = _token_market(request)
    if failure is not None:
        return failure
    venue = _venue(request)
    return answer(venue.snapshot(request.query["token_id"], venue.now_ms()))


async def post_books(request: web.Request) -> web.Response:
    raw = await _json(request)
    if not isinstance(raw, list) or not all(isinstance(x, dict) and isinstance(x.get("token_id"), str) for x in raw):
        return error(400, "Invalid payload")
    venue = _venue(request)
    now = venue.now_ms()
    return answer([s for s in (venue.snapshot(x["token_id"], now) for x in raw) if s is not None])


async def get_tick_size(request: web.Request) -> web.Response:
    market, failure = _token_market(request)
    # aiohttp responses are mappings (empty = falsy): test for None
    return failure if failure is not None else answer({"minimum_tick_size": float(market.tick_size)})


async def get_neg_risk(request: web.Request) -> web.Response:
    market, failure = _token_market(request)
    # aiohttp responses are mappings (empty = falsy): test for None
    return failure if failure is not None else answer({"neg_risk": bool(market.neg_risk)})


async def get_fee_rate(request: web.Request) -> web.Response:
    market, failure = _token_market(request)
    # aiohttp responses are mappings (empty = falsy): test for None
    return failure if failure is not None else answer({"base_fee": market.fee_rate_bps})


async def get_clob_market(request: web.Request) -> web.Response:
    """PCC2's compact market info: t = tokens, mts = min tick, nr = neg risk, fd = fee (2.5)."""
    market = _venue(request).exchange.markets.get(request.match_info["condition_id"])
    if market is None:
        return error(404, "market not found")
    return answer({
        "c": market.condition_id,
        "t": [{"t": market.yes_token_id, "o": "Yes"}, {"t": market.no_token_id, "o": "No"}],
        "mts": float(market.tick_size),
        "mos": market.min_order_size,
        "nr": bool(market.neg_risk),
        "fd": {"r": market.fee_rate_bps / 10_000, "e": 1, "to": True},
    })


async def get_time(request: web.Request) -> web.Response:
    return answer(_venue(request).now_ms() // 1000)


async def get_version(request: web.Request) -> web.Response:
    return answer({"version": 2})


# -- L1: API keys ---------------------------------------------------------------------------------


async def create_api_key(request: web.Request) -> web.Response:
    keyring = _venue(request).keyring
    try:
        address, nonce = keyring.check_l1(request.headers)
    except AuthError as exc:
        return error(401, str(exc))
    return answer(keyring.create(address, nonce).as_json())


async def derive_api_key(request: web.Request) -> web.Response:
    keyring = _venue(request).keyring
    try:
        address, nonce = keyring.check_l1(request.headers)
    except AuthError as exc:
        return error(401, str(exc))
    key = keyring.existing(address, nonce)
    if key is None:
        return error(400, NO_KEY_TO_DERIVE)
    return answer(key.as_json())


# -- Gamma ------------------------------------------------------------------------------------------


def _query_count(request: web.Request, name: str, default: int) -> int | None:
    text = request.query.get(name)
    if text is None:
        return default
    return int(text) if text.isdigit() else None


async def get_events(request: web.Request) -> web.Response:
    """Gamma's `GET /events` over the scenario's markets: `closed=false` lists open events only."""
    venue = _venue(request)
    if venue.faults.take("gamma_5xx"):
        return error(500, "paper venue fault gamma_5xx: internal server error")
    limit, offset = _query_count(request, "limit", 20), _query_count(request, "offset", 0)
    if limit is None or offset is None:
        return error(400, "limit and offset must be whole numbers >= 0")
    markets = venue.exchange.markets
    events = venue.scenario.events(closed=lambda condition_id: markets[condition_id].resolved)
    closed = request.query.get("closed")
    if closed in ("true", "false"):
        events = [e for e in events if e["closed"] == (closed == "true")]
    return answer(events[offset:offset + min(limit, GAMMA_PAGE_MAX)])


async def get_balance_allowance(request: web.Request) -> web.Response:
    """The wallet's pUSD (or a token's shares) in base units, as strings, from the venue's accounts.

    The account is POLY_ADDRESS's: the signer is the wallet for signature type 0 (EOA), which is all
    the paper venue models; it knows no proxy or Safe wallets behind types 1-3."""
    auth = await _l2(request, b"")
    if isinstance(auth, web.Response):
        return auth
    venue = _venue(request)
    if venue.faults.take("balance_5xx"):
        return error(500, "paper venue fault balance_5xx: internal server error")
    account = venue.exchange.accounts.get(auth[1])
    asset_type = request.query.get("asset_type", "")
    if asset_type == "CONDITIONAL":
        token = request.query.get("token_id", "")
        if not token:
            return error(400, "token_id is required for asset_type CONDITIONAL")
        return answer({"balance": str(account.positions.get(token, 0)), "allowances": {}})
    if asset_type != "COLLATERAL":
        return error(400, "asset_type must be COLLATERAL or CONDITIONAL")
    allowance = MAX_UINT256 if account.allowance is None else account.allowance
    return answer({"balance": str(account.collateral),
                   "allowances": {spender: str(allowance) for spender in COLLATERAL_SPENDERS}})


# -- paper-only helpers -----------------------------------------------------------------------------


async def get_balance(request: web.Request) -> web.Response:
    address = request.query.get("address", "")
    if not address:
        return error(400, "address is required")
    return answer(_balance_json(_venue(request), address))


def _balance_json(venue: PaperVenue, address: str) -> dict[str, Any]:
    """Keys of the executor's UpdateBalanceRequest (collateral, inventory) plus what is held back."""
    account = venue.exchange.accounts.get(address)
    return {
        "address": address.lower(),
        "collateral": account.collateral / SHARE_SCALE,
        "inventory": {t: s / SHARE_SCALE for t, s in account.positions.items()},
        "reserved_collateral": account.reserved_collateral / SHARE_SCALE,
        "reserved_inventory": {t: s / SHARE_SCALE for t, s in account.reserved_shares.items()},
    }


async def admin_structure(request: web.Request) -> web.Response:
    return answer(_venue(request).scenario.structure())


async def admin_starting_balance(request: web.Request) -> web.Response:
    """The executor's UpdateBalanceRequest for a new paper account (--starting-balance)."""
    return answer(_venue(request).scenario.starting_balance())


async def admin_stats(request: web.Request) -> web.Response:
    return answer(_venue(request).stats())


async def admin_get_faults(request: web.Request) -> web.Response:
    return answer(_venue(request).faults.snapshot())


async def admin_set_faults(request: web.Request) -> web.Response:
    venue = _venue(request)
    raw = await _json(request)
    try:
        actions = venue.faults.update(raw if isinstance(raw, dict) else None)  # type: ignore[arg-type]
    except FaultError as exc:
        return error(400, str(exc))
    venue.feed.apply_faults(actions)
    return answer(venue.faults.snapshot())


def _levels(raw: Any, name: str) -> dict[int, int]:
    """[[price, size], ...] or [{"price", "size"}, ...] (decimal strings or numbers) → {units: units}."""
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise ValueError(f"{name} must be an array")
    out: dict[int, int] = {}
    for level in raw:
        price, size = (level.get("price"), level.get("size")) if isinstance(level, dict) else level
        p, s = wire.parse_units(price, PRICE_SCALE), wire.parse_units(size, SHARE_SCALE)
        if not (0 < p < PRICE_SCALE) or s < 0:
            raise ValueError(f"{name}: price must be in (0, 1) and size >= 0, got {price!r} {size!r}")
        if s:
            out[p] = out.get(p, 0) + s
    return out


async def admin_book(request: web.Request) -> web.Response:
    """{"token_id", "bids": [[p, s]...], "asks": [...]} sets the venue's own quotes on a token and pins
    them (the scenario stops moving it); {"token_id", "release": true} gives it back to the scenario."""
    venue = _venue(request)
    raw = await _json(request)
    if not isinstance(raw, dict) or not isinstance(raw.get("token_id"), str):
        return error(400, 'expected {"token_id": ..., "bids": [...], "asks": [...]}')
    token = raw["token_id"]
    market = venue.exchange.market_of(token)
    scenario = venue.scenario
    if market is None or not hasattr(scenario, "pin"):
        return error(404, "No orderbook exists for the requested token id")
    try:
        if raw.get("release"):
            quotes = scenario.unpin(token)
        else:
            quotes = (_levels(raw.get("bids"), "bids"), _levels(raw.get("asks"), "asks"))
            tick = tick_units(market.tick_size)
            if any(p % tick for side in quotes for p in side):
                return error(400, f"prices must be on the market's tick grid ({market.tick_size})")
            scenario.pin(token, quotes)
    except (ValueError, TypeError) as exc:
        return error(400, str(exc))
    venue.apply_quotes({token: quotes})
    return answer(venue.snapshot(token, venue.now_ms()))


async def admin_books(request: web.Request) -> web.Response:
    """{"books": [{"token_id", "bids", "asks"}, ...]} pins several tokens' quotes at once and shows them
    in ONE WebSocket frame: an array of `book` events, the way the venue sends several snapshots (the
    answer to a subscription). A client that evaluates mid-frame sees books that never existed."""
    venue = _venue(request)
    raw = await _json(request)
    books = raw.get("books") if isinstance(raw, dict) else None
    scenario = venue.scenario
    if not isinstance(books, list) or not books or not hasattr(scenario, "pin"):
        return error(400, 'expected {"books": [{"token_id": ..., "bids": [...], "asks": [...]}, ...]}')
    updates: dict[str, tuple[dict[int, int], dict[int, int]]] = {}
    for book in books:
        token = book.get("token_id") if isinstance(book, dict) else None
        market = venue.exchange.market_of(token) if isinstance(token, str) else None
        if market is None:
            return error(404, f"No orderbook exists for the requested token id {token!r}")
        try:
            quotes = (_levels(book.get("bids"), "bids"), _levels(book.get("asks"), "asks"))
        except (ValueError, TypeError) as exc:
            return error(400, str(exc))
        tick = tick_units(market.tick_size)
        if any(p % tick for side in quotes for p in side):
            return error(400, f"prices must be on the market's tick grid ({market.tick_size})")
        updates[token] = quotes
    for token, (bids, asks) in updates.items():
        scenario.pin(token, (bids, asks))
        venue.exchange.set_venue_quotes(token, bids, asks)  # its events are not published: the frame below shows them
    now_ms = venue.now_ms()
    frame = [wire.ws_book(venue.snapshot(token, now_ms)) for token in updates]
    venue.feed.send_raw(wire.compact(frame), frozenset(updates))
    return answer({"tokens": list(updates), "events": len(frame)})


async def admin_arbitrage(request: web.Request) -> web.Response:
    """{"instance_id"?, "gap"? (0.03), "size"? (50 shares), "ttl_s"? (scenario default; null = until
    traded)} opens an arbitrage on a trio or the bucket set now."""
    venue = _venue(request)
    raw = await _json(request)
    raw = {} if raw is None else raw
    scenario = venue.scenario
    if not isinstance(raw, dict) or not hasattr(scenario, "inject"):
        return error(400, "this scenario cannot inject arbitrages")
    instance_id = raw.get("instance_id")
    if instance_id is not None and instance_id not in scenario.instances:
        return error(404, f"unknown instance {instance_id!r}; known: {', '.join(scenario.instances)}")
    try:
        gap, size = float(raw.get("gap", 0.03)), float(raw.get("size", 50))
        ttl = raw.get("ttl_s", -1.0)
        ttl = None if ttl is None else float(ttl)
    except (TypeError, ValueError):
        return error(400, "gap, size and ttl_s must be numbers")
    updates = scenario.inject(instance_id, gap, size, venue.clock(), ttl_s=ttl)
    if updates is None:
        return error(409, "the legs' books cannot be moved that far (a leg without asks?)")
    venue.apply_quotes(updates)
    instance = scenario.instances[instance_id or next(iter(scenario.instances))]
    return answer({"instance_id": instance.id, "kind": instance.kind, "legs": list(instance.legs),
                   "ask_sum": wire.decimal_text(scenario.ask_sums()[instance.id]),
                   "payout": wire.decimal_text(instance.payout)})


async def admin_tick_size(request: web.Request) -> web.Response:
    venue = _venue(request)
    raw = await _json(request)
    if not isinstance(raw, dict) or not isinstance(raw.get("tick_size"), str | float):
        return error(400, 'expected {"condition_id" or "token_id", "tick_size": "0.001"}')
    condition = _condition(venue, raw)
    if condition is None:
        return error(404, "market not found")
    tick = str(raw["tick_size"])
    try:
        tick_units(tick)
    except ValueError as exc:
        return error(400, str(exc))
    venue.publish(venue.exchange.set_tick_size(condition, tick))
    return answer({"condition_id": condition, "tick_size": tick})


async def admin_resolve(request: web.Request) -> web.Response:
    """{"winning_token_id"} resolves its market: books cleared, winners paid 1 per share."""
    venue = _venue(request)
    raw = await _json(request)
    winner = raw.get("winning_token_id") if isinstance(raw, dict) else None
    market = venue.exchange.market_of(winner) if isinstance(winner, str) else None
    if market is None:
        return error(404, "winning_token_id is not a known token")
    if market.resolved:
        return error(409, "market already resolved")
    venue.publish(venue.exchange.resolve(market.condition_id, winner))
    return answer({"condition_id": market.condition_id, "winning_token_id": winner})


async def admin_balance(request: web.Request) -> web.Response:
    """{"address", "collateral" (pUSD), "inventory"? {token: shares}, "allowance"? (pUSD; null = unlimited)}
    replaces a paper account's balance (and its allowance, when given)."""
    venue = _venue(request)
    raw = await _json(request)
    if not isinstance(raw, dict) or not isinstance(raw.get("address"), str):
        return error(400, 'expected {"address", "collateral", "inventory"?, "allowance"?}')
    try:
        collateral = wire.parse_units(raw.get("collateral", 0), SHARE_SCALE)
        inventory = raw.get("inventory")
        positions = None if inventory is None else {
            str(t): wire.parse_units(s, SHARE_SCALE) for t, s in dict(inventory).items()}
        allowance = None if raw.get("allowance") is None else wire.parse_units(raw["allowance"], SHARE_SCALE)
    except (ValueError, TypeError) as exc:
        return error(400, str(exc))
    account = venue.exchange.accounts.set_balance(raw["address"], collateral, positions)
    if "allowance" in raw:
        account.allowance = allowance
    return answer(_balance_json(venue, raw["address"]))


async def admin_api_keys(request: web.Request) -> web.Response:
    """Register keys ({"apiKey", "secret", "passphrase", "address"?} or an array) for L2 auth."""
    venue = _venue(request)
    raw = await _json(request)
    try:
        keys = parse_creds(raw)
    except ValueError as exc:
        return error(400, str(exc))
    for key in keys:
        venue.keyring.add(key)
    return answer({"registered": [k.api_key for k in keys]})


def _condition(venue: PaperVenue, raw: dict[str, Any]) -> str | None:
    if isinstance(raw.get("condition_id"), str) and raw["condition_id"] in venue.exchange.markets:
        return raw["condition_id"]
    if isinstance(raw.get("token_id"), str):
        market = venue.exchange.market_of(raw["token_id"])
        return market.condition_id if market else None
    return None
