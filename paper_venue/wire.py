"""Polymarket's JSON shapes, built from the venue's integer state. Pure: timestamps are arguments.

Facts from shared/docs/polymarket-protocol.md: decimal strings for prices and sizes, epoch
milliseconds as strings (1.1); `book`, `price_change` (current schema, with best_bid/best_ask),
`last_trade_price`, `tick_size_change`, `market_resolved` (1.2), best level LAST in each array (1.2);
the book hash (SHA-1 over compact JSON in a fixed key order, 1.2 / PCC2 utilities.py); order
responses (2.5).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from paper_venue.matching import PRICE_SCALE, SHARE_SCALE, LevelChange, Side

_SCALE_DIGITS = 6


def compact(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def decimal_text(units: int, scale: int = PRICE_SCALE) -> str:
    """Integer units → the shortest decimal string: 570000 → "0.57", 100000000 → "100" (as the venue
    writes them, e.g. "0.06", "374.34", "2200.8")."""
    whole, frac = divmod(abs(units), scale)
    sign = "-" if units < 0 else ""
    if not frac:
        return f"{sign}{whole}"
    digits = str(frac).rjust(len(str(scale)) - 1, "0").rstrip("0")
    return f"{sign}{whole}.{digits}"


def parse_units(value: Any, scale: int = SHARE_SCALE) -> int:
    """A decimal string or number → integer units; ValueError when it has more than 6 decimals."""
    if isinstance(value, bool):
        raise ValueError("expected a number")
    try:
        dec = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None
    units = dec * scale
    if not dec.is_finite() or units != units.to_integral_value():
        raise ValueError(f"{value!r} has more than {_SCALE_DIGITS} decimals")
    return int(units)


def levels_json(depth: Iterable[tuple[int, int]]) -> list[dict[str, str]]:
    return [{"price": decimal_text(p), "size": decimal_text(s, SHARE_SCALE)} for p, s in depth]


def book_summary(
    market: str,
    asset_id: str,
    timestamp_ms: int,
    bids: Sequence[tuple[int, int]],
    asks: Sequence[tuple[int, int]],
    *,
    min_order_size: float,
    tick_size: str,
    neg_risk: bool | None,
    last_trade_price: int | None,
) -> dict[str, Any]:
    """GET /book's body, hash included (PCC2 generate_orderbook_summary_hash). bids/asks best last."""
    summary = {
        "market": market,
        "asset_id": asset_id,
        "timestamp": str(timestamp_ms),
        "hash": "",
        "bids": levels_json(bids),
        "asks": levels_json(asks),
        "min_order_size": _number_text(min_order_size),
        "tick_size": tick_size,
        "neg_risk": bool(neg_risk),
        "last_trade_price": decimal_text(last_trade_price) if last_trade_price is not None else "",
    }
    summary["hash"] = hashlib.sha1(compact(summary).encode()).hexdigest()
    return summary


def ws_book(summary: dict[str, Any]) -> dict[str, Any]:
    """The WebSocket `book` event of a REST summary: same hash, no min_order_size/neg_risk (1.2)."""
    out = {k: summary[k] for k in ("market", "asset_id", "timestamp", "hash", "bids", "asks", "tick_size")}
    if summary.get("last_trade_price"):
        out["last_trade_price"] = summary["last_trade_price"]
    out["event_type"] = "book"
    return out


def price_change_entry(
    asset_id: str, change: LevelChange, best_bid: int | None, best_ask: int | None, timestamp_ms: int
) -> dict[str, str]:
    side = "BUY" if change.side is Side.BUY else "SELL"
    entry = {
        "asset_id": asset_id,
        "price": decimal_text(change.price),
        "size": decimal_text(change.size, SHARE_SCALE),
        "side": side,
        "hash": "",
        # An empty side reads as 0 (no bid) and 1 (no ask): prices nobody can trade through.
        "best_bid": decimal_text(best_bid) if best_bid is not None else "0",
        "best_ask": decimal_text(best_ask) if best_ask is not None else "1",
    }
    # Resends repeat the hash (1.2); ours is a digest of the entry, so equal entries hash alike.
    entry["hash"] = hashlib.sha1(f"{compact(entry)}{timestamp_ms}".encode()).hexdigest()
    return entry


def price_change_event(market: str, entries: list[dict[str, str]], timestamp_ms: int) -> dict[str, Any]:
    return {"market": market, "price_changes": entries, "timestamp": str(timestamp_ms), "event_type": "price_change"}


def last_trade_price_event(
    market: str, asset_id: str, price: int, size: int, fee_rate_bps: float, taker_side: Side,
    timestamp_ms: int, transaction_hash: str,
) -> dict[str, str]:
    return {
        "market": market,
        "asset_id": asset_id,
        "price": decimal_text(price),
        "size": decimal_text(size, SHARE_SCALE),
        "fee_rate_bps": _number_text(fee_rate_bps),
        "side": "BUY" if taker_side is Side.BUY else "SELL",
        "timestamp": str(timestamp_ms),
        "event_type": "last_trade_price",
        "transaction_hash": transaction_hash,
    }


def tick_size_change_event(market: str, asset_id: str, old: str, new: str, timestamp_ms: int) -> dict[str, str]:
    return {
        "event_type": "tick_size_change",
        "asset_id": asset_id,
        "market": market,
        "old_tick_size": old,
        "new_tick_size": new,
        "timestamp": str(timestamp_ms),
    }


def market_resolved_event(
    market: str, assets_ids: list[str], winning_asset_id: str, winning_outcome: str, timestamp_ms: int,
    question: str = "",
) -> dict[str, Any]:
    return {
        "event_type": "market_resolved",
        "id": market,
        "market": market,
        "question": question,
        "assets_ids": assets_ids,
        "winning_asset_id": winning_asset_id,
        "winning_outcome": winning_outcome,
        "timestamp": str(timestamp_ms),
        "tags": [],
    }


def order_response(
    *, success: bool, error: str = "", order_id: str = "", status: str = "", making: str = "",
    taking: str = "", transactions_hashes: Sequence[str] = (), trade_ids: Sequence[str] = (),
) -> dict[str, Any]:
    """One order's answer to POST /order(s) (2.5)."""
    return {
        "success": success,
        "errorMsg": error,
        "orderID": order_id,
        "status": status,
        "makingAmount": making,
        "takingAmount": taking,
        "transactionsHashes": list(transactions_hashes),
        "tradeIDs": list(trade_ids),
    }


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
