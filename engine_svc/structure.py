"""Market structure: validate an `UpdateMarketStructure` message whole and index it for the hot path.

`compile_structure` either returns a complete `Structure` or raises `StructureError` naming the first
fault, so the servicer can swap structures atomically (an invalid one is refused, the running one
stays). Checks run in message order: trios, then sets; within an instance: id, presence of markets,
bounds, each market's fields, token roles, then consistency with earlier instances.

Augmented neg-risk events (Gamma `negRiskAugmented`: an implicit "Other" outcome whose meaning
shrinks as placeholders get named) are never complete sets, so the sum of their YES asks below 1 is
not an arbitrage. Decision: the *structure* refuses them; the evaluation never has to ask. What the
proto lets us check is enforced here: every member of an OutcomeSet must be `neg_risk` (only a
neg-risk event guarantees that exactly one YES resolves), with at least two distinct markets. A set
flagged `neg_risk_augmented` (Gamma's negRiskAugmented: an implicit "Other" outcome) is refused too;
the CLI that builds structures from Gamma (polyarb/ctl/gamma.py) skips such events
before they get here, and the engine refuses a set flagged anyway.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from engine_svc.fees import BPS, rate_from_bps
from polyarb.v1 import engine_pb2

__all__ = [
    "ALLOWED_TICKS",
    "COMPLEMENT_ROLES",
    "EMPTY_STRUCTURE",
    "TRIO_ROLES",
    "Instance",
    "LegRole",
    "Market",
    "OutcomeSet",
    "Structure",
    "StructureError",
    "Trio",
    "compile_structure",
    "diff_tokens",
]

# Polymarket's tick sizes (py-clob-client-v2 `ROUNDING_CONFIG` keys).
ALLOWED_TICKS = (0.1, 0.01, 0.001, 0.0001, 0.005, 0.0025)
_TICK_TEXT = ", ".join(repr(t) for t in ALLOWED_TICKS)



class StructureError(ValueError):
    """A market structure the engine refuses; `reason` names the first fault."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LegRole(enum.IntEnum):
    """Which leg of which strategy a token is, within one instance."""

    LOWER_YES = 0  # trio: YES(above L) + NO(above U) + NO(range), pays 2
    UPPER_NO = 1
    RANGE_NO = 2
    LOWER_NO = 3  # complement trio: NO(above L) + YES(above U) + YES(range), pays 1
    UPPER_YES = 4
    RANGE_YES = 5
    MEMBER_YES = 6  # a set member's YES: bundle buys its ask, unbundle sells its bid


TRIO_ROLES = (LegRole.LOWER_YES, LegRole.UPPER_NO, LegRole.RANGE_NO)
COMPLEMENT_ROLES = (LegRole.LOWER_NO, LegRole.UPPER_YES, LegRole.RANGE_YES)


@dataclass(frozen=True, slots=True)
class Market:
    condition_id: str
    yes_token_id: str
    no_token_id: str
    tick_size: float
    min_order_size: float
    neg_risk: bool
    fee_rate_bps: float

    @property
    def fee_rate(self) -> float:
        return rate_from_bps(self.fee_rate_bps)


@dataclass(frozen=True, slots=True)
class Trio:
    """lower = "above L", upper = "above U" (L < U), range = "(L, U]"; also its complement."""

    id: str
    lower: Market
    upper: Market
    range: Market
    lower_bound: float
    upper_bound: float

    def token(self, role: LegRole) -> str:
        return _TRIO_TOKEN[role](self)

    def market(self, role: LegRole) -> Market:
        return _TRIO_MARKET[role](self)


@dataclass(frozen=True, slots=True)
class OutcomeSet:
    """Members of a complete, mutually exclusive neg-risk event: exactly one YES pays 1."""

    id: str
    members: tuple[Market, ...]


Instance = Trio | OutcomeSet

