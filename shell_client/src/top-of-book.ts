import { concat, defer, NEVER, Observable, of, throwError } from "rxjs";

import type { BookSubscription, TopOfBookBatch } from "./gen/polyarb/v1/ingest";
import { ReconnectOptions, reconnectWithBackoff, streamEnded } from "./reconnect";

/**
 * Ingest's StreamTopOfBook for a fixed set of tokens, surviving its server: on every (re)connect the
 * subscription is sent again, and ingest answers first with a snapshot batch (`snapshot: true`, the
 * current top of book of every token it knows; a token it has never seen comes once as stale with
 * zeros), then one batch per WebSocket frame. `seq` counts per stream, so it starts again at 1 after
 * a reconnect. The request stream stays open for the life of the subscription, as the engine's does.
 *
 * Cold: each subscription opens its own gRPC stream.
 */
export function topOfBookStream(
  rpc: string,
  open: (requests: Observable<BookSubscription>) => Observable<TopOfBookBatch>,
  tokenIds: readonly string[],
  options: ReconnectOptions,
): Observable<TopOfBookBatch> {
  if (!Array.isArray(tokenIds) || tokenIds.length === 0 || tokenIds.some((t) => typeof t !== "string" || t === "")) {
    throw new TypeError(`topOfBook$: tokenIds must be a non-empty array of token ids, got ${JSON.stringify(tokenIds)}`);
  }
  // coalesce false: a market-data consumer gets every frame as its own batch (the engine asks for coalescing)
  const subscription: BookSubscription = { addTokenIds: [...new Set(tokenIds)], removeTokenIds: [], coalesce: false };
  return defer(() => concat(open(concat(of(subscription), NEVER)), throwError(() => streamEnded(rpc)))).pipe(
    reconnectWithBackoff(rpc, options),
  );
}
