"""Regenerate every stub from proto/: `make gen`.

Python stubs (messages, `.pyi` types and gRPC services) go to polyarb/v1/. The output is committed;
tests/test_codegen.py regenerates into a temporary folder and fails when anything differs.
"""

from __future__ import annotations

import pathlib
import sys
import tempfile

from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
PYTHON_OUT = ROOT / "polyarb" / "v1"


def proto_files() -> list[pathlib.Path]:
    return sorted((PROTO_ROOT / "polyarb" / "v1").glob("*.proto"))


def generate_python(out_root: pathlib.Path) -> pathlib.Path:
    """Generate into out_root/polyarb/v1 and return that folder."""
    out_root.mkdir(parents=True, exist_ok=True)
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"--python_out={out_root}",
        f"--pyi_out={out_root}",
        f"--grpc_python_out={out_root}",
        *(str(p.relative_to(PROTO_ROOT)) for p in proto_files()),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    package = out_root / "polyarb" / "v1"
    (package / "__init__.py").write_text('"""Generated from proto/polyarb/v1 by `make gen`. Do not edit."""\n')
    return package


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        package = generate_python(pathlib.Path(tmp))
        PYTHON_OUT.mkdir(parents=True, exist_ok=True)
        for old in PYTHON_OUT.glob("*_pb2*.py*"):
            old.unlink()
        for new in sorted(package.iterdir()):
            if new.is_file():
                (PYTHON_OUT / new.name).write_bytes(new.read_bytes())
    print(f"generated {len(proto_files())} protos into {PYTHON_OUT.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
