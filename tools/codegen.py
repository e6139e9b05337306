"""Regenerate every stub from proto/: `make gen`.

Python stubs (messages, `.pyi` types and gRPC services) go to polyarb/v1/. TypeScript types for the
NestJS shell go to shell_client/src/gen/polyarb/v1/ (ts-proto, whose plugin comes from
shell_client/node_modules), and the .proto files are copied to shell_client/proto/ because the
package loads them at run time. The output is committed; tests/test_codegen.py regenerates into a
temporary folder and fails when anything differs.
"""

from __future__ import annotations

import pathlib
import shutil
import sys
import tempfile

from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
PYTHON_OUT = ROOT / "polyarb" / "v1"
SHELL_CLIENT = ROOT / "shell_client"
TS_OUT = SHELL_CLIENT / "src" / "gen" / "polyarb" / "v1"
SHIPPED_PROTOS = SHELL_CLIENT / "proto" / "polyarb" / "v1"
TS_PROTO_PLUGIN = SHELL_CLIENT / "node_modules" / ".bin" / "protoc-gen-ts_proto"
# NestJS client types; must agree with PROTO_LOADER_OPTIONS in shell_client/src/proto.ts, because
# the wire path is @grpc/proto-loader's (longs: String, enums: String, defaults: true), not ts-proto's.
TS_PROTO_OPTIONS = ",".join([
    "nestJs=true",  # <Svc>Client/<Svc>Controller interfaces, *_PACKAGE_NAME and *_SERVICE_NAME constants
    "addGrpcMetadata=true",  # a trailing `metadata?: Metadata` on every method
    "forceLong=string",  # 64-bit integers (seq, versions, *_ns) as decimal strings, like longs: String
    "stringEnums=true",  # enum values are their names, like enums: String
    "useNullAsOptional=true",  # an unset message field is null, like defaults: true
])


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


def generate_typescript(out_root: pathlib.Path) -> pathlib.Path:
    """Generate the ts-proto NestJS types into out_root/polyarb/v1 and return that folder."""
    if not TS_PROTO_PLUGIN.exists():
        raise SystemExit(f"{TS_PROTO_PLUGIN.relative_to(ROOT)} is missing: run `make gen` (it installs shell_client)")
    out_root.mkdir(parents=True, exist_ok=True)
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"--plugin=protoc-gen-ts_proto={TS_PROTO_PLUGIN}",
        f"--ts_proto_out={out_root}",
        f"--ts_proto_opt={TS_PROTO_OPTIONS}",
        *(str(p.relative_to(PROTO_ROOT)) for p in proto_files()),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc (ts-proto) failed")
    return out_root / "polyarb" / "v1"


def replace_files(dest: pathlib.Path, source: pathlib.Path, pattern: str) -> None:
    """Make dest's files matching pattern exactly source's."""
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob(pattern):
        old.unlink()
    for new in sorted(source.glob(pattern)):
        shutil.copyfile(new, dest / new.name)


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
    with tempfile.TemporaryDirectory() as tmp:
        replace_files(TS_OUT, generate_typescript(pathlib.Path(tmp)), "*.ts")
    replace_files(SHIPPED_PROTOS, PROTO_ROOT / "polyarb" / "v1", "*.proto")
    print(f"generated {TS_OUT.relative_to(ROOT)} and copied the protos to {SHIPPED_PROTOS.relative_to(ROOT)}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
