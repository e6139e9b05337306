"""Hypothesis against every RPC of the real services (four processes, started once for this module).

Two kinds of input: messages generated from the proto descriptors (every field, random and boundary values:
NaN, infinities, negatives, huge, empty, 10K-element lists and maps, unknown enum values, 10K-character
strings), so a field added later is fuzzed too; and valid messages with a few fields broken, so the
checks past the first one are reached. What must hold: a unary call answers OK or a clear
INVALID_ARGUMENT (its reason readable, not cut off by the transport); every signal sent gets exactly one
ack, accepted or skipped with a reason, and the stream ends when the client is done; a top-of-book
stream answers its subscription and goes away when cancelled; no process crashes, logs an unexpected
exception or stops serving health.
"""

from __future__ import annotations

import math
import os
import re
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass

import grpc
import pytest
from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import FieldDescriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from paper_venue.scenarios import LadderScenario
from polyarb.v1 import (
    engine_pb2,
    engine_pb2_grpc,
    executor_pb2,
    executor_pb2_grpc,
    ingest_pb2,
    ingest_pb2_grpc,
    venue_pb2,
    venue_pb2_grpc,
)
from tests.conftest import spawn

pytestmark = pytest.mark.integration

TOKEN = "fuzz-control-token-7d41c9e2"
AUTH = (("authorization", f"Bearer {TOKEN}"),)
MAX_REQUEST = 4 << 20  # the servers' grpc.max_receive_message_length: larger is RESOURCE_EXHAUSTED, fine
NAN, INF = math.nan, math.inf
UNDECODABLE = "Unexpected [DecodeError] raised by servicer method"
STRUCTURES: Counter[str] = Counter()  # accepted / refused, to show the fuzzing reached both
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def fuzz(examples: int) -> settings:
    return settings(FUZZ, max_examples=examples)

# -- values ---------------------------------------------------------------------------------------------

FLOATS = st.one_of(
    st.floats(),  # NaN and infinities included
    st.sampled_from([NAN, INF, -INF, 0.0, -0.0, -1.0, 1e-12, 0.0025, 0.005, 0.01, 0.1, 0.5, 0.99, 1.0, 2.0,
                     1e9, 1e308, -1e308, 5e-324]),
)
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=24)
STRINGS = st.one_of(TEXT, st.sampled_from(["", " ", "0", "-1", "1" * 77, "9" * 79, "x" * 10_000, "\x00",
                                           "\U0001f642" * 2_000, "1e3", "0x" + "ab" * 32]))
INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1), FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1), FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1), FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
}


def ints(low: int, high: int) -> st.SearchStrategy[int]:
    return st.one_of(st.integers(low, high), st.sampled_from([low, high, 0, 1, min(high, 2**31 - 1)]))


def scalar(field: FieldDescriptor) -> st.SearchStrategy:
    kind = field.type
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return FLOATS
    if kind in INT_RANGES:
        return ints(*INT_RANGES[kind])
    if kind == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if kind == FieldDescriptor.TYPE_STRING:
        return STRINGS
    if kind == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=32)
    if kind == FieldDescriptor.TYPE_ENUM:
        return st.one_of(st.sampled_from([v.number for v in field.enum_type.values]), ints(-1, 2**31 - 1))
    raise NotImplementedError(field.full_name)  # a new field type in the protos: teach the fuzzer about it


def ten_thousand(field: FieldDescriptor) -> list:
    """10K elements, each small (a whole message's worth of long strings 10K times would be gigabytes)."""
    if field.message_type is not None:
        return [message_factory.GetMessageClass(field.message_type)()] * 10_000
    one = {FieldDescriptor.TYPE_STRING: "1" * 77, FieldDescriptor.TYPE_BYTES: b"\x01", FieldDescriptor.TYPE_BOOL: True,
           FieldDescriptor.TYPE_DOUBLE: 0.5, FieldDescriptor.TYPE_FLOAT: 0.5}.get(field.type, 1)
    return [one] * 10_000


