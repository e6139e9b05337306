"""The ledger: reservations, settlement, UpdateBalance, and invariants under random operation sequences."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from executor_svc.ledger import Ledger, LedgerError, Reservation


def test_starts_empty():
    ledger = Ledger()
    assert (ledger.collateral, ledger.reserved(), ledger.available(), ledger.exposure()) == (0.0, 0.0, 0.0, 0.0)
    assert dict(ledger.inventory) == {} and ledger.open_reservations == 0


def test_reserve_then_release_restores_exactly():
    ledger = Ledger(10.0, {"1": 5.0})
    ledger.reserve("a", 0.1)
    ledger.reserve("b", 0.2, {"1": 2.5})
    assert ledger.reserved() == pytest.approx(0.3) and ledger.exposure() == ledger.reserved()
    assert ledger.available() == pytest.approx(9.7)
    assert ledger.available_inventory("1") == 2.5 and ledger.reserved_inventory("1") == 2.5
    assert ledger.release("a") == Reservation(0.1, {})
    assert ledger.release("b").inventory == {"1": 2.5}
    assert ledger.reserved() == 0.0 and ledger.available() == 10.0 and ledger.available_inventory("1") == 5.0
    assert ledger.release("b") is None  # idempotent


def test_reserve_refuses_more_than_available_and_changes_nothing():
    ledger = Ledger(10.0, {"1": 5.0})
    ledger.reserve("a", 9.0)
    with pytest.raises(LedgerError, match="available"):
        ledger.reserve("b", 1.0000001)
    with pytest.raises(LedgerError, match="free"):
        ledger.reserve("b", 0.0, {"1": 5.01})
    with pytest.raises(LedgerError, match="free"):
        ledger.reserve("b", 0.0, {"2": 0.01})
    assert ledger.open_reservations == 1 and ledger.available() == 1.0
    ledger.reserve("b", 1.0, {"1": 5.0})  # exactly all of it is fine
    assert ledger.available() == 0.0 and ledger.available_inventory("1") == 0.0


@pytest.mark.parametrize(
    ("signal_id", "collateral", "inventory"),
    [
        ("", 1.0, None),
        (None, 1.0, None),
        ("x", -1.0, None),
        ("x", math.nan, None),
        ("x", math.inf, None),
        ("x", 0.0, {"1": -1.0}),
        ("x", 0.0, {"1": math.nan}),
        ("x", 0.0, {"": 1.0}),
    ],
)
def test_reserve_refuses_malformed_input(signal_id, collateral, inventory):
    ledger = Ledger(10.0, {"1": 5.0})
    with pytest.raises(LedgerError):
        ledger.reserve(signal_id, collateral, inventory)
    assert ledger.open_reservations == 0


def test_a_signal_id_reserves_once():
    ledger = Ledger(10.0)
    ledger.reserve("a", 1.0)
    assert ledger.holds("a") and ledger.reservation("a").collateral == 1.0
    with pytest.raises(LedgerError, match="already"):
        ledger.reserve("a", 1.0)


def test_inventory_float_noise_does_not_cost_a_share():
    ledger = Ledger(0.0, {"1": 0.1 + 0.2})  # 0.30000000000000004
    ledger.reserve("a", 0.0, {"1": 0.3})
    ledger = Ledger(0.0, {"1": 10.009999999999998})
    ledger.reserve("a", 0.0, {"1": 10.01})
    with pytest.raises(LedgerError):
        Ledger(0.0, {"1": 10.01}).reserve("a", 0.0, {"1": 10.011})


def test_settle_buy_and_sell():
    ledger = Ledger(100.0, {"3": 10.0})
    ledger.reserve("buy", 19.6)
    assert ledger.settle("buy", 19.5, {"1": 20.0, "2": 20.0}).collateral == 19.6
    assert ledger.collateral == pytest.approx(80.5) and ledger.reserved() == 0.0
    assert dict(ledger.inventory) == {"3": 10.0, "1": 20.0, "2": 20.0}
    ledger.reserve("sell", 0.0, {"1": 20.0, "3": 10.0})
    assert ledger.available_inventory("1") == 0.0
    ledger.settle("sell", -10.3, {"1": -20.0, "3": -10.0})
    assert ledger.collateral == pytest.approx(90.8)
    assert dict(ledger.inventory) == {"2": 20.0}  # sold-out tokens leave the map


def test_settle_partial_fill_releases_the_rest():
    ledger = Ledger(100.0)
    ledger.reserve("a", 30.0)
    ledger.settle("a", 10.0, {"1": 10.0})
    assert ledger.collateral == 90.0 and ledger.available() == 90.0 and ledger.inventory["1"] == 10.0


def test_settle_refuses_unknown_or_malformed_and_changes_nothing():
    ledger = Ledger(100.0)
    with pytest.raises(LedgerError, match="no reservation"):
        ledger.settle("nope", 1.0, {})
    ledger.reserve("a", 10.0)
    for spent, fills in ((math.nan, {}), (1.0, {"1": math.inf}), (1.0, {"": 1.0})):
        with pytest.raises(LedgerError):
            ledger.settle("a", spent, fills)
    assert ledger.collateral == 100.0 and ledger.holds("a") and dict(ledger.inventory) == {}


def test_replace_is_update_balance_and_keeps_reservations():
    ledger = Ledger(100.0, {"1": 10.0, "2": 3.0})
    ledger.reserve("a", 60.0, {"1": 4.0})
    ledger.replace(50.0, {"1": 5.0})
    assert dict(ledger.inventory) == {"1": 5.0}  # the whole map replaced: "2" is gone
    assert ledger.reserved() == 60.0 and ledger.available() == -10.0  # reservations stay
    assert ledger.available_inventory("1") == 1.0
    with pytest.raises(LedgerError):
        ledger.reserve("b", 0.01)  # nothing available
    ledger.reserve("b", 0.0, {"1": 1.0})  # an inventory-only reservation needs no collateral
    with pytest.raises(LedgerError):
        ledger.replace(-1.0, {})
    with pytest.raises(LedgerError):
        ledger.replace(1.0, {"1": math.nan})
    with pytest.raises(LedgerError, match="at most"):
        ledger.replace(1e308, {})  # finite, but past any account: its units overflow the sizing arithmetic
    with pytest.raises(LedgerError, match="at most"):
        ledger.replace(1.0, {"1": 1e13})
    assert ledger.collateral == 50.0 and dict(ledger.inventory) == {"1": 5.0}


def test_inventory_view_is_read_only():
    ledger = Ledger(0.0, {"1": 1.0})
    with pytest.raises(TypeError):
        ledger.inventory["1"] = 2.0  # type: ignore[index]
    with pytest.raises(TypeError):
        ledger.reserve("a", 0.0, {"1": 1.0}).inventory["1"] = 0.0  # type: ignore[index]


# --- invariants under random sequences -------------------------------------------------------------

amounts = st.floats(0.0, 500.0, allow_nan=False).map(lambda x: round(x, 4))
tokens = st.sampled_from(["1", "2", "3"])
operations = st.lists(
    st.one_of(
        st.tuples(st.just("reserve"), st.integers(0, 5), amounts, st.dictionaries(tokens, amounts, max_size=2)),
        st.tuples(st.just("release"), st.integers(0, 5)),
        st.tuples(
            st.just("settle"), st.integers(0, 5), st.floats(-100, 100, allow_nan=False),
            st.dictionaries(tokens, st.floats(-50, 50, allow_nan=False), max_size=2),
        ),
        st.tuples(st.just("replace"), amounts, st.dictionaries(tokens, amounts, max_size=3)),
    ),
    max_size=40,
)


@given(amounts, st.dictionaries(tokens, amounts, max_size=3), operations)
@settings(max_examples=300, deadline=None)
def test_ledger_invariants(collateral, inventory, ops):
    ledger = Ledger(collateral, inventory)
    model: dict[str, Reservation] = {}
    def state():
        return ledger.collateral, dict(ledger.inventory), ledger.available(), ledger.open_reservations

    for op in ops:
        before = state()
        if op[0] == "reserve":
            _, n, amount, shares = op
            signal_id = f"s{n}"
            free = {t: ledger.available_inventory(t) for t in shares}
            try:
                ledger.reserve(signal_id, amount, shares)
            except LedgerError:
                # refused only for a reason, and then nothing changed
                assert (
                    signal_id in model
                    or (amount > 0 and amount > before[2])
                    or any(round(s * 1e6) > round(free[t] * 1e6) for t, s in shares.items())
                )
                assert state() == before
            else:
                model[signal_id] = ledger.reservation(signal_id)
                assert amount == 0 or ledger.available() >= 0.0  # a reservation never takes available below 0
                assert all(ledger.available_inventory(t) >= -1e-6 for t in shares if shares[t] > 0)
        elif op[0] == "release":
            signal_id = f"s{op[1]}"
            released = ledger.release(signal_id)
            assert released == model.pop(signal_id, None)  # exactly what was reserved, or None
        elif op[0] == "settle":
            _, n, spent, fills = op
            signal_id = f"s{n}"
            if signal_id not in model:
                with pytest.raises(LedgerError):
                    ledger.settle(signal_id, spent, fills)
                continue
            assert ledger.settle(signal_id, spent, fills) == model.pop(signal_id)
            assert ledger.collateral == before[0] - spent
            for t, filled in fills.items():
                assert ledger.inventory.get(t, 0.0) == pytest.approx(before[1].get(t, 0.0) + filled, abs=1e-6)
        else:
            _, new_collateral, new_inventory = op
            ledger.replace(new_collateral, new_inventory)
            assert ledger.collateral == new_collateral and dict(ledger.inventory) == new_inventory
        # the totals are always the exact sums of what is open, whatever happened before
        assert ledger.reserved() == math.fsum(r.collateral for r in model.values())
        assert ledger.exposure() == ledger.reserved()
        assert ledger.available() == ledger.collateral - ledger.reserved()
        for t in ("1", "2", "3"):
            assert ledger.reserved_inventory(t) == math.fsum(r.inventory.get(t, 0.0) for r in model.values())
    for signal_id in list(model):
        ledger.release(signal_id)
    assert ledger.reserved() == 0.0 and ledger.available() == ledger.collateral  # no drift left behind


def test_restore_holds_what_an_unknown_batch_may_have_spent_even_past_what_is_available():
    ledger = Ledger(10.0)
    ledger.restore("u-1", 25.0, {"t": 5.0})
    assert ledger.reserved() == 25.0 and ledger.available() == -15.0 and ledger.reserved_inventory("t") == 5.0
    assert ledger.restore("u-1", 99.0, {}).collateral == 25.0  # idempotent: the first stays
    ledger.settle("u-1", 0.0, {})
    assert ledger.available() == 10.0
