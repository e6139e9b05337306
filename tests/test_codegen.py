"""Generated code is reproducible from proto/: a fresh `make gen` output equals what is committed."""

from __future__ import annotations

import filecmp
import importlib.util
import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def load_codegen():
    spec = importlib.util.spec_from_file_location("codegen", ROOT / "tools" / "codegen.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def drift(committed: pathlib.Path, fresh: pathlib.Path) -> list[str]:
    comparison = filecmp.dircmp(committed, fresh, ignore=["__pycache__"])
    return sorted(
        [f"only committed: {n}" for n in comparison.left_only]
        + [f"only generated: {n}" for n in comparison.right_only]
        + [f"differs: {n}" for n in filecmp.cmpfiles(committed, fresh, comparison.common_files, shallow=False)[1]]
    )


def test_committed_python_stubs_match_a_fresh_generation(tmp_path):
    codegen = load_codegen()
    fresh = codegen.generate_python(tmp_path)
    assert drift(codegen.PYTHON_OUT, fresh) == [], "run `make gen` and commit the result"


def test_drift_check_catches_a_hand_edit(tmp_path):
    """The check above can fail: edit a copy of the committed stubs by hand and compare again."""
    codegen = load_codegen()
    fresh = codegen.generate_python(tmp_path / "fresh")
    edited = tmp_path / "edited"
    shutil.copytree(codegen.PYTHON_OUT, edited, ignore=shutil.ignore_patterns("__pycache__"))
    target = edited / "ingest_pb2.pyi"
    target.write_text(target.read_text().replace("token_id", "token_idx", 1))
    assert drift(edited, fresh) == ["differs: ingest_pb2.pyi"]


def require_ts_proto(codegen) -> None:
    if not codegen.TS_PROTO_PLUGIN.exists():
        pytest.fail("shell_client/node_modules is missing: run the tests through `make test`, which installs it")


def test_committed_typescript_stubs_match_a_fresh_generation(tmp_path):
    codegen = load_codegen()
    require_ts_proto(codegen)
    fresh = codegen.generate_typescript(tmp_path)
    assert drift(codegen.TS_OUT, fresh) == [], "run `make gen` and commit the result"


def test_typescript_drift_check_catches_a_hand_edit(tmp_path):
    codegen = load_codegen()
    require_ts_proto(codegen)
    fresh = codegen.generate_typescript(tmp_path / "fresh")
    edited = tmp_path / "edited"
    shutil.copytree(codegen.TS_OUT, edited)
    target = edited / "executor.ts"
    target.write_text(target.read_text().replace("seq: string;", "seq: number;", 1))
    assert drift(edited, fresh) == ["differs: executor.ts"]


def test_the_shell_client_ships_the_current_protos():
    """shell_client loads its own copy of proto/ at run time (the npm package cannot reach ../proto)."""
    codegen = load_codegen()
    assert drift(codegen.SHIPPED_PROTOS, codegen.PROTO_ROOT / "polyarb" / "v1") == [], "run `make gen`"


def test_buf_lint_is_clean():
    buf = ROOT / "tools" / "node_modules" / ".bin" / "buf"
    if not buf.exists():
        pytest.fail("tools/node_modules is missing: run the tests through `make test`, which installs buf")
    run = subprocess.run([str(buf), "lint"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