def message(descriptor, depth: int = 0) -> st.SearchStrategy:
    """Any message of this type: each field present or not, with random and boundary values."""
    cls = message_factory.GetMessageClass(descriptor)
    fields = {}
    for field in descriptor.fields:
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            key, value = field.message_type.fields_by_name["key"], field.message_type.fields_by_name["value"]
            small = st.dictionaries(scalar(key), scalar(value), max_size=4)
            huge = st.just({str(10**76 + i): 1.0 for i in range(10_000)})
            fields[field.name] = st.one_of(small, huge) if depth == 0 else small
            continue
        if depth > 2 and field.message_type is not None:
            continue
        element = message(field.message_type, depth + 1) if field.message_type is not None else scalar(field)
        if field.is_repeated:
            lists = st.lists(element, max_size=4)
            fields[field.name] = st.one_of(lists, st.just(field).map(ten_thousand)) if depth == 0 else lists
        else:
            fields[field.name] = element
    return st.fixed_dictionaries({}, optional=fields).map(lambda kw: cls(**kw))


# -- valid messages with a few fields broken ---------------------------------------------------------

TOKENS = ["1" * 77, "2" * 77, "3" * 77]
# Each field: boundary values, or plausible ones that reach the later checks (off the tick grid, not
# profitable once priced, below the minimum size, the same instance twice in one stream, ...).
LEG_FIELDS = {
    "token_id": STRINGS, "side": ints(-1, 99), "neg_risk": st.booleans(),
    "price": st.one_of(FLOATS, st.sampled_from([0.605, 0.61, 0.69, 0.7, 0.01, 0.99, 0.6000000001])),
    "size": st.one_of(FLOATS, st.sampled_from([1.0, 4.99, 5.0, 5.123456, 1e6])),
    "tick_size": st.one_of(FLOATS, st.sampled_from([0.1, 0.01, 0.001, 0.0001, 0.005, 0.0025])),
    "min_order_size": st.one_of(FLOATS, st.sampled_from([0.0, 5.0, 100.0])),
    "fee_rate_bps": st.one_of(FLOATS, st.sampled_from([0.0, 100.0, 1000.0, 10_000.0])),
}
SIGNAL_FIELDS = {
    "signal_id": st.one_of(STRINGS, st.just("fuzz-dup")), "instance_id": st.one_of(STRINGS, st.just("trio-dup")),
    "strategy": ints(-1, 99), "expected_profit": FLOATS,
    "payout": st.one_of(FLOATS, st.sampled_from([1.0, 2.0, -1.0])),
    "min_profit_abs": st.one_of(FLOATS, st.sampled_from([0.0, 0.2, 0.5])),
}


def trio_signal(n: int) -> executor_pb2.Signal:
    return executor_pb2.Signal(
        signal_id=f"fuzz-{n}", instance_id=f"trio-{n}", strategy=executor_pb2.STRATEGY_TRIO, payout=2.0,
        expected_profit=0.2, min_profit_abs=0.01,
        legs=[executor_pb2.Leg(token_id=t, side=executor_pb2.SIDE_BUY, price=0.6, size=10, tick_size=0.01,
                               min_order_size=5) for t in TOKENS])


@st.composite
def broken_signals(draw, n: int) -> executor_pb2.Signal:
    signal = trio_signal(n)
    for _ in range(draw(st.integers(0, 2))):
        target = draw(st.sampled_from(["signal", "leg", "leg", "legs", "trace"]))
        if target == "signal":
            name = draw(st.sampled_from(sorted(SIGNAL_FIELDS)))
            setattr(signal, name, draw(SIGNAL_FIELDS[name]))
        elif target == "leg":
            leg = signal.legs[draw(st.integers(0, len(signal.legs) - 1))] if signal.legs else signal.legs.add()
            name = draw(st.sampled_from(sorted(LEG_FIELDS)))
            setattr(leg, name, draw(LEG_FIELDS[name]))
        elif target == "legs":
            count = draw(st.sampled_from([0, 1, 2, 4, 15, 16, 10_000]))
            legs = [executor_pb2.Leg(token_id=str(10**76 + i), side=executor_pb2.SIDE_BUY, price=0.05, size=10,
                                     tick_size=0.01, min_order_size=5, neg_risk=True) for i in range(count)]
            del signal.legs[:]
            signal.legs.extend(legs)
            signal.strategy = draw(st.sampled_from([executor_pb2.STRATEGY_BUNDLE, executor_pb2.STRATEGY_TRIO]))
            signal.payout = 1.0 if signal.strategy == executor_pb2.STRATEGY_BUNDLE else 2.0
        else:
            signal.trace.signal_sent_ns = draw(st.sampled_from([-1, 0, 1, 2**63 - 1]))
    return signal


