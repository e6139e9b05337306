"""`polyarbctl structure sync`: Gamma's open events → the engine's MarketStructure, kept current.

The pure part: shards (which groups a shard keeps) and change detection. The I/O part: the paged
`GET /events` walk and the loop that writes and pushes a structure only when it changed.

- Paging (polymarket-protocol.md 3): `GET {gamma}/events?closed=false&limit=500&offset=N`; the server
  may answer fewer than `limit`, so `offset` advances by what arrived, and an empty page ends the walk.
- Shards: a *group* is what must stay together in one engine. For a trio it is its range event (the
  trios of one range event share the ladder's markets and the engine's hot path), keyed by the range
  event's slug; for a set, its own event's slug. A group belongs to shard `sha256(slug) mod N`:
  stable across runs and machines (Python's `hash()` is salted per process), so N shards hold
  disjoint groups whose union is everything, and a group never moves while N is unchanged.
- Change: two structures are the same when everything but `version` is; an unchanged structure is
  neither written nor pushed again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from polyarb.v1 import engine_pb2

__all__ = [
    "GAMMA_URL",
    "PAGE_LIMIT",
    "GammaError",
    "Shard",
    "fetch_events",
    "keep_shard",
    "parse_shard",
    "same_structure",
    "shard_of",
]

GAMMA_URL = "https://gamma-api.polymarket.com"
PAGE_LIMIT = 500  # what each request asks for; the server may send fewer
MAX_PAGES = 10_000  # 5M events: a server that never sends an empty page is broken, not large


class GammaError(Exception):
    """Gamma could not be read (HTTP error, not JSON, not a list); the message says which."""


@dataclass(frozen=True)
class Shard:
    index: int  # 0 .. count - 1 (the StatefulSet's ordinal: polyarb-shard-0 is shard 0)
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """ "I/N" with 0 <= I < N → Shard; ValueError naming what is wrong."""
    index, sep, count = text.partition("/")
    if not sep or not index.strip().isdigit() or not count.strip().isdigit():
        raise ValueError(f"expected I/N (e.g. 0/2), got {text!r}")
    shard = Shard(int(index), int(count))
    if shard.count < 1 or not 0 <= shard.index < shard.count:
        raise ValueError(f"shard index must be 0..N-1 and N >= 1, got {text!r}")
    return shard


def shard_of(slug: str, count: int) -> int:
    """The shard of a group slug, out of `count`: the same on every machine, run and Python."""
    return int.from_bytes(hashlib.sha256(slug.encode()).digest()[:8], "big") % count


def _event_of_condition(events: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """condition id → the slug of the event listing it (the first, when listed twice)."""
    owners: dict[str, str] = {}
    for event in events:
        if not isinstance(event, Mapping) or not isinstance(event.get("markets"), list):
            continue
        slug = str(event.get("slug") or event.get("id") or "")
        for market in event["markets"]:
            if isinstance(market, Mapping) and market.get("conditionId"):
                owners.setdefault(str(market["conditionId"]), slug)
    return owners


def keep_shard(
    structure: engine_pb2.MarketStructure, events: Iterable[Mapping[str, Any]], shard: Shard
) -> engine_pb2.MarketStructure:
    """The groups of `structure` (built from `events`) that belong to `shard`; same version."""
    owners = _event_of_condition(events)

    def mine(slug: str) -> bool:
        return shard_of(slug, shard.count) == shard.index

    trios = [t for t in structure.trios if mine(owners.get(t.range.condition_id, t.id))]
    sets = [s for s in structure.sets
            if mine(owners.get(s.members[0].condition_id, s.id) if s.members else s.id)]
    return engine_pb2.MarketStructure(version=structure.version, trios=trios, sets=sets)


def same_structure(a: engine_pb2.MarketStructure | None, b: engine_pb2.MarketStructure | None) -> bool:
    """Equal in everything but the version label."""
    if a is None or b is None:
        return a is b
    return list(a.trios) == list(b.trios) and list(a.sets) == list(b.sets)


# -- reading Gamma ----------------------------------------------------------------------------------

GetPage = Callable[[str, Mapping[str, str]], Awaitable[Any]]


async def fetch_events(get_page: GetPage, gamma_url: str, limit: int = PAGE_LIMIT) -> list[Any]:
    """Every open event, page by page: `get_page(url, params)` answers one page's parsed JSON.

    `offset` advances by what arrived (a server may cap a page below `limit`); an empty page ends it.
    """
    url = gamma_url.rstrip("/") + "/events"
    events: list[Any] = []
    for _ in range(MAX_PAGES):
        page = await get_page(url, {"closed": "false", "limit": str(limit), "offset": str(len(events))})
        if not isinstance(page, list):
            raise GammaError(f"GET {url} offset {len(events)}: expected a JSON list of events, "
                             f"got {type(page).__name__}")
        if not page:
            return events
        events.extend(page)
    raise GammaError(f"GET {url}: no empty page after {MAX_PAGES} pages")


def aiohttp_page_reader(session: Any, timeout_s: float) -> GetPage:
    """A `get_page` over an aiohttp ClientSession; every failure becomes one GammaError line."""
    import aiohttp

    async def get_page(url: str, params: Mapping[str, str]) -> Any:
        try:
            async with session.get(url, params=params, timeout=aiohttp.ClientTimeout(total=timeout_s)) as response:
                text = await response.text()
                if response.status != 200:
                    snippet = " ".join(text.split())[:200]
                    raise GammaError(f"GET {url} offset {params['offset']}: HTTP {response.status}: {snippet}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise GammaError(f"GET {url} offset {params['offset']}: {type(exc).__name__}: {exc}"[:300]) from None
        try:
            return json.loads(text)
        except ValueError:
            raise GammaError(f"GET {url} offset {params['offset']}: the answer is not JSON") from None

    return get_page
