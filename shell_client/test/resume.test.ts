// resumeBySeq without a server: replays, duplicates, big seqs, backoff, fatal codes.
import { strict as assert } from "node:assert";
import { describe, it } from "node:test";

import { status } from "@grpc/grpc-js";
import { concat, firstValueFrom, NEVER, Observable, of, take, throwError, toArray } from "rxjs";

import { PolyarbRpcError } from "../src";
import { resumeBySeq } from "../src/trade-results";

type Item = { seq: string };
const items = (...seqs: Array<string | number>): Item[] => seqs.map((seq) => ({ seq: String(seq) }));
const grpcError = (code: status, details: string) => Object.assign(new Error(`${code} ${details}`), { code, details });

/** A fake StreamTradeResults: the n-th open plays the n-th script, and the fromSeq asked is recorded. */
function fakeServer(...scripts: Array<Observable<Item>>) {
  const opened: string[] = [];
  const open = (fromSeq: string): Observable<Item> => {
    opened.push(fromSeq);
    return scripts[opened.length - 1] ?? NEVER;
  };
  return { opened, open };
}

const fast = { initialBackoffMs: 1, maxBackoffMs: 4, random: () => 0 };

describe("resumeBySeq", () => {
  it("reopens from the last delivered seq and drops what it has delivered already", async () => {
    const server = fakeServer(
      concat(of(...items(1, 2, 3)), throwError(() => grpcError(status.UNAVAILABLE, "Connection dropped"))),
      of(...items(2, 3, 4, 5)), // a server replaying more than asked, then ending the stream
      concat(of(...items(5, 6, 4, 7)), NEVER), // a duplicate and a step back
    );
    const got = await firstValueFrom(resumeBySeq("S", server.open, { ...fast, fromSeq: 0n }).pipe(take(7), toArray()));
    assert.deepEqual(
      got.map((i) => i.seq),
      ["1", "2", "3", "4", "5", "6", "7"],
    );
    assert.deepEqual(server.opened, ["0", "3", "5"]);
  });

  it("starts after fromSeq", async () => {
    const server = fakeServer(of(...items(41, 42, 43)));
    const got = await firstValueFrom(resumeBySeq("S", server.open, { ...fast, fromSeq: 41n }).pipe(take(2), toArray()));
    assert.deepEqual(got.map((i) => i.seq), ["42", "43"]);
    assert.deepEqual(server.opened, ["41"]);
  });

  it("compares seqs as integers: past 2^53, and 10 after 9", async () => {
    const server = fakeServer(
      of(...items("9", "10")),
      of(...items("9007199254740993", "9007199254740993", "9007199254740994")),
    );
    const got = await firstValueFrom(resumeBySeq("S", server.open, { ...fast, fromSeq: 8n }).pipe(take(4), toArray()));
    assert.deepEqual(got.map((i) => i.seq), ["9", "10", "9007199254740993", "9007199254740994"]);
    assert.deepEqual(server.opened, ["8", "10"]);
  });

  it("backs off exponentially up to the maximum, and starts over after a delivery", async () => {
    const down = () => throwError(() => grpcError(status.UNAVAILABLE, "down"));
    const server = fakeServer(down(), down(), down(), down(), of(...items(1)), down(), of(...items(2)));
    const waits: Array<[number, number]> = [];
    const resumed = resumeBySeq("S", server.open, {
      initialBackoffMs: 2,
      maxBackoffMs: 8,
      random: () => 1,
      fromSeq: 0n,
      onReconnect: ({ attempt, delayMs }) => waits.push([attempt, delayMs]),
    });
    await firstValueFrom(resumed.pipe(take(2), toArray()));
    // random() = 1: the full ceiling, 2, 4, 8, 8; after the stream that delivered 1 ends, 2 and 4 again
    assert.deepEqual(waits, [[1, 2], [2, 4], [3, 8], [4, 8], [1, 2], [2, 4]]);
  });

  for (const code of [status.UNAUTHENTICATED, status.PERMISSION_DENIED, status.UNIMPLEMENTED, status.INVALID_ARGUMENT]) {
    it(`gives up on ${status[code]}: reconnecting cannot fix it`, async () => {
      const server = fakeServer(concat(of(...items(1)), throwError(() => grpcError(code, "no"))));
      const seen: string[] = [];
      const error = await new Promise<unknown>((resolve) =>
        resumeBySeq("Executor.StreamTradeResults", server.open, { ...fast, fromSeq: 0n }).subscribe({
          next: (i) => seen.push(i.seq),
          error: resolve,
        }),
      );
      assert.ok(error instanceof PolyarbRpcError);
      assert.equal(error.code, code);
      assert.equal(error.message, `Executor.StreamTradeResults: ${status[code]}: no`);
      assert.deepEqual(seen, ["1"]);
      assert.deepEqual(server.opened, ["0"]);
    });
  }

  it("keeps its position per subscription (cold)", async () => {
    const server = fakeServer(of(...items(1, 2)), of(...items(1, 2)));
    const resumed = resumeBySeq("S", server.open, { ...fast, fromSeq: 0n });
    assert.deepEqual((await firstValueFrom(resumed.pipe(take(2), toArray()))).map((i) => i.seq), ["1", "2"]);
    assert.deepEqual((await firstValueFrom(resumed.pipe(take(2), toArray()))).map((i) => i.seq), ["1", "2"]);
    assert.deepEqual(server.opened, ["0", "0"]);
  });
});