def structure_base() -> dict:
    return LadderScenario("manual").structure()


MARKET_FIELDS = {"condition_id": STRINGS, "yes_token_id": STRINGS, "no_token_id": STRINGS,
                 "tick_size": FLOATS, "min_order_size": FLOATS, "neg_risk": st.booleans(), "fee_rate_bps": FLOATS}


# A valid set of 10K members (built once): accepted, and the engine still answers.
HUGE_SET = engine_pb2.OutcomeSet(id="huge", members=[
    engine_pb2.Market(condition_id=f"0x{i:064x}", yes_token_id=str(10**76 + 2 * i), no_token_id=str(10**76 + 2 * i + 1),
                      tick_size=0.01, min_order_size=5, neg_risk=True) for i in range(10_000)])


@st.composite
def broken_structures(draw) -> engine_pb2.MarketStructure:
    structure = json_format.ParseDict(structure_base(), engine_pb2.MarketStructure())
    structure.version = draw(ints(0, 2**64 - 1))
    markets = [getattr(t, k) for t in structure.trios for k in ("lower", "upper", "range")]
    markets += list(structure.sets[0].members)
    for _ in range(draw(st.integers(0, 3))):
        target = draw(st.sampled_from(["market", "market", "trio", "set", "huge set"]))
        if target == "market":
            name = draw(st.sampled_from(sorted(MARKET_FIELDS)))
            setattr(draw(st.sampled_from(markets)), name, draw(MARKET_FIELDS[name]))
        elif target == "trio":
            trio = draw(st.sampled_from(list(structure.trios)))
            name = draw(st.sampled_from(["id", "lower_bound", "upper_bound"]))
            setattr(trio, name, draw(STRINGS if name == "id" else FLOATS))
        elif target == "set":
            structure.sets[0].id = draw(STRINGS)
            structure.sets[0].neg_risk_augmented = draw(st.booleans())
        else:
            structure.sets.append(HUGE_SET)
    return structure


# -- the services ------------------------------------------------------------------------------------


@dataclass
class Services:
    processes: dict
    channels: dict[str, grpc.Channel]

    def stub(self, name: str, cls):
        return cls(self.channels[name])


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    run = tmp_path_factory.mktemp("fuzz")
    key = run / "key.hex"
    key.write_text(os.urandom(32).hex())
    key.chmod(0o600)
    env = {"POLYARB_CONTROL_TOKEN": TOKEN}
    nowhere = "127.0.0.1:9"  # nothing listens: the peer links and market sockets just keep retrying
    processes = {
        "ingest": spawn("ingest_svc", ["--ws-url", f"ws://{nowhere}/ws/market"], env),
        "engine": spawn("engine_svc", ["--ingest-addr", nowhere, "--executor-addr", nowhere], env),
        "executor": spawn("executor_svc", ["--mode", "dry-run", "--journal", str(run / "journal.sqlite"),
                                           "--private-key-file", str(key)], env),
        "venue": spawn("paper_venue", ["--scenario", "manual", "--ws-addr", "127.0.0.1:0", "--http-addr",
                                       "127.0.0.1:0"], env),
    }
    try:
        for process in processes.values():
            process.wait_serving()
        options = [("grpc.max_send_message_length", 64 << 20), ("grpc.max_receive_message_length", 64 << 20)]
        channels = {name: grpc.insecure_channel(p.grpc_addr, options=options) for name, p in processes.items()}
        yield Services(processes, channels)
        for channel in channels.values():
            channel.close()
    finally:
        for process in processes.values():
            process.kill()


