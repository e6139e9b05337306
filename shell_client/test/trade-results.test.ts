// Acceptance 2: the executor is SIGKILLed mid-stream and restarted on the same port with the same
// journal; tradeResults$ resumes and the consumer sees every seq exactly once, in order.
import { strict as assert } from "node:assert";
import { after, it } from "node:test";

import { Subscription } from "rxjs";

import { Outcome, TradeResult } from "../src";
import { eventually, produceResults, Shell, startShell } from "./fixtures";
import { removeTempDirs, Service, tempDir } from "./services";

const TOKEN = "stream-test-token";

after(async () => {
  await Service.stopAll();
  removeTempDirs();
});

function range(from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_, i) => String(from + i));
}

async function startExecutor(journal: string, grpcAddr?: string): Promise<Service> {
  return Service.start("executor_svc", ["--mode", "dry-run", "--journal", journal], { token: TOKEN, grpcAddr });
}

/** The executor starts with trading off and no balance, and neither survives a restart. */
async function armExecutor(shell: Shell): Promise<void> {
  await shell.client.setTradingEnabled({ enabled: true, reason: "stream test" });
  await shell.client.updateBalance({ collateral: 1_000_000, inventory: {} });
}

it("survives a SIGKILLed executor: every seq exactly once, in order", async () => {
  const journal = `${tempDir()}/journal.sqlite`;
  let executor = await startExecutor(journal);
  // the engine is not needed here; the URL only has to be well formed
  const shell = await startShell({
    engineUrl: "127.0.0.1:1",
    executorUrl: executor.grpcAddr,
    token: TOKEN,
    reconnect: { initialMs: 50, maxMs: 500 },
  });
  const seen: TradeResult[] = [];
  const seenFrom3: string[] = [];
  const failures: unknown[] = [];
  const subscriptions: Subscription[] = [
    shell.client.tradeResults$().subscribe({ next: (r) => seen.push(r), error: (e) => failures.push(e) }),
    shell.client.tradeResults$("3").subscribe({ next: (r) => seenFrom3.push(r.seq), error: (e) => failures.push(e) }),
  ];
  const seqs = () => seen.map((r) => r.seq);
  try {
    await armExecutor(shell);
    const first = await produceResults(shell.app, range(1, 5).map((i) => `a${i}`));
    assert.deepEqual(first, range(1, 5));
    await eventually(() => seen.length === 5, () => `saw ${seqs()}`);

    // kill it while results are still being produced and streamed
    const producing = produceResults(shell.app, range(1, 40).map((i) => `b${i}`));
    await eventually(() => seen.length >= 8, () => `saw ${seqs()}`);
    await executor.kill();
    const beforeKill = (await producing).length;

    executor = await startExecutor(journal, executor.grpcAddr); // same port, same journal
    await armExecutor(shell);
    // first the replay: what was journaled before the kill, delivered or not
    const journaled = Number((await shell.client.getExecutorStatus()).lastSeq);
    assert.ok(journaled >= 5 + beforeKill, `journal has ${journaled} results; ${beforeKill} acked before the kill`);
    await eventually(() => seen.length === journaled, () => `saw ${seqs()}, journal has ${journaled}`);
    const third = await produceResults(shell.app, range(1, 5).map((i) => `c${i}`));
    const last = Number((await shell.client.getExecutorStatus()).lastSeq);
    assert.equal(Number(third[third.length - 1]), last);
    assert.equal(last, journaled + 5);

    await eventually(() => seen.length >= last && seenFrom3.length >= last - 3, () => `saw ${seqs()} and ${seenFrom3}`);
    await new Promise((resolve) => setTimeout(resolve, 200)); // room for a duplicate to show up
    assert.deepEqual(seqs(), range(1, last));
    assert.deepEqual(seenFrom3, range(4, last));
    assert.deepEqual(failures, []);
    for (const result of seen) {
      assert.equal(result.outcome, Outcome.OUTCOME_DRY_RUN);
      assert.equal(result.mode, "dry-run");
      assert.equal(typeof result.trace?.signalSentNs, "string");
      assert.equal(result.legs.length, 3);
    }
  } finally {
    subscriptions.forEach((s) => s.unsubscribe());
    await shell.app.close();
  }
});

it("completes when the app closes", async () => {
  const executor = await startExecutor(`${tempDir()}/journal.sqlite`);
  const shell = await startShell({ engineUrl: "127.0.0.1:1", executorUrl: executor.grpcAddr, token: TOKEN });
  let completed = false;
  shell.client.tradeResults$().subscribe({ complete: () => (completed = true) });
  await shell.app.close();
  assert.equal(completed, true);
});
