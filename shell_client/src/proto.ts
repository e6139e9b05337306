import { existsSync } from "node:fs";
import { join } from "node:path";

export const ENGINE_PROTO = "polyarb/v1/engine.proto";
export const EXECUTOR_PROTO = "polyarb/v1/executor.proto";
export const INGEST_PROTO = "polyarb/v1/ingest.proto";

/**
 * The .proto files shipped inside this package (`make gen` copies them from the repository's proto/).
 * NestJS loads them at run time through @grpc/proto-loader: the generated TypeScript is types only.
 * Compiled code runs from dist/src/, sources (ts-node, tests of a consumer) from src/: look in both.
 */
export const PROTO_ROOT: string = findProtoRoot(__dirname);

/**
 * How @grpc/proto-loader turns wire messages into objects. These must agree with the ts-proto options
 * in tools/codegen.py (TS_PROTO_OPTIONS), because the objects come from protobufjs, not from ts-proto,
 * and only match the generated interfaces structurally (ts-proto #411, #179):
 * - longs: String  <-> forceLong=string: uint64/int64 (seq, version, *_ns) are decimal strings;
 * - enums: String  <-> stringEnums=true: an enum value is its name ("OUTCOME_DRY_RUN");
 * - defaults: true <-> useNullAsOptional=true: zero values are present, an unset message is null;
 * - keepCase: false: camelCase field names, as ts-proto writes them.
 */
export const PROTO_LOADER_OPTIONS = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  arrays: true,
  objects: true,
  oneofs: true,
  includeDirs: [PROTO_ROOT],
};

function findProtoRoot(from: string): string {
  const candidates = [join(from, "..", "proto"), join(from, "..", "..", "proto")];
  const found = candidates.find((dir) => existsSync(join(dir, EXECUTOR_PROTO)));
  if (found === undefined) {
    throw new Error(`@polyarb/shell-client: the shipped .proto files are missing (looked in ${candidates.join(", ")})`);
  }
  return found;
}
