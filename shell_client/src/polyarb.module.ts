import { DynamicModule, Module, OnApplicationShutdown, Provider } from "@nestjs/common";
import type { ClientGrpcProxy } from "@nestjs/microservices";

import { createGrpcClient } from "./channel";
import {
  POLYARB_ENGINE_CLIENT,
  POLYARB_EXECUTOR_CLIENT,
  POLYARB_INGEST_CLIENT,
  POLYARB_OPTIONS,
  PolyarbModuleAsyncOptions,
  PolyarbModuleOptions,
  ResolvedPolyarbOptions,
  resolveOptions,
} from "./options";
import { PolyarbClient } from "./polyarb.client";
import { ENGINE_PROTO, EXECUTOR_PROTO, INGEST_PROTO } from "./proto";

/** Closes a client's channels when the app closes (what ClientsModule does for its own clients). */
function closeOnShutdown(client: ClientGrpcProxy): ClientGrpcProxy & OnApplicationShutdown {
  return Object.assign(client, { onApplicationShutdown: () => client.close() });
}

const clientProviders: Provider[] = [
  {
    provide: POLYARB_ENGINE_CLIENT,
    useFactory: (o: ResolvedPolyarbOptions) => closeOnShutdown(createGrpcClient(o.engineUrl, ENGINE_PROTO, o)),
    inject: [POLYARB_OPTIONS],
  },
  {
    provide: POLYARB_EXECUTOR_CLIENT,
    useFactory: (o: ResolvedPolyarbOptions) => closeOnShutdown(createGrpcClient(o.executorUrl, EXECUTOR_PROTO, o)),
    inject: [POLYARB_OPTIONS],
  },
  {
    provide: POLYARB_INGEST_CLIENT,
    useFactory: (o: ResolvedPolyarbOptions) =>
      o.ingestUrl === undefined ? null : closeOnShutdown(createGrpcClient(o.ingestUrl, INGEST_PROTO, o)),
    inject: [POLYARB_OPTIONS],
  },
  PolyarbClient,
];

const exported = [PolyarbClient, POLYARB_ENGINE_CLIENT, POLYARB_EXECUTOR_CLIENT, POLYARB_INGEST_CLIENT];

/**
 * gRPC clients of engine_svc and executor_svc (@nestjs/microservices, Transport.GRPC, package polyarb.v1,
 * the .proto files shipped in this package) and PolyarbClient on top of them.
 *
 *   imports: [PolyarbModule.forRoot({ engineUrl: "127.0.0.1:50052", executorUrl: "127.0.0.1:50053", token })]
 */
@Module({})
export class PolyarbModule {
  static forRoot(options: PolyarbModuleOptions): DynamicModule {
    return {
      module: PolyarbModule,
      providers: [{ provide: POLYARB_OPTIONS, useValue: resolveOptions(options) }, ...clientProviders],
      exports: exported,
    };
  }

  /** Options from other providers, e.g. `{ imports: [ConfigModule], inject: [ConfigService], useFactory: ... }`. */
  static forRootAsync(options: PolyarbModuleAsyncOptions): DynamicModule {
    return {
      module: PolyarbModule,
      imports: options.imports ?? [],
      providers: [
        {
          provide: POLYARB_OPTIONS,
          useFactory: async (...args: unknown[]) => resolveOptions(await options.useFactory(...args)),
          inject: options.inject ?? [],
        },
        ...clientProviders,
      ],
      exports: exported,
    };
  }
}
