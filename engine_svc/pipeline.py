"""The engine's state and its per-batch work: structure, evaluator, signals with their trace.

No sockets here: the ingest link feeds `on_batch`, which returns the signals to send; the executor
link reports acks and outcomes back through `on_ack`, and the executor's status through
`set_balance` and `set_executor_holds`.

What an outcome means for the instance and the liquidity its signal took:
- skipped (denied) or REJECTED: nothing was taken at the venue: the sizes are given back and the
  instance is free for the next book change (not evaluated at once: with a zero cooldown a denial
  would otherwise loop signal → deny → signal);
- FILLED, PARTIAL, DRY_RUN: the sizes stay taken until the venue shows those levels anew;
- UNKNOWN: the instance is held, with no time-out, until the executor says the batch settled
  (a later ack for the same signal, or its status no longer listing the batch); settled unfilled,
  the sizes are given back and the instance is evaluated at once on the books as they are.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterable

from engine_svc import metrics
from engine_svc.settings import default_config, validate_config
from engine_svc.strategies import Evaluator, Opportunity, to_signal
from engine_svc.structure import (
    COMPLEMENT_ROLES,
    EMPTY_STRUCTURE,
    TRIO_ROLES,
    Structure,
    Trio,
    compile_structure,
    diff_tokens,
)
from polyarb.v1 import common_pb2, engine_pb2, executor_pb2, ingest_pb2

_NO_FRAME = ingest_pb2.TopOfBookBatch()  # the trace source of a signal no frame caused (read only)

STRATEGY_NAMES = {value: name.removeprefix("STRATEGY_").lower()
                  for name, value in executor_pb2.Strategy.items() if value}


class Pipeline:
    def __init__(self) -> None:
        self.config = default_config()
        self.evaluator = Evaluator(EMPTY_STRUCTURE, self.config)
        self.signals_by_strategy: Counter[str] = Counter()
        self.skipped_acks = 0
        self.last_evaluation_ns = 0
        self._pending: dict[str, Opportunity] = {}  # signal_id -> what it was, until its outcome or a skip
        # signal_id -> (its opportunity, the seq of its UNKNOWN result): held until the batch settles
        self._unknown: dict[str, tuple[Opportunity, int]] = {}
        self._held_by_status: frozenset[str] = frozenset()  # instances the executor's status says to hold
        self._boot = os.urandom(4).hex()  # signal ids stay unique across restarts
        self._next_signal = 0
        self._inventory: dict[str, float] = {}

    @property
    def structure(self) -> Structure:
        return self.evaluator.structure

    # -- control -----------------------------------------------------------------------------------

    def replace_structure(self, msg: engine_pb2.MarketStructure) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Validate whole, then swap; StructureError leaves the running one. Returns (added, removed) tokens."""
        new = compile_structure(msg)
        added, removed = diff_tokens(self.structure, new)
        self.evaluator = Evaluator(new, self.config, previous=self.evaluator)
        self._apply_holds()  # instances new to the evaluator may be held by the executor's word already
        return added, removed

    def replace_config(self, msg: engine_pb2.EngineConfig) -> engine_pb2.EngineConfig:
        """Validate whole, then apply; ConfigError leaves the running one."""
        config = validate_config(msg)
        self.config = config
        self.evaluator.set_config(config)
        return config

    def ingest_lost(self) -> None:
        self.evaluator.mark_all_stale()
        metrics.STALE_TOKENS.set(self.evaluator.stale_token_count())

    # -- the hot path ------------------------------------------------------------------------------

    def on_batch(self, batch: ingest_pb2.TopOfBookBatch, recv_ns: int) -> list[executor_pb2.Signal]:
        """Evaluate one batch (one WebSocket frame); return the signals it opens, traced."""
        started = time.perf_counter()
        updates = batch.updates
        found = self.evaluator.on_batch(updates, recv_ns)
        metrics.EVALUATIONS.inc(len(updates))
        metrics.EVAL_SECONDS.observe(time.perf_counter() - started)
        self.last_evaluation_ns = recv_ns
        if not found:
            return []
        return [self._signal(o, batch, recv_ns) for o in found]

    def _signal(self, opportunity, batch: ingest_pb2.TopOfBookBatch, recv_ns: int) -> executor_pb2.Signal:
        self._next_signal += 1
        signal_id = f"{self._boot}-{self._next_signal}"
        trace = common_pb2.Trace(ws_recv_ns=batch.ws_recv_ns, ingest_sent_ns=batch.sent_ns, engine_recv_ns=recv_ns,
                                 signal_sent_ns=time.time_ns())
        signal = to_signal(opportunity, signal_id, trace)
        self._pending[signal_id] = opportunity
        self.signals_by_strategy[STRATEGY_NAMES[opportunity.strategy]] += 1
        metrics.SIGNALS.labels(STRATEGY_NAMES[opportunity.strategy]).inc()
        return signal

    # -- the executor's answers ------------------------------------------------------------------

    def on_ack(self, ack: executor_pb2.SignalAck) -> list[executor_pb2.Signal]:
        """Book an ack; return the signals a freed instance opens at once (books still showing it)."""
        if ack.accepted and not ack.done:
            return []
        opportunity = self._pending.pop(ack.signal_id, None)
        if opportunity is None:
            return self._settled(ack)
        evaluator = self.evaluator
        evaluator.clear_in_flight(opportunity.instance_id)
        if not ack.accepted:
            self.skipped_acks += 1
            metrics.SIGNALS_SKIPPED.labels(ack.reason or "unspecified").inc()
            evaluator.give_back(opportunity)
        elif ack.outcome == executor_pb2.OUTCOME_UNKNOWN:
            self._unknown[ack.signal_id] = (opportunity, ack.result_seq)
            self._apply_holds()
        elif ack.outcome == executor_pb2.OUTCOME_REJECTED:
            evaluator.give_back(opportunity)
        return []

    def _settled(self, ack: executor_pb2.SignalAck) -> list[executor_pb2.Signal]:
        """A later outcome of a batch that was UNKNOWN: reconciliation settled it."""
        entry = self._unknown.pop(ack.signal_id, None)
        if entry is None or not ack.done:
            return []
        self._apply_holds()
        opportunity = entry[0]
        if ack.outcome != executor_pb2.OUTCOME_REJECTED:
            return []
        evaluator = self.evaluator
        evaluator.give_back(opportunity)
        now = time.time_ns()
        return [self._signal(o, _NO_FRAME, now) for o in evaluator.reevaluate(opportunity.instance_id, now)]

    def set_executor_holds(self, status: executor_pb2.ExecutorStatus, *,
                           connecting: bool = False) -> list[executor_pb2.Signal]:
        """The executor's word on which instances must not trade: those with an UNKNOWN batch, and (on
        connecting) those with a batch in flight that this engine did not send, e.g. from before a
        restart. A batch whose UNKNOWN ack came after the status was taken (its seq above the
        status's last seq) stays held; one the status no longer lists is settled. Returns the signals
        of instances released (on books that showed something newer since they last signalled)."""
        unknown = {batch.instance_id for batch in status.unknown_batches}
        ours = {o.instance_id for o in self._pending.values()}
        held = unknown | {i for i in status.in_flight_instance_ids if i not in ours}
        if not connecting:
            held &= unknown | self._held_by_status  # an in-flight batch is held only until it ends
        self._held_by_status = frozenset(held)
        for signal_id, (opportunity, seq) in list(self._unknown.items()):
            if seq <= status.last_seq and opportunity.instance_id not in unknown:
                del self._unknown[signal_id]  # settled; its ack was missed: what it took stays taken
        released = self._apply_holds()
        if not released:
            return []
        now = time.time_ns()
        found = [o for instance_id in sorted(released)
                 for o in self.evaluator.reevaluate(instance_id, now, fresh_only=True)]
        return [self._signal(o, _NO_FRAME, now) for o in found]

    def _apply_holds(self) -> set[str]:
        """Hold exactly the instances the executor's status and our own UNKNOWN acks name; the released ones."""
        held = set(self._held_by_status)
        held.update(o.instance_id for o, _ in self._unknown.values())
        evaluator = self.evaluator
        released = {i.id for i in self.structure.instances if evaluator.is_held(i.id) and i.id not in held}
        evaluator.set_held(held)
        return released

    def not_sent(self, signals: Iterable[executor_pb2.Signal]) -> None:
        """The executor stream was down: these signals never left, so their instances are free again."""
        for signal in signals:
            opportunity = self._pending.pop(signal.signal_id, None)
            if opportunity is not None:
                self.evaluator.clear_in_flight(opportunity.instance_id)
                self.evaluator.give_back(opportunity)
            metrics.SIGNALS_DROPPED.inc()

    def forget_pending(self) -> None:
        """The executor stream broke: outcomes of signals sent on it will not arrive on the next one.
        Their instances stay in flight until the in-flight timeout (their orders may have gone out),
        and what they took stays taken. Batches known to be UNKNOWN stay held: the executor's status
        says when they settle."""
        self._pending.clear()

    def set_balance(self, balance: executor_pb2.BalanceState) -> list[executor_pb2.Signal]:
        """The executor's balance sizes the sets. When it grows (or inventory changes), books that were
        already profitable but unaffordable are worth a fresh look: return the signals that opens.
        Only directions that have seen a leg's newer update since they last signalled are looked at:
        a balance that moved because of our own fill must not re-trade the book we just traded."""
        evaluator = self.evaluator
        capital_before, inventory_before = evaluator.capital, self._inventory
        evaluator.set_capital(balance.collateral - balance.reserved)
        inventory = dict(balance.inventory)
        evaluator.set_inventory(inventory)
        self._inventory = inventory
        if evaluator.capital <= capital_before and inventory == inventory_before:
            return []
        now = time.time_ns()
        found = [o for instance in self.structure.instances
                 for o in evaluator.reevaluate(instance.id, now, fresh_only=True)]
        return [self._signal(o, _NO_FRAME, now) for o in found]

    def in_flight(self) -> int:
        return self.evaluator.in_flight_count(time.time_ns())

    def held(self) -> int:
        return self.evaluator.held_count()

    def instance_views(self) -> list[engine_pb2.InstanceView]:
        """Every instance with what the engine sees of its legs (for status and live views; not hot)."""
        evaluator, now = self.evaluator, time.time_ns()
        views = []
        for instance in self.structure.instances:
            if isinstance(instance, Trio):
                kind, legs = "trio", [(role.name.lower(), instance.token(role)) for role in (*TRIO_ROLES,
                                                                                           *COMPLEMENT_ROLES)]
            else:
                kind, legs = "set", [(f"member_{i}", m.yes_token_id) for i, m in enumerate(instance.members)]
            in_flight = evaluator.is_in_flight(instance.id, now)
            view = engine_pb2.InstanceView(id=instance.id, kind=kind, in_flight=in_flight)
            for role, token in legs:
                state = evaluator.state(token)
                view.legs.add(token_id=token, role=role, bid_price=state.bid, bid_size=state.bid_size,
                              ask_price=state.ask, ask_size=state.ask_size, stale=state.stale)
            views.append(view)
        return views
