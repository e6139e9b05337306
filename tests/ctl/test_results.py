"""The results reader against scripted streams: resume after the last seq, never twice, backoff, fatal codes."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from grpc import aio

from polyarb.ctl.results import Cursor, ResultsStalled, backoff, follow, read_until
from polyarb.v1 import executor_pb2


def result(seq: int) -> executor_pb2.TradeResult:
    return executor_pb2.TradeResult(seq=seq, signal_id=f"s{seq}")


def rpc_error(code: grpc.StatusCode) -> aio.AioRpcError:
    return aio.AioRpcError(code, aio.Metadata(), aio.Metadata(), details=code.name.lower())


class Stop(Exception):
    """Ends a follow() under test once the script is played."""


def scripted(attempts: list[tuple[list[int], BaseException | None]]):
    """open_stream whose n-th call yields the given seqs (ignoring from_seq: a server that replays) then fails."""
    asked: list[int] = []

    async def open_stream(from_seq: int):
        asked.append(from_seq)
        if len(asked) > len(attempts):
            raise Stop
        seqs, error = attempts[len(asked) - 1]
        for seq in seqs:
            yield result(seq)
        if error is not None:
            raise error

    return open_stream, asked


async def test_follow_resumes_after_the_last_printed_seq_and_never_prints_one_twice():
    unavailable = rpc_error(grpc.StatusCode.UNAVAILABLE)
    open_stream, asked = scripted([
        ([3, 4], unavailable),
        ([], unavailable),
        ([1, 2, 3, 4, 5], None),  # replays older results, then the stream ends (server stopped)
        ([5, 6], unavailable),
    ])
    printed, reports, slept = [], [], []

    async def sleep(delay: float) -> None:
        slept.append(delay)

    with pytest.raises(Stop):
        await follow(open_stream, Cursor(2), lambda r: printed.append(r.seq), reports.append, sleep=sleep,
                     clock=lambda: 0.0)
    assert printed == [3, 4, 5, 6]
    assert asked == [2, 4, 4, 5, 6]
    # the backoff restarts after an attempt that delivered anything
    assert slept == [0.25, 0.5, 0.25, 0.25]
    assert "UNAVAILABLE" in reports[0] and "resuming after seq 4" in reports[0]


@pytest.mark.parametrize("code", [grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.INVALID_ARGUMENT])
async def test_follow_gives_up_on_errors_retrying_cannot_fix(code):
    open_stream, asked = scripted([([1], rpc_error(code))])
    printed = []
    with pytest.raises(aio.AioRpcError):
        await follow(open_stream, Cursor(0), lambda r: printed.append(r.seq), lambda _: None)
    assert printed == [1] and asked == [0]


async def test_read_until_stops_at_the_journals_last_seq():
    open_stream, asked = scripted([([3, 4, 5, 6], None)])
    printed = []
    await read_until(open_stream, Cursor(2), 5, lambda r: printed.append(r.seq), idle_timeout_s=1)
    assert printed == [3, 4, 5] and asked == [2]
    await read_until(open_stream, Cursor(5), 5, lambda r: printed.append(r.seq), idle_timeout_s=1)
    assert asked == [2]  # nothing newer than the cursor: not even asked


async def test_read_until_reports_a_stream_that_goes_quiet():
    async def quiet(from_seq: int):
        yield result(from_seq + 1)
        await asyncio.sleep(10)

    with pytest.raises(ResultsStalled, match="after seq 1"):
        await read_until(quiet, Cursor(0), 3, lambda r: None, idle_timeout_s=0.05)


def test_backoff_doubles_up_to_its_cap():
    delays = backoff(0.25, 2.0)
    assert [next(delays) for _ in range(6)] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
