"""polyarbctl over mutual TLS against real engine and executor processes (certificates: tests/pki.py)."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

ROOT = pathlib.Path(__file__).resolve().parents[2]
TOKEN = "ctl-tls-token"
NOWHERE = "127.0.0.1:1"


def ctl(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYARB_")}
    env["POLYARB_CONTROL_TOKEN"] = TOKEN
    return subprocess.run([sys.executable, "-m", "polyarb.ctl", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=30)


def test_status_and_switch_over_mutual_tls(start_service, pki, tmp_path):
    served = ["--tls-cert-file", str(pki.server_cert), "--tls-key-file", str(pki.server_key),
              "--tls-client-ca-file", str(pki.ca)]
    env = {"POLYARB_CONTROL_TOKEN": TOKEN}
    engine = start_service("engine_svc", ["--ingest-addr", NOWHERE, "--executor-addr", NOWHERE, *served], env)
    executor = start_service("executor_svc", ["--mode", "dry-run", "--journal", str(tmp_path / "j.sqlite"),
                                              *served], env)
    addrs = [f"--engine-addr={engine.grpc_addr}", f"--executor-addr={executor.grpc_addr}"]
    client = ["--tls-ca-file", str(pki.ca), "--tls-cert-file", str(pki.client_cert), "--tls-key-file",
              str(pki.client_key)]

    shown = ctl(*addrs, *client, "status", "engine", "executor")
    assert shown.returncode == 0, shown.stderr
    assert "structure v0" in shown.stdout and "trading disabled" in shown.stdout
    # the connection flags are taken after the command as well
    enabled = ctl(*addrs, "enable", "--reason", "tls", *client)
    assert enabled.returncode == 0 and enabled.stdout.startswith("trading ENABLED"), enabled.stderr
    assert json.loads(ctl(*addrs, *client, "status", "executor", "--json").stdout)["executor"]["trading"]["enabled"]

    plaintext = ctl(*addrs, "disable")
    assert plaintext.returncode == 1 and "cannot reach executor" in plaintext.stderr
    no_cert = ctl(*addrs, "--tls-ca-file", str(pki.ca), "disable")
    assert no_cert.returncode == 1 and "cannot reach executor" in no_cert.stderr
    assert json.loads(ctl(*addrs, *client, "status", "executor", "--json").stdout)["executor"]["trading"]["enabled"]
    half = ctl(*addrs, "--tls-cert-file", str(pki.client_cert), "status", "executor")
    assert half.returncode == 2 and "--tls-cert-file and --tls-key-file go together" in half.stderr
    assert half.stderr.count("\n") == 1
