"""The executor's collateral from the CLOB: which figure it sizes with (pure) and the poller (thin shell).

The rule (issue 16), in `Funds.figure`:
- Without polling (dry-run, or `--balance-poll-s 0`) the executor sizes with the last UpdateBalance,
  as before.
- With polling (live and paper) it sizes with the smaller of the CLOB's figure (`GET
  /balance-allowance?asset_type=COLLATERAL&signature_type=N`) and the last UpdateBalance: a shell can
  lower the budget, never raise it past the wallet. Before any push, the CLOB's figure alone.
- A poll that fails keeps the last figure, for at most MAX_AGE_S (30 s) after the last good one; then
  the balance is unknown and every signal is denied (`balance_unknown`) until a poll succeeds. Before
  the first good poll it is unknown too.
- An order whose cost (buy legs at their limits, fees included, plus what open signals reserve)
  exceeds the CLOB's allowance is denied (`allowance`): the exchange could not pull the pUSD.

Both figures are what was known minus what was spent since (trades settle in the ledger between
polls; `Funds.sync` books the ledger's movement against both), and the poller asks again right after
every trade, so the CLOB's figure is back to the truth within a poll's round trip. Between a fill
and its settlement the CLOB's fresh figure already lacks the spent pUSD while the ledger still
reserves it: the executor under-sizes for that moment, never over-sizes.

Answers (polymarket-protocol.md 2.6): figures are strings in 6-decimal base units;
`{"balance", "allowance"}` in older answers, `{"balance", "allowances": {spender: units}}` in newer
ones. With a map, the smallest allowance counts: orders of neg-risk markets need the neg-risk
exchange and the adapter approved, the others the exchange, and a signal does not say in advance
which of its legs' spenders the CLOB will use for the whole batch; the smallest is the safe figure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from executor_svc import metrics
from executor_svc.clob_auth import ApiCreds, l2_headers
from executor_svc.ledger import MAX_BALANCE, Ledger
from polyarb.runtime.metrics import ErrorCounter
from polyarb.v1 import executor_pb2

__all__ = ["MAX_AGE_S", "BalanceError", "BalancePoller", "ClobBalance", "Funds", "SizingFigure", "balance_gate",
           "balance_status", "export_metrics", "parse_balance_allowance"]

log = logging.getLogger("executor.balance")
errors = ErrorCounter("executor")

MAX_AGE_S = 30.0  # a failed poll keeps the last figure this long after the last good one (issue 16)
POLL_PATH = "/balance-allowance"
_UNITS = 1_000_000  # pUSD has 6 decimals (protocol 2.1)


class BalanceError(ValueError):
    """An answer of GET /balance-allowance that cannot be read; the message says why."""


class Source(IntEnum):
    """polyarb.v1.BalanceSource."""

    PUSHED = executor_pb2.BALANCE_SOURCE_PUSHED
    CLOB = executor_pb2.BALANCE_SOURCE_CLOB
    UNKNOWN = executor_pb2.BALANCE_SOURCE_UNKNOWN


@dataclass(frozen=True)
class ClobBalance:
    collateral: float  # pUSD
    allowance: float  # pUSD; the smallest of the answer's allowances


def _pusd(value: Any, name: str) -> float:
    """Base units (an integer, usually as a string) → pUSD."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise BalanceError(f"{name} is not a base-unit integer: {str(value)[:40]!r}")
    text = str(value).strip()
    if not text.isdigit():
        raise BalanceError(f"{name} is not a base-unit integer: {text[:40]!r}")
    return int(text) / _UNITS


def parse_balance_allowance(raw: Any) -> ClobBalance:
    """GET /balance-allowance's answer → pUSD figures; both shapes (`allowance`, `allowances`) read."""
    if not isinstance(raw, Mapping):
        raise BalanceError(f"expected a JSON object, got {type(raw).__name__}")
    if "balance" not in raw:
        raise BalanceError("no balance in the answer")
    collateral = _pusd(raw["balance"], "balance")
    allowances = raw.get("allowances")
    if isinstance(allowances, Mapping) and allowances:
        allowance = min(_pusd(v, f"allowances[{str(k)[:42]}]") for k, v in allowances.items())
    elif "allowance" in raw:
        allowance = _pusd(raw["allowance"], "allowance")
    else:
        raise BalanceError("no allowance or allowances in the answer")
    return ClobBalance(collateral, allowance)


@dataclass(frozen=True)
class SizingFigure:
    """What the executor sizes with now, and why."""

    collateral: float  # pUSD: the ledger's collateral (BalanceState.collateral)
    source: Source
    age_s: float
    allowance: float  # pUSD; inf without polling
    known: bool  # False: deny every signal (balance_unknown)


