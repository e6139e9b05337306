"""Keeps the executor's Portfolio in step with its journal, and its figures in /metrics.

At start the whole journal is read (before the service says SERVING, so the first GetStatus already
shows the restarted executor's figures), then `follow` applies each result as it is committed, through
the journal's own gap-free subscription. Exposure comes from the ledger's open reservations, which
change without a result (a signal accepted), so it is also refreshed on a short timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from executor_svc import metrics
from executor_svc.journal import Journal, JournalError
from executor_svc.portfolio import Portfolio
from polyarb.runtime.metrics import ErrorCounter
from polyarb.v1 import executor_pb2

log = logging.getLogger("executor.portfolio")
errors = ErrorCounter("executor")

# At most this many polyarb_position_shares series, the largest positions: token ids are unbounded
# (every market ever traded), a Prometheus series each is not.
POSITION_SERIES = 20
CATCH_UP_PAGE = 1000
EXPOSURE_REFRESH_S = 1.0
STRATEGY_NAMES = {v: n.removeprefix("STRATEGY_").lower() for n, v in executor_pb2.Strategy.items()}


class PortfolioFeed:
    def __init__(self, journal: Journal, portfolio: Portfolio, exposure: Callable[[], float]) -> None:
        self.journal = journal
        self.portfolio = portfolio
        self.exposure = exposure
        self._shown_tokens: set[str] = set()
        self._tasks: list[asyncio.Task] = []

    def catch_up(self) -> int:
        """Apply every result already journaled; returns how many were read."""
        read = 0
        while page := self.journal.read_after(self.portfolio.through_seq, CATCH_UP_PAGE):
            for result in page:
                self.portfolio.apply(result)
            read += len(page)
        self.export()
        return read

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._follow(), name="portfolio-follow"),
                       asyncio.create_task(self._refresh_exposure(), name="portfolio-exposure")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _follow(self) -> None:
        try:
            async for result in self.journal.subscribe(self.portfolio.through_seq):
                self.portfolio.apply(result)
                self.export()
        except JournalError as exc:  # the journal closed under us (shutdown) or broke: figures stop moving
            errors("portfolio", "portfolio stopped following the journal", error=str(exc)[:200])

    async def _refresh_exposure(self) -> None:
        while True:
            metrics.EXPOSURE.set(self.exposure())
            await asyncio.sleep(EXPOSURE_REFRESH_S)

    def export(self) -> None:
        """The portfolio's figures into the gauges; positions that left the top POSITION_SERIES are removed."""
        portfolio = self.portfolio
        metrics.EXPOSURE.set(self.exposure())
        largest = portfolio.largest_positions(POSITION_SERIES)
        for token, shares in largest:
            metrics.POSITION_SHARES.labels(token).set(shares)
        shown = {token for token, _ in largest}
        for token in self._shown_tokens - shown:
            metrics.POSITION_SHARES.remove(token)
        self._shown_tokens = shown
        for strategy, totals in portfolio.strategies.items():
            name = STRATEGY_NAMES.get(strategy, str(strategy))
            metrics.EXPECTED_PNL.labels(name).set(totals.expected_pnl)
            metrics.REALIZED_PNL.labels(name).set(totals.realized_pnl)
