"""Saved Gamma events → the engine's `MarketStructure` (pure: dicts in, a message and warnings out).

Gamma shapes are polymarket-protocol.md section 3. What becomes what:

- An *"above" ladder* is an event like `bitcoin-above-on-november-10` ("Bitcoin above ___ on
  November 10?"): one Yes/No market per strike, nested (not exclusive). The strike comes from
  `groupItemTitle` ("96,000", "NVDA above $240"), else from the question ("... above $96,000 ...").
- A *range event* is like `bitcoin-price-on-november-10`: buckets "<84,000", "84,000-86,000",
  ">86,000", read as (-inf, 84000], (84000, 86000], (86000, inf).
- A *trio* is a bucket (L, U] of a range event plus the ladder's "above L" and "above U" markets of
  the same asset and date. Keying on the bucket, not on pairs of strikes, means every pair L < U the
  identity "above L and not above U  <=>  in (L, U]" holds for is found, consecutive or not, and no
  trio exists without its exact bucket.
- A *set* is a complete neg-risk event: `negRisk`, not `negRiskAugmented`, no `negRiskOther`
  placeholder, every market tradeable. An augmented event is refused here with a warning and never
  emitted (not even with `neg_risk_augmented=true`): its listed outcomes do not cover the implicit
  "Other", so a bundle of them does not pay 1 in every world.

Anything that cannot be used is skipped with one warning naming the event or market and the reason;
nothing here raises on bad data, so one odd market never hides the rest of a file.
"""

from __future__ import annotations

import enum
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from polyarb.v1 import engine_pb2

__all__ = [
    "ALLOWED_TICKS",
    "DEFAULT_MIN_ORDER_SIZE",
    "Bucket",
    "DateKey",
    "parse_bucket",
    "parse_number",
    "parse_strike",
    "structure_from_gamma",
]

# The engine's tick table (engine_svc.structure.ALLOWED_TICKS; a test keeps the two equal). A market
# with another tick would make the engine refuse the whole structure, so it is skipped here instead.
ALLOWED_TICKS = (0.1, 0.01, 0.001, 0.0001, 0.005, 0.0025)
DEFAULT_MIN_ORDER_SIZE = 5.0  # shares; Gamma's `orderMinSize` is "typically 5" (protocol doc section 3)
BPS = 10_000.0  # engine_svc/fees.py: fee_rate_bps = feeSchedule.rate x 10 000, exponent 1

MONTHS = {
    name: i
    for i, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1
    )
}
MONTH_NAMES = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
# Slugs and titles name the same asset differently now and then; ids use the long name.
ASSET_ALIASES = {"btc": "bitcoin", "eth": "ethereum", "sol": "solana", "xrp": "ripple"}

Warnings = list[str]


class EventKind(enum.Enum):
    LADDER = "above"  # nested strikes: "Bitcoin above ___ on <date>?"
    RANGE = "price"  # exclusive buckets: "Bitcoin price on <date>?"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class DateKey:
    """What matches a ladder to its range event: the asset and the day.

    The year is not part of the key: slugs usually omit it ("bitcoin-above-on-november-10") while
    questions may carry it ("... on November 10, 2025?"). Two known, different years still never pair
    (see `_years_agree`).
    """

    asset: str
    month: int
    day: int

    def label(self, year: int | None) -> str:
        text = f"{self.asset}-{MONTH_NAMES[self.month - 1]}-{self.day}"
        return f"{text}-{year}" if year else text


@dataclass(frozen=True, slots=True)
class Bucket:
    """A range bucket (low, high]; -inf/inf for the open-ended ones."""

    low: float
    high: float

    @property
    def bounded(self) -> bool:
        return math.isfinite(self.low) and math.isfinite(self.high)


@dataclass(frozen=True, slots=True)
class Listing:
    """One tradeable Gamma market, parsed: the engine's Market plus what matching needs."""

    name: str  # for warnings: the market slug, else its condition id
    market: engine_pb2.Market
    key: DateKey | None
    year: int | None


