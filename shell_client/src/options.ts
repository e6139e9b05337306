import type { InjectionToken, ModuleMetadata, OptionalFactoryDependency } from "@nestjs/common";

export interface PolyarbTlsOptions {
  /** PEM roots to trust; the system roots when omitted. */
  rootCerts?: Buffer;
  /** Client certificate and key, for mutual TLS. */
  privateKey?: Buffer;
  certChain?: Buffer;
}

export interface PolyarbModuleOptions {
  /** engine_svc gRPC address, HOST:PORT (`make run`: 127.0.0.1:50052). */
  engineUrl: string;
  /** executor_svc gRPC address, HOST:PORT (`make run`: 127.0.0.1:50053). */
  executorUrl: string;
  /** ingest_svc gRPC address, HOST:PORT (`make run`: 127.0.0.1:50051), for topOfBook$ and stats().
   * Optional: without it topOfBook$ errors and stats() reports ingest as null. */
  ingestUrl?: string;
  /** The services' control token (POLYARB_CONTROL_TOKEN); sent as `authorization: Bearer <token>` on
   * every call. Undefined or empty: no header (services started without a token). */
  token: string | undefined;
  /** TLS to the services: true for the system roots, or certificates. Default: plaintext (localhost). */
  tls?: boolean | PolyarbTlsOptions;
  /** Deadline of every unary call, in ms (default 5000). Streams have none. */
  deadlineMs?: number;
  /** Backoff of tradeResults$ between reconnects: doubles from initialMs up to maxMs, with jitter
   * (default 200 ms up to 5000 ms). maxMs also caps grpc-js's own reconnect backoff. */
  reconnect?: { initialMs?: number; maxMs?: number };
}

export interface PolyarbModuleAsyncOptions extends Pick<ModuleMetadata, "imports"> {
  useFactory: (...args: any[]) => PolyarbModuleOptions | Promise<PolyarbModuleOptions>;
  inject?: Array<InjectionToken | OptionalFactoryDependency>;
}

/** The options as used: defaults filled in, checked. */
export interface ResolvedPolyarbOptions {
  engineUrl: string;
  executorUrl: string;
  ingestUrl: string | undefined;
  token: string | undefined;
  tls: false | PolyarbTlsOptions;
  deadlineMs: number;
  reconnect: { initialMs: number; maxMs: number };
}

/** Injection tokens. POLYARB_ENGINE_CLIENT and POLYARB_EXECUTOR_CLIENT are the raw @nestjs/microservices
 * ClientGrpc of each service (same channel, token and deadlines as PolyarbClient), for calls PolyarbClient
 * does not wrap: `client.getService<ExecutorClient>(EXECUTOR_SERVICE_NAME)`. */
export const POLYARB_OPTIONS = "POLYARB_OPTIONS";
export const POLYARB_ENGINE_CLIENT = "POLYARB_ENGINE_CLIENT";
export const POLYARB_EXECUTOR_CLIENT = "POLYARB_EXECUTOR_CLIENT";
/** The raw ClientGrpc of ingest_svc, or null when no ingestUrl was given. */
export const POLYARB_INGEST_CLIENT = "POLYARB_INGEST_CLIENT";

export function resolveOptions(options: PolyarbModuleOptions): ResolvedPolyarbOptions {
  const fail = (why: string): never => {
    throw new Error(`PolyarbModule: ${why}`);
  };
  const urls: Array<"engineUrl" | "executorUrl" | "ingestUrl"> = ["engineUrl", "executorUrl"];
  if (options.ingestUrl !== undefined) {
    urls.push("ingestUrl");
  }
  for (const key of urls) {
    const url = options[key];
    if (typeof url !== "string" || !/^\S+$/.test(url)) {
      fail(`${key} must be a gRPC target such as HOST:PORT, got ${JSON.stringify(options[key])}`);
    }
  }
  const deadlineMs = options.deadlineMs ?? 5000;
  const initialMs = options.reconnect?.initialMs ?? 200;
  const maxMs = options.reconnect?.maxMs ?? 5000;
  const durations = [["deadlineMs", deadlineMs], ["reconnect.initialMs", initialMs], ["reconnect.maxMs", maxMs]] as const;
  for (const [name, value] of durations) {
    if (!Number.isFinite(value) || value <= 0) {
      fail(`${name} must be a positive number of ms, got ${value}`);
    }
  }
  if (maxMs < initialMs) {
    fail(`reconnect.maxMs (${maxMs}) must be >= reconnect.initialMs (${initialMs})`);
  }
  const token = options.token === undefined || options.token === "" ? undefined : options.token;
  if (token !== undefined && /[\r\n]/.test(token)) {
    fail("token must be one line");
  }
  const tls = options.tls === true ? {} : options.tls || false;
  if (tls !== false && (tls.privateKey === undefined) !== (tls.certChain === undefined)) {
    fail("tls.privateKey and tls.certChain go together (mutual TLS): give both or neither");
  }
  const { engineUrl, executorUrl, ingestUrl } = options;
  return { engineUrl, executorUrl, ingestUrl, token, tls, deadlineMs, reconnect: { initialMs, maxMs } };
}