_TRIO_TOKEN = {
    LegRole.LOWER_YES: lambda t: t.lower.yes_token_id,
    LegRole.UPPER_NO: lambda t: t.upper.no_token_id,
    LegRole.RANGE_NO: lambda t: t.range.no_token_id,
    LegRole.LOWER_NO: lambda t: t.lower.no_token_id,
    LegRole.UPPER_YES: lambda t: t.upper.yes_token_id,
    LegRole.RANGE_YES: lambda t: t.range.yes_token_id,
}
_TRIO_MARKET = {
    LegRole.LOWER_YES: lambda t: t.lower,
    LegRole.UPPER_NO: lambda t: t.upper,
    LegRole.RANGE_NO: lambda t: t.range,
    LegRole.LOWER_NO: lambda t: t.lower,
    LegRole.UPPER_YES: lambda t: t.upper,
    LegRole.RANGE_YES: lambda t: t.range,
}


@dataclass(frozen=True, slots=True)
class Structure:
    """A validated structure: instances, the tokens it needs and the token → (instance, role) table."""

    version: int
    instances: tuple[Instance, ...]
    tokens: frozenset[str]
    jump: Mapping[str, tuple[tuple[int, LegRole], ...]]
    markets: Mapping[str, Market]  # every needed token → its market
    index: Mapping[str, int]  # instance id → position in `instances`

    @property
    def instance_count(self) -> int:
        """Trios plus sets; a trio and its complement are one instance."""
        return len(self.instances)

    @property
    def token_count(self) -> int:
        return len(self.tokens)


_NOTHING: Mapping = MappingProxyType({})
EMPTY_STRUCTURE = Structure(0, (), frozenset(), _NOTHING, _NOTHING, _NOTHING)


