"""Unknown batches: the probe schedule, the instances they hold, and when "not found" is proof (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from executor_svc.unknown_batches import NOT_FOUND, UnknownBatch, UnknownBatches, probe_delay_ns, settle_not_found
from polyarb.v1 import common_pb2, executor_pb2

S = 1_000_000_000


def test_the_first_probe_is_within_a_second_then_it_backs_off_to_15_s():
    delays = [probe_delay_ns(n) for n in range(10)]
    assert delays[0] < S and delays == sorted(delays) and delays[-1] == 15 * S
    assert delays[1] == 2 * delays[0]


def test_batches_hold_their_instances_and_come_due_on_schedule():
    batches = UnknownBatches()
    result = executor_pb2.TradeResult(seq=7, signal_id="s", instance_id="i", recorded_ns=10 * S,
                                      trace=common_pb2.Trace(posted_ns=9 * S))
    batch = UnknownBatch.of(result)
    assert batch.posted_ns == 9 * S and batch.next_probe_ns < 11 * S
    batches.add(batch)
    assert "i" in batches.instances() and len(batches) == 1
    assert batches.due(10 * S) == [] and batches.due(11 * S) == [batch]
    batches.probed(7, 11 * S)
    assert batches.due(11 * S) == [] and batches.next_due_ns() == 11 * S + probe_delay_ns(1)
    assert batches.oldest_age_ns(12 * S) == 3 * S
    assert batches.settle(7) is batch and "i" not in batches.instances() and batches.settle(7) is None


def test_an_orphan_without_a_post_time_counts_from_when_it_was_journaled():
    assert UnknownBatch.of(executor_pb2.TradeResult(seq=1, recorded_ns=5 * S)).posted_ns == 5 * S


@given(st.lists(st.sampled_from(["found", "missing", "not_found"]), min_size=1, max_size=5),
       st.integers(0, 60), st.integers(1, 60))
def test_property_not_found_is_final_only_after_the_grace_or_when_the_batch_was_seen(legs, age_s, grace_s):
    hashes = [f"0x{i}" for i in range(len(legs))]
    answers = {}
    for h, kind in zip(hashes, legs, strict=True):
        if kind == "found":
            answers[h] = (True, 10.0, "matched")
        elif kind == "not_found":
            answers[h] = (False, 0.0, NOT_FOUND)
    settled = settle_not_found(answers, hashes, posted_ns=0, now_ns=age_s * S, grace_ns=grace_s * S)
    proof = "found" in legs or age_s >= grace_s
    for h, kind in zip(hashes, legs, strict=True):
        if kind == "found":
            assert settled[h] == (True, 10.0, "matched")
        else:
            assert settled[h] == (proof, 0.0, NOT_FOUND)
