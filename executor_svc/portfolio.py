"""The executor's book, from its own journal: positions per token, what is at stake, PnL per strategy (pure).

Fed every TradeResult in seq order (at start the whole journal, then each new one), so a restarted
executor shows the same figures as before. No I/O, no clock.

Rules, from how the executor journals (execution.py, reconcile.py):
- Only results journaled in this executor's mode count; others (a paper journal reused for live, say)
  are counted aside, never mixed into real positions.
- An UNKNOWN result carries no fills, whatever its legs say: the result that reconciles it
  (`reconciles_seq` set) states every leg's fill, and replaces it. Until then its buy legs, at their
  limit price and full size (fees included), are `unknown_exposure`: what the venue may have taken.
  A second result naming an UNKNOWN already replaced is ignored (and counted).
- Positions use the average-cost method: a buy adds its shares and what they cost (fees included:
  reconcile.leg_cost); a sale reduces them at the average cost and realizes proceeds minus that cost.
  Selling more than the journal bought (inventory from elsewhere: minted sets for an unbundle) makes the
  position negative, at the average sale price, and realizes nothing: the journal does not know what
  those shares cost. A later buy that covers it realizes against that price.
- Realized PnL belongs to the strategy of the result whose leg closed shares; expected PnL per strategy
  is the sum of its results' `expected_pnl` (what complete sets pay, minus everything spent).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

from executor_svc.reconcile import leg_cost
from polyarb.v1 import executor_pb2

__all__ = ["Holding", "Portfolio", "StrategyTotals", "at_stake"]

# Shares are 6-decimal on the venue: a position smaller than half a unit is float dust from many fills.
_DUST = 0.5e-6
# Positions in a status answer: the engine polls GetStatus every second for the balance, and positions
# only accumulate (the journal never sees a market resolve), so the answer shows the largest ones.
STATUS_POSITIONS = 200


@dataclass
class Holding:
    """One token: net shares and what they cost in total (signed like the shares: a short holds proceeds)."""

    shares: float = 0.0
    cost_basis: float = 0.0

    @property
    def avg_cost(self) -> float:
        return self.cost_basis / self.shares if self.shares else 0.0


@dataclass
class StrategyTotals:
    results: int = 0
    cost: float = 0.0
    expected_pnl: float = 0.0
    realized_pnl: float = 0.0
    leg_risk_results: int = 0


@dataclass
class Portfolio:
    mode: str  # the executor's mode: results of another mode are not counted
    holdings: dict[str, Holding] = field(default_factory=dict)
    strategies: dict[int, StrategyTotals] = field(default_factory=dict)
    open_unknown: dict[int, float] = field(default_factory=dict)  # UNKNOWN seq -> pUSD at stake
    replaced: set[int] = field(default_factory=set)  # UNKNOWN seqs a reconciled result replaced
    through_seq: int = 0
    other_mode_results: int = 0
    ignored_results: int = 0  # second reconciliations of one UNKNOWN result
    version: int = 0  # counts changes, so a status answer is rebuilt only when something changed
    _status: tuple[int, executor_pb2.Portfolio] | None = field(default=None, repr=False, compare=False)

    def apply(self, result: executor_pb2.TradeResult) -> None:
        """Count one journaled result (call in seq order; a result at or below through_seq is ignored)."""
        if result.seq and result.seq <= self.through_seq:
            return  # seen already (a replay overlapping the live stream)
        self.through_seq = max(self.through_seq, result.seq)
        self.version += 1
        if result.mode != self.mode:
            self.other_mode_results += 1
            return
        if result.outcome == executor_pb2.OUTCOME_UNKNOWN:
            self.open_unknown[result.seq] = at_stake(result)
            return
        if result.reconciles_seq:
            if result.reconciles_seq in self.replaced:
                self.ignored_results += 1
                return
            self.replaced.add(result.reconciles_seq)
            self.open_unknown.pop(result.reconciles_seq, None)
        totals = self.strategies.setdefault(result.strategy, StrategyTotals())
        totals.results += 1
        totals.cost += result.cost
        totals.expected_pnl += result.expected_pnl
        totals.leg_risk_results += 1 if result.leg_risk else 0
        for leg in result.legs:
            if leg.filled_size > 0:
                totals.realized_pnl += self._trade(leg)

    def _trade(self, leg: executor_pb2.LegResult) -> float:
        """Book one leg's fill into its token's holding; returns the PnL it realized."""
        quantity = leg.filled_size if leg.side == executor_pb2.SIDE_BUY else -leg.filled_size
        cash = leg_cost(leg)  # paid (+) for a buy, received (-) for a sale, fees included
        holding = self.holdings.setdefault(leg.token_id, Holding())
        realized = 0.0
        if holding.shares and math.copysign(1.0, quantity) != math.copysign(1.0, holding.shares):
            closed = min(abs(quantity), abs(holding.shares))
            part = closed / abs(quantity)
            released = holding.avg_cost * math.copysign(closed, holding.shares)  # cost of the shares closed
            realized = -(cash * part) - released
            holding.shares += quantity * part
            holding.cost_basis -= released
            quantity, cash = quantity * (1.0 - part), cash * (1.0 - part)
        holding.shares += quantity
        holding.cost_basis += cash
        if abs(holding.shares) < _DUST:
            del self.holdings[leg.token_id]
        return realized

    # -- reading -----------------------------------------------------------------------------------------

    @property
    def unknown_exposure(self) -> float:
        return math.fsum(self.open_unknown.values())

    def largest_positions(self, n: int) -> list[tuple[str, float]]:
        """The n positions largest in shares (either sign), largest first: what /metrics shows."""
        ranked = heapq.nsmallest(n, self.holdings.items(), key=lambda item: (-abs(item[1].shares), item[0]))
        return [(token, holding.shares) for token, holding in ranked]

    def to_proto(self, exposure: float, max_exposure: float) -> executor_pb2.Portfolio:
        """The GetStatus figures; exposure and its cap come from the ledger and config (open reservations).
        Built once per change of the book (`version`); only the exposure figures are set per call."""
        if self._status is None or self._status[0] != self.version:
            self._status = (self.version, self._book())
        answer = executor_pb2.Portfolio()
        answer.CopyFrom(self._status[1])
        answer.exposure = round(exposure, 6)
        answer.max_exposure = max_exposure
        return answer

    def _book(self) -> executor_pb2.Portfolio:
        largest = heapq.nsmallest(STATUS_POSITIONS, self.holdings.items(),
                                  key=lambda item: (-abs(item[1].cost_basis), item[0]))
        strategies = [
            executor_pb2.StrategyPnl(strategy=strategy, results=t.results, cost=round(t.cost, 6),
                                     expected_pnl=round(t.expected_pnl, 6), realized_pnl=round(t.realized_pnl, 6),
                                     leg_risk_results=t.leg_risk_results)
            for strategy, t in sorted(self.strategies.items())
        ]
        return executor_pb2.Portfolio(
            positions=[
                executor_pb2.Position(token_id=token, shares=round(h.shares, 6), avg_cost=round(h.avg_cost, 6),
                                      cost_basis=round(h.cost_basis, 6))
                for token, h in sorted(largest)
            ],
            positions_total=len(self.holdings),
            strategies=strategies,
            unknown_exposure=round(self.unknown_exposure, 6),
            unknown_results=len(self.open_unknown),
            expected_pnl=round(math.fsum(t.expected_pnl for t in self.strategies.values()), 6),
            realized_pnl=round(math.fsum(t.realized_pnl for t in self.strategies.values()), 6),
            through_seq=self.through_seq,
            other_mode_results=self.other_mode_results,
        )


def at_stake(result: executor_pb2.TradeResult) -> float:
    """pUSD an UNKNOWN result may have spent: every buy leg filled in full at its limit price, with fees."""
    total = 0.0
    for leg in result.legs:
        if leg.side == executor_pb2.SIDE_BUY:
            fee = leg.fee_rate_bps / 10_000 * leg.price * (1.0 - leg.price) * leg.size
            total += leg.price * leg.size + fee
    return total