class Funds:
    """The two figures (pushed, CLOB) with their times, and the rule between them. Pure: time comes in."""

    def __init__(self, polling: bool, started_s: float, max_age_s: float = MAX_AGE_S) -> None:
        self.polling = polling
        self.started_s = started_s
        self.max_age_s = max_age_s
        self.pushed: float | None = None
        self.pushed_at_s: float | None = None
        self.clob: ClobBalance | None = None
        self.clob_at_s: float | None = None
        self.last_error = ""
        self._last_set = 0.0  # what was last written to the ledger: its movement since is what trades spent

    def figure(self, now_s: float) -> SizingFigure:
        if not self.polling:
            at = self.pushed_at_s if self.pushed_at_s is not None else self.started_s
            return SizingFigure(self.pushed or 0.0, Source.PUSHED, now_s - at, math.inf, True)
        at = self.clob_at_s if self.clob_at_s is not None else self.started_s
        age = now_s - at
        if self.clob is None:
            return SizingFigure(0.0, Source.UNKNOWN, age, 0.0, False)
        clob, allowance = self.clob.collateral, self.clob.allowance
        if self.pushed is not None and self.pushed < clob:
            collateral, source = self.pushed, Source.PUSHED
        else:
            collateral, source = clob, Source.CLOB
        if age > self.max_age_s:
            return SizingFigure(collateral, Source.UNKNOWN, age, allowance, False)
        return SizingFigure(collateral, source, age, allowance, True)

    def sync(self, ledger: Ledger, now_s: float) -> SizingFigure:
        """Book what the ledger spent since the last sync against both figures, then put the figure in force."""
        spent = self._last_set - ledger.collateral
        if spent:
            if self.pushed is not None:
                self.pushed = max(0.0, self.pushed - spent)
            if self.clob is not None:
                # a sale's proceeds add to the balance, never to the approval
                self.clob = ClobBalance(max(0.0, self.clob.collateral - spent),
                                        max(0.0, self.clob.allowance - max(spent, 0.0)))
        figure = self.figure(now_s)
        # a figure past what the ledger holds (1e12 pUSD) is no real wallet: size with the ledger's ceiling
        ledger.replace(min(figure.collateral, MAX_BALANCE), dict(ledger.inventory))
        self._last_set = ledger.collateral
        return figure

    def on_push(self, ledger: Ledger, collateral: float, inventory: Mapping[str, float], now_s: float) -> SizingFigure:
        """UpdateBalance: validated by the ledger first (LedgerError changes nothing), then in force."""
        Ledger(collateral, inventory)  # raises LedgerError on a bad figure, before anything changes
        self.sync(ledger, now_s)  # spends so far belong to the old figures
        ledger.replace(ledger.collateral, inventory)
        self.pushed, self.pushed_at_s = float(collateral), now_s
        return self.sync(ledger, now_s)

    def on_poll(self, ledger: Ledger, balance: ClobBalance, now_s: float) -> SizingFigure:
        self.sync(ledger, now_s)
        self.clob, self.clob_at_s, self.last_error = balance, now_s, ""
        return self.sync(ledger, now_s)

    def on_poll_failed(self, ledger: Ledger, error: str, now_s: float) -> SizingFigure:
        self.last_error = error
        return self.sync(ledger, now_s)

    def figures(self, now_s: float) -> executor_pb2.BalanceFigures:
        return executor_pb2.BalanceFigures(
            polling=self.polling,
            clob_collateral=self.clob.collateral if self.clob else 0.0,
            clob_allowance=self.clob.allowance if self.clob and math.isfinite(self.clob.allowance) else 0.0,
            clob_age_s=round(now_s - self.clob_at_s, 3) if self.clob_at_s is not None else -1.0,
            pushed_collateral=self.pushed if self.pushed is not None else -1.0,
            pushed_age_s=round(now_s - self.pushed_at_s, 3) if self.pushed_at_s is not None else -1.0,
            last_error=self.last_error,
        )


