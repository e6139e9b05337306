import { credentials } from "@grpc/grpc-js";
import { ClientProxyFactory, GrpcOptions, Transport } from "@nestjs/microservices";
import type { ClientGrpcProxy } from "@nestjs/microservices";

import { callPolicy } from "./call-policy";
import { POLYARB_V1_PACKAGE_NAME } from "./gen/polyarb/v1/executor";
import type { ResolvedPolyarbOptions } from "./options";
import { PROTO_LOADER_OPTIONS } from "./proto";

/** The @nestjs/microservices client options for one service: the one way we make a channel. */
export function grpcClientOptions(
  url: string,
  protoPath: string,
  options: ResolvedPolyarbOptions,
): GrpcOptions & { transport: Transport.GRPC } {
  const tls = options.tls;
  return {
    transport: Transport.GRPC,
    options: {
      url,
      package: POLYARB_V1_PACKAGE_NAME,
      protoPath,
      loader: { ...PROTO_LOADER_OPTIONS },
      credentials:
        tls === false
          ? credentials.createInsecure()
          : credentials.createSsl(tls.rootCerts ?? null, tls.privateKey ?? null, tls.certChain ?? null),
      // the same keepalive as the Python services' own clients (polyarb.runtime.auth), which their
      // servers allow (a ping every 10 s); it notices a dead connection under an idle trade-result stream
      keepalive: { keepaliveTimeMs: 10_000, keepaliveTimeoutMs: 5_000, keepalivePermitWithoutCalls: 1 },
      channelOptions: {
        "grpc.initial_reconnect_backoff_ms": options.reconnect.initialMs,
        "grpc.max_reconnect_backoff_ms": options.reconnect.maxMs,
        interceptors: [callPolicy(options.token, options.deadlineMs)],
      },
    },
  };
}

export function createGrpcClient(url: string, protoPath: string, options: ResolvedPolyarbOptions): ClientGrpcProxy {
  return ClientProxyFactory.create(grpcClientOptions(url, protoPath, options));
}
