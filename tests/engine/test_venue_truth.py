"""The evaluator trades only what the venue shows: a frame is evaluated whole, liquidity we took is
not traded again until the venue shows the level anew, and a held instance never signals (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from engine_svc.strategies import Evaluator, _TrioBuy
from polyarb.v1 import engine_pb2 as pb
from tests.engine.test_strategies import (
    COMPLEMENT,
    MS,
    NOW,
    PROFITABLE_TRIO,
    TRIO,
    asks,
    evaluator,
    market,
    tob,
    trio_msg,
)


def frame(ev: Evaluator, *updates, now_ns: int = NOW):
    return list(ev.on_batch(updates, now_ns))


# YES(lower) + NO(upper) + NO(range) at tick 0.005, as in the report: the books before the frame
BEFORE = asks(lo_yes=(0.75, 40), up_no=(0.72, 40), rg_no=(0.60, 40))


def test_a_frame_that_ends_without_an_arbitrage_signals_nothing_whatever_it_passes_through():
    ev = evaluator([trio_msg(tick_size=0.005)], cooldown_ms=0)
    assert frame(ev, *BEFORE) == []  # 2.07
    # the frame ends at 0.65 + 0.62 + 0.80 = 2.07: no arbitrage at the venue at any time
    after = asks(lo_yes=(0.65, 40), up_no=(0.62, 40), rg_no=(0.80, 40))
    assert frame(ev, *after) == []
    # one update at a time, the old way, the same frame signals at books that never existed
    # (0.65 + 0.72 + 0.60 = 1.97, after its first update)
    old_way = evaluator([trio_msg(tick_size=0.005)], cooldown_ms=0)
    frame(old_way, *BEFORE)
    mixed = [o for u in after for o in old_way.on_top_of_book(u, NOW)]
    assert [o.prices for o in mixed] == [(0.65, 0.72, 0.60)]


def test_a_frame_that_ends_with_an_arbitrage_signals_once_at_the_final_books():
    ev = evaluator([trio_msg()], cooldown_ms=0)
    frame(ev, *asks(lo_yes=(0.65, 40), up_no=(0.62, 40), rg_no=(0.80, 40)))
    # mid-frame 0.55 + 0.62 + 0.80 = 1.97 is already an arbitrage; the frame ends at 1.93
    [opp] = frame(ev, *asks(lo_yes=(0.55, 40), up_no=(0.60, 30), rg_no=(0.78, 20)))
    assert opp.strategy == TRIO and opp.prices == (0.55, 0.60, 0.78) and opp.size == 20.0


def test_each_direction_is_evaluated_once_per_frame(monkeypatch):
    calls = []
    original = _TrioBuy.evaluate

    def counted(self, ev, now_ns):
        calls.append(self.strategy)
        return original(self, ev, now_ns)

    monkeypatch.setattr(_TrioBuy, "evaluate", counted)
    ev = evaluator([trio_msg()], cooldown_ms=0)
    frame(ev, *PROFITABLE_TRIO, tob("lo-no", ask=0.5, ask_size=1))
    assert sorted(calls) == [TRIO, COMPLEMENT]  # three trio legs and one complement leg changed: once each


def test_taken_liquidity_is_subtracted_until_the_level_is_shown_anew():
    ev = evaluator([trio_msg()], cooldown_ms=0, max_set_size=20)
    [first] = frame(ev, *PROFITABLE_TRIO)  # sizes 40, 30, 50: a set of 20
    assert first.size == 20.0
    ev.clear_in_flight("t1")  # FILLED: what it took stays taken
    assert ev.reevaluate("t1", NOW + MS, fresh_only=True) == []  # e.g. the balance moved: not these books
    assert ev.state("up-no").ask_taken == 20.0
    # one leg shown anew: the others still count what we took (up-no: 30 - 20 = 10 left)
    [second] = frame(ev, tob("lo-yes", ask=0.50, ask_size=45), now_ns=NOW + 2 * MS)
    assert second.size == 10.0
    ev.clear_in_flight("t1")
    # up-no is gone now (30 - 20 - 10): no set until its level is shown anew
    assert frame(ev, tob("lo-yes", ask=0.50, ask_size=46), now_ns=NOW + 3 * MS) == []
    [third] = frame(ev, tob("up-no", ask=0.60, ask_size=25), now_ns=NOW + 4 * MS)
    assert third.size == 20.0


def test_two_instances_sharing_a_leg_in_one_frame_share_its_size():
    shared = market("lo")
    t2 = pb.Trio(id="t2", lower=shared, upper=market("up2"), range=market("rg2"), lower_bound=100, upper_bound=120)
    ev = evaluator([trio_msg(), t2], cooldown_ms=0)
    books = [*PROFITABLE_TRIO, *asks(up2_no=(0.60, 50), rg2_no=(0.80, 50))]
    found = frame(ev, *books)
    assert [(o.instance_id, o.size) for o in found] == [("t1", 30.0), ("t2", 10.0)]  # lo-yes shows 40 in all


def test_give_back_shows_the_size_again_unless_the_level_was_shown_anew():
    ev = evaluator([trio_msg()], cooldown_ms=0)
    [first] = frame(ev, *PROFITABLE_TRIO)
    ev.clear_in_flight("t1")
    ev.give_back(first)  # rejected: nothing was taken at the venue
    assert ev.state("up-no").ask_taken == 0.0
    [again] = ev.reevaluate("t1", NOW + MS)  # in flight from here
    assert frame(ev, tob("up-no", ask=0.60, ask_size=28), now_ns=NOW + 2 * MS) == []  # shown anew: 28, none taken
    assert ev.state("up-no").ask_taken == 0.0 and ev.state("lo-yes").ask_taken == 30.0
    ev.clear_in_flight("t1")
    ev.give_back(again)  # a late give-back of the older take leaves the newer level alone
    assert ev.state("up-no").ask_taken == 0.0 and ev.state("lo-yes").ask_taken == 0.0


def test_a_stale_leg_forgets_what_was_taken_and_the_fresh_snapshot_is_the_truth():
    ev = evaluator([trio_msg()], cooldown_ms=0)
    frame(ev, *PROFITABLE_TRIO)
    ev.clear_in_flight("t1")
    ev.mark_all_stale()  # ingest went away
    [opp] = frame(ev, *PROFITABLE_TRIO)  # the same numbers, but a fresh snapshot of each leg
    assert opp.size == 30.0


def test_fresh_only_re_evaluation_skips_what_signalled_on_these_books():
    ev = evaluator([trio_msg()], cooldown_ms=0, max_set_size=10)
    frame(ev, *PROFITABLE_TRIO)
    ev.clear_in_flight("t1")
    assert ev.reevaluate("t1", NOW + MS, fresh_only=True) == []  # e.g. the balance moved because we filled
    assert ev.reevaluate("t1", NOW + MS)  # an explicit look sees what is left (30 - 10 on up-no)
    ev.clear_in_flight("t1")
    ev.mark_in_flight("t1", NOW + 2 * MS)
    assert frame(ev, tob("lo-yes", ask=0.50, ask_size=41), now_ns=NOW + 2 * MS) == []  # in flight
    ev.clear_in_flight("t1")
    assert ev.reevaluate("t1", NOW + 3 * MS, fresh_only=True)  # a leg showed something newer since


def test_a_held_instance_never_signals_and_never_times_out():
    ev = evaluator([trio_msg()], cooldown_ms=0, in_flight_timeout_ms=1_000)
    ev.set_held(["t1"])
    assert frame(ev, *PROFITABLE_TRIO) == []
    assert ev.reevaluate("t1", NOW + 3_600_000 * MS) == [] and ev.held_count() == 1
    ev.set_held([])
    assert ev.reevaluate("t1", NOW + MS)


@given(st.permutations(range(6)), st.lists(st.tuples(st.sampled_from([0.30, 0.45, 0.50, 0.60, 0.70, 0.80]),
                                                     st.sampled_from([10.0, 30.0])), min_size=6, max_size=6))
def test_property_a_frame_is_judged_by_its_final_books_in_any_order(order, books):
    roles = ["lo-yes", "up-no", "rg-no", "lo-no", "up-yes", "rg-yes"]
    updates = [tob(roles[i], ask=books[i][0], ask_size=books[i][1], bid=books[i][0] - 0.05, bid_size=5)
               for i in order]
    final = {u.token_id: (u.ask_price, u.ask_size) for u in updates}
    found = frame(evaluator([trio_msg()], cooldown_ms=0), *updates)
    other_order = frame(evaluator([trio_msg()], cooldown_ms=0), *sorted(updates, key=lambda u: u.token_id))
    assert len(found) == len(other_order) <= 1  # a trio and its complement share one instance
    for opp in found:  # priced and sized from the books the frame left, never from a book mid-frame
        assert opp.prices == tuple(final[leg.token_id][0] for leg in opp.legs)
        assert opp.size == min(final[leg.token_id][1] for leg in opp.legs)
