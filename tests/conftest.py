"""Shared test fixtures: the one way tests start a real service process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass
class ServiceProcess:
    """A service started as `python -m <module>` with ephemeral ports; its log lines are kept."""

    module: str
    proc: subprocess.Popen
    lines: list[str] = field(default_factory=list)
    grpc_addr: str = ""
    metrics_addr: str = ""
    _serving: threading.Event = field(default_factory=threading.Event)

    def _read(self, stream) -> None:
        for raw in stream:
            line = raw.decode(errors="replace").rstrip("\n")
            self.lines.append(line)
            if not self._serving.is_set():
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if isinstance(entry, dict) and entry.get("msg") == "serving":
                    self.grpc_addr = entry["grpc_addr"]
                    self.metrics_addr = entry["metrics_addr"]
                    self._serving.set()

    def wait_serving(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not self._serving.wait(0.05):
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.module} exited {self.proc.returncode}:\n" + self.output())
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.module} not serving after {timeout}s:\n" + self.output())

    def output(self) -> str:
        return "\n".join(self.lines)

    def log_entries(self) -> list[dict]:
        entries = []
        for line in self.lines:
            try:
                entries.append(json.loads(line))
            except ValueError:
                continue
        return entries

    def terminate(self, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def spawn(module: str, args: Sequence[str] = (), env: dict[str, str] | None = None) -> ServiceProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("POLYARB_")}
    full_env.update(env or {})
    cmd = [sys.executable, "-m", module, "--grpc-addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", *args]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    service = ServiceProcess(module, proc)
    threading.Thread(target=service._read, args=(proc.stdout,), daemon=True).start()
    return service


@pytest.fixture
def start_service() -> Iterator:
    """start_service(module, args, env) → a serving ServiceProcess; all are stopped after the test."""
    started: list[ServiceProcess] = []

    def start(module: str, args: Sequence[str] = (), env: dict[str, str] | None = None) -> ServiceProcess:
        service = spawn(module, args, env)
        started.append(service)
        service.wait_serving()
        return service

    yield start
    for service in started:
        service.kill()


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    """A CA, server (127.0.0.1, localhost) and client certificates for TLS tests (tests/pki.py)."""
    from tests.pki import make_pki  # cryptography is imported only by the tests that use TLS

    return make_pki(tmp_path_factory.mktemp("pki"))
