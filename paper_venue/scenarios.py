"""Scenarios: which markets the paper venue lists and how its own quotes move.

Pure apart from `read_recording`: time and the random generator are arguments, so a seed gives the
same run twice.

- "ladder" (default): a BTC ladder of "above K" markets (90k, 95k, 100k, 105k), the ranges between
  neighbours — so trios (above L, above U, range (L, U]) — and a neg-risk event of 4 mutually
  exclusive buckets (≤95k, (95k, 100k], (100k, 105k], >105k). A hidden spot price random-walks
  (mean-reverting in log space); each YES is worth its probability under a log-normal terminal
  distribution and NO is 1 - YES, so prices stay consistent across markets. Quotes sit a
  half-spread around fair value, rounded outward to the tick; a side whose best price would leave
  [tick, 1 - tick] is not quoted. That rule keeps every trio's asks ≥ 2, every complement's and
  bundle's asks ≥ 1 and the bucket bids ≤ 1: no arbitrage unless one is injected. Now and then a
  dislocation shifts the legs of one trio (asks sum below 2) or of the bucket set (asks below 1) by
  a few cents, with a small size at the dislocated ask; it lasts until any of it trades or a few
  seconds pass.
- "manual": the same markets at a fixed spot, no walk, no automatic dislocation, no replenishment
  of traded liquidity; books are set and arbitrages injected on demand (admin endpoints).
- a path: a recording (JSON lines {"recv_ns", "frame"}, gzip when the name ends in .gz — the
  format of ingest_svc's --record) replayed frame by frame to subscribers.

Token ids are 77-digit decimal strings and condition ids 0x + 64 hex digits (protocol 1.1, 3),
derived from the market's slug so every run lists the same ids.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import itertools
import json
import math
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from paper_venue.exchange import Market
from paper_venue.matching import PRICE_SCALE, SHARE_SCALE, Side
from paper_venue.orders import tick_units

Quotes = tuple[dict[int, int], dict[int, int]]  # (bids, asks) as {price units: share units}
VenueSize = Callable[[str, Side, int], int]  # (token, side, price) → the venue's resting size there

BUILT_IN = ("ladder", "manual")


def token_id(label: str) -> str:
    """A 77-digit decimal token id (like the real ERC-1155 ids) derived from a label."""
    n = int.from_bytes(hashlib.sha256(f"polyarb paper token {label}".encode()).digest(), "big")
    return str(10**76 + n % (9 * 10**76))


def condition_id(label: str) -> str:
    return "0x" + hashlib.sha256(f"polyarb paper condition {label}".encode()).hexdigest()


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


@dataclass(frozen=True)
class LadderConfig:
    underlying: str = "btc"
    spot: float = 100_000.0
    strikes: tuple[float, ...] = (90_000.0, 95_000.0, 100_000.0, 105_000.0)
    bucket_edges: tuple[float, ...] = (95_000.0, 100_000.0, 105_000.0)  # 4 buckets
    terminal_vol: float = 0.06  # stdev of log(X / spot) at resolution
    walk_vol: float = 0.001  # stdev of log spot per sqrt(second)
    reversion: float = 0.02  # per second, toward the starting spot
    tick_size: str = "0.01"
    half_spread_ticks: int = 1
    level_shares: tuple[int, ...] = (150, 300, 600)  # depth: one entry per level from the best
    min_order_size: float = 5.0
    fee_rate_bps: float = 0.0
    walk: bool = True
    replenish: bool = True  # re-quote traded liquidity on the next step
    dislocation_every_s: float = 8.0  # mean time between injected arbitrages; 0 = never
    dislocation_ttl_s: float | None = 3.0  # None: until traded
    gap_range: tuple[float, float] = (0.02, 0.05)  # how far below the payout the asks sum
    dislocation_shares: tuple[int, int] = (20, 100)
    starting_collateral: float = 10_000.0
    # The day in the Gamma events' slugs (`btc-above-on-december-31`): fixed, so every run lists the same
    # event slugs and a structure sync's shards hold the same groups (the range event and the bucket
    # set land in different shards of 2 with this day; tests/ctl/test_sync.py relies on it).
    resolution_day: str = "december-31"


MANUAL = LadderConfig(walk=False, replenish=False, dislocation_every_s=0.0, dislocation_ttl_s=None)


@dataclass(frozen=True)
class Leg:
    token_id: str
    market: str  # slug
    yes: bool


@dataclass(frozen=True)
class Instance:
    """What the engine can trade: a trio (pays 2) or the bucket bundle (pays 1)."""

    id: str
    kind: str  # "trio" or "bundle"
    legs: tuple[str, ...]  # tokens bought together
    payout: int  # price units

    @property
    def name(self) -> str:
        return self.id


@dataclass
class Dislocation:
    instance: str
    asks: dict[str, int]  # token → the dislocated best ask
    size: int  # share units offered there
    expires_at_s: float | None


@dataclass
class _Spec:
    slug: str
    market: Market
    lower: float  # YES pays when lower < X <= upper
    upper: float


class LadderScenario:
    """The "ladder" and "manual" scenarios."""

    def __init__(self, name: str = "ladder", config: LadderConfig | None = None) -> None:
        self.name = name
        self.config = cfg = config or (MANUAL if name == "manual" else LadderConfig())
        self.tick = tick_units(cfg.tick_size)
        self.log_spot = math.log(cfg.spot)
        self._specs: dict[str, _Spec] = {}
        self._fair_of: dict[str, tuple[str, bool]] = {}  # token → (slug, is YES)
        self.trios: list[tuple[str, str, str, str, float, float]] = []  # id, lower, upper, range slugs, L, U
        self.bucket_set: tuple[str, list[str]] | None = None
        self._build()
        self.instances = self._instances()
        self.pinned: dict[str, Quotes] = {}
        self.dislocations: dict[str, Dislocation] = {}
        self.targets: dict[str, Quotes] = {}
        self.injected = 0
        self._last_step_s: float | None = None

    # -- markets and structure --------------------------------------------------------------------

    def _add(self, slug: str, question: str, lower: float, upper: float, neg_risk: bool) -> None:
        cfg = self.config
        market = Market(
            condition_id=condition_id(slug), yes_token_id=token_id(f"{slug}:yes"), no_token_id=token_id(f"{slug}:no"),
            tick_size=cfg.tick_size, min_order_size=cfg.min_order_size, neg_risk=neg_risk,
            fee_rate_bps=cfg.fee_rate_bps, question=question,
        )
        self._specs[slug] = _Spec(slug, market, lower, upper)
        self._fair_of[market.yes_token_id] = (slug, True)
        self._fair_of[market.no_token_id] = (slug, False)

    def _build(self) -> None:
        cfg, u = self.config, self.config.underlying
        strikes = sorted(cfg.strikes)
        for k in strikes:
            self._add(f"{u}-above-{k:.0f}", f"Will {u.upper()} be above ${k:,.0f}?", k, math.inf, False)
        for lo, hi in itertools.pairwise(strikes):
            self._add(f"{u}-range-{lo:.0f}-{hi:.0f}", f"Will {u.upper()} be between ${lo:,.0f} and ${hi:,.0f}?",
                      lo, hi, False)
            self.trios.append((f"{u}-trio-{lo:.0f}-{hi:.0f}", f"{u}-above-{lo:.0f}", f"{u}-above-{hi:.0f}",
                               f"{u}-range-{lo:.0f}-{hi:.0f}", lo, hi))
        if cfg.bucket_edges:
            edges = [-math.inf, *sorted(cfg.bucket_edges), math.inf]
            members = []
            for lo, hi in itertools.pairwise(edges):
                label = (f"le-{hi:.0f}" if lo == -math.inf else f"gt-{lo:.0f}" if hi == math.inf
                         else f"{lo:.0f}-{hi:.0f}")
                slug = f"{u}-bucket-{label}"
                self._add(slug, f"{u.upper()} price bucket {label}?", lo, hi, True)
                members.append(slug)
            self.bucket_set = (f"{u}-buckets", members)

    def _instances(self) -> dict[str, Instance]:
        out = {}
        for trio_id, lower, upper, rng_slug, _, _ in self.trios:
            legs = (self._specs[lower].market.yes_token_id, self._specs[upper].market.no_token_id,
                    self._specs[rng_slug].market.no_token_id)
            out[trio_id] = Instance(trio_id, "trio", legs, 2 * PRICE_SCALE)
        if self.bucket_set is not None:
            set_id, members = self.bucket_set
            out[set_id] = Instance(set_id, "bundle", tuple(self._specs[m].market.yes_token_id for m in members),
                                   PRICE_SCALE)
        return out

    @property
    def markets(self) -> list[Market]:
        return [spec.market for spec in self._specs.values()]

    def market(self, slug: str) -> Market:
        """A market by slug: "btc-above-100000", "btc-range-95000-100000", "btc-bucket-le-95000", ..."""
        return self._specs[slug].market

    def structure(self, version: int = 1) -> dict[str, Any]:
        """The engine's MarketStructure (proto/polyarb/v1/engine.proto) as proto3 JSON, original field
        names: json_format.ParseDict(structure, engine_pb2.MarketStructure()) reads it."""
        def market_json(slug: str) -> dict[str, Any]:
            m = self._specs[slug].market
            return {"condition_id": m.condition_id, "yes_token_id": m.yes_token_id, "no_token_id": m.no_token_id,
                    "tick_size": float(m.tick_size), "min_order_size": m.min_order_size, "neg_risk": bool(m.neg_risk),
                    "fee_rate_bps": m.fee_rate_bps}

        trios = [{"id": tid, "lower": market_json(lo), "upper": market_json(up), "range": market_json(rg),
                  "lower_bound": lb, "upper_bound": ub} for tid, lo, up, rg, lb, ub in self.trios]
        sets = []
        if self.bucket_set is not None:
            set_id, members = self.bucket_set
            sets.append({"id": set_id, "members": [market_json(m) for m in members], "neg_risk_augmented": False})
        return {"version": version, "trios": trios, "sets": sets}

    def structure_json(self, version: int = 1) -> str:
        return json.dumps(self.structure(version), separators=(",", ":"))

    def events(self, closed: Callable[[str], bool] = lambda condition_id: False) -> list[dict[str, Any]]:
        """The scenario's markets as Gamma's `GET /events` lists them (polymarket-protocol.md 3), so that
        `polyarbctl structure sync` builds the same trios and set as `structure()` from them: an "above"
        ladder event, a range event of the trios' buckets, and the neg-risk bucket event. `closed` says
        which conditions are resolved (a resolved market is listed closed; an event whose markets are all
        closed is closed too)."""
        cfg, u = self.config, self.config.underlying
        day = cfg.resolution_day
        day_title = " ".join(word.capitalize() for word in day.split("-"))

        def market_json(slug: str, title: str) -> dict[str, Any]:
            spec = self._specs[slug]
            m = spec.market
            is_closed = closed(m.condition_id)
            schedule = {"rate": m.fee_rate_bps / 10_000, "exponent": 1, "takerOnly": True}
            fee = {"feesEnabled": True, "feeSchedule": schedule} if m.fee_rate_bps else {"feesEnabled": False}
            return {"id": m.condition_id[2:14], "slug": slug, "question": m.question, "conditionId": m.condition_id,
                    # Gamma's quirk: JSON-encoded strings, not arrays (protocol 3)
                    "clobTokenIds": json.dumps([m.yes_token_id, m.no_token_id]), "outcomes": '["Yes", "No"]',
                    "groupItemTitle": title, "orderPriceMinTickSize": float(m.tick_size),
                    "orderMinSize": m.min_order_size, "negRisk": bool(m.neg_risk), **fee, "active": True,
                    "closed": is_closed, "acceptingOrders": not is_closed, "enableOrderBook": True}

        def event_json(slug: str, title: str, neg_risk: bool, markets: list[dict[str, Any]]) -> dict[str, Any]:
            return {"id": hashlib.sha256(slug.encode()).hexdigest()[:8], "slug": slug, "title": title,
                    "negRisk": neg_risk, "negRiskAugmented": False, "active": True,
                    "closed": all(m["closed"] for m in markets), "markets": markets}

        def number(value: float) -> str:
            return f"{value:,.0f}"

        strikes = sorted(cfg.strikes)
        events = [
            event_json(f"{u}-above-on-{day}", f"{u.upper()} above ___ on {day_title}?", False,
                       [market_json(f"{u}-above-{k:.0f}", number(k)) for k in strikes]),
            event_json(f"{u}-price-on-{day}", f"{u.upper()} price on {day_title}?", False,
                       [market_json(rng, f"{number(lo)}-{number(hi)}") for _, _, _, rng, lo, hi in self.trios]),
        ]
        if self.bucket_set is not None:
            set_id, members = self.bucket_set

            def bucket_title(slug: str) -> str:
                spec = self._specs[slug]
                if spec.lower == -math.inf:
                    return f"<{number(spec.upper)}"
                if spec.upper == math.inf:
                    return f">{number(spec.lower)}"
                return f"{number(spec.lower)}-{number(spec.upper)}"

            # the set's id is its event's slug (what the Gamma builder names a set by)
            events.append(event_json(set_id, f"{u.upper()} price buckets, {day_title}", True,
                                     [market_json(m, bucket_title(m)) for m in members]))
        return events

    def starting_balance(self) -> dict[str, Any]:
        """The executor's UpdateBalanceRequest (proto/polyarb/v1/executor.proto) as JSON."""
        return {"collateral": self.config.starting_collateral, "inventory": {}}

    # -- prices ------------------------------------------------------------------------------------

    @property
    def spot(self) -> float:
        return math.exp(self.log_spot)

    def fair(self, token: str) -> float:
        """The hidden fair value of a token at the current spot."""
        slug, yes = self._fair_of[token]
        spec = self._specs[slug]
        sigma = self.config.terminal_vol

        def above(k: float) -> float:
            if k == -math.inf:
                return 1.0
            if k == math.inf:
                return 0.0
            return _phi((self.log_spot - math.log(k)) / sigma)

        p_yes = above(spec.lower) - above(spec.upper)
        return p_yes if yes else 1.0 - p_yes

    def quotes_for(self, token: str, shift: int = 0) -> Quotes:
        """Bids and asks around fair value - shift, rounded outward to the tick, inside [tick, 1 - tick]."""
        cfg, tick = self.config, self.tick
        center = round(self.fair(token) * PRICE_SCALE) - shift
        half = cfg.half_spread_ticks * tick
        best_ask = -(-(center + half) // tick) * tick
        best_bid = ((center - half) // tick) * tick
        asks: dict[int, int] = {}
        bids: dict[int, int] = {}
        for i, shares in enumerate(cfg.level_shares):
            ask, bid = best_ask + i * tick, best_bid - i * tick
            if best_ask <= PRICE_SCALE - tick and ask <= PRICE_SCALE - tick:
                asks[ask] = shares * SHARE_SCALE
            if best_bid >= tick and bid >= tick:
                bids[bid] = shares * SHARE_SCALE
        return bids, asks

    # -- moving -------------------------------------------------------------------------------------

    def initial_quotes(self) -> dict[str, Quotes]:
        self.targets = {token: self.quotes_for(token) for token in self._fair_of}
        return dict(self.targets)

    def step(self, now_s: float, rng: random.Random, venue_size: VenueSize) -> dict[str, Quotes]:
        """Advance to now_s: walk, end and start dislocations; the quotes to (re)apply per token."""
        cfg = self.config
        dt = 0.0 if self._last_step_s is None else max(0.0, now_s - self._last_step_s)
        self._last_step_s = now_s
        if cfg.walk and dt > 0:
            pull = cfg.reversion * (math.log(cfg.spot) - self.log_spot) * dt
            self.log_spot += pull + cfg.walk_vol * math.sqrt(dt) * rng.gauss(0.0, 1.0)
        for key, dis in list(self.dislocations.items()):
            traded = any(venue_size(t, Side.SELL, p) < dis.size for t, p in dis.asks.items())
            expired = dis.expires_at_s is not None and now_s >= dis.expires_at_s
            if traded or expired:
                del self.dislocations[key]
        if cfg.dislocation_every_s > 0 and dt > 0 and rng.random() < dt / cfg.dislocation_every_s:
            self._inject_random(now_s, rng)
        return self._retarget()

    def _retarget(self) -> dict[str, Quotes]:
        frozen = {t for d in self.dislocations.values() for t in d.asks}
        changed: dict[str, Quotes] = {}
        for token in self._fair_of:
            if token in self.pinned or token in frozen:
                quotes = self.pinned.get(token) or self.targets[token]
            else:
                quotes = self.quotes_for(token)
            if quotes != self.targets.get(token) or self.config.replenish:
                changed[token] = quotes
            self.targets[token] = quotes
        return changed

    def _inject_random(self, now_s: float, rng: random.Random) -> None:
        candidates = [i for i in self.instances.values()
                      if not any(leg in self.pinned for leg in i.legs) and i.id not in self.dislocations]
        rng.shuffle(candidates)
        gap = rng.uniform(*self.config.gap_range)
        size = rng.randint(*self.config.dislocation_shares)
        for instance in candidates:
            if self.inject(instance.id, gap, size, now_s, retarget=False) is not None:
                return

    def inject(self, instance_id: str | None, gap: float, size_shares: float, now_s: float,
               ttl_s: float | None = -1.0, retarget: bool = True) -> dict[str, Quotes] | None:
        """Open an arbitrage on one instance (a trio or the bundle): its legs' asks sum `gap` below the
        payout, `size_shares` offered at each dislocated ask. None when the legs cannot get there (a
        leg without asks, or asks already at the floor). Returns the quotes to apply."""
        if instance_id is None:
            instance_id = next(iter(self.instances))
        instance = self.instances[instance_id]
        tick = self.tick
        current = {t: (self.pinned.get(t) or self.targets.get(t) or self.quotes_for(t)) for t in instance.legs}
        best = {t: min(q[1]) for t, q in current.items() if q[1]}
        if len(best) != len(instance.legs):
            return None
        need = sum(best.values()) - (instance.payout - round(gap * PRICE_SCALE))
        shifts = dict.fromkeys(instance.legs, 0)
        while need > 0:
            movable = [t for t in instance.legs if best[t] - shifts[t] - tick >= tick]
            if not movable:
                return None
            for t in movable:
                if need <= 0:
                    break
                shifts[t] += tick
                need -= tick
        size = round(size_shares * SHARE_SCALE)
        asks: dict[str, int] = {}
        for t in instance.legs:
            bids, leg_asks = current[t]
            price = best[t] - shifts[t]
            new_asks = {p - shifts[t]: s for p, s in leg_asks.items()}
            new_asks[price] = size
            new_bids = {p - shifts[t]: s for p, s in bids.items() if p - shifts[t] >= tick}
            self.targets[t] = (new_bids, new_asks)
            asks[t] = price
        ttl = self.config.dislocation_ttl_s if ttl_s == -1.0 else ttl_s
        self.dislocations[instance_id] = Dislocation(instance_id, asks, size,
                                                     None if ttl is None else now_s + ttl)
        self.injected += 1
        return {t: self.targets[t] for t in instance.legs} if retarget else {}

    def pin(self, token: str, quotes: Quotes) -> None:
        """Fix a token's venue quotes (admin book) until unpinned."""
        if token not in self._fair_of:
            raise KeyError(token)
        self.pinned[token] = quotes
        self.targets[token] = quotes

    def unpin(self, token: str) -> Quotes:
        self.pinned.pop(token, None)
        self.targets[token] = self.quotes_for(token)
        return self.targets[token]

    def ask_sums(self) -> dict[str, int]:
        """Sum of the legs' best asks per instance (0 when a leg has none): for logs and tests."""
        out = {}
        for instance in self.instances.values():
            asks = [min(self.targets[t][1]) if self.targets.get(t) and self.targets[t][1] else None
                    for t in instance.legs]
            out[instance.id] = 0 if None in asks else sum(asks)
        return out


# -- replay ----------------------------------------------------------------------------------------


@dataclass
class ReplayScenario:
    """Frames of a recording, sent to subscribers as they were received (speed 1), faster, or at once
    (speed 0). The venue lists no markets of its own while replaying."""

    path: str
    speed: float = 1.0
    starting_collateral: float = 0.0
    name: str = field(init=False)
    markets: list[Market] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.name = self.path

    def structure(self, version: int = 1) -> dict[str, Any]:
        return {"version": version, "trios": [], "sets": []}

    def structure_json(self, version: int = 1) -> str:
        return json.dumps(self.structure(version), separators=(",", ":"))

    def events(self, closed: Callable[[str], bool] = lambda condition_id: False) -> list[dict[str, Any]]:
        return []  # a recording's markets are unknown to the venue

    def starting_balance(self) -> dict[str, Any]:
        return {"collateral": self.starting_collateral, "inventory": {}}

    def frames(self) -> Iterator[tuple[int, str]]:
        with open_recording(self.path) as fileobj:
            yield from read_recording(fileobj)


def open_recording(path: str) -> IO[bytes]:
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")


def read_recording(fileobj: IO[bytes]) -> Iterator[tuple[int, str]]:
    """(recv_ns, frame) per line of a recording; a last line cut off mid-write ends the replay."""
    try:
        for line in fileobj:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                yield int(record["recv_ns"]), str(record["frame"])
            except (ValueError, KeyError, TypeError):
                if not line.endswith(b"\n"):
                    return
                raise
    except EOFError:  # a .gz whose writer died before the gzip trailer
        return


def frame_assets(frame: str) -> set[str] | None:
    """Asset ids a recorded frame concerns; None when it is not a JSON event frame (PONG, text)."""
    try:
        data = json.loads(frame)
    except ValueError:
        return None
    events = data if isinstance(data, list) else [data]
    assets: set[str] = set()
    for event in events:
        if not isinstance(event, Mapping):
            continue
        if isinstance(event.get("asset_id"), str):
            assets.add(event["asset_id"])
        for change in event.get("price_changes") or ():
            if isinstance(change, Mapping) and isinstance(change.get("asset_id"), str):
                assets.add(change["asset_id"])
        for asset in event.get("assets_ids") or ():
            if isinstance(asset, str):
                assets.add(asset)
    return assets


def load(name_or_path: str, replay_speed: float = 1.0,
         starting_collateral: float | None = None) -> LadderScenario | ReplayScenario:
    """A built-in scenario by name, or a recording by path; starting_collateral (pUSD) overrides the
    balance the scenario reports for a new account."""
    if name_or_path in BUILT_IN:
        config = MANUAL if name_or_path == "manual" else LadderConfig()
        if starting_collateral is not None:
            config = dataclasses.replace(config, starting_collateral=starting_collateral)
        return LadderScenario(name_or_path, config)
    return ReplayScenario(name_or_path, replay_speed, starting_collateral or 0.0)