def answered(call, request) -> object | None:
    """OK (the reply) or a clear INVALID_ARGUMENT (None); anything else fails the example."""
    try:
        return call(request, metadata=AUTH, timeout=10)
    except grpc.RpcError as exc:
        code, details = exc.code(), exc.details() or ""
        if code == grpc.StatusCode.RESOURCE_EXHAUSTED and request.ByteSize() > MAX_REQUEST:
            return None
        assert code == grpc.StatusCode.INVALID_ARGUMENT, f"{code}: {details[:300]}"
        assert details.strip(), "INVALID_ARGUMENT without a reason"
        return None


# -- unary RPCs --------------------------------------------------------------------------------------


@fuzz(150)
@given(st.one_of(message(engine_pb2.MarketStructure.DESCRIPTOR), broken_structures()))
# found by this fuzzing: a refusal quoting a long id overflowed the status trailer (RESOURCE_EXHAUSTED)
@example(engine_pb2.MarketStructure(trios=[engine_pb2.Trio(id="x" * 20_000)]))
@example(engine_pb2.MarketStructure(trios=[engine_pb2.Trio(id="\U0001f642" * 2_000)]))
def test_update_market_structure(services, structure):
    stub = services.stub("engine", engine_pb2_grpc.EngineStub)
    before = stub.GetStatus(engine_pb2.GetEngineStatusRequest(), metadata=AUTH, timeout=10)
    reply = answered(stub.UpdateMarketStructure, structure)
    after = stub.GetStatus(engine_pb2.GetEngineStatusRequest(), metadata=AUTH, timeout=10)
    STRUCTURES["refused" if reply is None else "accepted"] += 1
    if reply is None:  # refused: the running structure stays
        assert (after.structure_version, after.instances, after.tokens) == (
            before.structure_version, before.instances, before.tokens)
    else:
        assert (after.structure_version, after.instances, after.tokens) == (reply.version, reply.instances,
                                                                            reply.tokens)


@fuzz(100)
@given(message(engine_pb2.EngineConfig.DESCRIPTOR), st.booleans())
def test_engine_update_config_and_status(services, config, include_instances):
    stub = services.stub("engine", engine_pb2_grpc.EngineStub)
    before = stub.GetStatus(engine_pb2.GetEngineStatusRequest(), metadata=AUTH, timeout=10).config
    reply = answered(stub.UpdateConfig, config)
    status = stub.GetStatus(engine_pb2.GetEngineStatusRequest(include_instances=include_instances), metadata=AUTH,
                            timeout=10)
    assert status.config == (before if reply is None else reply)
    assert all(math.isfinite(getattr(status.config, f)) for f in ("min_profit_abs", "min_profit_bps",
                                                                  "min_expected_pnl", "max_set_size",
                                                                  "min_marketable_buy_pusd"))


@fuzz(150)
@example(executor_pb2.UpdateBalanceRequest(collateral=1.7e308))
@example(executor_pb2.UpdateBalanceRequest(collateral=1.0, inventory={"1" * 77: 1e300}))
@given(st.one_of(
    message(executor_pb2.UpdateBalanceRequest.DESCRIPTOR),
    message(executor_pb2.ExecutorConfig.DESCRIPTOR),
    message(executor_pb2.SetTradingEnabledRequest.DESCRIPTOR),
    message(executor_pb2.GetExecutorStatusRequest.DESCRIPTOR),
))
def test_executor_control_rpcs(services, request):
    stub = services.stub("executor", executor_pb2_grpc.ExecutorStub)
    call = {executor_pb2.UpdateBalanceRequest: stub.UpdateBalance, executor_pb2.ExecutorConfig: stub.UpdateConfig,
            executor_pb2.SetTradingEnabledRequest: stub.SetTradingEnabled,
            executor_pb2.GetExecutorStatusRequest: stub.GetStatus}[type(request)]
    reply = answered(call, request)
    status = stub.GetStatus(executor_pb2.GetExecutorStatusRequest(), metadata=AUTH, timeout=10)
    balance = status.balance
    assert math.isfinite(balance.collateral) and balance.collateral >= 0 and math.isfinite(balance.reserved)
    assert all(math.isfinite(v) and v >= 0 for v in balance.inventory.values())
    if isinstance(request, executor_pb2.UpdateBalanceRequest) and reply is not None:
        assert balance.collateral == request.collateral and dict(balance.inventory) == dict(request.inventory)


