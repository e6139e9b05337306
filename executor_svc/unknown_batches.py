"""Batches whose outcome is unknown: which instances they hold, and when to ask the venue next.

Pure: no I/O, no clock (`now_ns` comes in). A batch whose answer never came (time-out, 5xx, a process
that died mid-post) may have matched, so it is never re-posted: its instance takes no new signal and
its collateral stays reserved until reconciliation settles it from the venue's order records.

Probing starts soon after the unknown result (the first probe within 1 s) and backs off from there,
so a venue that answers "matched" settles the batch at once and a slow one is not hammered.

"Not found" is not proof that a batch never reached the venue: Polymarket's edge throttles by
queueing, so a POST can still be on its way after the client gave up. A leg the venue has not heard
of counts as unfilled only once the batch's POST is `grace_ns` old, or when another leg of the same
batch was found (the batch reached the matching engine whole, so the missing leg was refused).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from polyarb.v1 import executor_pb2

__all__ = ["NOT_FOUND", "UnknownBatch", "UnknownBatches", "probe_delay_ns", "settle_not_found"]

NOT_FOUND = "not_found"
_NS_PER_S = 1_000_000_000
# The first probe 0.25 s after the unknown result, then doubling, at most every 15 s.
_FIRST_PROBE_NS = _NS_PER_S // 4
_MAX_PROBE_NS = 15 * _NS_PER_S


def probe_delay_ns(probes: int) -> int:
    """Wait before the next probe, after `probes` probes so far."""
    return min(_MAX_PROBE_NS, _FIRST_PROBE_NS << min(probes, 16))


@dataclass(slots=True)
class UnknownBatch:
    seq: int  # the UNKNOWN TradeResult
    signal_id: str
    instance_id: str
    posted_ns: int
    probes: int = 0
    next_probe_ns: int = 0

    @classmethod
    def of(cls, result: executor_pb2.TradeResult) -> UnknownBatch:
        """From a stored UNKNOWN result: its POST time, else (a process killed mid-post) when it was journaled."""
        posted_ns = result.trace.posted_ns or result.recorded_ns
        return cls(result.seq, result.signal_id, result.instance_id, posted_ns,
                   next_probe_ns=result.recorded_ns + _FIRST_PROBE_NS)


class UnknownBatches:
    """The unsettled unknown batches of one executor, by seq."""

    __slots__ = ("_by_instance", "_by_seq")

    def __init__(self) -> None:
        self._by_seq: dict[int, UnknownBatch] = {}
        self._by_instance: dict[str, int] = {}  # instance_id -> seq of its unknown batch

    def add(self, batch: UnknownBatch) -> None:
        self._by_seq[batch.seq] = batch
        self._by_instance[batch.instance_id] = batch.seq

    def settle(self, seq: int) -> UnknownBatch | None:
        batch = self._by_seq.pop(seq, None)
        if batch is not None and self._by_instance.get(batch.instance_id) == seq:
            del self._by_instance[batch.instance_id]
            # an older unknown batch of the same instance (never both, but never lose one either)
            for other in self._by_seq.values():
                if other.instance_id == batch.instance_id:
                    self._by_instance[batch.instance_id] = other.seq
        return batch

    def get(self, seq: int) -> UnknownBatch | None:
        return self._by_seq.get(seq)

    def due(self, now_ns: int) -> list[UnknownBatch]:
        """Batches whose next probe is due, oldest first."""
        return [b for b in sorted(self._by_seq.values(), key=lambda b: b.seq) if b.next_probe_ns <= now_ns]

    def probed(self, seq: int, now_ns: int) -> None:
        batch = self._by_seq.get(seq)
        if batch is not None:
            batch.probes += 1
            batch.next_probe_ns = now_ns + probe_delay_ns(batch.probes)

    def next_due_ns(self) -> int | None:
        return min((b.next_probe_ns for b in self._by_seq.values()), default=None)

    def instances(self) -> Mapping[str, int]:
        """instance_id -> seq of its unsettled batch (read-only use: `in` checks)."""
        return self._by_instance

    def batches(self) -> list[UnknownBatch]:
        return sorted(self._by_seq.values(), key=lambda b: b.seq)

    def oldest_age_ns(self, now_ns: int) -> int:
        return max((now_ns - b.posted_ns for b in self._by_seq.values()), default=0)

    def __len__(self) -> int:
        return len(self._by_seq)


def settle_not_found(answers: Mapping[str, tuple[bool, float, str]], order_hashes: Iterable[str],
                     posted_ns: int, now_ns: int, grace_ns: int) -> dict[str, tuple[bool, float, str]]:
    """The answers with "not found" legs made final (unfilled) when that is proof, else left open.

    `answers`: order hash -> (final, filled shares, status) from the venue; a hash missing from it, or
    with status NOT_FOUND, is an order the venue has not heard of."""
    hashes = list(order_hashes)
    found_any = any(h in answers and answers[h][2] != NOT_FOUND for h in hashes)
    final = found_any or now_ns - posted_ns >= grace_ns
    settled = dict(answers)
    for h in hashes:
        if h not in answers or answers[h][2] == NOT_FOUND:
            settled[h] = (final, 0.0, NOT_FOUND)
    return settled
