import { concat, defer, filter, Observable, throwError } from "rxjs";

import { PolyarbRpcError } from "./errors";
import { ReconnectOptions, reconnectWithBackoff, streamEnded } from "./reconnect";
import { toSeq } from "./seq";

export { FATAL_STREAM_CODES } from "./reconnect";

export interface ResumeOptions extends Omit<ReconnectOptions, "onReconnect"> {
  /** Deliver results with seq > fromSeq. */
  fromSeq: bigint;
  /** Told before each reconnect: why the stream went down, the wait, and the seq it resumes after. */
  onReconnect?: (event: { error: PolyarbRpcError; attempt: number; delayMs: number; fromSeq: string }) => void;
}

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
  return defer(() => {
    let delivered = options.fromSeq;
    const stream = defer(() => concat(open(delivered.toString()), throwError(() => streamEnded(rpc)))).pipe(
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
      reconnectWithBackoff(rpc, {
        ...options,
        onReconnect: (event) => options.onReconnect?.({ ...event, fromSeq: delivered.toString() }),
      }),
    );
  });
}
