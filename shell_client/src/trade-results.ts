import { status } from "@grpc/grpc-js";
import { concat, defer, filter, Observable, retry, throwError, timer } from "rxjs";

import { PolyarbRpcError } from "./errors";
import { toSeq } from "./seq";

/** Errors that a reconnect cannot fix: a wrong token or a client/server mismatch. They end the stream. */
export const FATAL_STREAM_CODES: ReadonlySet<status> = new Set([
  status.UNAUTHENTICATED,
  status.PERMISSION_DENIED,
  status.UNIMPLEMENTED,
  status.INVALID_ARGUMENT,
]);

export interface ResumeOptions {
  /** Deliver results with seq > fromSeq. */
  fromSeq: bigint;
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** Told before each reconnect: why the stream went down, the wait, and the seq it resumes after. */
  onReconnect?: (event: { error: PolyarbRpcError; attempt: number; delayMs: number; fromSeq: string }) => void;
  /** 0..1, for the jitter; Math.random by default (tests pass a constant). */
  random?: () => number;
}

/** Why a stream that ended without an error is reopened: the executor only ends it when it stops. */
const ENDED = (rpc: string) => new PolyarbRpcError(rpc, status.UNAVAILABLE, "stream ended by the server");

/**
 * A stream of `{ seq }` items that survives its server: `open(fromSeq)` must return the items with
 * seq > fromSeq (StreamTradeResults' promise). When the stream errors or ends, it is opened again after
 * a backoff, from the last seq delivered, and anything at or below that seq is dropped, so every seq
 * reaches the subscriber at most once and in increasing order, whatever the server replays.
 *
 * Cold: each subscription keeps its own position and its own gRPC stream.
 */
export function resumeBySeq<T extends { seq: string }>(
  rpc: string,
  open: (fromSeq: string) => Observable<T>,
  options: ResumeOptions,
): Observable<T> {
  const random = options.random ?? Math.random;
  return defer(() => {
    let delivered = options.fromSeq;
    const stream = defer(() => concat(open(delivered.toString()), throwError(() => ENDED(rpc)))).pipe(
      filter((item) => {
        const seq = toSeq(item.seq);
        if (seq <= delivered) {
          return false; // a replay after a reconnect (or a server breaking its promise): seen already
        }
        delivered = seq;
        return true;
      }),
    );
    return stream.pipe(
      retry({
        resetOnSuccess: true, // a delivered item means the stream worked: start the backoff over
        delay: (raw: unknown, attempt: number) => {
          const error = PolyarbRpcError.from(rpc, raw);
          if (FATAL_STREAM_CODES.has(error.code)) {
            return throwError(() => error);
          }
          const ceiling = Math.min(options.maxBackoffMs, options.initialBackoffMs * 2 ** (attempt - 1));
          const delayMs = Math.round(ceiling / 2 + (random() * ceiling) / 2); // "equal jitter"
          options.onReconnect?.({ error, attempt, delayMs, fromSeq: delivered.toString() });
          return timer(delayMs);
        },
      }),
    );
  });
}
