"""`make run`'s launcher: four healthy processes, and Ctrl-C leaves none behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purpose; the launcher reaps its children
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"


def test_launcher_starts_four_healthy_processes_and_ctrl_c_stops_them(tmp_path):
    launcher = subprocess.Popen(
        [sys.executable, "-m", "polyarb.run", "--run-dir", str(tmp_path)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 90
    try:
        while len([line for line in lines if " pid " in line]) < 4:
            line = launcher.stdout.readline()
            assert line or launcher.poll() is None, "launcher exited:\n" + "".join(lines)
            lines.append(line)
            assert time.monotonic() < deadline, "".join(lines)
        pids = [int(m.group(1)) for line in lines if (m := re.search(r" pid (\d+)", line))]
        names = [line.split()[0] for line in lines if " pid " in line]
        assert sorted(names) == ["engine", "executor", "ingest", "paper_venue"]
        assert all(alive(pid) for pid in pids)

        launcher.send_signal(signal.SIGINT)  # what Ctrl-C does
        rest, _ = launcher.communicate(timeout=30)
        assert launcher.returncode == 0, rest
        assert rest.count("exit 0") == 4, rest
        assert not [pid for pid in pids if alive(pid)]
    finally:
        if launcher.poll() is None:
            launcher.kill()
