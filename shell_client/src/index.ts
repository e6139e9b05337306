// @polyarb/shell-client: what the NestJS shell imports.
export { PolyarbModule } from "./polyarb.module";
export { PolyarbClient, type PolyarbStats } from "./polyarb.client";
export {
  POLYARB_ENGINE_CLIENT,
  POLYARB_EXECUTOR_CLIENT,
  POLYARB_INGEST_CLIENT,
  POLYARB_OPTIONS,
  type PolyarbModuleAsyncOptions,
  type PolyarbModuleOptions,
  type PolyarbTlsOptions,
} from "./options";
export { PolyarbRpcError, statusName } from "./errors";
export { type Seq, toSeq } from "./seq";
export { FATAL_STREAM_CODES } from "./trade-results";
export { ENGINE_PROTO, EXECUTOR_PROTO, INGEST_PROTO, PROTO_LOADER_OPTIONS, PROTO_ROOT } from "./proto";

// The generated types and constants. POLYARB_V1_PACKAGE_NAME and *_SERVICE_NAME make a rename in proto/
// break the shell's compilation. Named one by one because every generated file declares its own
// protobufFileName (so `export *` is ambiguous); test/exports.test.ts checks nothing generated is missing.
export type { PeerState, ServiceInfo, Trace } from "./gen/polyarb/v1/common";
export {
  ENGINE_SERVICE_NAME,
  type EngineClient,
  type EngineConfig,
  type EngineController,
  EngineControllerMethods,
  type EngineStatus,
  type EngineStatus_SignalsByStrategyEntry,
  type GetEngineStatusRequest,
  type InstanceView,
  type LegView,
  type Market,
  type MarketStructure,
  type OutcomeSet,
  type Trio,
  type UpdateMarketStructureResponse,
} from "./gen/polyarb/v1/engine";
export {
  type BalanceFigures,
  BalanceSource,
  type BalanceState,
  type BalanceState_InventoryEntry,
  EXECUTOR_SERVICE_NAME,
  type ExecutorClient,
  type ExecutorConfig,
  type ExecutorController,
  ExecutorControllerMethods,
  type ExecutorStatus,
  type GetExecutorStatusRequest,
  type Leg,
  type LegResult,
  Outcome,
  POLYARB_V1_PACKAGE_NAME,
  type Portfolio,
  type Position,
  protobufPackage,
  type SetTradingEnabledRequest,
  Side,
  type Signal,
  type SignalAck,
  Strategy,
  type StrategyPnl,
  type StreamTradeResultsRequest,
  type TradeResult,
  type TradingState,
  type UnknownBatch,
  type UpdateBalanceRequest,
  type UpdateBalanceRequest_InventoryEntry,
} from "./gen/polyarb/v1/executor";
export {
  type BookSubscription,
  type GetIngestStatusRequest,
  INGEST_SERVICE_NAME,
  type IngestClient,
  type IngestController,
  IngestControllerMethods,
  type IngestStatus,
  type TopOfBook,
  type TopOfBookBatch,
} from "./gen/polyarb/v1/ingest";