# -- small parsers: text → value or None --------------------------------------------------------------

# "$96,000", "96k"; the suffix must end a word so "240 million" is not read as 240e6
_NUMBER = r"\$?\s*(\d[\d,]*(?:\.\d+)?)\s*(?:([km])\b)?"
_NUMBER_ONLY = re.compile(rf"^{_NUMBER}$", re.I)
_ABOVE = re.compile(rf"\babove\s+{_NUMBER}", re.I)
_RANGE = re.compile(rf"^{_NUMBER}\s*(?:-|\u2013|\u2014|to)\s*{_NUMBER}$", re.I)  # hyphen, en or em dash, "to"
_BELOW_TITLE = re.compile(rf"^(?:<|≤|<=|below|under|less than)\s*{_NUMBER}$", re.I)
_ABOVE_TITLE = re.compile(rf"^(?:>|≥|>=|above|over|more than|greater than)\s*{_NUMBER}$|^{_NUMBER}\s*\+$", re.I)
_BETWEEN_Q = re.compile(rf"\bbetween\s+{_NUMBER}\s+and\s+{_NUMBER}", re.I)
_BELOW_Q = re.compile(rf"\b(?:less than|below|under)\s+{_NUMBER}", re.I)
_ABOVE_Q = re.compile(rf"\b(?:greater than|more than|above|over)\s+{_NUMBER}", re.I)
# whole month names or their usual abbreviations only: "decrease 25 bps" is no date
_MONTH = (
    r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DATE_SLUG = re.compile(rf"(?:^|-){_MONTH}-(\d{{1,2}})(?:-(20\d\d))?(?:-|$)")
_DATE_TEXT = re.compile(rf"\b{_MONTH}\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(20\d\d)\b)?", re.I)
_EVENT_SLUG = re.compile(r"^(?P<asset>[a-z0-9-]+?)-(?P<kind>above|price)-(?:on|in)-")
# "Bitcoin above ___ on November 10?", "Bitcoin price on November 10?" (not "What price will ... hit")
_EVENT_TITLE = re.compile(r"^(?P<asset>[\w&.' -]+?)\s+(?:(?P<kind>above)\b|price\s+on\b)", re.I)


def _number(digits: str, suffix: str | None) -> float:
    value = float(digits.replace(",", ""))
    return value * {"k": 1e3, "m": 1e6}.get((suffix or "").lower(), 1.0)


def parse_number(text: str) -> float | None:
    """ "96,000", "$240", "96k" → the number; None when `text` is anything else."""
    match = _NUMBER_ONLY.match(text.strip())
    return _number(*match.groups()) if match else None


def parse_strike(group_item_title: str, question: str) -> float | None:
    """The strike of an "above X" market: `groupItemTitle` first ("96,000", "NVDA above $240"),
    else the question ("Will the price of Bitcoin be above $96,000 on November 10?")."""
    title = group_item_title.strip()
    value = parse_number(title) if title else None
    if value is None and title:
        match = _ABOVE.search(title)
        value = _number(*match.groups()) if match else None
    if value is None:
        match = _ABOVE.search(question)
        value = _number(*match.groups()) if match else None
    return value


def parse_bucket(group_item_title: str, question: str) -> Bucket | None:
    """The bucket of a range market: `groupItemTitle` first ("84,000-86,000", "<84,000", ">86,000"),
    else the question ("... between $84,000 and $86,000 ...", "less than", "greater than")."""
    title = group_item_title.strip()
    if match := _RANGE.match(title):
        low, high = _number(*match.groups()[:2]), _number(*match.groups()[2:])
        return Bucket(low, high) if low < high else None
    if match := _BELOW_TITLE.match(title):
        return Bucket(-math.inf, _number(*match.groups()))
    if match := _ABOVE_TITLE.match(title):
        groups = match.groups()
        return Bucket(_number(*(groups[:2] if groups[0] else groups[2:])), math.inf)
    if match := _BETWEEN_Q.search(question):
        low, high = _number(*match.groups()[:2]), _number(*match.groups()[2:])
        return Bucket(low, high) if low < high else None
    if match := _BELOW_Q.search(question):
        return Bucket(-math.inf, _number(*match.groups()))
    if match := _ABOVE_Q.search(question):
        return Bucket(_number(*match.groups()), math.inf)
    return None


def parse_date(slug: str, text: str) -> tuple[int, int, int | None] | None:
    """(month, day, year or None) from a slug ("...-on-november-10[-2025]") or text ("November 10, 2025")."""
    for pattern, source in ((_DATE_SLUG, slug.lower()), (_DATE_TEXT, text)):
        match = pattern.search(source)
        if match:
            month, day, year = MONTHS[match.group(1).lower()[:3]], int(match.group(2)), match.group(3)
            if 1 <= day <= 31:
                return month, day, int(year) if year else None
    return None


def event_kind(event: Mapping[str, Any]) -> tuple[EventKind, str | None]:
    """(kind, asset) from the event slug (`<asset>-above-on-<date>`, `<asset>-price-on-<date>`), else its title."""
    slug, title = str(event.get("slug") or ""), str(event.get("title") or "")
    match = _EVENT_SLUG.match(slug.lower()) or _EVENT_TITLE.match(title)
    if not match:
        return EventKind.OTHER, None
    asset = re.sub(r"[^a-z0-9]+", "-", match.group("asset").lower()).strip("-")
    kind = EventKind.LADDER if (match.group("kind") or "").lower() == "above" else EventKind.RANGE
    return kind, ASSET_ALIASES.get(asset, asset)


def json_list(value: Any) -> list | None:
    """Gamma sends `clobTokenIds`/`outcomes` as JSON-encoded strings, sometimes as real arrays: accept both."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, list) else None


def _json_object(value: Any) -> dict | None:
    if isinstance(value, str):  # the same string-encoding quirk, seen on other nested Gamma fields
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


def _flag(raw: Mapping[str, Any], name: str, default: bool) -> bool:
    value = raw.get(name)
    return default if value is None else bool(value)


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


# -- one market ---------------------------------------------------------------------------------------


def market_name(raw: Mapping[str, Any]) -> str:
    return str(raw.get("slug") or raw.get("conditionId") or raw.get("question") or raw.get("id") or "?")


def untradeable_reason(raw: Mapping[str, Any]) -> str | None:
    """Why a market cannot be traded now, or None. Missing flags count as tradeable (older saves)."""
    if _flag(raw, "closed", False):
        return "closed"
    if not _flag(raw, "active", True):
        return "inactive"
    if not _flag(raw, "acceptingOrders", True):
        return "not accepting orders"
    if not _flag(raw, "enableOrderBook", True):
        return "no order book"
    return None


def token_pair(raw: Mapping[str, Any]) -> tuple[str, str] | str:
    """(yes token, no token) from `clobTokenIds` paired with `outcomes`, or the reason it cannot be read."""
    tokens = json_list(raw.get("clobTokenIds"))
    if not tokens or len(tokens) != 2 or not all(str(t).strip() for t in tokens):
        return "clobTokenIds is not a pair of token ids"
    outcomes = json_list(raw.get("outcomes"))
    if outcomes is None:
        return str(tokens[0]), str(tokens[1])  # clobTokenIds[i] <-> outcomes[i], Yes first
    names = [str(o).strip().lower() for o in outcomes]
    if sorted(names) != ["no", "yes"]:
        return f"outcomes {outcomes!r} are not Yes/No"
    yes = names.index("yes")
    return str(tokens[yes]), str(tokens[1 - yes])


def fee_rate_bps(raw: Mapping[str, Any]) -> float | str:
    """The engine's fee_rate_bps (feeSchedule.rate x 10 000 when fees are on, else 0), or why not.

    The engine prices fees with exponent 1. A larger exponent only makes the real fee smaller
    (p(1-p) <= 1/4 < 1), so the market is kept; a smaller one would make the engine understate it.
    """
    schedule = _json_object(raw.get("feeSchedule"))
    enabled = raw.get("feesEnabled")
    if enabled is None:
        enabled = schedule is not None  # no switch saved: trust a schedule when there is one (safe side)
    if not enabled:
        return 0.0
    if schedule is None:
        return "feesEnabled but no feeSchedule: fee unknown"
    rate, exponent = _float(schedule.get("rate")), _float(schedule.get("exponent", 1))
    if rate is None or not 0 <= rate <= 1:
        return f"feeSchedule.rate {schedule.get('rate')!r} is not a rate in 0..1"
    if exponent is None or exponent < 1:
        return f"feeSchedule.exponent {schedule.get('exponent')!r} < 1: the engine would understate the fee"
    return round(rate * BPS, 6)


def _canonical_tick(value: Any) -> float | None:
    tick = _float(value)
    if tick is None:
        return None
    return next((t for t in ALLOWED_TICKS if abs(tick - t) <= t * 1e-9), None)


def engine_market(raw: Mapping[str, Any], event_neg_risk: bool) -> engine_pb2.Market | str:
    """The engine's Market for a Gamma market, or the reason it cannot be built."""
    condition_id = str(raw.get("conditionId") or "")
    if not condition_id:
        return "no conditionId"
    pair = token_pair(raw)
    if isinstance(pair, str):
        return pair
    if pair[0] == pair[1]:
        return "yes and no token ids are equal"
    tick = _canonical_tick(raw.get("orderPriceMinTickSize"))
    if tick is None:
        return f"orderPriceMinTickSize {raw.get('orderPriceMinTickSize')!r} is not one of {ALLOWED_TICKS}"
    min_size = raw.get("orderMinSize")
    min_order_size = DEFAULT_MIN_ORDER_SIZE if min_size is None else _float(min_size)
    if min_order_size is None or min_order_size < 0:
        return f"orderMinSize {min_size!r} is not a size"
    fee = fee_rate_bps(raw)
    if isinstance(fee, str):
        return fee
    return engine_pb2.Market(
        condition_id=condition_id,
        yes_token_id=pair[0],
        no_token_id=pair[1],
        tick_size=tick,
        min_order_size=min_order_size,
        neg_risk=_flag(raw, "negRisk", event_neg_risk),
        fee_rate_bps=fee,
    )


def _listing(raw: Mapping[str, Any], event: Mapping[str, Any], asset: str | None) -> Listing | str:
    reason = untradeable_reason(raw)
    if reason:
        return reason
    market = engine_market(raw, _flag(event, "negRisk", False))
    if isinstance(market, str):
        return market
    # The market's own day first: an event like nvda-above-in-january-2026 spans several days.
    date = parse_date(str(raw.get("slug") or ""), str(raw.get("question") or "")) or parse_date(
        str(event.get("slug") or ""), str(event.get("title") or "")
    )
    key = DateKey(asset, date[0], date[1]) if asset and date else None
    return Listing(market_name(raw), market, key, date[2] if date else None)


# -- one event ----------------------------------------------------------------------------------------


@dataclass
class _Collected:
    """What the events gave, keyed for matching."""

    rungs: dict[DateKey, dict[float, Listing]]  # ladder: strike → its "above" market
    buckets: dict[tuple[DateKey, Bucket], Listing]
    sets: list[engine_pb2.OutcomeSet]


def _event_name(event: Mapping[str, Any]) -> str:
    return str(event.get("slug") or event.get("id") or event.get("title") or "?")


def _collect_event(event: Mapping[str, Any], found: _Collected, warnings: Warnings) -> None:
    name = _event_name(event)
    raw_markets = event.get("markets")
    if not isinstance(raw_markets, list) or not raw_markets:
        warnings.append(f"event {name}: no markets; ignored")
        return
    kind, asset = event_kind(event)
    listings: list[Listing | None] = []
    for raw in raw_markets:
        if not isinstance(raw, dict):
            warnings.append(f"event {name}: a market that is not an object; skipped")
            listings.append(None)
            continue
        listing = _listing(raw, event, asset)
        if isinstance(listing, str):
            warnings.append(f"event {name}: market {market_name(raw)}: {listing}; skipped")
            listings.append(None)
            continue
        listings.append(listing)
        if kind is EventKind.LADDER:
            _add_rung(name, raw, listing, found, warnings)
        elif kind is EventKind.RANGE:
            _add_bucket(name, raw, listing, found, warnings)
    neg_risk = _event_neg_risk(event, raw_markets)
    if neg_risk and kind is EventKind.LADDER:
        warnings.append(f"event {name}: negRisk on an 'above' ladder, whose strikes are nested, not exclusive; "
                        "not a set")
    elif neg_risk:
        outcome_set = _outcome_set(event, raw_markets, listings, warnings)
        if outcome_set is not None:
            found.sets.append(outcome_set)
    elif kind is EventKind.OTHER:
        warnings.append(f"event {name}: not an 'above' ladder, a range event or a neg-risk event; ignored")


def _event_neg_risk(event: Mapping[str, Any], raw_markets: list) -> bool:
    """The event's `negRisk`; when a save lacks it, true only if every market says so (one shared adapter)."""
    if event.get("negRisk") is not None:
        return bool(event["negRisk"])
    return all(isinstance(raw, dict) and _flag(raw, "negRisk", False) for raw in raw_markets)


def _add_rung(event: str, raw: Mapping[str, Any], listing: Listing, found: _Collected, warnings: Warnings) -> None:
    title, question = str(raw.get("groupItemTitle") or ""), str(raw.get("question") or "")
    strike = parse_strike(title, question)
    if strike is None:
        warnings.append(f"event {event}: market {listing.name}: no strike in {title!r} or {question!r}; skipped")
        return
    from_question = parse_strike("", question)
    if from_question is not None and from_question != strike:
        warnings.append(
            f"event {event}: market {listing.name}: strike {strike:g} in groupItemTitle but {from_question:g} "
            "in the question; skipped"
        )
        return
    if listing.key is None:
        warnings.append(f"event {event}: market {listing.name}: no asset and day to match ranges on; skipped")
        return
    rungs = found.rungs.setdefault(listing.key, {})
    if strike in rungs:
        warnings.append(
            f"event {event}: market {listing.name}: strike {strike:g} already given by {rungs[strike].name}; skipped"
        )
        return
    rungs[strike] = listing


def _add_bucket(event: str, raw: Mapping[str, Any], listing: Listing, found: _Collected, warnings: Warnings) -> None:
    title, question = str(raw.get("groupItemTitle") or ""), str(raw.get("question") or "")
    bucket = parse_bucket(title, question)
    if bucket is None:
        warnings.append(f"event {event}: market {listing.name}: no range in {title!r} or {question!r}; not a bucket")
        return
    if listing.key is None:
        warnings.append(f"event {event}: market {listing.name}: no asset and day to match a ladder on; not a bucket")
        return
    slot = (listing.key, bucket)
    if slot in found.buckets:
        warnings.append(
            f"event {event}: market {listing.name}: bucket already given by {found.buckets[slot].name}; skipped"
        )
        return
    found.buckets[slot] = listing


def _outcome_set(
    event: Mapping[str, Any], raw_markets: list, listings: list[Listing | None], warnings: Warnings
) -> engine_pb2.OutcomeSet | None:
    """The event as an OutcomeSet when it is a complete neg-risk event, else None with a warning."""
    name = _event_name(event)
    augmented = _flag(event, "negRiskAugmented", False) or any(
        isinstance(raw, dict) and _flag(raw, "negRiskAugmented", False) for raw in raw_markets
    )
    if augmented:
        warnings.append(
            f"event {name}: negRiskAugmented (an implicit 'Other' outcome): its listed markets are not a "
            "complete set; not a set"
        )
        return None
    others = [market_name(raw) for raw in raw_markets if isinstance(raw, dict) and _flag(raw, "negRiskOther", False)]
    if others:
        warnings.append(f"event {name}: market {others[0]} is a negRiskOther placeholder; not a set")
        return None
    if any(listing is None for listing in listings):
        warnings.append(f"event {name}: not every market is tradeable (see above); not a complete set")
        return None
    members = [listing.market for listing in listings if listing is not None]
    not_neg_risk = [listing.name for listing in listings if listing is not None and not listing.market.neg_risk]
    if not_neg_risk:
        warnings.append(f"event {name}: market {not_neg_risk[0]} is not negRisk; not a set")
        return None
    if len(members) < 2:
        warnings.append(f"event {name}: {len(members)} market(s); a set needs at least two")
        return None
    return engine_pb2.OutcomeSet(id=name, members=members, neg_risk_augmented=False)


# -- trios --------------------------------------------------------------------------------------------


def _strike_text(value: float) -> str:
    return str(int(value)) if value.is_integer() else f"{value:f}".rstrip("0").rstrip(".")


def _years_agree(*years: int | None) -> bool:
    known = {y for y in years if y is not None}
    return len(known) <= 1


def _trios(found: _Collected, warnings: Warnings) -> list[engine_pb2.Trio]:
    trios = []
    ladder_keys_paired: set[DateKey] = set()
    for (key, bucket), rng in sorted(found.buckets.items(), key=lambda item: _order(item[0])):
        rungs = found.rungs.get(key)
        if not bucket.bounded or rungs is None:
            continue
        ladder_keys_paired.add(key)
        lower, upper = rungs.get(bucket.low), rungs.get(bucket.high)
        span = f"({_strike_text(bucket.low)}, {_strike_text(bucket.high)}]"
        if lower is None or upper is None:
            missing = _strike_text(bucket.low if lower is None else bucket.high)
            warnings.append(f"bucket {span} ({rng.name}): the ladder has no 'above {missing}' market; no trio")
            continue
        if not _years_agree(lower.year, upper.year, rng.year):
            warnings.append(f"bucket {span} ({rng.name}): its ladder markets are of another year; no trio")
            continue
        year = lower.year or upper.year or rng.year
        trio_id = f"{key.label(year)}-{_strike_text(bucket.low)}-{_strike_text(bucket.high)}"
        trios.append(
            engine_pb2.Trio(
                id=trio_id,
                lower=lower.market,
                upper=upper.market,
                range=rng.market,
                lower_bound=bucket.low,
                upper_bound=bucket.high,
            )
        )
    for key in sorted(set(found.rungs) - ladder_keys_paired, key=_key_order):
        warnings.append(f"ladder {key.label(None)}: no range event of the same asset and day; no trios")
    return trios


def _key_order(key: DateKey) -> tuple[str, int, int]:
    return key.asset, key.month, key.day


def _order(slot: tuple[DateKey, Bucket]) -> tuple[str, int, int, float, float]:
    key, bucket = slot
    return key.asset, key.month, key.day, bucket.low, bucket.high


# -- the whole file -----------------------------------------------------------------------------------


def _unique_events(events: Iterable[Any], warnings: Warnings) -> list[Mapping[str, Any]]:
    """Events once each (by id, else slug): saved files overlap when fetched by series and by slug."""
    seen: set[str] = set()
    unique = []
    for event in events:
        if not isinstance(event, dict):
            warnings.append(f"an event that is not an object ({type(event).__name__}); ignored")
            continue
        identity = str(event.get("id") or event.get("slug") or "")
        if identity and identity in seen:
            warnings.append(f"event {_event_name(event)}: given twice; the first one is used")
            continue
        seen.add(identity)
        unique.append(event)
    return unique


def structure_from_gamma(
    events: Iterable[Mapping[str, Any]], version: int
) -> tuple[engine_pb2.MarketStructure, list[str]]:
    """A MarketStructure (trios sorted by asset, day and bounds; sets in event order) and the warnings."""
    warnings: Warnings = []
    found = _Collected(rungs={}, buckets={}, sets=[])
    for event in _unique_events(events, warnings):
        _collect_event(event, found, warnings)
    trios = _trios(found, warnings)
    return engine_pb2.MarketStructure(version=version, trios=trios, sets=found.sets), warnings