class BalancePoller:
    """Polls GET /balance-allowance every `interval_s`, and at once after each new trade result."""

    def __init__(self, funds: Funds, ledger: Ledger, base_url: str, creds: ApiCreds, address: str,
                 signature_type: int, interval_s: float, last_seq: Callable[[], int],
                 clock: Callable[[], float] = time.monotonic, timeout_s: float = 5.0) -> None:
        self.funds = funds
        self.ledger = ledger
        self.url = base_url.rstrip("/") + POLL_PATH
        self.creds = creds
        self.address = address
        self.params = {"asset_type": "COLLATERAL", "signature_type": str(signature_type)}
        self.interval_s = interval_s
        self.last_seq = last_seq
        self.clock = clock
        self.timeout_s = timeout_s
        self._session: Any = None
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        import aiohttp

        # its own session: a slow balance answer never holds a connection an order batch needs
        self._session = aiohttp.ClientSession(raise_for_status=False)
        self._task = asyncio.create_task(self._run(), name="balance-poller")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._session is not None:
            await self._session.close()

    async def fetch(self) -> ClobBalance:
        """One GET with L2 headers (the path signed without its query string); BalanceError on any failure."""
        import aiohttp

        headers = l2_headers(self.creds, self.address, int(time.time()), "GET", POLL_PATH)
        try:
            async with self._session.get(self.url, params=self.params, headers=headers,
                                         timeout=aiohttp.ClientTimeout(total=self.timeout_s)) as response:
                body = await response.read()
                if response.status != 200:
                    snippet = " ".join(body[:160].decode(errors="replace").split())
                    raise BalanceError(f"HTTP {response.status}: {snippet}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise BalanceError(f"{type(exc).__name__}: {exc}"[:200]) from None
        try:
            raw = json.loads(body)
        except ValueError:
            raise BalanceError("the answer is not JSON") from None
        return parse_balance_allowance(raw)

    async def poll_once(self) -> SizingFigure:
        try:
            balance = await self.fetch()
        except BalanceError as exc:
            metrics.BALANCE_POLLS.labels("failed").inc()
            figure = self.funds.on_poll_failed(self.ledger, str(exc), self.clock())
            errors("balance_poll", "GET /balance-allowance failed; keeping the last figure",
                   error=str(exc), age_s=round(figure.age_s, 1), known=figure.known)
            return figure
        metrics.BALANCE_POLLS.labels("ok").inc()
        return self.funds.on_poll(self.ledger, balance, self.clock())

    async def _run(self) -> None:
        seen_seq = self.last_seq()
        next_poll = self.clock()
        while True:
            try:
                seq = self.last_seq()
                if self.clock() >= next_poll or seq != seen_seq:  # due, or a trade just settled
                    seen_seq = seq
                    await self.poll_once()
                    next_poll = self.clock() + self.interval_s
                else:
                    self.funds.sync(self.ledger, self.clock())  # book settled trades between polls
            except Exception as exc:  # the poller must outlive whatever one round hit
                errors("balance_poll", "balance poll round failed", level=logging.ERROR, error=repr(exc)[:200])
            await asyncio.sleep(0.25)


def balance_gate(funds: Funds, clock: Callable[[], float]) -> Callable[[], tuple[bool, float]]:
    """What Executor.accept asks before planning: (is the balance known?, the allowance in pUSD)."""

    def gate() -> tuple[bool, float]:
        figure = funds.figure(clock())
        return figure.known, figure.allowance

    return gate


def balance_status(funds: Funds, now_s: float) -> dict[str, Any]:
    """ExecutorStatus fields 13-15."""
    figure = funds.figure(now_s)
    return {"balance_source": int(figure.source), "balance_age_s": round(figure.age_s, 3),
            "balance_figures": funds.figures(now_s)}


def export_metrics(funds: Funds, clock: Callable[[], float] = time.monotonic) -> None:
    """The balance gauges, computed at each scrape (an age must grow between polls, and without any)."""

    def clob_age() -> float:
        # what the alert watches (PolyarbBalanceStale): how old the CLOB's word is; without polling there
        # is no CLOB figure to age
        return round(funds.figure(clock()).age_s, 3) if funds.polling else 0.0

    def source_is(source: Source) -> Callable[[], float]:
        return lambda: 1.0 if funds.figure(clock()).source is source else 0.0

    metrics.BALANCE_AGE_SECONDS.set_function(clob_age)
    metrics.BALANCE_COLLATERAL.labels("sizing").set_function(lambda: funds.figure(clock()).collateral)
    metrics.BALANCE_COLLATERAL.labels("clob").set_function(lambda: funds.clob.collateral if funds.clob else 0.0)
    metrics.BALANCE_COLLATERAL.labels("pushed").set_function(lambda: funds.pushed or 0.0)
    metrics.BALANCE_SOURCE.labels("pushed").set_function(source_is(Source.PUSHED))
    metrics.BALANCE_SOURCE.labels("clob").set_function(source_is(Source.CLOB))
    metrics.BALANCE_SOURCE.labels("unknown").set_function(source_is(Source.UNKNOWN))
