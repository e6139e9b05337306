// The package's entry point exports everything generated for the shell (engine, executor, ingest, common), so a
// message added to proto/ cannot be forgotten in src/index.ts.
import { strict as assert } from "node:assert";
import { join } from "node:path";
import { it } from "node:test";

import * as ts from "typescript";

import * as api from "../src";

const SRC = join(__dirname, "..", "..", "src");
// every generated file declares its own protobufFileName; the entry point exports none of them
const PER_FILE = new Set(["protobufFileName"]);

it("src/index.ts exports every generated message, enum and constant of engine, executor, ingest and common", () => {
  const files = ["index.ts", ...["common", "engine", "executor", "ingest"].map((name) => `gen/polyarb/v1/${name}.ts`)].map((f) =>
    join(SRC, f),
  );
  const program = ts.createProgram(files, { strict: true, noEmit: true, experimentalDecorators: true, skipLibCheck: true });
  const checker = program.getTypeChecker();
  const exportsOf = (file: string): string[] => {
    const source = program.getSourceFile(file);
    assert.ok(source, file);
    const symbol = checker.getSymbolAtLocation(source);
    assert.ok(symbol, file);
    return checker.getExportsOfModule(symbol).map((s) => s.getName());
  };
  const [index, ...generated] = files;
  const exported = new Set(exportsOf(index));
  const missing = generated.flatMap(exportsOf).filter((name) => !PER_FILE.has(name) && !exported.has(name));
  assert.deepEqual([...new Set(missing)], []);
});

it("exports the NestJS constants with the proto's names", () => {
  assert.equal(api.POLYARB_V1_PACKAGE_NAME, "polyarb.v1");
  assert.equal(api.ENGINE_SERVICE_NAME, "Engine");
  assert.equal(api.EXECUTOR_SERVICE_NAME, "Executor");
  assert.equal(api.INGEST_SERVICE_NAME, "Ingest");
  assert.equal(api.Outcome.OUTCOME_DRY_RUN, "OUTCOME_DRY_RUN"); // enums: String in the loader
});
