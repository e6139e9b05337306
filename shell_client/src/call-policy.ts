import { InterceptingCall, Interceptor } from "@grpc/grpc-js";

/**
 * The one place every call through our channels gets its control token and, when unary, its deadline.
 *
 * Unary calls also wait for the channel to be ready (up to that deadline) instead of failing at once
 * with UNAVAILABLE while grpc-js is between reconnect attempts, e.g. just after an executor restart:
 * a control call then succeeds as soon as the service is back, or fails with DEADLINE_EXCEEDED. They
 * are not retried once sent. Streams fail fast: tradeResults$ has its own backoff.
 *
 * It is a grpc-js client interceptor installed on the channel (not a Metadata argument per call), so
 * that calls made through the raw ClientGrpc providers are authenticated too, and so that a second copy
 * of @grpc/grpc-js in a consumer's tree cannot make grpc-js mistake our Metadata for call options
 * (it tells them apart with `instanceof Metadata`) and silently drop the token.
 */
export function callPolicy(token: string | undefined, unaryDeadlineMs: number): Interceptor {
  const authorization = token ? `Bearer ${token}` : undefined;
  return (options, nextCall) => {
    const method = options.method_definition;
    const unary = !method.requestStream && !method.responseStream;
    // Streams live as long as the consumer wants; a unary call without a deadline can hang forever.
    const withDeadline =
      unary && options.deadline === undefined ? { ...options, deadline: Date.now() + unaryDeadlineMs } : options;
    return new InterceptingCall(nextCall(withDeadline), {
      start(metadata, listener, next) {
        if (authorization !== undefined) {
          metadata.set("authorization", authorization);
        }
        if (unary) {
          metadata.setOptions({ ...metadata.getOptions(), waitForReady: true });
        }
        next(metadata, listener);
      },
    });
  };
}