def diff_tokens(old: Structure | None, new: Structure) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(added, removed) token ids, sorted, for the subscription change sent to ingest."""
    before = old.tokens if old is not None else frozenset()
    return tuple(sorted(new.tokens - before)), tuple(sorted(before - new.tokens))


def compile_structure(msg: engine_pb2.MarketStructure) -> Structure:
    """Validate `msg` whole and index it; `StructureError` names the first fault."""
    builder = _Builder()
    for i, trio in enumerate(msg.trios):
        builder.add_trio(i, trio)
    for i, outcome_set in enumerate(msg.sets):
        builder.add_set(i, outcome_set)
    return builder.build(msg.version)


# -- validation ------------------------------------------------------------------------------------


class _Builder:
    """Accumulates instances in message order, so the first fault raised is the first in the message."""

    def __init__(self) -> None:
        self.instances: list[Instance] = []
        self.index: dict[str, int] = {}
        self.jump: dict[str, list[tuple[int, LegRole]]] = {}
        self.markets: dict[str, Market] = {}
        # every token seen so far (needed or not) → (its market, is YES, where it was described)
        self.described: dict[str, tuple[Market, bool, str]] = {}

    def add_trio(self, i: int, msg: engine_pb2.Trio) -> None:
        where = self._claim_id("trio", i, msg.id)
        for part in ("lower", "upper", "range"):
            if not msg.HasField(part):
                raise StructureError(f"{where}: {part} market missing")
        low, high = msg.lower_bound, msg.upper_bound
        if not (math.isfinite(low) and math.isfinite(high)):
            raise StructureError(f"{where}: bounds must be finite, got L={low!r} U={high!r}")
        if low >= high:
            raise StructureError(f"{where}: lower_bound {low!r} must be < upper_bound {high!r}")
        trio = Trio(
            id=msg.id,
            lower=_market(msg.lower, f"{where}: lower market"),
            upper=_market(msg.upper, f"{where}: upper market"),
            range=_market(msg.range, f"{where}: range market"),
            lower_bound=low,
            upper_bound=high,
        )
        _distinct_roles(where, [(trio.lower, "lower"), (trio.upper, "upper"), (trio.range, "range")])
        self._describe(where, [trio.lower, trio.upper, trio.range])
        roles = TRIO_ROLES + COMPLEMENT_ROLES
        self._register(trio, [(trio.token(role), role, trio.market(role)) for role in roles])

    def add_set(self, i: int, msg: engine_pb2.OutcomeSet) -> None:
        where = self._claim_id("set", i, msg.id)
        if len(msg.members) < 2:
            raise StructureError(f"{where}: {len(msg.members)} member(s); a set needs at least two")
        members = tuple(_market(m, f"{where}: member #{j}") for j, m in enumerate(msg.members))
        _distinct_roles(where, [(m, f"member #{j}") for j, m in enumerate(members)])
        for j, member in enumerate(members):
            if not member.neg_risk:
                raise StructureError(
                    f"{where}: member #{j} is not neg_risk; only a neg-risk event guarantees exactly one YES"
                )
        if msg.neg_risk_augmented:
            raise StructureError(f"{where}: augmented neg-risk event (implicit Other) is not a complete set")
        self._describe(where, list(members))
        self._register(
            OutcomeSet(id=msg.id, members=members),
            [(m.yes_token_id, LegRole.MEMBER_YES, m) for m in members],
        )

    def build(self, version: int) -> Structure:
        return Structure(
            version=version,
            instances=tuple(self.instances),
            tokens=frozenset(self.jump),
            jump=MappingProxyType({token: tuple(entries) for token, entries in self.jump.items()}),
            markets=MappingProxyType(dict(self.markets)),
            index=MappingProxyType(dict(self.index)),
        )

    def _claim_id(self, kind: str, i: int, instance_id: str) -> str:
        if not instance_id.strip():
            raise StructureError(f"{kind} #{i}: empty id")
        where = f"{kind} {instance_id!r}"
        if instance_id in self.index:
            raise StructureError(f"{where}: duplicate instance id")
        return where

    def _describe(self, where: str, markets: list[Market]) -> None:
        # One token, one description: the hot path keeps one state (tick, min size, fee) per token,
        # so two instances that disagree about a token are a data bug we refuse rather than guess.
        for market in markets:
            for token, is_yes in ((market.yes_token_id, True), (market.no_token_id, False)):
                seen = self.described.get(token)
                if seen is None:
                    self.described[token] = (market, is_yes, where)
                elif seen[0] != market or seen[1] != is_yes:
                    raise StructureError(f"{where}: token {token} is described differently in {seen[2]}")

    def _register(self, instance: Instance, legs: list[tuple[str, LegRole, Market]]) -> None:
        position = len(self.instances)
        self.index[instance.id] = position
        self.instances.append(instance)
        for token, role, market in legs:
            self.jump.setdefault(token, []).append((position, role))
            self.markets[token] = market


def _market(msg: engine_pb2.Market, where: str) -> Market:
    if not msg.yes_token_id:
        raise StructureError(f"{where}: empty yes_token_id")
    if not msg.no_token_id:
        raise StructureError(f"{where}: empty no_token_id")
    if msg.yes_token_id == msg.no_token_id:
        raise StructureError(f"{where}: yes_token_id equals no_token_id ({msg.yes_token_id})")
    tick = _canonical_tick(msg.tick_size)
    if tick is None:
        raise StructureError(f"{where}: tick_size {msg.tick_size!r} is not one of {_TICK_TEXT}")
    if not math.isfinite(msg.min_order_size) or msg.min_order_size < 0:
        raise StructureError(f"{where}: min_order_size must be finite and >= 0, got {msg.min_order_size!r}")
    if not math.isfinite(msg.fee_rate_bps) or not 0 <= msg.fee_rate_bps <= BPS:
        raise StructureError(f"{where}: fee_rate_bps must be within 0..10000, got {msg.fee_rate_bps!r}")
    return Market(
        condition_id=msg.condition_id,
        yes_token_id=msg.yes_token_id,
        no_token_id=msg.no_token_id,
        tick_size=tick,
        min_order_size=msg.min_order_size,
        neg_risk=msg.neg_risk,
        fee_rate_bps=msg.fee_rate_bps,
    )


def _canonical_tick(tick: float) -> float | None:
    # A tick that went through JSON or a float32 may be a hair off; snap it to the venue's value.
    for allowed in ALLOWED_TICKS:
        if abs(tick - allowed) <= allowed * 1e-9:
            return allowed
    return None


def _distinct_roles(where: str, markets: list[tuple[Market, str]]) -> None:
    """No token (and no market) may play two roles inside one instance."""
    roles: dict[str, str] = {}
    conditions: dict[str, str] = {}
    for market, name in markets:
        if market.condition_id:
            other = conditions.get(market.condition_id)
            if other is not None:
                raise StructureError(f"{where}: market {market.condition_id} is both {other} and {name}")
            conditions[market.condition_id] = name
        for token, side in ((market.yes_token_id, "YES"), (market.no_token_id, "NO")):
            role = f"{name} {side}"
            if token in roles:
                raise StructureError(f"{where}: token {token} is both {roles[token]} and {role}")
            roles[token] = role
