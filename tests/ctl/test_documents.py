"""Operator input → messages: structure files (JSON/YAML), inventory files, `--set FIELD=VALUE`."""

from __future__ import annotations

import pytest

from polyarb.ctl.documents import InputError, apply_settings, inventory_map, load_document, structure_message
from polyarb.v1 import engine_pb2, executor_pb2

TOKEN = "21358188885159423555884783290232053864818538320114457887899867991768859913053"


def test_yaml_keeps_long_token_ids_and_hex_condition_ids_as_written(tmp_path):
    path = tmp_path / "structure.yaml"
    path.write_text(
        "version: 4\n"
        "sets:\n"
        "- id: s\n"
        "  members:\n"
        f"  - {{condition_id: 0x4624ce, yes_token_id: {TOKEN}, no_token_id: 12, tick_size: 0.01, neg_risk: true}}\n"
    )
    structure = structure_message(load_document(path), str(path))
    member = structure.sets[0].members[0]
    # plain YAML would read 0x4624ce as the int 4596942 and the token as a number
    assert (structure.version, member.condition_id, member.yes_token_id, member.no_token_id) == (4, "0x4624ce", TOKEN,
                                                                                                  "12")
    assert member.tick_size == 0.01 and member.neg_risk


def test_structure_files_are_refused_with_the_reason(tmp_path):
    bad_json = tmp_path / "s.json"
    bad_json.write_text('{"version": 1, "trioz": []}')
    with pytest.raises(InputError, match='no field named "trioz"'):
        structure_message(load_document(bad_json), str(bad_json))
    bad_json.write_text("{nope")
    with pytest.raises(InputError, match="is not valid JSON"):
        load_document(bad_json)
    with pytest.raises(InputError, match="cannot read"):
        load_document(tmp_path / "missing.json")
    with pytest.raises(InputError, match="expected a MarketStructure object"):
        structure_message([], "x")


def test_inventory_accepts_a_mapping_or_the_update_balance_shape():
    assert inventory_map({"a": 1, "b": "2.5"}, "f") == {"a": 1.0, "b": 2.5}
    assert inventory_map({"collateral": 10, "inventory": {"a": 3}}, "f") == {"a": 3.0}
    for bad in ({"a": -1}, {"a": True}, {"a": "x"}, ["a"]):
        with pytest.raises(InputError):
            inventory_map(bad, "f")


def test_settings_are_read_by_field_type_and_leave_the_rest():
    current = executor_pb2.ExecutorConfig(max_signal_age_ms=250, order_type="FOK", max_exposure=1000)
    updated = apply_settings(current, ["order_type=FAK", "max_exposure=12.5", "slippage_ticks=2"])
    assert (updated.order_type, updated.max_exposure, updated.slippage_ticks, updated.max_signal_age_ms) == (
        "FAK", 12.5, 2, 250)
    assert current.order_type == "FOK"  # a copy
    engine = apply_settings(engine_pb2.EngineConfig(trio=True), ["trio=false", "bundle=yes"])
    assert (engine.trio, engine.bundle) == (False, True)
    for bad in (["nope=1"], ["trio"], ["trio=maybe"], ["cooldown_ms=-1"], ["min_profit_abs=nan"]):
        with pytest.raises(InputError):
            apply_settings(engine_pb2.EngineConfig(), bad)
