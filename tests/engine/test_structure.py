"""compile_structure: a valid structure is indexed; every fault is refused with its reason."""

from __future__ import annotations

import math

import pytest

from engine_svc.structure import LegRole, StructureError, Trio, compile_structure, diff_tokens
from polyarb.v1 import engine_pb2 as pb


def market(name: str, **overrides) -> pb.Market:
    fields = dict(
        condition_id=f"c-{name}", yes_token_id=f"{name}-yes", no_token_id=f"{name}-no", tick_size=0.01,
        min_order_size=5.0, neg_risk=False, fee_rate_bps=0.0,
    )
    fields.update(overrides)
    return pb.Market(**fields)


def trio(tid: str = "t1", prefix: str = "", low: float = 100.0, high: float = 110.0) -> pb.Trio:
    return pb.Trio(
        id=tid, lower=market(f"{prefix}lo"), upper=market(f"{prefix}up"), range=market(f"{prefix}rg"),
        lower_bound=low, upper_bound=high,
    )


def outcome_set(sid: str = "s1", names: tuple[str, ...] = ("a", "b", "c")) -> pb.OutcomeSet:
    return pb.OutcomeSet(id=sid, members=[market(n, neg_risk=True) for n in names])


def good() -> pb.MarketStructure:
    return pb.MarketStructure(version=7, trios=[trio()], sets=[outcome_set()])


# -- a valid structure ---------------------------------------------------------------------------


def test_counts_instances_and_distinct_tokens():
    s = compile_structure(good())
    assert s.version == 7
    assert s.instance_count == 2  # the trio and its complement are one instance, plus the set
    # six tokens for the trio (both directions), the YES tokens of the set (its NOs are not traded)
    assert s.token_count == 6 + 3
    assert s.tokens == {"lo-yes", "lo-no", "up-yes", "up-no", "rg-yes", "rg-no", "a-yes", "b-yes", "c-yes"}


def test_jump_table_names_instance_and_leg_role():
    s = compile_structure(good())
    assert s.jump["lo-yes"] == ((0, LegRole.LOWER_YES),)
    assert s.jump["up-no"] == ((0, LegRole.UPPER_NO),)
    assert s.jump["rg-no"] == ((0, LegRole.RANGE_NO),)
    assert s.jump["lo-no"] == ((0, LegRole.LOWER_NO),)
    assert s.jump["up-yes"] == ((0, LegRole.UPPER_YES),)
    assert s.jump["rg-yes"] == ((0, LegRole.RANGE_YES),)
    assert s.jump["b-yes"] == ((1, LegRole.MEMBER_YES),)
    assert isinstance(s.instances[0], Trio)
    assert s.index == {"t1": 0, "s1": 1}


def test_a_token_shared_by_two_instances_has_two_entries():
    # A range bucket is both a trio's range market and a member of the bucket event's set.
    rg = market("rg", neg_risk=True)
    msg = pb.MarketStructure(
        trios=[pb.Trio(id="t1", lower=market("lo"), upper=market("up"), range=rg, lower_bound=1,
                       upper_bound=2)],
        sets=[pb.OutcomeSet(id="s1", members=[rg, market("other", neg_risk=True)])],
    )
    s = compile_structure(msg)
    assert s.jump["rg-yes"] == ((0, LegRole.RANGE_YES), (1, LegRole.MEMBER_YES))
    assert s.token_count == 7


def test_empty_structure_is_valid():
    s = compile_structure(pb.MarketStructure(version=1))
    assert (s.instance_count, s.token_count) == (0, 0)


def test_tick_a_hair_off_is_snapped_to_the_venue_value():
    msg = good()
    msg.trios[0].lower.tick_size = 0.01 * (1 + 1e-12)
    assert compile_structure(msg).markets["lo-yes"].tick_size == 0.01


@pytest.mark.parametrize("tick", [0.1, 0.01, 0.001, 0.0001, 0.005, 0.0025])
def test_every_venue_tick_is_accepted(tick):
    msg = good()
    msg.trios[0].range.tick_size = tick
    compile_structure(msg)


