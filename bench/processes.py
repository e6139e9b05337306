"""Real processes for the macro benchmarks: start, wait until serving, measure from /proc, always stop.

Every process gets its own session (process group), its stdout/stderr go to a log file in the run's
folder, and `stop_all` ends every group (SIGTERM, then SIGKILL after a grace period); callers run it in
a ``finally`` so an interrupted benchmark leaves nothing behind. On Linux each child also gets SIGTERM
when the harness dies (PR_SET_PDEATHSIG), even by SIGKILL.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

ROOT = pathlib.Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Proc:
    """One child process and what its "serving" log line said (addresses)."""

    name: str
    popen: subprocess.Popen
    log_path: pathlib.Path
    serving: dict = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait_serving(self, timeout_s: float) -> dict:
        """The first JSON log line with msg == "serving"; RuntimeError with the log tail otherwise."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for line in self.log_path.read_text(errors="replace").splitlines():
                if '"serving"' not in line:
                    continue
                with contextlib.suppress(ValueError):
                    entry = json.loads(line)
                    if isinstance(entry, dict) and entry.get("msg") == "serving":
                        self.serving = entry
                        return entry
            if not self.alive():
                break
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not serving (exit {self.popen.poll()}):\n{self.log_tail()}")

    def log_tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


def spawn(name: str, argv: list[str], log_dir: pathlib.Path, stdin: int | None = None,
          stdout_pipe: bool = False) -> Proc:
    """`python <argv>` from the repository root, env without POLYARB_* (no control token)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYARB_")}
    env["PYTHONUNBUFFERED"] = "1"
    log_path = log_dir / f"{name}.log"
    log = open(log_path, "wb")  # noqa: SIM115 - the child owns it until it exits
    try:
        popen = subprocess.Popen(
            [sys.executable, *argv], cwd=ROOT, env=env, stdin=stdin,
            stdout=subprocess.PIPE if stdout_pipe else log, stderr=log,
            start_new_session=True, preexec_fn=_die_with_parent,
        )
    finally:
        log.close()
    return Proc(name, popen, log_path)


def stop_all(procs: list[Proc], grace_s: float = 5.0) -> None:
    """SIGTERM every process group, wait up to grace_s, then SIGKILL what is left. Never raises."""
    for proc in procs:
        if proc.alive():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for proc in procs:
        try:
            proc.popen.wait(max(0.05, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(2.0)
        for stream in (proc.popen.stdin, proc.popen.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


# -- /proc ---------------------------------------------------------------------------------------------


def rss_mb(pid: int) -> float | None:
    """Resident set size (VmRSS) in MiB, None when the process is gone."""
    try:
        for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_s(pid: int) -> float | None:
    """utime + stime of the process so far, in seconds (10 ms resolution)."""
    try:
        return _stat_cpu_s(pathlib.Path(f"/proc/{pid}/stat").read_text())
    except OSError:
        return None


def thread_cpu_s(pid: int) -> dict[int, float]:
    """utime + stime of each thread of the process so far, by thread id (the main thread's id is pid)."""
    out = {}
    with contextlib.suppress(OSError):
        for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError):
                out[int(task.name)] = _stat_cpu_s((task / "stat").read_text())
    return out


def _stat_cpu_s(text: str) -> float:
    fields = text[text.rindex(")") + 2:].split()  # the command name may hold spaces
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_busy_s() -> float:
    """Busy CPU seconds summed over all cores since boot (everything but idle and iowait), /proc/stat."""
    first = pathlib.Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in first[:8]]
    return (sum(values) - values[3] - values[4]) / CLOCK_TICKS


class CpuWindow:
    """CPU used by each of our processes (its event-loop thread apart from its other threads: gRPC's
    poller and event-engine threads), and by the whole machine, between start() and stop()."""

    def __init__(self, procs: dict[str, int]) -> None:
        self.pids = procs
        self._threads0: dict[str, dict[int, float]] = {}
        self._machine0 = 0.0
        self._t0 = 0.0

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._machine0 = machine_busy_s()
        self._threads0 = {name: thread_cpu_s(pid) for name, pid in self.pids.items()}

    def stop(self) -> dict:
        wall = time.monotonic() - self._t0
        busy = machine_busy_s() - self._machine0
        per, main, others = {}, {}, {}
        for name, pid in self.pids.items():
            before, after = self._threads0.get(name, {}), thread_cpu_s(pid)
            deltas = {tid: cpu - before.get(tid, 0.0) for tid, cpu in after.items()}
            main[name] = deltas.get(pid, 0.0)
            others[name] = sum(v for tid, v in deltas.items() if tid != pid)
            per[name] = main[name] + others[name] if after else None
        ours = sum(v for v in per.values() if v is not None)
        return {
            "wall_s": wall,
            "cpu_s": per,
            "cpu_main_thread_s": main,
            "cpu_other_threads_s": others,
            "cores_ours": ours / wall if wall else None,
            "cores_machine": busy / wall if wall else None,
            # whatever else ran meanwhile (other engineers' tests): the noise in these figures
            "cores_others": max(0.0, busy - ours) / wall if wall else None,
            "loadavg": os.getloadavg(),
        }
