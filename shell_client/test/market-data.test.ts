// Issue 18: topOfBook$ delivers the paper venue's books and stats() the three services' statuses, with
// every gRPC port on mutual TLS (certificates made for the test) and the package's `tls` option.
import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";

import { firstValueFrom, Subscription, timeout } from "rxjs";

import { PolyarbRpcError, PolyarbTlsOptions, TopOfBook } from "../src";
import { eventually, Shell, startShell } from "./fixtures";
import { makePki, Pki, removeTempDirs, Service, tempDir } from "./services";

const TOKEN = "market-data-test-token";

interface Book {
  bids: Array<{ price: string; size: string }>;
  asks: Array<{ price: string; size: string }>;
}

describe("market data and stats over mutual TLS", () => {
  let pki: Pki;
  let venueHttp: string;
  let venueWs: string;
  let served: string[];
  let tokenIds: string[];
  let services: { ingest: Service; engine: Service; executor: Service };
  let shell: Shell;
  const shells: Shell[] = [];

  const clientTls = (cert: "client" | "stranger" | "none"): PolyarbTlsOptions => ({
    rootCerts: readFileSync(pki.ca),
    ...(cert === "none"
      ? {}
      : {
          certChain: readFileSync(cert === "client" ? pki.clientCert : pki.strangerCert),
          privateKey: readFileSync(cert === "client" ? pki.clientKey : pki.strangerKey),
        }),
  });
  const urls = () => ({
    ingestUrl: services.ingest.grpcAddr,
    engineUrl: services.engine.grpcAddr,
    executorUrl: services.executor.grpcAddr,
  });

  before(async () => {
    pki = makePki();
    served = ["--tls-cert-file", pki.serverCert, "--tls-key-file", pki.serverKey, "--tls-client-ca-file", pki.ca];
    const venue = await Service.start("paper_venue", [
      "--scenario", "manual", "--ws-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--seed", "7",
    ]);
    venueHttp = `http://${venue.servingField("http_addr")}`;
    venueWs = `ws://${venue.servingField("ws_addr")}/ws/market`;
    const structure = (await (await fetch(`${venueHttp}/admin/structure`)).json()) as {
      trios: Array<Record<"lower" | "upper" | "range", { yes_token_id: string; no_token_id: string }>>;
    };
    const trio = structure.trios[0];
    tokenIds = [trio.lower.yes_token_id, trio.upper.no_token_id, trio.range.no_token_id];
    const ingest = await Service.start(
      "ingest_svc", ["--ws-url", venueWs, ...served], { token: TOKEN });
    const executor = await Service.start(
      "executor_svc", ["--mode", "dry-run", "--journal", `${tempDir()}/journal.sqlite`, ...served], { token: TOKEN });
    const engine = await Service.start("engine_svc", [
      "--ingest-addr", ingest.grpcAddr, "--executor-addr", executor.grpcAddr, ...served,
      "--peer-tls-ca-file", pki.ca, "--peer-tls-cert-file", pki.clientCert, "--peer-tls-key-file", pki.clientKey,
    ], { token: TOKEN });
    services = { ingest, engine, executor };
    shell = await startShell({ ...urls(), token: TOKEN, tls: clientTls("client"), reconnect: { initialMs: 50, maxMs: 500 } });
    shells.push(shell);
  });

  after(async () => {
    await Promise.all(shells.map((s) => s.app.close()));
    await Service.stopAll();
    removeTempDirs();
  });

  it("topOfBook$ answers with a snapshot first, then the venue's books, typed", async () => {
    const latest = new Map<string, TopOfBook>();
    const batches: Array<{ snapshot: boolean; seq: string }> = [];
    const subscription: Subscription = shell.client.topOfBook$(tokenIds).subscribe((batch) => {
      batches.push({ snapshot: batch.snapshot, seq: batch.seq });
      for (const update of batch.updates) {
        latest.set(update.tokenId, update);
      }
    });
    try {
      await eventually(
        () => tokenIds.every((t) => latest.get(t)?.stale === false),
        () => `tops so far: ${JSON.stringify([...latest.values()])}`,
      );
      assert.equal(batches[0].snapshot, true);
      assert.equal(batches[0].seq, "1");
      for (const tokenId of tokenIds) {
        const book = (await (await fetch(`${venueHttp}/book?token_id=${tokenId}`)).json()) as Book;
        const top = latest.get(tokenId)!;
        assert.equal(top.bidPrice, Math.max(...book.bids.map((l) => Number(l.price))));
        assert.equal(top.askPrice, Math.min(...book.asks.map((l) => Number(l.price))));
        assert.ok(top.askSize > 0 && top.bidSize > 0 && top.tickSize > 0, JSON.stringify(top));
        assert.equal(typeof top.venueTsMs, "string"); // int64: a decimal string
      }
    } finally {
      subscription.unsubscribe();
    }
  });

  it("topOfBook$ reconnects when ingest restarts, and starts again with a snapshot", async () => {
    const seen: Array<{ snapshot: boolean; seq: string }> = [];
    const subscription = shell.client.topOfBook$(tokenIds).subscribe((b) => seen.push({ snapshot: b.snapshot, seq: b.seq }));
    try {
      await eventually(() => seen.length > 0, () => "no first batch");
      const port = services.ingest.port;
      await services.ingest.kill();
      const before = seen.length;
      services.ingest = await Service.start("ingest_svc", ["--ws-url", venueWs, ...served], {
        token: TOKEN,
        grpcAddr: `127.0.0.1:${port}`,
      });
      await eventually(() => seen.slice(before).some((b) => b.snapshot && b.seq === "1"), () => JSON.stringify(seen));
    } finally {
      subscription.unsubscribe();
    }
  });

  it("stats() returns the three statuses in one object", async () => {
    const stats = await shell.client.stats();
    assert.equal(stats.ingest?.info?.service, "ingest");
    assert.equal(stats.engine.info?.service, "engine");
    assert.equal(stats.executor.info?.service, "executor");
    assert.equal(stats.engine.peerTls, true);
    assert.equal(stats.executor.trading?.mode, "dry-run");
    // the executor's book from its journal (empty here): typed, present, with its cap
    assert.deepEqual(stats.executor.portfolio?.positions, []);
    assert.equal(stats.executor.portfolio?.maxExposure, 1000);
    assert.equal(stats.executor.portfolio?.throughSeq, "0");
  });

  it("without a client certificate, or with one from another CA, the services refuse the shell", async () => {
    for (const cert of ["none", "stranger"] as const) {
      const refused = await startShell({ ...urls(), token: TOKEN, tls: clientTls(cert), deadlineMs: 2000 });
      shells.push(refused);
      const error = await refused.client.stats().then(
        () => assert.fail("stats() succeeded without a valid client certificate"),
        (e: unknown) => e,
      );
      assert.ok(error instanceof PolyarbRpcError, String(error));
      assert.ok(["UNAVAILABLE", "DEADLINE_EXCEEDED"].includes(error.codeName), error.message);
      // the stream keeps trying (UNAVAILABLE is not fatal) and never delivers a batch
      await assert.rejects(firstValueFrom(refused.client.topOfBook$(tokenIds).pipe(timeout(1500))), {
        name: "TimeoutError",
      });
    }
  });

  it("topOfBook$ without ingestUrl errors at once; stats() reports ingest as null", async () => {
    const { ingestUrl: _unused, ...withoutIngest } = urls();
    const partial = await startShell({ ...withoutIngest, token: TOKEN, tls: clientTls("client") });
    shells.push(partial);
    await assert.rejects(firstValueFrom(partial.client.topOfBook$(tokenIds)), /without ingestUrl/);
    const stats = await partial.client.stats();
    assert.equal(stats.ingest, null);
    assert.equal(stats.engine.info?.service, "engine");
    assert.throws(() => shell.client.topOfBook$([]), /non-empty array/);
  });
});
