"""The paper venue assembled: exchange + scenario + market WebSocket + CLOB REST, and the loop that
moves the scenario (or replays a recording).

This is the shell around the pure modules: it owns the clock, the random generator (seeded), the
sockets and the tasks. `start()`/`stop()` are what the gRPC ServiceApp calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from paper_venue import clob, scenarios, wire
from paper_venue.accounts import DEFAULT_STARTING_COLLATERAL
from paper_venue.auth import PAPER_CREDS, ApiKey, Keyring
from paper_venue.exchange import Event, Exchange
from paper_venue.faults import Faults
from paper_venue.matching import SHARE_SCALE, Side
from paper_venue.orders import DEFAULT_CHAIN_ID
from paper_venue.ws import MarketFeed

log = logging.getLogger("paper_venue")


@dataclass(frozen=True)
class VenueConfig:
    scenario: str = "ladder"
    seed: int | None = None
    replay_speed: float = 1.0  # 0 = as fast as possible
    step_s: float = 0.25  # how often the scenario moves
    chain_id: int = DEFAULT_CHAIN_ID
    starting_collateral: int = DEFAULT_STARTING_COLLATERAL
    api_keys: tuple[ApiKey, ...] = (PAPER_CREDS,)
    faults: Mapping[str, Any] | None = None


class PaperVenue:
    def __init__(self, config: VenueConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self.rng = random.Random(config.seed)
        self.scenario = scenarios.load(config.scenario, config.replay_speed,
                                       config.starting_collateral / SHARE_SCALE)
        self.exchange = Exchange(config.chain_id, config.starting_collateral)
        self.keyring = Keyring(list(config.api_keys), chain_id=config.chain_id)
        self.faults = Faults()
        if self.faults.update(config.faults or {}).any():
            log.warning("WebSocket faults act on connected sockets: set them at run time (POST /admin/faults)")
        self.feed = MarketFeed(self.snapshot, self.now_ms, on_subscribe=self._first_subscriber)
        for market in self.scenario.markets:
            self.exchange.add_market(market)
        if isinstance(self.scenario, scenarios.LadderScenario):
            self.apply_quotes(self.scenario.initial_quotes())
        self.http_address = ""
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task] = []
        self._replay_started = asyncio.Event()
        self.replayed_frames = 0

    # -- clock and state ------------------------------------------------------------------------

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def snapshot(self, token: str, now_ms: int) -> dict[str, Any] | None:
        """GET /book's summary of a token (also the WebSocket `book`), None when unknown."""
        market = self.exchange.market_of(token)
        if market is None:
            return None
        book = self.exchange.books[token]
        return wire.book_summary(
            market.condition_id, token, now_ms, book.depth(Side.BUY), book.depth(Side.SELL),
            min_order_size=market.min_order_size, tick_size=market.tick_size, neg_risk=market.neg_risk,
            last_trade_price=self.exchange.last_trade.get(token),
        )

    def publish(self, events: Sequence[Event]) -> None:
        self.feed.publish(events)

    def apply_quotes(self, updates: Mapping[str, scenarios.Quotes]) -> list[Event]:
        events: list[Event] = []
        for token, (bids, asks) in updates.items():
            events.extend(self.exchange.set_venue_quotes(token, bids, asks))
        self.publish(events)
        return events

    def status(self) -> dict[str, Any]:
        c = self.exchange.counters
        return {
            "scenario": self.scenario.name,
            "ws_addr": self.feed.address,
            "http_addr": self.http_address,
            "ws_clients": len(self.feed.clients),
            "tokens": len(self.exchange.tokens()),
            "frames_sent": self.feed.frames_sent,
            "orders_received": c.orders_received,
            "orders_filled": c.orders_filled,
        }

    def stats(self) -> dict[str, Any]:
        c = self.exchange.counters
        return {
            **self.status(),
            "orders_accepted": c.orders_accepted,
            "orders_rejected": c.orders_rejected,
            "duplicates": c.duplicates,
            "order_posts": c.order_posts,
            "trades": c.trades,
            "volume": wire.decimal_text(c.volume_units, SHARE_SCALE),
            "posts_by_hash": dict(c.posts_by_hash),
            "rejections": dict(c.rejections),
            "faults": self.faults.snapshot(),
            "ws": {"connections_total": self.feed.connections_total, "invalid_messages": self.feed.invalid_messages,
                   "slow_clients_dropped": self.feed.slow_clients_dropped, "stalled": self.feed.stalled},
            "arbitrages_injected": getattr(self.scenario, "injected", 0),
            "replayed_frames": self.replayed_frames,
        }

    # -- life -----------------------------------------------------------------------------------

    async def start(self, ws_addr: str, http_addr: str) -> None:
        ws_host, _, ws_port = ws_addr.rpartition(":")
        http_host, _, http_port = http_addr.rpartition(":")
        await self.feed.start(ws_host, int(ws_port))
        self._runner = web.AppRunner(clob.create_app(self), access_log=None, handle_signals=False,
                                     shutdown_timeout=1.0)  # a held-back (timeout fault) answer must not hold up stop
        await self._runner.setup()
        site = web.TCPSite(self._runner, http_host.strip("[]"), int(http_port))
        try:
            await site.start()
        except OSError:
            await self.feed.stop()
            raise
        bound = self._runner.addresses[0][1]
        self.http_address = f"{http_host}:{bound}"
        if isinstance(self.scenario, scenarios.LadderScenario):
            self._tasks.append(asyncio.create_task(self._run_scenario(), name="paper-venue-scenario"))
        else:
            self._tasks.append(asyncio.create_task(self._run_replay(), name="paper-venue-replay"))
        log.info("paper venue up", extra={"ws_addr": self.feed.address, "http_addr": self.http_address,
                                           "scenario": self.scenario.name, "tokens": len(self.exchange.tokens())})

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        await self.feed.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _run_scenario(self) -> None:
        scenario = self.scenario
        assert isinstance(scenario, scenarios.LadderScenario)
        step_s = self.config.step_s
        while True:
            await asyncio.sleep(step_s)
            try:
                updates = scenario.step(self.clock(), self.rng, self.exchange.venue_size)
                self.apply_quotes(updates)
            except Exception:  # a scenario bug must not kill the venue; it shows in the log
                log.exception("scenario step failed")

    def _first_subscriber(self) -> None:
        self._replay_started.set()

    async def _run_replay(self) -> None:
        """Frames in order; with speed > 0 each waits for its original offset / speed."""
        scenario = self.scenario
        assert isinstance(scenario, scenarios.ReplayScenario)
        await self._replay_started.wait()
        await asyncio.sleep(0.05)  # let the first subscriber's own handshake finish
        loop = asyncio.get_running_loop()
        start = loop.time()
        first_ns: int | None = None
        for count, (recv_ns, frame) in enumerate(scenario.frames(), start=1):
            if first_ns is None:
                first_ns = recv_ns
            if scenario.speed > 0:
                due = start + (recv_ns - first_ns) / 1e9 / scenario.speed
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            elif count % 256 == 0:
                await asyncio.sleep(0)  # as fast as possible, but the writers must run too
            assets = scenarios.frame_assets(frame)
            if assets is None:
                continue  # PONG, NO NEW ASSETS: answers to the recorder's own socket, not events
            self.feed.send_raw(frame, frozenset(assets) if assets else None)
            self.replayed_frames += 1
        log.info("replay finished", extra={"frames": self.replayed_frames})
