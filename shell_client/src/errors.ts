import { status } from "@grpc/grpc-js";

/**
 * A failed RPC: the gRPC status code (and its name) and the server's reason, e.g.
 * `Engine.UpdateMarketStructure: INVALID_ARGUMENT: trio #0 (t1): lower_bound 2.0 must be < upper_bound 1.0`.
 */
export class PolyarbRpcError extends Error {
  override readonly name = "PolyarbRpcError";

  constructor(
    /** "Engine.UpdateMarketStructure", "Executor.StreamTradeResults", ... */
    readonly rpc: string,
    /** The gRPC status code (status.INVALID_ARGUMENT is 3). */
    readonly code: status,
    /** The server's reason (grpc `details`). */
    readonly details: string,
    options?: { cause?: unknown },
  ) {
    super(`${rpc}: ${statusName(code)}: ${details}`, options);
  }

  /** "INVALID_ARGUMENT", "UNAUTHENTICATED", ... */
  get codeName(): string {
    return statusName(this.code);
  }

  /** Wraps what a @nestjs/microservices gRPC call fails with (a grpc-js ServiceError) or anything else. */
  static from(rpc: string, error: unknown): PolyarbRpcError {
    if (error instanceof PolyarbRpcError) {
      return error;
    }
    if (isServiceError(error)) {
      return new PolyarbRpcError(rpc, error.code, error.details ?? error.message, { cause: error });
    }
    const message = error instanceof Error ? error.message : String(error);
    return new PolyarbRpcError(rpc, status.UNKNOWN, message, { cause: error });
  }
}

export function statusName(code: status): string {
  return status[code] ?? `CODE_${code}`;
}

function isServiceError(error: unknown): error is { code: status; details?: string; message: string } {
  return (
    typeof error === "object" &&
    error !== null &&
    typeof (error as { code?: unknown }).code === "number" &&
    typeof (error as { message?: unknown }).message === "string"
  );
}
