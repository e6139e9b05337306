"""The --record file: JSON lines of {recv_ns, frame}, gzip for .gz, written and read back."""

import gzip
import io
import json

import pytest

from ingest_svc.record import FrameWriter, RecordedFrame, RecordError, open_record, read_frames

FRAMES = [
    (1_786_728_432_337_000_001, '[{"event_type":"book","asset_id":"1","bids":[],"asks":[]}]'),
    (1_786_728_432_337_000_002, "PONG"),
    (1_786_728_432_337_000_003, '{"question":"Will “NVDA” close above $240?"}'),
]


@pytest.mark.parametrize("name", ["frames.jsonl", "frames.jsonl.gz"])
def test_frames_round_trip_through_a_file(tmp_path, name):
    path = str(tmp_path / name)
    with open_record(path, "wb") as f:
        writer = FrameWriter(f)
        for recv_ns, frame in FRAMES:
            writer.write(recv_ns, frame)
    assert writer.frames == 3

    with open_record(path) as f:
        assert list(read_frames(f)) == [RecordedFrame(*item) for item in FRAMES]
    with open(path, "rb") as raw:
        is_gzip = raw.read(2) == b"\x1f\x8b"
    assert is_gzip == name.endswith(".gz")


def test_each_line_is_plain_json_with_the_documented_keys():
    buf = io.BytesIO()
    FrameWriter(buf).write(17, '{"a":1}')
    line = buf.getvalue()
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line) == {"recv_ns": 17, "frame": '{"a":1}'}


def test_binary_frames_keep_their_exact_bytes():
    buf = io.BytesIO()
    writer = FrameWriter(buf)
    writer.write(1, b'{"price":"0.5"}')
    writer.write(2, b"\xff\xfe not utf-8")
    buf.getvalue().decode("utf-8")  # the file stays valid UTF-8

    frames = list(read_frames(io.BytesIO(buf.getvalue())))

    assert frames[0].frame == '{"price":"0.5"}'
    assert frames[1].frame.encode("utf-8", "surrogateescape") == b"\xff\xfe not utf-8"


def test_a_recording_cut_off_mid_line_ends_at_the_last_complete_frame(tmp_path):
    buf = io.BytesIO()
    FrameWriter(buf).write(1, "PONG")
    data = buf.getvalue() + b'{"recv_ns": 2, "fra'
    assert list(read_frames(io.BytesIO(data))) == [RecordedFrame(1, "PONG")]

    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(gzip.compress(buf.getvalue() * 50)[:-12])  # no gzip trailer, as after a kill
    with open_record(str(path)) as f:
        frames = list(read_frames(f))
    assert 0 < len(frames) <= 50 and all(fr == RecordedFrame(1, "PONG") for fr in frames)


@pytest.mark.parametrize("line", [b"not json\n", b'{"recv_ns": "1", "frame": "x"}\n', b'{"frame": "x"}\n'])
def test_a_bad_line_in_the_middle_is_an_error_naming_it(line):
    data = b'{"recv_ns":1,"frame":"PONG"}\n' + line + b'{"recv_ns":3,"frame":"PONG"}\n'
    with pytest.raises(RecordError, match="line 2"):
        list(read_frames(io.BytesIO(data)))


def test_blank_lines_are_skipped_and_modes_are_checked(tmp_path):
    data = b'\n{"recv_ns":1,"frame":"PONG"}\n\n'
    assert list(read_frames(io.BytesIO(data))) == [RecordedFrame(1, "PONG")]
    with pytest.raises(ValueError, match="mode"):
        open_record(str(tmp_path / "x"), "w")
