// PolyarbModuleOptions: defaults, refusals, credentials.
import { strict as assert } from "node:assert";
import { describe, it } from "node:test";

import { credentials } from "@grpc/grpc-js";

import { EXECUTOR_PROTO } from "../src";
import { grpcClientOptions } from "../src/channel";
import { resolveOptions } from "../src/options";

describe("module options", () => {
  it("fills defaults and treats an empty token as none", () => {
    assert.deepEqual(resolveOptions({ engineUrl: "127.0.0.1:50052", executorUrl: "127.0.0.1:50053", token: "" }), {
      engineUrl: "127.0.0.1:50052",
      executorUrl: "127.0.0.1:50053",
      ingestUrl: undefined,
      token: undefined,
      tls: false,
      deadlineMs: 5000,
      reconnect: { initialMs: 200, maxMs: 5000 },
    });
  });

  it("refuses what cannot work, saying why", () => {
    const base = { engineUrl: "127.0.0.1:50052", executorUrl: "127.0.0.1:50053", token: "t" };
    assert.throws(() => resolveOptions({ ...base, engineUrl: "" }), /engineUrl must be a gRPC target/);
    assert.throws(() => resolveOptions({ ...base, deadlineMs: 0 }), /deadlineMs must be a positive number/);
    assert.throws(() => resolveOptions({ ...base, reconnect: { initialMs: 10, maxMs: 5 } }), /reconnect.maxMs/);
    assert.throws(() => resolveOptions({ ...base, token: "a\nb" }), /one line/);
    assert.throws(() => resolveOptions({ ...base, ingestUrl: "" }), /ingestUrl must be a gRPC target/);
    assert.throws(() => resolveOptions({ ...base, tls: { certChain: Buffer.from("x") } }), /go together/);
    assert.equal(resolveOptions({ ...base, ingestUrl: "127.0.0.1:50051" }).ingestUrl, "127.0.0.1:50051");
  });

  it("tls: true gives TLS credentials with the system roots; none gives plaintext", () => {
    const base = { engineUrl: "h:1", executorUrl: "h:2", token: "t" };
    const secure = grpcClientOptions("h:1", EXECUTOR_PROTO, resolveOptions({ ...base, tls: true })).options.credentials;
    const plain = grpcClientOptions("h:1", EXECUTOR_PROTO, resolveOptions(base)).options.credentials;
    assert.equal(secure._isSecure(), true);
    assert.equal(plain._isSecure(), false);
    assert.equal(plain.constructor, credentials.createInsecure().constructor);
  });
});