def test_diff_tokens():
    old = compile_structure(good())
    new_msg = pb.MarketStructure(trios=[trio()], sets=[outcome_set(names=("a", "b", "d"))])
    new = compile_structure(new_msg)
    assert diff_tokens(old, new) == (("d-yes",), ("c-yes",))
    assert diff_tokens(None, old) == (tuple(sorted(old.tokens)), ())
    assert diff_tokens(old, old) == ((), ())


# -- faults ----------------------------------------------------------------------------------------


def _set(path: str, value):
    def mutate(msg: pb.MarketStructure) -> None:
        *parents, leaf = path.split(".")
        target = msg
        for part in parents:
            target = target[int(part)] if part.isdigit() else getattr(target, part)
        if isinstance(value, pb.Market):
            getattr(target, leaf).CopyFrom(value)
        else:
            setattr(target, leaf, value)

    return mutate


def _clear(path: str):
    def mutate(msg: pb.MarketStructure) -> None:
        parent, leaf = path.rsplit(".", 1)
        target = msg
        for part in parent.split("."):
            target = target[int(part)] if part.isdigit() else getattr(target, part)
        target.ClearField(leaf)

    return mutate


def _append_trio(t: pb.Trio):
    return lambda msg: msg.trios.append(t)


def _append_set(s: pb.OutcomeSet):
    return lambda msg: msg.sets.append(s)


def _members(*markets: pb.Market):
    def mutate(msg: pb.MarketStructure) -> None:
        del msg.sets[0].members[:]
        msg.sets[0].members.extend(markets)

    return mutate


FAULTS = [
    # instance ids
    ("empty trio id", _set("trios.0.id", ""), "trio #0: empty id"),
    ("blank set id", _set("sets.0.id", "  "), "set #0: empty id"),
    ("duplicate trio id", _append_trio(trio("t1", prefix="x")), "trio 't1': duplicate instance id"),
    ("set reuses a trio id", _append_set(outcome_set("t1", ("p", "q"))), "set 't1': duplicate instance id"),
    # missing markets
    ("no lower market", _clear("trios.0.lower"), "trio 't1': lower market missing"),
    ("no upper market", _clear("trios.0.upper"), "trio 't1': upper market missing"),
    ("no range market", _clear("trios.0.range"), "trio 't1': range market missing"),
    # bounds
    ("L equals U", _set("trios.0.upper_bound", 100.0), "lower_bound 100.0 must be < upper_bound 100.0"),
    ("L above U", _set("trios.0.lower_bound", 120.0), "lower_bound 120.0 must be < upper_bound 110.0"),
    ("NaN bound", _set("trios.0.lower_bound", math.nan), "bounds must be finite"),
    ("infinite bound", _set("trios.0.upper_bound", math.inf), "bounds must be finite"),
    # market fields
    ("tick off the list", _set("trios.0.lower.tick_size", 0.02), "lower market: tick_size 0.02 is not"),
    ("tick unset", _set("trios.0.range.tick_size", 0.0), "range market: tick_size 0.0 is not one of"),
    ("NaN tick", _set("sets.0.members.1.tick_size", math.nan), "member #1: tick_size nan is not one of"),
    ("empty yes token", _set("trios.0.upper.yes_token_id", ""), "upper market: empty yes_token_id"),
    ("empty no token", _set("sets.0.members.0.no_token_id", ""), "member #0: empty no_token_id"),
    ("yes equals no", _set("trios.0.lower.no_token_id", "lo-yes"), "yes_token_id equals no_token_id (lo-ye"),
    ("negative min size", _set("trios.0.lower.min_order_size", -1.0), "min_order_size must be finite and >="),
    ("NaN min size", _set("trios.0.lower.min_order_size", math.nan), "min_order_size must be finite and >="),
    ("negative fee", _set("trios.0.range.fee_rate_bps", -5.0), "fee_rate_bps must be within 0..10000"),
    ("NaN fee", _set("trios.0.range.fee_rate_bps", math.nan), "fee_rate_bps must be within 0..10000"),
    ("fee above 100%", _set("trios.0.range.fee_rate_bps", 20_000.0), "fee_rate_bps must be within 0..10000"),
    # roles
    (
        "token in two trio roles",
        _set("trios.0.upper.no_token_id", "lo-yes"),
        "trio 't1': token lo-yes is both lower YES and upper NO",
    ),
    (
        "one market in two trio roles",
        _set("trios.0.range", market("lo")),
        "trio 't1': market c-lo is both lower and range",
    ),
    (
        "set lists a member twice",
        _members(market("a", neg_risk=True), market("a", neg_risk=True)),
        "set 's1': market c-a is both member #0 and member #1",
    ),
    (
        "set member YES is another's NO",
        _members(market("a", neg_risk=True), market("b", neg_risk=True, yes_token_id="a-no")),
        "set 's1': token a-no is both member #0 NO and member #1 YES",
    ),
    # sets
    ("set of one", _members(market("a", neg_risk=True)), "set 's1': 1 member(s); a set needs at least two"),
    ("empty set", _members(), "set 's1': 0 member(s); a set needs at least two"),
    (
        "set member not neg-risk",
        _members(market("a", neg_risk=True), market("b", neg_risk=False)),
        "set 's1': member #1 is not neg_risk",
    ),
    # consistency across instances
    (
        "one token described two ways",
        _append_trio(pb.Trio(id="t2", lower=market("lo", tick_size=0.001), upper=market("u2"),
                             range=market("r2"), lower_bound=1, upper_bound=2)),
        "trio 't2': token lo-yes is described differently in trio 't1'",
    ),
    (
        "a YES in one instance is a NO in another",
        _append_trio(pb.Trio(id="t2", lower=market("zz", yes_token_id="lo-no", no_token_id="lo-yes"),
                             upper=market("u2"), range=market("r2"), lower_bound=1, upper_bound=2)),
        "trio 't2': token lo-no is described differently in trio 't1'",
    ),
]


