"""Intents: the UNKNOWN result of a batch about to be posted, made durable before its first byte leaves.

An append-only file beside the journal (`<journal>.intents`), one record per batch, each written with a
single `os.write` on an O_APPEND descriptor: once the call returns, the record survives the process being
killed (the journal's own commits, WAL + NORMAL, promise the same: an OS crash can lose the last ones).
The batch's result, appended to the journal afterwards, makes its intent obsolete; at start, an intent
whose signal has no result in the journal is the orphan of a process that died mid-post (journal.py
`orphan_intents`). The file is emptied whenever no intent is open, so it holds only the batches in flight.

Why a file and not a journal table, as before: a SQLite transaction on the critical path measured
~270 µs p50 when it runs cold (10 ms apart, as a bot posts), one `os.write` ~80 µs.

Record: 4-byte little-endian payload length, 4-byte CRC-32 of the payload, the serialized TradeResult.
A torn or corrupt tail (the process died inside the write) ends the reading: its batch was never posted,
since the POST waits for the write to return.
"""

from __future__ import annotations

import os
import struct
import zlib

from polyarb.v1.executor_pb2 import TradeResult

_HEADER = struct.Struct("<II")
MAX_RECORD_BYTES = 1 << 20  # a 15-leg UNKNOWN result is ~3 KB: a larger length is a corrupt header


class IntentLog:
    """The intents file of one journal; not thread-safe (the executor's loop owns it). `torn` says why
    the file ended early when it was opened ("" if it did not): that tail was cut off."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        self._open: set[str] = set()
        _records, self.torn, whole = self.read()
        if self.torn:  # cut the torn tail off, or every record appended after it would be unreadable
            os.ftruncate(self._fd, whole)

    def record(self, unknown: TradeResult) -> None:
        """Append one intent; OSError if it was not written whole (then the batch must not be posted)."""
        payload = unknown.SerializeToString()
        frame = _HEADER.pack(len(payload), zlib.crc32(payload)) + payload
        written = os.write(self._fd, frame)
        if written != len(frame):  # a full disk can cut a write short: the record is torn, say so
            raise OSError(f"intent write cut short: {written} of {len(frame)} bytes")
        self._open.add(unknown.signal_id)

    def done(self, signal_id: str) -> None:
        """The batch's result is committed: its intent is obsolete. With none open, the file is emptied."""
        self._open.discard(signal_id)
        if not self._open:
            os.ftruncate(self._fd, 0)

    def read(self) -> tuple[list[TradeResult], str, int]:
        """The file's whole records, oldest first (parse_records)."""
        with open(self.path, "rb") as file:
            return parse_records(file.read())

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def parse_records(data: bytes) -> tuple[list[TradeResult], str, int]:
    """Records from the file's bytes: (records, why the reading stopped early or "", the offset where
    the whole records end). Stops at the first torn or corrupt record."""
    records = []
    offset = 0
    while offset < len(data):
        if len(data) - offset < _HEADER.size:
            return records, f"torn record header at byte {offset}", offset
        length, crc = _HEADER.unpack_from(data, offset)
        start = offset + _HEADER.size
        if length > MAX_RECORD_BYTES or start + length > len(data):
            return records, f"torn record at byte {offset}", offset
        payload = data[start:start + length]
        if zlib.crc32(payload) != crc:
            return records, f"record at byte {offset} fails its CRC", offset
        try:
            records.append(TradeResult.FromString(payload))
        except Exception:
            return records, f"record at byte {offset} is not a TradeResult", offset
        offset = start + length
    return records, "", offset
