"""The engine's state and its per-batch work: structure, evaluator, signals with their trace.

No sockets here: the ingest link feeds `on_batch`, which returns the signals to send; the executor
link reports acks and outcomes back through `on_ack`.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterable

from engine_svc import metrics
from engine_svc.settings import default_config, validate_config
from engine_svc.strategies import Evaluator, to_signal
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

STRATEGY_NAMES = {value: name.removeprefix("STRATEGY_").lower()
                  for name, value in executor_pb2.Strategy.items() if value}


class Pipeline:
    def __init__(self) -> None:
        self.config = default_config()
        self.evaluator = Evaluator(EMPTY_STRUCTURE, self.config)
        self.signals_by_strategy: Counter[str] = Counter()
        self.skipped_acks = 0
        self.last_evaluation_ns = 0
        self._pending: dict[str, str] = {}  # signal_id -> instance_id, until its outcome or a skip
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
        evaluate = self.evaluator.on_top_of_book
        found = None
        for tob in batch.updates:
            opportunities = evaluate(tob, recv_ns)
            if opportunities:
                if found is None:
                    found = []
                found.extend(opportunities)
        metrics.EVALUATIONS.inc(len(batch.updates))
        metrics.EVAL_SECONDS.observe(time.perf_counter() - started)
        self.last_evaluation_ns = recv_ns
        if found is None:
            return []
        return [self._signal(o, batch, recv_ns) for o in found]

    def _signal(self, opportunity, batch: ingest_pb2.TopOfBookBatch, recv_ns: int) -> executor_pb2.Signal:
        self._next_signal += 1
        signal_id = f"{self._boot}-{self._next_signal}"
        trace = common_pb2.Trace(ws_recv_ns=batch.ws_recv_ns, ingest_sent_ns=batch.sent_ns, engine_recv_ns=recv_ns,
                                 signal_sent_ns=time.time_ns())
        signal = to_signal(opportunity, signal_id, trace)
        self._pending[signal_id] = opportunity.instance_id
        self.signals_by_strategy[STRATEGY_NAMES[opportunity.strategy]] += 1
        metrics.SIGNALS.labels(STRATEGY_NAMES[opportunity.strategy]).inc()
        return signal

    # -- the executor's answers ------------------------------------------------------------------

    def on_ack(self, ack: executor_pb2.SignalAck) -> None:
        """A skip or an outcome frees the instance for new signals; an accepted ack keeps it in flight."""
        if ack.accepted and not ack.done:
            return
        instance_id = self._pending.pop(ack.signal_id, None)
        if instance_id is None:
            return
        if not ack.accepted:
            self.skipped_acks += 1
            metrics.SIGNALS_SKIPPED.labels(ack.reason or "unspecified").inc()
        self.evaluator.clear_in_flight(instance_id)

    def not_sent(self, signals: Iterable[executor_pb2.Signal]) -> None:
        """The executor stream was down: these signals never left, so their instances are free again."""
        for signal in signals:
            instance_id = self._pending.pop(signal.signal_id, None)
            if instance_id is not None:
                self.evaluator.clear_in_flight(instance_id)
            metrics.SIGNALS_DROPPED.inc()

    def forget_pending(self) -> None:
        """The executor stream broke: outcomes of signals sent on it will not arrive on the next one.
        Their instances stay in flight until the in-flight timeout (their orders may have gone out)."""
        self._pending.clear()

    def set_balance(self, balance: executor_pb2.BalanceState) -> list[executor_pb2.Signal]:
        """The executor's balance sizes the sets. When it grows (or inventory changes), books that were
        already profitable but unaffordable are worth a fresh look: return the signals that opens."""
        evaluator = self.evaluator
        capital_before, inventory_before = evaluator.capital, self._inventory
        evaluator.set_capital(balance.collateral - balance.reserved)
        inventory = dict(balance.inventory)
        evaluator.set_inventory(inventory)
        self._inventory = inventory
        if evaluator.capital <= capital_before and inventory == inventory_before:
            return []
        now = time.time_ns()
        found = [o for instance in self.structure.instances for o in evaluator.reevaluate(instance.id, now)]
        empty = ingest_pb2.TopOfBookBatch()
        return [self._signal(o, empty, now) for o in found]

    def in_flight(self) -> int:
        return self.evaluator.in_flight_count(time.time_ns())

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
