import { Inject, Injectable, Logger, OnModuleDestroy, Optional } from "@nestjs/common";
import type { ClientGrpc } from "@nestjs/microservices";
import { firstValueFrom, Observable, Subject, takeUntil, throwError } from "rxjs";

import { PolyarbRpcError, statusName } from "./errors";
import {
  ENGINE_SERVICE_NAME,
  EngineClient,
  EngineConfig,
  EngineStatus,
  GetEngineStatusRequest,
  MarketStructure,
  UpdateMarketStructureResponse,
} from "./gen/polyarb/v1/engine";
import {
  BalanceState,
  EXECUTOR_SERVICE_NAME,
  ExecutorClient,
  ExecutorConfig,
  ExecutorStatus,
  GetExecutorStatusRequest,
  SetTradingEnabledRequest,
  TradeResult,
  TradingState,
  UpdateBalanceRequest,
} from "./gen/polyarb/v1/executor";
import {
  GetIngestStatusRequest,
  INGEST_SERVICE_NAME,
  IngestClient,
  IngestStatus,
  TopOfBookBatch,
} from "./gen/polyarb/v1/ingest";
import {
  POLYARB_ENGINE_CLIENT,
  POLYARB_EXECUTOR_CLIENT,
  POLYARB_INGEST_CLIENT,
  POLYARB_OPTIONS,
  ResolvedPolyarbOptions,
} from "./options";
import { ReconnectOptions } from "./reconnect";
import { Seq, toSeq } from "./seq";
import { topOfBookStream } from "./top-of-book";
import { resumeBySeq } from "./trade-results";

/** The three services' GetStatus, asked at the same moment. ingest is null without PolyarbModuleOptions.ingestUrl. */
export interface PolyarbStats {
  ingest: IngestStatus | null;
  engine: EngineStatus;
  executor: ExecutorStatus;
}

/**
 * The shell's handle on polyarb. Control calls return Promises (one answer each) and reject with a
 * PolyarbRpcError carrying the gRPC code and the server's reason; tradeResults$ is an Observable.
 * Every call carries the control token; unary calls have a deadline (PolyarbModuleOptions.deadlineMs).
 */
@Injectable()
export class PolyarbClient implements OnModuleDestroy {
  private readonly logger = new Logger(PolyarbClient.name);
  private readonly engine: EngineClient;
  private readonly executor: ExecutorClient;
  private readonly ingest: IngestClient | null;
  private readonly destroyed$ = new Subject<void>();

  constructor(
    @Inject(POLYARB_OPTIONS) private readonly options: ResolvedPolyarbOptions,
    @Inject(POLYARB_ENGINE_CLIENT) engine: ClientGrpc,
    @Inject(POLYARB_EXECUTOR_CLIENT) executor: ClientGrpc,
    @Optional() @Inject(POLYARB_INGEST_CLIENT) ingest: ClientGrpc | null = null,
  ) {
    this.engine = engine.getService<EngineClient>(ENGINE_SERVICE_NAME);
    this.executor = executor.getService<ExecutorClient>(EXECUTOR_SERVICE_NAME);
    this.ingest = ingest === null ? null : ingest.getService<IngestClient>(INGEST_SERVICE_NAME);
  }

  /** Engine.UpdateMarketStructure: validated whole and swapped atomically; INVALID_ARGUMENT names the
   * first fault and the running structure stays. */
  updateMarketStructure(structure: MarketStructure): Promise<UpdateMarketStructureResponse> {
    return this.unary("Engine.UpdateMarketStructure", this.engine.updateMarketStructure(structure));
  }

  /** Engine.UpdateConfig: replaces the whole config (read it from getEngineStatus().config, change, send). */
  updateEngineConfig(config: EngineConfig): Promise<EngineConfig> {
    return this.unary("Engine.UpdateConfig", this.engine.updateConfig(config));
  }

  /** Engine.GetStatus; the request's fields are optional flags (proto3 defaults fill the rest). */
  getEngineStatus(request: Partial<GetEngineStatusRequest> = {}): Promise<EngineStatus> {
    return this.unary("Engine.GetStatus", this.engine.getStatus(request as GetEngineStatusRequest));
  }

  /** Executor.SetTradingEnabled: the executor starts disabled; enabling also closes an open circuit. */
  setTradingEnabled(request: SetTradingEnabledRequest): Promise<TradingState> {
    return this.unary("Executor.SetTradingEnabled", this.executor.setTradingEnabled(request));
  }

  /** Executor.UpdateBalance: replaces collateral and the whole inventory (token id -> shares). */
  updateBalance(request: UpdateBalanceRequest): Promise<BalanceState> {
    return this.unary("Executor.UpdateBalance", this.executor.updateBalance(request));
  }

