"""The executor's work on one signal: plan → reserve → sign → post once → journal → settle.

This is the one place where the pure parts (plan, orders, signing, ledger, breaker) meet I/O (the
CLOB client and the journal). Money rules kept here:
- a batch is posted at most once, whatever happens (no retry path exists);
- collateral is reserved before signing and released or consumed only on a known outcome; an UNKNOWN
  outcome keeps its reservation, and its instance takes no new signal, until reconciliation learns
  what the venue did (unknown_batches.py: when to probe, when "not found" is proof); the settling
  result names the UNKNOWN one (`reconciles_seq`) and is announced to every signal stream;
- every result is committed to the journal before anyone hears of it;
- before a batch goes on the wire its UNKNOWN result is journaled as an intent, so a process killed
  mid-post leaves a batch to reconcile (`recover_orphans` at the next start), never one nobody knows of.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from executor_svc import metrics
from executor_svc.breaker import CircuitBreaker
from executor_svc.clob import MATCHED, BatchFate, BatchReply, ClobClient, ReconcileError, SentBatch
from executor_svc.deny import Denial, DenyReason
from executor_svc.journal import Journal, JournalError
from executor_svc.ledger import Ledger, LedgerError
from executor_svc.orders import OrderSide, batch_body, build_order, order_parties, order_to_wire, salt_from
from executor_svc.plan import TradePlan, plan_trade
from executor_svc.reconcile import (
    PAYOUT_BY_STRATEGY,
    held_by,
    leg_cost,
    outcome_for,
    reconciled_result,
    venue_fill,
)
from executor_svc.settings import default_config
from executor_svc.signing import OrderSigner, SignedOrder
from executor_svc.unknown_batches import UnknownBatch, UnknownBatches, settle_not_found
from polyarb.runtime.metrics import ErrorCounter
from polyarb.v1 import common_pb2, executor_pb2

log = logging.getLogger("executor.execution")
errors = ErrorCounter("executor")

OUTCOME_NAMES = {v: n.removeprefix("OUTCOME_").lower() for n, v in executor_pb2.Outcome.items()}
ORPHAN_ERROR = "the executor stopped while posting: outcome unknown, reconciling"
# statuses after which a leg cannot fill any more (NT PolymarketOrderStatus; "_<reason>" suffixes allowed)
FINAL_UNFILLED = ("unmatched", "canceled", "cancelled", "invalid", "expired")
DEFAULT_NOT_FOUND_GRACE_S = 30.0
RECONCILE_TICK_S = 0.25


@dataclass
class Identity:
    """Who signs: the key, the maker (funder) and the API key that owns the orders."""

    signer: OrderSigner
    maker: str
    order_signer: str
    signature_type: int
    owner: str  # API key (UUID): the wire "owner"


class Executor:
    def __init__(self, mode: str, identity: Identity, journal: Journal, clob: ClobClient | None) -> None:
        self.mode = mode
        self.identity = identity
        self.journal = journal
        self.clob = clob
        self.config = default_config()
        self.ledger = Ledger()
        self.breaker = CircuitBreaker(self.config.breaker_failures)
        self.trading_enabled = False
        self.trading_reason = "starts disabled"
        self.in_flight: dict[str, str] = {}  # instance_id -> signal_id
        self.unknown = UnknownBatches()
        self.not_found_grace_ns = int(DEFAULT_NOT_FOUND_GRACE_S * 1e9)
        # called with each result that settles an UNKNOWN one (the servicer acks it on every signal stream)
        self.settled_listeners: set[Callable[[executor_pb2.TradeResult], None]] = set()
        self.consecutive_failures = 0
        self._rng = random.Random()
        self._tasks: set[asyncio.Task] = set()
        # CLOB balance polling (executor_svc/balance.py) installs (balance known?, allowance in pUSD)
        self.balance_gate: Callable[[], tuple[bool, float]] | None = None
        self._sync_gauges()

    # -- control -----------------------------------------------------------------------------------

    def set_trading(self, enabled: bool, reason: str) -> None:
        """A person's decision: enabling also closes an open circuit (CONTRACT.md)."""
        if enabled:
            self.breaker.reset()
        self.trading_enabled = enabled
        self.trading_reason = reason or ("enabled" if enabled else "disabled")
        self._sync_gauges()

    def set_config(self, config: executor_pb2.ExecutorConfig) -> None:
        self.config = config
        self.breaker.failures_to_open = config.breaker_failures
        if self.clob is not None:
            self.clob.timeout_ms = config.http_timeout_ms

    def trading_state(self) -> executor_pb2.TradingState:
        return executor_pb2.TradingState(enabled=self.trading_enabled, reason=self.trading_reason, mode=self.mode,
                                         circuit_open=self.breaker.is_open)

    def balance_state(self) -> executor_pb2.BalanceState:
        return executor_pb2.BalanceState(collateral=self.ledger.collateral, reserved=self.ledger.reserved(),
                                         inventory=dict(self.ledger.inventory))

    def _sync_gauges(self) -> None:
        metrics.TRADING_ENABLED.set(1 if self.trading_enabled else 0)
        metrics.CIRCUIT_OPEN.set(1 if self.breaker.is_open else 0)

    # -- one signal ----------------------------------------------------------------------------------

    def accept(self, signal: executor_pb2.Signal, recv_ns: int) -> TradePlan | Denial:
        """Decide before any I/O: a plan with its reservation made, or a denial. No await inside, so
        the plan and the reservation see the same ledger."""
        metrics.SIGNALS_RECEIVED.inc()
        try:
            known, allowance = self.balance_gate() if self.balance_gate is not None else (True, math.inf)
            plan = plan_trade(signal, self.ledger, self.config, now_ns=recv_ns, trading_enabled=self.trading_enabled,
                              circuit_open=self.breaker.is_open, in_flight_instances=self.in_flight,
                              unknown_instances=self.unknown.instances(),
                              balance_known=known, allowance=allowance)
        except Exception as exc:  # a bug must cost this signal only, not the stream every other signal is on
            errors("plan", "planning a signal failed: denied", level=logging.ERROR, signal_id=signal.signal_id[:100],
                   error=repr(exc)[:200])
            metrics.SIGNALS_DENIED.labels("internal").inc()
            return Denial(DenyReason.BAD_SIGNAL, f"internal: {exc!r}"[:200])
        if isinstance(plan, Denial):
            metrics.SIGNALS_DENIED.labels(str(plan.reason)).inc()
            if log.isEnabledFor(logging.DEBUG):
                log.debug("signal denied", extra={"signal_id": signal.signal_id, "reason": str(plan.reason),
                                                  "detail": plan.detail})
            return plan
        try:
            self.ledger.reserve(plan.signal_id, plan.collateral, plan.inventory)
        except LedgerError as exc:  # plan_trade sized against this same ledger: this is a bug, deny safely
            errors("reserve", "reservation refused after planning", level=logging.ERROR, error=str(exc)[:200])
            metrics.SIGNALS_DENIED.labels("internal").inc()
            return Denial(DenyReason.BAD_SIGNAL, f"internal: {exc}"[:200])
        self.in_flight[plan.instance_id] = plan.signal_id
        return plan

    def start(self, plan: TradePlan, signal: executor_pb2.Signal, recv_ns: int,
              on_done: Callable[[executor_pb2.TradeResult], None]) -> None:
        """Sign, journal the intent and write the batch's request now, in the caller's turn of the loop;
        read the answer in a task of its own. The signature and the bytes are the critical path: a task
        hop before them would only queue them behind whatever else is ready."""
        trace = common_pb2.Trace()
        trace.CopyFrom(signal.trace)
        trace.executor_recv_ns = recv_ns
        signed: list[SignedOrder] | Exception
        sent: SentBatch | None = None
        try:
            started = time.perf_counter()
            signed = self._sign(plan)
            metrics.SIGN_SECONDS.observe(time.perf_counter() - started)
            trace.signed_ns = time.time_ns()
            if self.mode != "dry-run":
                sent = self._send(plan, signed, trace)
        except Exception as exc:  # reported as the signal's result by _execute, never raised here
            signed = exc
        task = asyncio.create_task(self._execute(plan, signed, trace, on_done, sent))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _execute(self, plan: TradePlan, signed: list[SignedOrder] | Exception, trace: executor_pb2.Trace,
                       on_done: Callable[[executor_pb2.TradeResult], None], sent: SentBatch | None) -> None:
        try:
            if isinstance(signed, Exception):
                raise signed
            if sent is None:  # dry-run: signed, never sent
                result = self._dry_run_result(plan, signed)
            else:
                result = await self._finish(plan, signed, trace, sent)
        except Exception as exc:
            errors("execution", "signal failed", level=logging.ERROR, signal_id=plan.signal_id,
                   posted=sent is not None, error=repr(exc)[:300])
            if sent is None or isinstance(signed, Exception):  # a bug before anything was posted: nothing matched
                result = self._result(plan, executor_pb2.OUTCOME_REJECTED, [], error=f"internal: {exc!r}"[:300])
            else:  # the request may be at the venue: unknown, reconciled like any other
                unknown = BatchReply(BatchFate.UNKNOWN, error=f"internal: {exc!r}"[:300])
                result = self._answer_result(plan, signed, unknown)
        result.trace.CopyFrom(trace)
        try:
            stored = self._record(plan, result)
        except JournalError as exc:
            # a result that cannot be made durable must not be followed by more trades: stop, say why
            self.set_trading(False, f"journal write failed: {exc}"[:200])
            errors("journal", "trade result could not be journaled; trading disabled", level=logging.CRITICAL,
                   signal_id=plan.signal_id, outcome=OUTCOME_NAMES[result.outcome], error=str(exc)[:200])
            return
        on_done(stored)

    def _sign(self, plan: TradePlan) -> list[SignedOrder]:
        identity = self.identity
        now_ms = time.time_ns() // 1_000_000
        signed = []
        for leg in plan.legs:
            order = build_order(side=leg.venue_side, token_id=leg.token_id, price=leg.price, size=leg.size,
                                tick_size=leg.tick_size, maker=identity.maker, signer=identity.order_signer,
                                signature_type=identity.signature_type,
                                salt=salt_from(self._rng.random(), now_ms), timestamp_ms=now_ms)
            signed.append(identity.signer.sign(order, neg_risk=leg.neg_risk))
        return signed

    def _send(self, plan: TradePlan, signed: list[SignedOrder], trace: executor_pb2.Trace) -> SentBatch:
        """The batch's body, its intent journaled (JournalError: nothing is sent), then its request
        written on a warm connection (or left for _finish to post on a new one)."""
        body = batch_body([order_to_wire(s.order, s.signature, self.identity.owner, plan.order_type)
                           for s in signed])
        intent = self._answer_result(plan, signed, BatchReply(BatchFate.UNKNOWN, error=ORPHAN_ERROR))
        intent.trace.CopyFrom(trace)
        self.journal.record_intent(intent)
        return self.clob.send_batch(body, len(signed))

    async def _finish(self, plan: TradePlan, signed: list[SignedOrder], trace: executor_pb2.Trace,
                      sent: SentBatch) -> executor_pb2.TradeResult:
        reply, posted_ns = await self.clob.batch_reply(sent)
        metrics.POST_SECONDS.observe(time.perf_counter() - sent.started)
        trace.posted_ns = posted_ns
        if trace.ws_recv_ns > 0:
            metrics.FRAME_TO_POST_SECONDS.observe((posted_ns - trace.ws_recv_ns) / 1e9)
        trace.response_ns = time.time_ns()
        if reply.fate != BatchFate.NOT_SENT:
            metrics.ORDERS_POSTED.inc(len(signed))
        self._breaker_after(reply)
        return self._answer_result(plan, signed, reply)

    def _breaker_after(self, reply: BatchReply) -> None:
        if reply.fate == BatchFate.ANSWERED:
            self.breaker.record_success()
        elif reply.fate == BatchFate.CONFIG:
            # credentials, geoblock or a wrong URL: repeating will not help, so stop at once
            while not self.breaker.is_open:
                self.breaker.record_failure()
        else:
            self.breaker.record_failure()
        if self.breaker.is_open:
            errors("circuit_open", "circuit breaker open: trading paused until SetTradingEnabled(true)",
                   level=logging.ERROR, last_error=reply.error)
        self._sync_gauges()

    # -- results -------------------------------------------------------------------------------------

    def _leg_results(self, plan: TradePlan, signed: list[SignedOrder], filled: list[float], statuses: list[str],
                     ids: list[str], leg_errors: list[str],
                     avg_prices: list[float] | None = None) -> list[executor_pb2.LegResult]:
        return [
            executor_pb2.LegResult(token_id=leg.token_id, side=leg.side, price=leg.price, size=leg.size,
                                   order_hash=s.order_hash, order_id=order_id, status=status, filled_size=fill,
                                   error=error, fee_rate_bps=leg.fee_rate_bps, avg_price=avg)
            for leg, s, fill, status, order_id, error, avg in zip(
                plan.legs, signed, filled, statuses, ids, leg_errors, avg_prices or [0.0] * len(plan.legs),
                strict=True)
        ]

    def _dry_run_result(self, plan: TradePlan, signed: list[SignedOrder]) -> executor_pb2.TradeResult:
        """dry-run: signed, not posted; filled in full at the signal's prices."""
        n = len(plan.legs)
        legs = self._leg_results(plan, signed, [leg.size for leg in plan.legs], ["dry_run"] * n,
                                 [""] * n, [""] * n, [leg.signal_price for leg in plan.legs])
        return self._result(plan, executor_pb2.OUTCOME_DRY_RUN, legs)

    def _answer_result(self, plan: TradePlan, signed: list[SignedOrder], reply: BatchReply) -> executor_pb2.TradeResult:
        n = len(plan.legs)
        if reply.fate != BatchFate.ANSWERED:
            outcome = executor_pb2.OUTCOME_UNKNOWN if reply.fate == BatchFate.UNKNOWN else executor_pb2.OUTCOME_REJECTED
            status = "unknown" if outcome == executor_pb2.OUTCOME_UNKNOWN else "not_placed"
            legs = self._leg_results(plan, signed, [0.0] * n, [status] * n, [""] * n, [reply.error[:200]] * n)
            return self._result(plan, outcome, legs, error=reply.error)
        filled, statuses, ids, leg_errors, avg_prices = [], [], [], [], []
        unknown = False
        for leg, answer in zip(plan.legs, reply.legs, strict=True):
            avg = 0.0
            if not answer.accepted:
                fill, status = 0.0, answer.status or "rejected"
            elif answer.status == MATCHED:
                buy = leg.venue_side == OrderSide.BUY
                shares, collateral = ((answer.taking_amount, answer.making_amount) if buy
                                      else (answer.making_amount, answer.taking_amount))
                fill = min(leg.size, shares) if shares else leg.size  # matched with no amounts: in full
                if shares and collateral:
                    avg = collateral / shares
                status = MATCHED
            elif answer.status.startswith(FINAL_UNFILLED):
                fill, status = 0.0, answer.status
            else:  # live, delayed or unheard of: it may still fill; reconcile
                fill, status, unknown = 0.0, answer.status or "unknown", True
            filled.append(fill)
            avg_prices.append(avg)
            statuses.append(status)
            ids.append(answer.order_id)
            leg_errors.append(answer.error)
        legs = self._leg_results(plan, signed, filled, statuses, ids, leg_errors, avg_prices)
        outcome = executor_pb2.OUTCOME_UNKNOWN if unknown else outcome_for([leg.size for leg in plan.legs], filled)
        return self._result(plan, outcome, legs)

    def _result(self, plan: TradePlan, outcome: int, legs: list[executor_pb2.LegResult],
                error: str = "") -> executor_pb2.TradeResult:
        cost = sum(leg_cost(leg) for leg in legs)
        sets = min((leg.filled_size for leg in legs), default=0.0)
        return executor_pb2.TradeResult(
            signal_id=plan.signal_id, instance_id=plan.instance_id, strategy=plan.strategy, mode=self.mode,
            outcome=outcome, legs=legs, cost=round(cost, 6), expected_pnl=round(plan.payout * sets - cost, 6),
            error=error, leg_risk=outcome == executor_pb2.OUTCOME_PARTIAL,
        )

    def _record(self, plan: TradePlan, result: executor_pb2.TradeResult) -> executor_pb2.TradeResult:
        """Journal first; then the ledger and the in-flight mark follow what is now on disk."""
        try:
            stored = self.journal.append(result)
        finally:
            self.in_flight.pop(plan.instance_id, None)
        metrics.TRADE_RESULTS.labels(OUTCOME_NAMES[stored.outcome]).inc()
        if stored.outcome == executor_pb2.OUTCOME_UNKNOWN:
            # the reservation stays, and the instance is held, until reconciliation knows what happened
            self.unknown.add(UnknownBatch.of(stored))
            self.sync_unknown_gauges()
            return stored
        if stored.outcome == executor_pb2.OUTCOME_REJECTED:
            self.ledger.release(plan.signal_id)
        else:
            self.ledger.settle(plan.signal_id, stored.cost, signed_fills(stored.legs))
        return stored

    # -- reconciliation --------------------------------------------------------------------------------

    def recover_orphans(self) -> int:
        """At start, before trading: batches a previous process was posting when it died are journaled
        as UNKNOWN; then every unsettled UNKNOWN batch in the journal holds its instance and, rebuilt
        from its legs, its reservation, until reconciliation settles it. Returns the orphans found."""
        orphans = self.journal.orphan_intents()
        for intent in orphans:
            stored = self.journal.append(intent)
            metrics.TRADE_RESULTS.labels(OUTCOME_NAMES[stored.outcome]).inc()
            log.warning("a batch was on the wire when the executor stopped: journaled as unknown, reconciling",
                        extra={"seq": stored.seq, "signal_id": stored.signal_id})
        for seq in sorted({pending.seq for pending in self.journal.unresolved()}):
            unknown = self._unknown_result(seq)
            if unknown is None:
                continue
            self.unknown.add(UnknownBatch.of(unknown))
            collateral, inventory = held_by(unknown)
            self.ledger.restore(unknown.signal_id, collateral, inventory)
        self.sync_unknown_gauges()
        return len(orphans)

    def _unknown_result(self, seq: int) -> executor_pb2.TradeResult | None:
        (unknown,) = self.journal.read_after(seq - 1, 1) or (None,)
        return unknown if unknown is not None and unknown.seq == seq else None

    async def reconcile_once(self, *, due_only: bool = False, now_ns: int | None = None) -> int:
        """Ask the venue about the orders of unsettled UNKNOWN batches (with `due_only`, of those whose
        probe is due); journal a result for each batch now settled. Returns how many were settled."""
        if self.clob is None:
            return 0
        now = time.time_ns() if now_ns is None else now_ns
        due = {batch.seq for batch in self.unknown.due(now)} if due_only else None
        by_seq: dict[int, list[str]] = {}
        for pending in self.journal.unresolved():
            if due is None or pending.seq in due:
                by_seq.setdefault(pending.seq, []).append(pending.order_hash)
        resolved = 0
        for seq, hashes in sorted(by_seq.items()):
            unknown = self._unknown_result(seq)
            if unknown is None:
                continue
            answers = {}
            try:
                for order_hash in hashes:
                    answers[order_hash] = venue_fill(await self.clob.get_order(order_hash))
            except ReconcileError as exc:
                errors("reconcile", "venue could not say; asking again later", error=str(exc))
                self.unknown.probed(seq, time.time_ns())
                continue
            self.unknown.probed(seq, time.time_ns())
            batch = self.unknown.get(seq)
            posted_ns = batch.posted_ns if batch is not None else UnknownBatch.of(unknown).posted_ns
            answers = settle_not_found(answers, [leg.order_hash for leg in unknown.legs], posted_ns,
                                       time.time_ns(), self.not_found_grace_ns)
            result = reconciled_result(unknown, answers, PAYOUT_BY_STRATEGY.get(unknown.strategy, 0.0))
            if result is None:
                continue
            stored = self.journal.append(result, resolves=hashes)
            metrics.RECONCILED.labels(OUTCOME_NAMES[stored.outcome]).inc()
            metrics.TRADE_RESULTS.labels(OUTCOME_NAMES[stored.outcome]).inc()
            if self.ledger.holds(stored.signal_id):
                self.ledger.settle(stored.signal_id, stored.cost, signed_fills(stored.legs))
            self.unknown.settle(seq)
            log.info("unknown outcome reconciled", extra={"seq": seq, "new_seq": stored.seq,
                                                           "outcome": OUTCOME_NAMES[stored.outcome]})
            for listener in tuple(self.settled_listeners):
                listener(stored)
            resolved += 1
        self.sync_unknown_gauges()
        return resolved

    async def reconcile_forever(self, tick_s: float = RECONCILE_TICK_S) -> None:
        """Probe each unknown batch on its schedule (the first probe within 1 s, then backing off)."""
        while True:
            await asyncio.sleep(tick_s)
            try:
                if self.unknown.due(time.time_ns()):
                    await self.reconcile_once(due_only=True)
                else:
                    self.sync_unknown_gauges()
            except Exception as exc:  # keep reconciling whatever one round hit
                errors("reconcile", "reconciliation round failed", level=logging.ERROR, error=repr(exc)[:200])

    def unknown_batches(self, now_ns: int) -> list[executor_pb2.UnknownBatch]:
        return [
            executor_pb2.UnknownBatch(seq=b.seq, signal_id=b.signal_id, instance_id=b.instance_id,
                                      posted_ns=b.posted_ns, age_ms=max(0, now_ns - b.posted_ns) // 1_000_000,
                                      probes=b.probes)
            for b in self.unknown.batches()
        ]

    def sync_unknown_gauges(self) -> None:
        metrics.UNKNOWN_OUTCOMES.set(len(self.unknown))
        metrics.UNKNOWN_OUTCOME_OLDEST_SECONDS.set(self.unknown.oldest_age_ns(time.time_ns()) / 1e9)

    async def drain(self, timeout_s: float) -> None:
        """On shutdown: let signals already accepted finish (their orders may be on the wire)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout_s)


def signed_fills(legs) -> dict[str, float]:
    fills: dict[str, float] = {}
    for leg in legs:
        if leg.filled_size:
            sign = 1.0 if leg.side == executor_pb2.SIDE_BUY else -1.0
            fills[leg.token_id] = fills.get(leg.token_id, 0.0) + sign * leg.filled_size
    return fills


def make_identity(key: bytes, chain_id: int, signature_type: int, funder: str | None, owner: str) -> Identity:
    signer = OrderSigner(key, chain_id)
    maker, order_signer = order_parties(signature_type, signer.address, funder)
    return Identity(signer, maker, order_signer, signature_type, owner)
