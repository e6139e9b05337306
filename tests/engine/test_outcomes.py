"""What each outcome of a signal means to the engine (Pipeline, pure): what it took, and whether its
instance may trade; unknown outcomes hold the instance until the executor says the batch settled."""

from __future__ import annotations

from engine_svc.pipeline import Pipeline
from polyarb.v1 import engine_pb2 as pb
from polyarb.v1 import executor_pb2 as ex
from polyarb.v1 import ingest_pb2
from tests.engine.test_strategies import PROFITABLE_TRIO, trio_msg


def pipeline(max_set_size: float = 100.0) -> Pipeline:
    p = Pipeline()
    config = p.config
    config.cooldown_ms = 0
    config.max_set_size = max_set_size
    p.replace_config(config)
    p.replace_structure(pb.MarketStructure(version=1, trios=[trio_msg()]))
    p.set_balance(ex.BalanceState(collateral=1000.0))
    return p


def frame(p: Pipeline, *updates) -> list[ex.Signal]:
    return p.on_batch(ingest_pb2.TopOfBookBatch(updates=updates, ws_recv_ns=1, sent_ns=2), 3)


def done(signal: ex.Signal, outcome: int, seq: int = 1) -> ex.SignalAck:
    return ex.SignalAck(signal_id=signal.signal_id, accepted=True, done=True, outcome=outcome, result_seq=seq)


def test_filled_keeps_what_it_took_rejected_and_skipped_give_it_back():
    p = pipeline()
    [signal] = frame(p, *PROFITABLE_TRIO)
    assert p.on_ack(ex.SignalAck(signal_id=signal.signal_id, accepted=True)) == []
    assert p.on_ack(done(signal, ex.OUTCOME_FILLED)) == []  # the books still show what we took
    assert p.in_flight() == 0 and p.evaluator.state("up-no").ask_taken == 30.0

    p = pipeline()
    [signal] = frame(p, *PROFITABLE_TRIO)
    # nothing taken at the venue: the sizes are shown again, for the next change (not at once: with a
    # zero cooldown a denial would loop)
    assert p.on_ack(done(signal, ex.OUTCOME_REJECTED)) == []
    assert p.evaluator.state("up-no").ask_taken == 0.0 and p.in_flight() == 0
    [again] = frame(p, PROFITABLE_TRIO[0].__class__(token_id="lo-yes", ask_price=0.50, ask_size=41,
                                                     bid_price=0.49, bid_size=41, tick_size=0.01))
    assert again.legs[0].size == 30.0
    assert p.on_ack(ex.SignalAck(signal_id=again.signal_id, accepted=False, reason="collateral_short")) == []
    assert p.skipped_acks == 1 and p.evaluator.state("up-no").ask_taken == 0.0


def test_unknown_holds_the_instance_until_the_settling_ack():
    p = pipeline()
    [signal] = frame(p, *PROFITABLE_TRIO)
    assert p.on_ack(done(signal, ex.OUTCOME_UNKNOWN, seq=5)) == []
    assert p.held() == 1 and p.in_flight() == 0
    frame(p, *[ingest_pb2.TopOfBook(token_id=t.token_id, ask_price=t.ask_price, ask_size=t.ask_size + 1,
                                     bid_price=t.bid_price, bid_size=t.bid_size, tick_size=0.01)
               for t in PROFITABLE_TRIO])  # the venue shows the books anew: still held, no signal
    assert p.held() == 1 and p.in_flight() == 0
    # a status taken before the UNKNOWN was journaled (last_seq 4) does not release it
    assert p.set_executor_holds(ex.ExecutorStatus(last_seq=4)) == []
    assert p.held() == 1
    # reconciliation: the venue never saw the batch: the settling ack frees it, and the books are traded
    [again] = p.on_ack(done(signal, ex.OUTCOME_REJECTED, seq=6))
    assert p.held() == 0 and again.legs[0].size == 31.0


def test_a_settled_fill_frees_the_instance_but_what_it_took_stays_taken():
    p = pipeline()
    [signal] = frame(p, *PROFITABLE_TRIO)
    p.on_ack(done(signal, ex.OUTCOME_UNKNOWN, seq=5))
    assert p.on_ack(done(signal, ex.OUTCOME_FILLED, seq=6)) == []
    assert p.held() == 0 and p.evaluator.state("up-no").ask_taken == 30.0


def test_a_missed_settling_ack_is_made_up_by_the_status():
    p = pipeline()
    [signal] = frame(p, *PROFITABLE_TRIO)
    p.on_ack(done(signal, ex.OUTCOME_UNKNOWN, seq=5))
    listed = ex.ExecutorStatus(last_seq=5, unknown_batches=[ex.UnknownBatch(seq=5, instance_id="t1")])
    assert p.set_executor_holds(listed) == [] and p.held() == 1
    assert p.set_executor_holds(ex.ExecutorStatus(last_seq=6)) == []  # settled: released, what it took kept
    assert p.held() == 0


def test_a_new_engine_holds_what_the_executor_lists_unknown_or_in_flight():
    p = pipeline()
    status = ex.ExecutorStatus(last_seq=9, unknown_batches=[ex.UnknownBatch(seq=9, instance_id="t1")])
    p.set_executor_holds(status, connecting=True)
    assert frame(p, *PROFITABLE_TRIO) == [] and p.held() == 1
    [signal] = p.set_executor_holds(ex.ExecutorStatus(last_seq=10))  # settled: released, never traded here
    assert signal.instance_id == "t1"

    p = pipeline()
    p.set_executor_holds(ex.ExecutorStatus(in_flight_instance_ids=["t1"]), connecting=True)
    assert frame(p, *PROFITABLE_TRIO) == []
    p.set_executor_holds(ex.ExecutorStatus(in_flight_instance_ids=["t1"]))
    assert p.held() == 1
    [signal] = p.set_executor_holds(ex.ExecutorStatus())  # its batch ended (not unknown)
    assert signal.instance_id == "t1"


def test_a_balance_change_never_re_signals_the_books_it_just_traded():
    p = pipeline(max_set_size=10)
    [signal] = frame(p, *PROFITABLE_TRIO)
    p.on_ack(done(signal, ex.OUTCOME_FILLED))
    moved = ex.BalanceState(collateral=981.0, inventory={"lo-yes": 10, "up-no": 10, "rg-no": 10})
    assert p.set_balance(moved) == []  # 20 still shown on up-no, but that is our fill seen through the balance
    more = ex.BalanceState(collateral=2000.0, inventory=moved.inventory)
    assert p.set_balance(more) == []


def test_holds_read_before_the_structure_arrives_apply_to_it():
    """A restarted engine reads the executor's status on connecting, before the control plane pushes
    the structure again: the hold must survive the swap."""
    p = Pipeline()
    status = ex.ExecutorStatus(last_seq=9, unknown_batches=[ex.UnknownBatch(seq=9, instance_id="t1")])
    p.set_executor_holds(status, connecting=True)
    p.replace_structure(pb.MarketStructure(version=1, trios=[trio_msg()]))
    p.set_balance(ex.BalanceState(collateral=1000.0))
    assert p.held() == 1 and frame(p, *PROFITABLE_TRIO) == []
