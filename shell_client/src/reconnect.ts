import { status } from "@grpc/grpc-js";
import { MonoTypeOperatorFunction, retry, throwError, timer } from "rxjs";

import { PolyarbRpcError } from "./errors";

/** Errors that a reconnect cannot fix: a wrong token or a client/server mismatch. They end the stream. */
export const FATAL_STREAM_CODES: ReadonlySet<status> = new Set([
  status.UNAUTHENTICATED,
  status.PERMISSION_DENIED,
  status.UNIMPLEMENTED,
  status.INVALID_ARGUMENT,
]);

export interface ReconnectOptions {
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** Told before each reconnect: why the stream went down and the wait. */
  onReconnect?: (event: { error: PolyarbRpcError; attempt: number; delayMs: number }) => void;
  /** 0..1, for the jitter; Math.random by default (tests pass a constant). */
  random?: () => number;
}

/** Why a stream that ended without an error is reopened: the services only end a stream when they stop. */
export const streamEnded = (rpc: string): PolyarbRpcError =>
  new PolyarbRpcError(rpc, status.UNAVAILABLE, "stream ended by the server");

/**
 * Resubscribes to a failed stream after a backoff that doubles from initialBackoffMs up to maxBackoffMs
 * ("equal jitter"), starting over once an item got through; FATAL_STREAM_CODES end it with a
 * PolyarbRpcError. The one reconnect policy of tradeResults$ and topOfBook$.
 */
export function reconnectWithBackoff<T>(rpc: string, options: ReconnectOptions): MonoTypeOperatorFunction<T> {
  const random = options.random ?? Math.random;
  return retry({
    resetOnSuccess: true, // a delivered item means the stream worked: start the backoff over
    delay: (raw: unknown, attempt: number) => {
      const error = PolyarbRpcError.from(rpc, raw);
      if (FATAL_STREAM_CODES.has(error.code)) {
        return throwError(() => error);
      }
      const ceiling = Math.min(options.maxBackoffMs, options.initialBackoffMs * 2 ** (attempt - 1));
      const delayMs = Math.round(ceiling / 2 + (random() * ceiling) / 2);
      options.onReconnect?.({ error, attempt, delayMs });
      return timer(delayMs);
    },
  });
}