@fuzz(30)
@given(message(ingest_pb2.GetIngestStatusRequest.DESCRIPTOR), message(venue_pb2.GetVenueStatusRequest.DESCRIPTOR),
       st.binary(max_size=64))
def test_status_rpcs_and_undecodable_requests(services, ingest_request, venue_request, garbage):
    assert answered(services.stub("ingest", ingest_pb2_grpc.IngestStub).GetStatus, ingest_request) is not None
    assert answered(services.stub("venue", venue_pb2_grpc.PaperVenueStub).GetStatus, venue_request) is not None
    # bytes that may not even be a protobuf (not well typed): grpc itself answers UNKNOWN ("Unexpected
    # DecodeError") before any servicer runs; what must hold is a prompt answer and a live server
    for name, method in (("engine", "/polyarb.v1.Engine/UpdateMarketStructure"),
                         ("executor", "/polyarb.v1.Executor/UpdateBalance"),
                         ("ingest", "/polyarb.v1.Ingest/GetStatus")):
        raw = services.channels[name].unary_unary(method)
        try:
            raw(garbage, metadata=AUTH, timeout=10)
        except grpc.RpcError as exc:
            assert exc.code() in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INVALID_ARGUMENT), exc.code()


# -- streams -----------------------------------------------------------------------------------------


def with_leg(field: str, value: float) -> list[executor_pb2.Signal]:
    signal = trio_signal(0)
    for leg in signal.legs:
        setattr(leg, field, value)
    return [signal]


SIGNALS = st.one_of(st.integers(0, 10**9).flatmap(broken_signals), st.integers(0, 10**9).flatmap(broken_signals),
                    message(executor_pb2.Signal.DESCRIPTOR))


@fuzz(100)
@given(signals=st.lists(SIGNALS, min_size=1, max_size=6), collateral=st.sampled_from([1e6, 1e6, 20.0, 0.5, 1e12]),
       max_exposure=st.sampled_from([1000.0, 1000.0, 10.0, 1.7e308]), slippage_ticks=st.integers(0, 3))
# found by this fuzzing, each ended the whole stream (an OverflowError out of the signal reader):
@example(signals=with_leg("size", 1e308), collateral=1e6, max_exposure=1000.0, slippage_ticks=1)
@example(signals=with_leg("min_order_size", 1e308), collateral=1e6, max_exposure=1000.0, slippage_ticks=1)
@example(signals=[trio_signal(0)], collateral=1e6, max_exposure=1.7e308, slippage_ticks=1)  # "no exposure cap"
def test_execute_signals_acks_every_signal_and_ends(services, signals, collateral, max_exposure, slippage_ticks):
    stub = services.stub("executor", executor_pb2_grpc.ExecutorStub)
    stub.SetTradingEnabled(executor_pb2.SetTradingEnabledRequest(enabled=True, reason="fuzz"), metadata=AUTH,
                           timeout=10)
    config = executor_pb2.ExecutorConfig(max_signal_age_ms=5000, slippage_ticks=slippage_ticks, breaker_failures=3,
                                         http_timeout_ms=2000, order_type="FOK", max_exposure=max_exposure)
    stub.UpdateConfig(config, metadata=AUTH, timeout=10)
    stub.UpdateBalance(executor_pb2.UpdateBalanceRequest(collateral=collateral), metadata=AUTH, timeout=10)
    now = time.time_ns()
    for signal in signals:
        if not signal.trace.ByteSize():
            signal.trace.signal_sent_ns = now  # fresh, unless the example broke the trace on purpose
    if sum(s.ByteSize() for s in signals) > MAX_REQUEST:
        return
    acks = list(stub.ExecuteSignals(iter(signals), metadata=AUTH, timeout=20))  # ends once all are answered
    first = [a for a in acks if not a.done]
    assert len(first) == len(signals)  # exactly one ack per signal, in order
    assert [a.signal_id for a in first] == [s.signal_id for s in signals]
    assert all(a.accepted or a.reason for a in first)  # a skip always says why
    assert sum(a.done for a in acks) == sum(a.accepted for a in first)  # every accepted one finished


