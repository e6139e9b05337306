// Acceptance 1: every control RPC works with the token and fails with UNAUTHENTICATED without it;
// a bad structure surfaces INVALID_ARGUMENT with the engine's reason. Real engine and executor processes.
import { strict as assert } from "node:assert";
import { once } from "node:events";
import { AddressInfo, createServer, Socket } from "node:net";
import { after, before, describe, it } from "node:test";

import { status } from "@grpc/grpc-js";
import { firstValueFrom } from "rxjs";

import { PolyarbClient, PolyarbRpcError } from "../src";
import { removeTempDirs, Service, tempDir } from "./services";
import { Shell, startShell, trioStructure } from "./fixtures";

const TOKEN = "control-test-token";
// nothing listens on port 1: the engine's own peer links stay down and out of the way
const NOWHERE = "127.0.0.1:1";

async function rejectsWith(call: Promise<unknown>, code: status, detailsPattern?: RegExp): Promise<PolyarbRpcError> {
  const error = await call.then(
    () => assert.fail(`expected ${status[code]}, the call succeeded`),
    (e: unknown) => e,
  );
  assert.ok(error instanceof PolyarbRpcError, `not a PolyarbRpcError: ${String(error)}`);
  assert.equal(error.codeName, status[code], error.message);
  if (detailsPattern !== undefined) {
    assert.match(error.details, detailsPattern);
  }
  return error;
}

