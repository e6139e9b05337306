from polyarb.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Side(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIDE_UNSPECIFIED: _ClassVar[Side]
    SIDE_BUY: _ClassVar[Side]
    SIDE_SELL: _ClassVar[Side]

class Strategy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STRATEGY_UNSPECIFIED: _ClassVar[Strategy]
    STRATEGY_TRIO: _ClassVar[Strategy]
    STRATEGY_COMPLEMENT_TRIO: _ClassVar[Strategy]
    STRATEGY_BUNDLE: _ClassVar[Strategy]
    STRATEGY_UNBUNDLE: _ClassVar[Strategy]

class BalanceSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BALANCE_SOURCE_UNSPECIFIED: _ClassVar[BalanceSource]
    BALANCE_SOURCE_PUSHED: _ClassVar[BalanceSource]
    BALANCE_SOURCE_CLOB: _ClassVar[BalanceSource]
    BALANCE_SOURCE_UNKNOWN: _ClassVar[BalanceSource]

class Outcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OUTCOME_UNSPECIFIED: _ClassVar[Outcome]
    OUTCOME_FILLED: _ClassVar[Outcome]
    OUTCOME_PARTIAL: _ClassVar[Outcome]
    OUTCOME_REJECTED: _ClassVar[Outcome]
    OUTCOME_UNKNOWN: _ClassVar[Outcome]
    OUTCOME_DRY_RUN: _ClassVar[Outcome]
SIDE_UNSPECIFIED: Side
SIDE_BUY: Side
SIDE_SELL: Side
STRATEGY_UNSPECIFIED: Strategy
STRATEGY_TRIO: Strategy
STRATEGY_COMPLEMENT_TRIO: Strategy
STRATEGY_BUNDLE: Strategy
STRATEGY_UNBUNDLE: Strategy
BALANCE_SOURCE_UNSPECIFIED: BalanceSource
BALANCE_SOURCE_PUSHED: BalanceSource
BALANCE_SOURCE_CLOB: BalanceSource
BALANCE_SOURCE_UNKNOWN: BalanceSource
OUTCOME_UNSPECIFIED: Outcome
OUTCOME_FILLED: Outcome
OUTCOME_PARTIAL: Outcome
OUTCOME_REJECTED: Outcome
OUTCOME_UNKNOWN: Outcome
OUTCOME_DRY_RUN: Outcome

class Leg(_message.Message):
    __slots__ = ("token_id", "side", "price", "size", "tick_size", "min_order_size", "neg_risk", "fee_rate_bps")
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    TICK_SIZE_FIELD_NUMBER: _ClassVar[int]
    MIN_ORDER_SIZE_FIELD_NUMBER: _ClassVar[int]
    NEG_RISK_FIELD_NUMBER: _ClassVar[int]
    FEE_RATE_BPS_FIELD_NUMBER: _ClassVar[int]
    token_id: str
    side: Side
    price: float
    size: float
    tick_size: float
    min_order_size: float
    neg_risk: bool
    fee_rate_bps: float
    def __init__(self, token_id: _Optional[str] = ..., side: _Optional[_Union[Side, str]] = ..., price: _Optional[float] = ..., size: _Optional[float] = ..., tick_size: _Optional[float] = ..., min_order_size: _Optional[float] = ..., neg_risk: _Optional[bool] = ..., fee_rate_bps: _Optional[float] = ...) -> None: ...

class Signal(_message.Message):
    __slots__ = ("signal_id", "instance_id", "strategy", "legs", "payout", "expected_profit", "trace", "min_profit_abs")
    SIGNAL_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    LEGS_FIELD_NUMBER: _ClassVar[int]
    PAYOUT_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_PROFIT_FIELD_NUMBER: _ClassVar[int]
    TRACE_FIELD_NUMBER: _ClassVar[int]
    MIN_PROFIT_ABS_FIELD_NUMBER: _ClassVar[int]
    signal_id: str
    instance_id: str
    strategy: Strategy
    legs: _containers.RepeatedCompositeFieldContainer[Leg]
    payout: float
    expected_profit: float
    trace: _common_pb2.Trace
    min_profit_abs: float
    def __init__(self, signal_id: _Optional[str] = ..., instance_id: _Optional[str] = ..., strategy: _Optional[_Union[Strategy, str]] = ..., legs: _Optional[_Iterable[_Union[Leg, _Mapping]]] = ..., payout: _Optional[float] = ..., expected_profit: _Optional[float] = ..., trace: _Optional[_Union[_common_pb2.Trace, _Mapping]] = ..., min_profit_abs: _Optional[float] = ...) -> None: ...

class SignalAck(_message.Message):
    __slots__ = ("signal_id", "accepted", "reason", "done", "outcome", "result_seq")
    SIGNAL_ID_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    RESULT_SEQ_FIELD_NUMBER: _ClassVar[int]
    signal_id: str
    accepted: bool
    reason: str
    done: bool
    outcome: Outcome
    result_seq: int
    def __init__(self, signal_id: _Optional[str] = ..., accepted: _Optional[bool] = ..., reason: _Optional[str] = ..., done: _Optional[bool] = ..., outcome: _Optional[_Union[Outcome, str]] = ..., result_seq: _Optional[int] = ...) -> None: ...

class SetTradingEnabledRequest(_message.Message):
    __slots__ = ("enabled", "reason")
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    enabled: bool
    reason: str
    def __init__(self, enabled: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class TradingState(_message.Message):
    __slots__ = ("enabled", "reason", "mode", "circuit_open")
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    CIRCUIT_OPEN_FIELD_NUMBER: _ClassVar[int]
    enabled: bool
    reason: str
    mode: str
    circuit_open: bool
    def __init__(self, enabled: _Optional[bool] = ..., reason: _Optional[str] = ..., mode: _Optional[str] = ..., circuit_open: _Optional[bool] = ...) -> None: ...

class UpdateBalanceRequest(_message.Message):
    __slots__ = ("collateral", "inventory")
    class InventoryEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    COLLATERAL_FIELD_NUMBER: _ClassVar[int]
    INVENTORY_FIELD_NUMBER: _ClassVar[int]
    collateral: float
    inventory: _containers.ScalarMap[str, float]
    def __init__(self, collateral: _Optional[float] = ..., inventory: _Optional[_Mapping[str, float]] = ...) -> None: ...

class BalanceState(_message.Message):
    __slots__ = ("collateral", "reserved", "inventory")
    class InventoryEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    COLLATERAL_FIELD_NUMBER: _ClassVar[int]
    RESERVED_FIELD_NUMBER: _ClassVar[int]
    INVENTORY_FIELD_NUMBER: _ClassVar[int]
    collateral: float
    reserved: float
    inventory: _containers.ScalarMap[str, float]
    def __init__(self, collateral: _Optional[float] = ..., reserved: _Optional[float] = ..., inventory: _Optional[_Mapping[str, float]] = ...) -> None: ...

class ExecutorConfig(_message.Message):
    __slots__ = ("max_signal_age_ms", "slippage_ticks", "breaker_failures", "http_timeout_ms", "max_exposure", "order_type", "min_marketable_buy_pusd")
    MAX_SIGNAL_AGE_MS_FIELD_NUMBER: _ClassVar[int]
    SLIPPAGE_TICKS_FIELD_NUMBER: _ClassVar[int]
    BREAKER_FAILURES_FIELD_NUMBER: _ClassVar[int]
    HTTP_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_EXPOSURE_FIELD_NUMBER: _ClassVar[int]
    ORDER_TYPE_FIELD_NUMBER: _ClassVar[int]
    MIN_MARKETABLE_BUY_PUSD_FIELD_NUMBER: _ClassVar[int]
    max_signal_age_ms: int
    slippage_ticks: int
    breaker_failures: int
    http_timeout_ms: int
    max_exposure: float
    order_type: str
    min_marketable_buy_pusd: float
    def __init__(self, max_signal_age_ms: _Optional[int] = ..., slippage_ticks: _Optional[int] = ..., breaker_failures: _Optional[int] = ..., http_timeout_ms: _Optional[int] = ..., max_exposure: _Optional[float] = ..., order_type: _Optional[str] = ..., min_marketable_buy_pusd: _Optional[float] = ...) -> None: ...

class GetExecutorStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ExecutorStatus(_message.Message):
    __slots__ = ("trading", "balance", "config", "in_flight", "last_seq", "info", "peers", "last_results", "signer_address", "consecutive_failures", "unknown_batches", "in_flight_instance_ids", "balance_source", "balance_age_s", "balance_figures", "portfolio")
    TRADING_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    INFO_FIELD_NUMBER: _ClassVar[int]
    PEERS_FIELD_NUMBER: _ClassVar[int]
    LAST_RESULTS_FIELD_NUMBER: _ClassVar[int]
    SIGNER_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    CONSECUTIVE_FAILURES_FIELD_NUMBER: _ClassVar[int]
    UNKNOWN_BATCHES_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_INSTANCE_IDS_FIELD_NUMBER: _ClassVar[int]
    BALANCE_SOURCE_FIELD_NUMBER: _ClassVar[int]
    BALANCE_AGE_S_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIGURES_FIELD_NUMBER: _ClassVar[int]
    PORTFOLIO_FIELD_NUMBER: _ClassVar[int]
    trading: TradingState
    balance: BalanceState
    config: ExecutorConfig
    in_flight: int
    last_seq: int
    info: _common_pb2.ServiceInfo
    peers: _containers.RepeatedCompositeFieldContainer[_common_pb2.PeerState]
    last_results: _containers.RepeatedCompositeFieldContainer[TradeResult]
    signer_address: str
    consecutive_failures: int
    unknown_batches: _containers.RepeatedCompositeFieldContainer[UnknownBatch]
    in_flight_instance_ids: _containers.RepeatedScalarFieldContainer[str]
    balance_source: BalanceSource
    balance_age_s: float
    balance_figures: BalanceFigures
    portfolio: Portfolio
    def __init__(self, trading: _Optional[_Union[TradingState, _Mapping]] = ..., balance: _Optional[_Union[BalanceState, _Mapping]] = ..., config: _Optional[_Union[ExecutorConfig, _Mapping]] = ..., in_flight: _Optional[int] = ..., last_seq: _Optional[int] = ..., info: _Optional[_Union[_common_pb2.ServiceInfo, _Mapping]] = ..., peers: _Optional[_Iterable[_Union[_common_pb2.PeerState, _Mapping]]] = ..., last_results: _Optional[_Iterable[_Union[TradeResult, _Mapping]]] = ..., signer_address: _Optional[str] = ..., consecutive_failures: _Optional[int] = ..., unknown_batches: _Optional[_Iterable[_Union[UnknownBatch, _Mapping]]] = ..., in_flight_instance_ids: _Optional[_Iterable[str]] = ..., balance_source: _Optional[_Union[BalanceSource, str]] = ..., balance_age_s: _Optional[float] = ..., balance_figures: _Optional[_Union[BalanceFigures, _Mapping]] = ..., portfolio: _Optional[_Union[Portfolio, _Mapping]] = ...) -> None: ...

class UnknownBatch(_message.Message):
    __slots__ = ("seq", "signal_id", "instance_id", "posted_ns", "age_ms", "probes")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    POSTED_NS_FIELD_NUMBER: _ClassVar[int]
    AGE_MS_FIELD_NUMBER: _ClassVar[int]
    PROBES_FIELD_NUMBER: _ClassVar[int]
    seq: int
    signal_id: str
    instance_id: str
    posted_ns: int
    age_ms: int
    probes: int
    def __init__(self, seq: _Optional[int] = ..., signal_id: _Optional[str] = ..., instance_id: _Optional[str] = ..., posted_ns: _Optional[int] = ..., age_ms: _Optional[int] = ..., probes: _Optional[int] = ...) -> None: ...

class BalanceFigures(_message.Message):
    __slots__ = ("polling", "clob_collateral", "clob_allowance", "clob_age_s", "pushed_collateral", "pushed_age_s", "last_error")
    POLLING_FIELD_NUMBER: _ClassVar[int]
    CLOB_COLLATERAL_FIELD_NUMBER: _ClassVar[int]
    CLOB_ALLOWANCE_FIELD_NUMBER: _ClassVar[int]
    CLOB_AGE_S_FIELD_NUMBER: _ClassVar[int]
    PUSHED_COLLATERAL_FIELD_NUMBER: _ClassVar[int]
    PUSHED_AGE_S_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    polling: bool
    clob_collateral: float
    clob_allowance: float
    clob_age_s: float
    pushed_collateral: float
    pushed_age_s: float
    last_error: str
    def __init__(self, polling: _Optional[bool] = ..., clob_collateral: _Optional[float] = ..., clob_allowance: _Optional[float] = ..., clob_age_s: _Optional[float] = ..., pushed_collateral: _Optional[float] = ..., pushed_age_s: _Optional[float] = ..., last_error: _Optional[str] = ...) -> None: ...

class StreamTradeResultsRequest(_message.Message):
    __slots__ = ("from_seq",)
    FROM_SEQ_FIELD_NUMBER: _ClassVar[int]
    from_seq: int
    def __init__(self, from_seq: _Optional[int] = ...) -> None: ...

class LegResult(_message.Message):
    __slots__ = ("token_id", "side", "price", "size", "order_hash", "order_id", "status", "filled_size", "error", "fee_rate_bps", "avg_price")
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    ORDER_HASH_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FILLED_SIZE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    FEE_RATE_BPS_FIELD_NUMBER: _ClassVar[int]
    AVG_PRICE_FIELD_NUMBER: _ClassVar[int]
    token_id: str
    side: Side
    price: float
    size: float
    order_hash: str
    order_id: str
    status: str
    filled_size: float
    error: str
    fee_rate_bps: float
    avg_price: float
    def __init__(self, token_id: _Optional[str] = ..., side: _Optional[_Union[Side, str]] = ..., price: _Optional[float] = ..., size: _Optional[float] = ..., order_hash: _Optional[str] = ..., order_id: _Optional[str] = ..., status: _Optional[str] = ..., filled_size: _Optional[float] = ..., error: _Optional[str] = ..., fee_rate_bps: _Optional[float] = ..., avg_price: _Optional[float] = ...) -> None: ...

class TradeResult(_message.Message):
    __slots__ = ("seq", "signal_id", "instance_id", "strategy", "mode", "outcome", "legs", "cost", "expected_pnl", "trace", "error", "recorded_ns", "leg_risk", "reconciles_seq")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    LEGS_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_PNL_FIELD_NUMBER: _ClassVar[int]
    TRACE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    RECORDED_NS_FIELD_NUMBER: _ClassVar[int]
    LEG_RISK_FIELD_NUMBER: _ClassVar[int]
    RECONCILES_SEQ_FIELD_NUMBER: _ClassVar[int]
    seq: int
    signal_id: str
    instance_id: str
    strategy: Strategy
    mode: str
    outcome: Outcome
    legs: _containers.RepeatedCompositeFieldContainer[LegResult]
    cost: float
    expected_pnl: float
    trace: _common_pb2.Trace
    error: str
    recorded_ns: int
    leg_risk: bool
    reconciles_seq: int
    def __init__(self, seq: _Optional[int] = ..., signal_id: _Optional[str] = ..., instance_id: _Optional[str] = ..., strategy: _Optional[_Union[Strategy, str]] = ..., mode: _Optional[str] = ..., outcome: _Optional[_Union[Outcome, str]] = ..., legs: _Optional[_Iterable[_Union[LegResult, _Mapping]]] = ..., cost: _Optional[float] = ..., expected_pnl: _Optional[float] = ..., trace: _Optional[_Union[_common_pb2.Trace, _Mapping]] = ..., error: _Optional[str] = ..., recorded_ns: _Optional[int] = ..., leg_risk: _Optional[bool] = ..., reconciles_seq: _Optional[int] = ...) -> None: ...

class Position(_message.Message):
    __slots__ = ("token_id", "shares", "avg_cost", "cost_basis")
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    SHARES_FIELD_NUMBER: _ClassVar[int]
    AVG_COST_FIELD_NUMBER: _ClassVar[int]
    COST_BASIS_FIELD_NUMBER: _ClassVar[int]
    token_id: str
    shares: float
    avg_cost: float
    cost_basis: float
    def __init__(self, token_id: _Optional[str] = ..., shares: _Optional[float] = ..., avg_cost: _Optional[float] = ..., cost_basis: _Optional[float] = ...) -> None: ...

class StrategyPnl(_message.Message):
    __slots__ = ("strategy", "results", "cost", "expected_pnl", "realized_pnl", "leg_risk_results")
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_PNL_FIELD_NUMBER: _ClassVar[int]
    REALIZED_PNL_FIELD_NUMBER: _ClassVar[int]
    LEG_RISK_RESULTS_FIELD_NUMBER: _ClassVar[int]
    strategy: Strategy
    results: int
    cost: float
    expected_pnl: float
    realized_pnl: float
    leg_risk_results: int
    def __init__(self, strategy: _Optional[_Union[Strategy, str]] = ..., results: _Optional[int] = ..., cost: _Optional[float] = ..., expected_pnl: _Optional[float] = ..., realized_pnl: _Optional[float] = ..., leg_risk_results: _Optional[int] = ...) -> None: ...

class Portfolio(_message.Message):
    __slots__ = ("positions", "strategies", "exposure", "max_exposure", "unknown_exposure", "unknown_results", "expected_pnl", "realized_pnl", "through_seq", "other_mode_results", "positions_total")
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    STRATEGIES_FIELD_NUMBER: _ClassVar[int]
    EXPOSURE_FIELD_NUMBER: _ClassVar[int]
    MAX_EXPOSURE_FIELD_NUMBER: _ClassVar[int]
    UNKNOWN_EXPOSURE_FIELD_NUMBER: _ClassVar[int]
    UNKNOWN_RESULTS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_PNL_FIELD_NUMBER: _ClassVar[int]
    REALIZED_PNL_FIELD_NUMBER: _ClassVar[int]
    THROUGH_SEQ_FIELD_NUMBER: _ClassVar[int]
    OTHER_MODE_RESULTS_FIELD_NUMBER: _ClassVar[int]
    POSITIONS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    positions: _containers.RepeatedCompositeFieldContainer[Position]
    strategies: _containers.RepeatedCompositeFieldContainer[StrategyPnl]
    exposure: float
    max_exposure: float
    unknown_exposure: float
    unknown_results: int
    expected_pnl: float
    realized_pnl: float
    through_seq: int
    other_mode_results: int
    positions_total: int
    def __init__(self, positions: _Optional[_Iterable[_Union[Position, _Mapping]]] = ..., strategies: _Optional[_Iterable[_Union[StrategyPnl, _Mapping]]] = ..., exposure: _Optional[float] = ..., max_exposure: _Optional[float] = ..., unknown_exposure: _Optional[float] = ..., unknown_results: _Optional[int] = ..., expected_pnl: _Optional[float] = ..., realized_pnl: _Optional[float] = ..., through_seq: _Optional[int] = ..., other_mode_results: _Optional[int] = ..., positions_total: _Optional[int] = ...) -> None: ...