@fuzz(40)
@given(message(ingest_pb2.BookSubscription.DESCRIPTOR))
def test_top_of_book_stream_answers_its_subscription(services, subscription):
    if subscription.ByteSize() > MAX_REQUEST:
        return
    stub = services.stub("ingest", ingest_pb2_grpc.IngestStub)
    wanted = {t for t in subscription.add_token_ids if t}

    done = threading.Event()

    def requests():
        yield subscription
        done.wait(30)  # the request side stays open until the call is over

    call = stub.StreamTopOfBook(requests(), metadata=AUTH, timeout=20)
    try:
        if wanted:  # never seen on the venue: each reported once, stale with zeros (CONTRACT.md)
            answer = next(call)
            assert {u.token_id for u in answer.updates} == wanted
            assert all(u.stale and u.bid_price == u.ask_price == 0 for u in answer.updates)
    finally:
        call.cancel()
        done.set()


@fuzz(20)
@given(st.one_of(st.integers(0, 50), st.sampled_from([2**63 - 1, 2**63, 2**64 - 1])))
def test_trade_result_stream_from_any_seq(services, from_seq):
    stub = services.stub("executor", executor_pb2_grpc.ExecutorStub)
    last = stub.GetStatus(executor_pb2.GetExecutorStatusRequest(), metadata=AUTH, timeout=10).last_seq
    call = stub.StreamTradeResults(executor_pb2.StreamTradeResultsRequest(from_seq=from_seq), metadata=AUTH,
                                   timeout=0.5 if from_seq >= last else 20)
    got = []
    try:
        for result in call:
            got.append(result.seq)
            if result.seq == last:
                break
    except grpc.RpcError as exc:  # nothing after from_seq yet: the stream waits live until its deadline
        assert exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED and from_seq >= last
    finally:
        call.cancel()
    assert got == list(range(from_seq + 1, last + 1))


# -- afterwards --------------------------------------------------------------------------------------


def metrics(services, name: str) -> str:
    with urllib.request.urlopen(f"http://{services.processes[name].metrics_addr}/metrics", timeout=5) as response:
        return response.read().decode()


def test_every_service_survived_and_logged_no_unexpected_error(services):
    for name, process in services.processes.items():
        assert process.proc.poll() is None, f"{name} exited"
        health = health_pb2_grpc.HealthStub(services.channels[name]).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        for entry in process.log_entries():
            if UNDECODABLE in entry.get("msg", ""):
                continue  # grpc's own report of the undecodable requests sent above
            assert "exc" not in entry, f"{name}: {entry}"
            assert entry.get("level") not in ("error", "critical"), f"{name}: {entry}"
    # the fuzzing went past the first checks: signals executed and skipped for many reasons, structures
    # both accepted and refused
    executor = services.stub("executor", executor_pb2_grpc.ExecutorStub)
    assert executor.GetStatus(executor_pb2.GetExecutorStatusRequest(), metadata=AUTH, timeout=5).last_seq > 0
    reasons = set(re.findall(r'polyarb_signals_denied_total\{reason="(\w+)"\}', metrics(services, "executor")))
    assert len(reasons) >= 4, reasons
    assert STRUCTURES["accepted"] and STRUCTURES["refused"], STRUCTURES
    ingest = services.stub("ingest", ingest_pb2_grpc.IngestStub)
    deadline = time.monotonic() + 10
    while (status := ingest.GetStatus(ingest_pb2.GetIngestStatusRequest(), metadata=AUTH, timeout=5)).streams:
        assert time.monotonic() < deadline, "top-of-book streams left open after their clients went"
        time.sleep(0.1)
    assert status.subscribed_tokens == 0
