"""The gRPC core setting every polyarb process starts with (polyarb/runtime/grpc_core.py)."""

from __future__ import annotations

import os
import subprocess
import sys

from polyarb.runtime import grpc_core

_SHOW = "import os, polyarb.runtime, grpc; print(os.environ.get('GRPC_EXPERIMENTS'))"


def _env_without_setting() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "GRPC_EXPERIMENTS"}


def test_a_process_importing_the_runtime_gets_the_default_before_grpc():
    out = subprocess.run([sys.executable, "-c", _SHOW], env=_env_without_setting(), capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == grpc_core.GRPC_EXPERIMENTS


def test_an_operators_setting_is_kept():
    env = {**_env_without_setting(), "GRPC_EXPERIMENTS": "event_engine_client"}
    out = subprocess.run([sys.executable, "-c", _SHOW], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "event_engine_client"


def test_apply_sets_only_when_absent():
    environ: dict[str, str] = {}
    assert grpc_core.apply(environ) == grpc_core.GRPC_EXPERIMENTS
    environ["GRPC_EXPERIMENTS"] = "x"
    assert grpc_core.apply(environ) == "x"
