"""The intents file (executor_svc/intent_log.py): records survive, a torn tail is cut, nothing else is lost."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from executor_svc import intent_log
from executor_svc.intent_log import IntentLog, parse_records
from polyarb.v1.executor_pb2 import OUTCOME_UNKNOWN, LegResult, TradeResult


def intent(n: int) -> TradeResult:
    return TradeResult(signal_id=f"sig-{n}", instance_id="trio-1", outcome=OUTCOME_UNKNOWN,
                       legs=[LegResult(token_id=str(7 * n + i), order_hash=f"0x{n:02x}{i:02x}") for i in range(3)])


def test_records_read_back_in_order_and_the_file_empties_when_none_is_open(tmp_path):
    log = IntentLog(str(tmp_path / "j.intents"))
    log.record(intent(1))
    log.record(intent(2))
    assert [r.signal_id for r in log.read()[0]] == ["sig-1", "sig-2"]
    log.done("sig-1")
    assert [r.signal_id for r in log.read()[0]] == ["sig-1", "sig-2"]  # sig-2 is still open: kept whole
    log.done("sig-2")
    assert os.path.getsize(log.path) == 0
    log.record(intent(3))  # O_APPEND: after an emptying, records start at byte 0 again
    assert log.read()[0] == [intent(3)]
    assert os.stat(log.path).st_mode & 0o777 == 0o600
    log.close()


def test_a_torn_tail_is_cut_at_opening_so_later_records_stay_readable(tmp_path):
    path = str(tmp_path / "j.intents")
    log = IntentLog(path)
    log.record(intent(1))
    log.close()
    with open(path, "ab") as file:  # the process died inside the next write
        file.write(b"\x90\x01\x00\x00\xde\xad")
    log = IntentLog(path)
    assert "torn" in log.torn
    log.record(intent(2))
    records, torn, _end = log.read()
    assert records == [intent(1), intent(2)] and torn == ""
    log.close()


def test_a_short_write_is_an_error(tmp_path, monkeypatch):
    log = IntentLog(str(tmp_path / "j.intents"))
    monkeypatch.setattr(intent_log.os, "write", lambda fd, data: len(data) - 1)
    with pytest.raises(OSError, match="cut short"):
        log.record(intent(1))
    log.close()


def _frames(records: list[TradeResult]) -> bytes:
    out = b""
    for record in records:
        payload = record.SerializeToString()
        out += intent_log._HEADER.pack(len(payload), intent_log.zlib.crc32(payload)) + payload
    return out


@given(st.lists(st.integers(1, 50), max_size=5), st.data())
def test_property_any_cut_reads_a_prefix_and_ends_where_the_whole_records_end(numbers, data):
    records = [intent(n) for n in numbers]
    whole = _frames(records)
    cut = data.draw(st.integers(0, len(whole)))
    read, torn, end = parse_records(whole[:cut])
    assert read == records[:len(read)] and end == len(_frames(read))
    assert (torn == "") == (cut == end)


@given(st.binary(max_size=300))
def test_property_garbage_never_raises(data):
    records, torn, end = parse_records(data)
    assert 0 <= end <= len(data) and (torn == "") == (end == len(data))
    assert all(isinstance(record, TradeResult) for record in records)


def test_a_flipped_byte_fails_the_crc():
    data = bytearray(_frames([intent(1), intent(2)]))
    data[12] ^= 0xFF
    records, torn, end = parse_records(bytes(data))
    assert records == [] and "CRC" in torn and end == 0
