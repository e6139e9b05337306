"""Reconciliation of UNKNOWN outcomes: what the venue says happened to each order (pure).

An UNKNOWN batch (time-out, 5xx) is never re-posted. Its order hashes are asked of the venue
(GET /data/order/{hash}) until each is final; then a new TradeResult records what really happened.
When "not found" is final is unknown_batches.settle_not_found's rule (a grace period after the POST).
Venue facts (polymarket-protocol.md 2.5; NT PolymarketOrderStatus): statuses may carry a
`_<reason>` suffix; `size_matched` is the shares filled so far.
"""

from __future__ import annotations

import math

from executor_svc.unknown_batches import NOT_FOUND
from polyarb.v1 import executor_pb2

_FINAL = ("matched", "canceled", "cancelled", "unmatched", "invalid", "expired")


def venue_fill(order: dict | None) -> tuple[bool, float, str]:
    """(final, filled shares, status) for the venue's answer; None = the venue has not heard of the
    order (yet: not final by itself, see unknown_batches.settle_not_found)."""
    if order is None:
        return False, 0.0, NOT_FOUND
    status = str(order.get("status") or "").lower()
    try:
        matched = float(order.get("size_matched") or 0.0)
    except (TypeError, ValueError):
        matched = 0.0
    if not math.isfinite(matched) or matched < 0:
        matched = 0.0
    if status.startswith("matched") and not matched:
        try:
            matched = float(order.get("original_size") or 0.0)
        except (TypeError, ValueError):
            matched = 0.0
    return status.startswith(_FINAL), matched, status or "unknown"


def outcome_for(sizes: list[float], filled: list[float]) -> int:
    if all(fill >= size - 1e-9 for size, fill in zip(sizes, filled, strict=True)):
        return executor_pb2.OUTCOME_FILLED
    if not any(fill > 0 for fill in filled):
        return executor_pb2.OUTCOME_REJECTED
    return executor_pb2.OUTCOME_PARTIAL


def reconciled_result(
    unknown: executor_pb2.TradeResult, answers: dict[str, tuple[bool, float, str]], payout: float
) -> executor_pb2.TradeResult | None:
    """The result that replaces an UNKNOWN one, once every leg's order is final; None until then."""
    if any(not answers.get(leg.order_hash, (False, 0.0, ""))[0] for leg in unknown.legs):
        return None
    result = executor_pb2.TradeResult()
    result.CopyFrom(unknown)
    result.seq = 0
    result.recorded_ns = 0
    result.reconciles_seq = unknown.seq
    result.error = ""
    for leg in result.legs:
        _, filled, status = answers[leg.order_hash]
        leg.filled_size = min(leg.size, filled)
        leg.avg_price = 0.0  # a reconciled fill's price is not reported: cost it at the limit
        leg.status = status
        leg.error = ""
    result.outcome = outcome_for([leg.size for leg in result.legs], [leg.filled_size for leg in result.legs])
    result.leg_risk = result.outcome == executor_pb2.OUTCOME_PARTIAL
    cost = sum(leg_cost(leg) for leg in result.legs)
    sets = min((leg.filled_size for leg in result.legs), default=0.0)
    result.cost = round(cost, 6)
    result.expected_pnl = round(payout * sets - cost, 6)
    return result


def leg_cost(leg: executor_pb2.LegResult) -> float:
    """pUSD spent on a leg (negative when received), fees included, at its average fill price when the
    venue reported one, else at its limit price (the worst it could have filled at).

    Fee per share = rate x p(1 - p), rate = fee_rate_bps / 10 000 (py-clob-client-v2 fees.py)."""
    price = leg.avg_price or leg.price
    fee = leg.fee_rate_bps / 10_000 * price * (1.0 - price) * leg.filled_size
    notional = price * leg.filled_size
    return notional + fee if leg.side == executor_pb2.SIDE_BUY else fee - notional


PAYOUT_BY_STRATEGY = {
    executor_pb2.STRATEGY_TRIO: 2.0,
    executor_pb2.STRATEGY_COMPLEMENT_TRIO: 1.0,
    executor_pb2.STRATEGY_BUNDLE: 1.0,
    executor_pb2.STRATEGY_UNBUNDLE: -1.0,
}


def held_by(unknown: executor_pb2.TradeResult) -> tuple[float, dict[str, float]]:
    """What an UNKNOWN batch may have spent, to hold in reserve until it settles: the buy legs' pUSD at
    their limit prices with fees, and the shares of its sell legs (a restarted executor rebuilds its
    reservations from this)."""
    collateral = 0.0
    inventory: dict[str, float] = {}
    for leg in unknown.legs:
        if leg.side == executor_pb2.SIDE_BUY:
            fee = leg.fee_rate_bps / 10_000 * leg.price * (1.0 - leg.price) * leg.size
            collateral += leg.price * leg.size + fee
        else:
            inventory[leg.token_id] = inventory.get(leg.token_id, 0.0) + leg.size
    return collateral, inventory