  /** Executor.UpdateConfig: replaces the whole config (read it from getExecutorStatus().config). */
  updateExecutorConfig(config: ExecutorConfig): Promise<ExecutorConfig> {
    return this.unary("Executor.UpdateConfig", this.executor.updateConfig(config));
  }

  /** Executor.GetStatus; the request's fields are optional flags (proto3 defaults fill the rest). */
  getExecutorStatus(request: Partial<GetExecutorStatusRequest> = {}): Promise<ExecutorStatus> {
    return this.unary("Executor.GetStatus", this.executor.getStatus(request as GetExecutorStatusRequest));
  }

  /**
   * Executor.StreamTradeResults, resumable: every trade result with seq > fromSeq (default "0": the
   * whole journal), then live ones, for as long as you stay subscribed. When the stream fails or ends
   * (executor restarted, network), it reconnects with backoff from the last seq it delivered and drops
   * anything at or below it: each seq is emitted at most once, in increasing order. Keep the last seq
   * you processed and pass it here after your own restart.
   *
   * It errors (PolyarbRpcError) only when reconnecting cannot help: UNAUTHENTICATED, PERMISSION_DENIED,
   * UNIMPLEMENTED, INVALID_ARGUMENT. It completes when the module is destroyed (app.close()).
   * Cold: each subscription opens its own stream; share() it to fan out.
   */
  tradeResults$(fromSeq: Seq = "0"): Observable<TradeResult> {
    const start = toSeq(fromSeq);
    return resumeBySeq("Executor.StreamTradeResults", (from) => this.executor.streamTradeResults({ fromSeq: from }), {
      fromSeq: start,
      initialBackoffMs: this.options.reconnect.initialMs,
      maxBackoffMs: this.options.reconnect.maxMs,
      onReconnect: ({ error, attempt, delayMs, fromSeq: after }) =>
        this.logger.warn(
          `trade-result stream down (${statusName(error.code)}: ${error.details}); ` +
            `reconnect #${attempt} in ${delayMs} ms from seq ${after}`,
        ),
    }).pipe(takeUntil(this.destroyed$));
  }

  /**
   * Ingest.StreamTopOfBook for these tokens, reconnecting: each (re)connect answers first with a snapshot
   * batch (`snapshot: true`: the current top of book of every token; one never seen comes as stale with
   * zeros), then one batch per WebSocket frame, applied whole. A `stale` top of book may be wrong: never
   * trade on it. `seq` counts per stream and starts again at 1 after a reconnect (a new snapshot).
   * Errors like tradeResults$ (UNAUTHENTICATED, ...), and at once when the module has no ingestUrl.
   * Completes on app.close(). Cold: one gRPC stream per subscription.
   */
  topOfBook$(tokenIds: readonly string[]): Observable<TopOfBookBatch> {
    const ingest = this.ingest;
    if (ingest === null) {
      return throwError(() => new Error("PolyarbClient.topOfBook$: PolyarbModule was configured without ingestUrl"));
    }
    return topOfBookStream("Ingest.StreamTopOfBook", (requests) => ingest.streamTopOfBook(requests), tokenIds, this.backoff("top-of-book")).pipe(takeUntil(this.destroyed$));
  }

  /** Ingest.GetStatus, Engine.GetStatus and Executor.GetStatus at once; rejects with the first failure
   * (a PolyarbRpcError naming its RPC). ingest is null when the module has no ingestUrl. */
  async stats(): Promise<PolyarbStats> {
    const ingest = this.ingest;
    const [ingestStatus, engine, executor] = await Promise.all([
      ingest === null
        ? Promise.resolve(null)
        : this.unary("Ingest.GetStatus", ingest.getStatus({} as GetIngestStatusRequest)),
      this.getEngineStatus(),
      this.getExecutorStatus(),
    ]);
    return { ingest: ingestStatus, engine, executor };
  }

  onModuleDestroy(): void {
    this.destroyed$.next();
    this.destroyed$.complete();
  }

  private backoff(stream: string): ReconnectOptions {
    return {
      initialBackoffMs: this.options.reconnect.initialMs,
      maxBackoffMs: this.options.reconnect.maxMs,
      onReconnect: ({ error, attempt, delayMs }) =>
        this.logger.warn(
          `${stream} stream down (${statusName(error.code)}: ${error.details}); reconnect #${attempt} in ${delayMs} ms`,
        ),
    };
  }

  private async unary<T>(rpc: string, call: Observable<T>): Promise<T> {
    try {
      return await firstValueFrom(call);
    } catch (error) {
      throw PolyarbRpcError.from(rpc, error);
    }
  }
}