@pytest.mark.parametrize(("mutate", "reason"), [f[1:] for f in FAULTS], ids=[f[0] for f in FAULTS])
def test_fault_is_refused_with_its_reason(mutate, reason):
    msg = good()
    mutate(msg)
    with pytest.raises(StructureError) as raised:
        compile_structure(msg)
    assert reason in raised.value.reason
    assert str(raised.value) == raised.value.reason


def test_the_first_fault_in_message_order_is_named():
    msg = good()
    msg.sets[0].members[0].tick_size = 0.3  # later in the message
    msg.trios.append(trio("t2", prefix="x", low=5, high=1))  # a trio: trios come before sets
    msg.trios[0].range.min_order_size = -1  # the very first
    with pytest.raises(StructureError, match="trio 't1': range market: min_order_size"):
        compile_structure(msg)
    msg.trios[0].range.min_order_size = 5
    with pytest.raises(StructureError, match=r"trio 't2': lower_bound 5\.0 must be < upper_bound 1\.0"):
        compile_structure(msg)
    msg.trios[1].lower_bound = 0
    with pytest.raises(StructureError, match=r"set 's1': member #0: tick_size 0\.3"):
        compile_structure(msg)


# -- augmented neg-risk events ---------------------------------------------------------------------


def test_a_set_from_a_non_neg_risk_event_is_not_a_bundle():
    """Only a neg-risk event guarantees that exactly one YES pays; anything else is refused."""
    ladder = pb.OutcomeSet(id="ladder", members=[market("above-90"), market("above-95")])
    msg = pb.MarketStructure(sets=[ladder])
    with pytest.raises(StructureError, match="member #0 is not neg_risk"):
        compile_structure(msg)


def test_an_augmented_neg_risk_event_is_refused():
    s = outcome_set()
    s.neg_risk_augmented = True
    with pytest.raises(StructureError, match="augmented neg-risk event"):
        compile_structure(pb.MarketStructure(sets=[s]))
