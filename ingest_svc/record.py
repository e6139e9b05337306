"""The ``--record PATH`` file: every WebSocket frame as received, for replay and offline checks.

Format: UTF-8 JSON lines ``{"recv_ns": <int, time.time_ns() at arrival>, "frame": <str, the frame text>}``,
gzip-compressed when the path ends in ``.gz``. Binary frames are stored as text decoded with
``surrogateescape``, so ``frame.encode("utf-8", "surrogateescape")`` gives back the exact bytes.

The writer wraps a file the caller opened (``open_record`` picks gzip or not from the path); the
reader is a generator over any binary file. A recording cut off mid-line (the process died) ends
at the last complete line; any other bad line is an error naming its line number.
"""

import gzip
import json
from collections.abc import Iterator
from typing import IO, NamedTuple


class RecordedFrame(NamedTuple):
    recv_ns: int
    frame: str


class RecordError(ValueError):
    """A line of a recording that is not a recorded frame."""


def open_record(path: str, mode: str = "rb") -> IO[bytes]:
    """``mode`` "wb" to record (truncates), "ab" to append, "rb" to replay."""
    if mode not in ("rb", "wb", "ab"):
        raise ValueError(f"mode must be rb, wb or ab, not {mode!r}")
    if path.endswith(".gz"):
        return gzip.open(path, mode)  # type: ignore[return-value]
    return open(path, mode)  # the caller owns and closes it


class FrameWriter:
    """Appends frames to an open binary file; flushing and closing stay with the file's owner."""

    __slots__ = ("_write", "frames")

    def __init__(self, fileobj: IO[bytes]) -> None:
        self._write = fileobj.write
        self.frames = 0

    def write(self, recv_ns: int, frame: str | bytes) -> None:
        if not isinstance(frame, str):
            frame = bytes(frame).decode("utf-8", "surrogateescape")
        record = {"recv_ns": recv_ns, "frame": frame}
        try:
            line = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()
        except UnicodeEncodeError:  # lone surrogates from a non-UTF-8 binary frame: escape them
            line = json.dumps(record, separators=(",", ":")).encode()
        self._write(line + b"\n")
        self.frames += 1


def read_frames(fileobj: IO[bytes]) -> Iterator[RecordedFrame]:
    """Yield the frames of a recording in order."""
    for number, raw in enumerate(_lines(fileobj), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
            recv_ns, frame = record["recv_ns"], record["frame"]
            if type(recv_ns) is not int or type(frame) is not str:
                raise TypeError("recv_ns must be an int and frame a string")
        except (ValueError, KeyError, TypeError) as exc:
            if not raw.endswith(b"\n"):
                return  # the last line of a recording that was cut off
            raise RecordError(f"line {number}: {exc}") from exc
        yield RecordedFrame(recv_ns, frame)


def _lines(fileobj: IO[bytes]) -> Iterator[bytes]:
    lines = iter(fileobj)
    while True:
        try:
            yield next(lines)
        except StopIteration:
            return
        except EOFError:  # a .gz recording whose writer died before writing the gzip trailer
            return