describe("control RPCs against real services", () => {
  let engine: Service;
  let executor: Service;
  let authorized: Shell;
  let anonymous: Shell;
  let wrongToken: Shell;

  before(async () => {
    [engine, executor] = await Promise.all([
      Service.start("engine_svc", ["--ingest-addr", NOWHERE, "--executor-addr", NOWHERE], { token: TOKEN }),
      Service.start("executor_svc", ["--mode", "dry-run", "--journal", `${tempDir()}/journal.sqlite`], { token: TOKEN }),
    ]);
    const urls = { engineUrl: engine.grpcAddr, executorUrl: executor.grpcAddr };
    [authorized, anonymous, wrongToken] = await Promise.all([
      startShell({ ...urls, token: TOKEN }),
      startShell({ ...urls, token: undefined }),
      startShell({ ...urls, token: "not-the-token" }),
    ]);
  });

  after(async () => {
    await Promise.all([authorized, anonymous, wrongToken].filter(Boolean).map((shell) => shell.app.close()));
    await Service.stopAll();
    removeTempDirs();
  });

  // Each control call, as a function of the client, with a check of its answer.
  const calls: Array<[string, (c: PolyarbClient) => Promise<unknown>, (answer: any) => void]> = [
    [
      "updateMarketStructure",
      (c) => c.updateMarketStructure(trioStructure("7")),
      (a) => assert.deepEqual(a, { version: "7", instances: 1, tokens: 6 }),
    ],
    [
      "getEngineStatus",
      (c) => c.getEngineStatus(),
      (a) => {
        assert.equal(a.info.service, "engine");
        assert.equal(a.info.authRequired, true);
        assert.equal(typeof a.structureVersion, "string"); // uint64 as a decimal string (longs: String)
        assert.equal(typeof a.lastEvaluationNs, "string");
        assert.deepEqual(a.peers.map((p: { name: string }) => p.name).sort(), ["executor", "ingest"]);
      },
    ],
    [
      "updateEngineConfig",
      async (c) => {
        const config = (await c.getEngineStatus()).config;
        assert.ok(config !== null);
        return c.updateEngineConfig({ ...config, minProfitAbs: 0.02, bundle: false });
      },
      (a) => assert.equal(a.minProfitAbs === 0.02 && a.bundle === false && a.trio === true, true, JSON.stringify(a)),
    ],
    [
      "setTradingEnabled",
      (c) => c.setTradingEnabled({ enabled: true, reason: "shell test" }),
      (a) => assert.deepEqual(a, { enabled: true, reason: "shell test", mode: "dry-run", circuitOpen: false }),
    ],
    [
      "updateBalance",
      (c) => c.updateBalance({ collateral: 250.5, inventory: { ["7".repeat(77)]: 10 } }),
      (a) => assert.deepEqual(a, { collateral: 250.5, reserved: 0, inventory: { ["7".repeat(77)]: 10 } }),
    ],
    [
      "updateExecutorConfig",
      async (c) => {
        const config = (await c.getExecutorStatus()).config;
        assert.ok(config !== null);
        return c.updateExecutorConfig({ ...config, maxSignalAgeMs: 400, orderType: "FAK" });
      },
      (a) => assert.equal(a.maxSignalAgeMs === 400 && a.orderType === "FAK", true, JSON.stringify(a)),
    ],
    [
      "getExecutorStatus",
      (c) => c.getExecutorStatus(),
      (a) => {
        assert.equal(a.info.service, "executor");
        assert.equal(a.trading.mode, "dry-run");
        assert.equal(a.lastSeq, "0");
        assert.deepEqual(a.lastResults, []);
      },
    ],
  ];

  for (const [name, call, check] of calls) {
    it(`${name} works with the token`, async () => {
      check(await call(authorized.client));
    });
    it(`${name} fails with UNAUTHENTICATED without the token, or with a wrong one`, async () => {
      await rejectsWith(call(anonymous.client), status.UNAUTHENTICATED, /bearer token/);
      await rejectsWith(call(wrongToken.client), status.UNAUTHENTICATED, /bearer token/);
    });
  }

  it("tradeResults$ fails with UNAUTHENTICATED without the token, instead of reconnecting forever", async () => {
    const error = await firstValueFrom(anonymous.client.tradeResults$()).then(
      () => assert.fail("emitted a result"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof PolyarbRpcError);
    assert.equal(error.codeName, "UNAUTHENTICATED");
    assert.equal(error.rpc, "Executor.StreamTradeResults");
  });

  it("the state the calls set is what the services report", async () => {
    const engineStatus = await authorized.client.getEngineStatus();
    const executorStatus = await authorized.client.getExecutorStatus();
    assert.equal(engineStatus.structureVersion, "7");
    assert.equal(engineStatus.instances, 1);
    assert.equal(engineStatus.config?.minProfitAbs, 0.02);
    assert.equal(executorStatus.trading?.enabled, true);
    assert.equal(executorStatus.balance?.collateral, 250.5);
    assert.equal(executorStatus.config?.orderType, "FAK");
  });

  it("a bad structure surfaces INVALID_ARGUMENT with the engine's reason, and the running one stays", async () => {
    const error = await rejectsWith(
      authorized.client.updateMarketStructure(trioStructure("8", 110, 100)),
      status.INVALID_ARGUMENT,
      /lower_bound 110(\.0)? must be < upper_bound 100/,
    );
    assert.match(error.message, /^Engine\.UpdateMarketStructure: INVALID_ARGUMENT: /);
    assert.equal((await authorized.client.getEngineStatus()).structureVersion, "7");
  });

  it("a unary call gets a deadline: a server that never answers fails with DEADLINE_EXCEEDED", async () => {
    const sockets: Socket[] = [];
    const blackHole = createServer((socket) => sockets.push(socket)); // accepts TCP, never speaks HTTP/2
    blackHole.listen(0, "127.0.0.1");
    await once(blackHole, "listening");
    const url = `127.0.0.1:${(blackHole.address() as AddressInfo).port}`;
    const shell = await startShell({ engineUrl: url, executorUrl: url, token: TOKEN, deadlineMs: 300 });
    try {
      const started = Date.now();
      await rejectsWith(shell.client.getEngineStatus(), status.DEADLINE_EXCEEDED);
      assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
    } finally {
      await shell.app.close();
      sockets.forEach((socket) => socket.destroy());
      blackHole.close();
    }
  });
});
