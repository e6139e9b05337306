// The generated types describe what @grpc/proto-loader really hands out with PROTO_LOADER_OPTIONS
// (the wire path is protobufjs, not ts-proto): each literal below is typed by ts-proto (tsc checks
// it) and compared with a decoded message (node checks it).
import { strict as assert } from "node:assert";
import { describe, it } from "node:test";

import { loadSync } from "@grpc/proto-loader";

import { EXECUTOR_PROTO, ExecutorStatus, Outcome, PROTO_LOADER_OPTIONS, Strategy, toSeq, TradeResult } from "../src";

const executor = loadSync(EXECUTOR_PROTO, PROTO_LOADER_OPTIONS)["polyarb.v1.Executor"] as Record<
  string,
  { responseSerialize: (value: object) => Buffer; responseDeserialize: (bytes: Buffer) => unknown }
>;

function roundTrip(method: string, value: object): unknown {
  return executor[method].responseDeserialize(executor[method].responseSerialize(value));
}

describe("the wire shape matches the generated types", () => {
  it("a sparse TradeResult: uint64 as strings, enums by name, zero values present, unset message null", () => {
    const expected: TradeResult = {
      seq: "18446744073709551615", // uint64 max: a number would round it
      signalId: "",
      instanceId: "",
      strategy: Strategy.STRATEGY_UNSPECIFIED,
      mode: "",
      outcome: Outcome.OUTCOME_DRY_RUN,
      legs: [],
      cost: 0,
      expectedPnl: 0,
      trace: null,
      error: "",
      recordedNs: "0",
      legRisk: false,
      reconcilesSeq: "0",
    };
    const decoded = roundTrip("StreamTradeResults", { seq: "18446744073709551615", outcome: "OUTCOME_DRY_RUN" }) as TradeResult;
    assert.deepEqual({ ...decoded }, expected);
    assert.equal(toSeq(decoded.seq), (1n << 64n) - 1n);
  });

  it("an ExecutorStatus: maps as objects, repeated as arrays, nested messages filled", () => {
    const decoded = roundTrip("GetStatus", {
      balance: { collateral: 5, inventory: { ["7".repeat(77)]: 3 } },
      lastSeq: "42",
    }) as ExecutorStatus;
    assert.deepEqual({ ...decoded.balance }, { collateral: 5, reserved: 0, inventory: { ["7".repeat(77)]: 3 } });
    assert.equal(decoded.lastSeq, "42");
    assert.equal(decoded.trading, null);
    assert.deepEqual(decoded.peers, []);
    assert.deepEqual(decoded.lastResults, []);
  });
});
