from polyarb.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Market(_message.Message):
    __slots__ = ("condition_id", "yes_token_id", "no_token_id", "tick_size", "min_order_size", "neg_risk", "fee_rate_bps")
    CONDITION_ID_FIELD_NUMBER: _ClassVar[int]
    YES_TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    NO_TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    TICK_SIZE_FIELD_NUMBER: _ClassVar[int]
    MIN_ORDER_SIZE_FIELD_NUMBER: _ClassVar[int]
    NEG_RISK_FIELD_NUMBER: _ClassVar[int]
    FEE_RATE_BPS_FIELD_NUMBER: _ClassVar[int]
    condition_id: str
    yes_token_id: str
    no_token_id: str
    tick_size: float
    min_order_size: float
    neg_risk: bool
    fee_rate_bps: float
    def __init__(self, condition_id: _Optional[str] = ..., yes_token_id: _Optional[str] = ..., no_token_id: _Optional[str] = ..., tick_size: _Optional[float] = ..., min_order_size: _Optional[float] = ..., neg_risk: _Optional[bool] = ..., fee_rate_bps: _Optional[float] = ...) -> None: ...

class Trio(_message.Message):
    __slots__ = ("id", "lower", "upper", "range", "lower_bound", "upper_bound")
    ID_FIELD_NUMBER: _ClassVar[int]
    LOWER_FIELD_NUMBER: _ClassVar[int]
    UPPER_FIELD_NUMBER: _ClassVar[int]
    RANGE_FIELD_NUMBER: _ClassVar[int]
    LOWER_BOUND_FIELD_NUMBER: _ClassVar[int]
    UPPER_BOUND_FIELD_NUMBER: _ClassVar[int]
    id: str
    lower: Market
    upper: Market
    range: Market
    lower_bound: float
    upper_bound: float
    def __init__(self, id: _Optional[str] = ..., lower: _Optional[_Union[Market, _Mapping]] = ..., upper: _Optional[_Union[Market, _Mapping]] = ..., range: _Optional[_Union[Market, _Mapping]] = ..., lower_bound: _Optional[float] = ..., upper_bound: _Optional[float] = ...) -> None: ...

class OutcomeSet(_message.Message):
    __slots__ = ("id", "members", "neg_risk_augmented")
    ID_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    NEG_RISK_AUGMENTED_FIELD_NUMBER: _ClassVar[int]
    id: str
    members: _containers.RepeatedCompositeFieldContainer[Market]
    neg_risk_augmented: bool
    def __init__(self, id: _Optional[str] = ..., members: _Optional[_Iterable[_Union[Market, _Mapping]]] = ..., neg_risk_augmented: _Optional[bool] = ...) -> None: ...

class MarketStructure(_message.Message):
    __slots__ = ("version", "trios", "sets")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TRIOS_FIELD_NUMBER: _ClassVar[int]
    SETS_FIELD_NUMBER: _ClassVar[int]
    version: int
    trios: _containers.RepeatedCompositeFieldContainer[Trio]
    sets: _containers.RepeatedCompositeFieldContainer[OutcomeSet]
    def __init__(self, version: _Optional[int] = ..., trios: _Optional[_Iterable[_Union[Trio, _Mapping]]] = ..., sets: _Optional[_Iterable[_Union[OutcomeSet, _Mapping]]] = ...) -> None: ...

class UpdateMarketStructureResponse(_message.Message):
    __slots__ = ("version", "instances", "tokens")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    INSTANCES_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    version: int
    instances: int
    tokens: int
    def __init__(self, version: _Optional[int] = ..., instances: _Optional[int] = ..., tokens: _Optional[int] = ...) -> None: ...

class EngineConfig(_message.Message):
    __slots__ = ("min_profit_abs", "min_profit_bps", "min_expected_pnl", "max_set_size", "cooldown_ms", "trio", "complement_trio", "bundle", "unbundle", "in_flight_timeout_ms", "min_marketable_buy_pusd")
    MIN_PROFIT_ABS_FIELD_NUMBER: _ClassVar[int]
    MIN_PROFIT_BPS_FIELD_NUMBER: _ClassVar[int]
    MIN_EXPECTED_PNL_FIELD_NUMBER: _ClassVar[int]
    MAX_SET_SIZE_FIELD_NUMBER: _ClassVar[int]
    COOLDOWN_MS_FIELD_NUMBER: _ClassVar[int]
    TRIO_FIELD_NUMBER: _ClassVar[int]
    COMPLEMENT_TRIO_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_FIELD_NUMBER: _ClassVar[int]
    UNBUNDLE_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    MIN_MARKETABLE_BUY_PUSD_FIELD_NUMBER: _ClassVar[int]
    min_profit_abs: float
    min_profit_bps: float
    min_expected_pnl: float
    max_set_size: float
    cooldown_ms: int
    trio: bool
    complement_trio: bool
    bundle: bool
    unbundle: bool
    in_flight_timeout_ms: int
    min_marketable_buy_pusd: float
    def __init__(self, min_profit_abs: _Optional[float] = ..., min_profit_bps: _Optional[float] = ..., min_expected_pnl: _Optional[float] = ..., max_set_size: _Optional[float] = ..., cooldown_ms: _Optional[int] = ..., trio: _Optional[bool] = ..., complement_trio: _Optional[bool] = ..., bundle: _Optional[bool] = ..., unbundle: _Optional[bool] = ..., in_flight_timeout_ms: _Optional[int] = ..., min_marketable_buy_pusd: _Optional[float] = ...) -> None: ...

class GetEngineStatusRequest(_message.Message):
    __slots__ = ("include_instances",)
    INCLUDE_INSTANCES_FIELD_NUMBER: _ClassVar[int]
    include_instances: bool
    def __init__(self, include_instances: _Optional[bool] = ...) -> None: ...

class LegView(_message.Message):
    __slots__ = ("token_id", "role", "bid_price", "bid_size", "ask_price", "ask_size", "stale")
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    BID_PRICE_FIELD_NUMBER: _ClassVar[int]
    BID_SIZE_FIELD_NUMBER: _ClassVar[int]
    ASK_PRICE_FIELD_NUMBER: _ClassVar[int]
    ASK_SIZE_FIELD_NUMBER: _ClassVar[int]
    STALE_FIELD_NUMBER: _ClassVar[int]
    token_id: str
    role: str
    bid_price: float
    bid_size: float
    ask_price: float
    ask_size: float
    stale: bool
    def __init__(self, token_id: _Optional[str] = ..., role: _Optional[str] = ..., bid_price: _Optional[float] = ..., bid_size: _Optional[float] = ..., ask_price: _Optional[float] = ..., ask_size: _Optional[float] = ..., stale: _Optional[bool] = ...) -> None: ...

class InstanceView(_message.Message):
    __slots__ = ("id", "kind", "legs", "in_flight")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    LEGS_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: str
    legs: _containers.RepeatedCompositeFieldContainer[LegView]
    in_flight: bool
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[str] = ..., legs: _Optional[_Iterable[_Union[LegView, _Mapping]]] = ..., in_flight: _Optional[bool] = ...) -> None: ...

class EngineStatus(_message.Message):
    __slots__ = ("structure_version", "instances", "tokens", "stale_tokens", "config", "ingest_connected", "executor_connected", "info", "peers", "signals_by_strategy", "last_evaluation_ns", "in_flight", "skipped_acks", "instance_views", "held_instances", "capital", "peer_tls")
    class SignalsByStrategyEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    STRUCTURE_VERSION_FIELD_NUMBER: _ClassVar[int]
    INSTANCES_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    STALE_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    INGEST_CONNECTED_FIELD_NUMBER: _ClassVar[int]
    EXECUTOR_CONNECTED_FIELD_NUMBER: _ClassVar[int]
    INFO_FIELD_NUMBER: _ClassVar[int]
    PEERS_FIELD_NUMBER: _ClassVar[int]
    SIGNALS_BY_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    LAST_EVALUATION_NS_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_ACKS_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_VIEWS_FIELD_NUMBER: _ClassVar[int]
    HELD_INSTANCES_FIELD_NUMBER: _ClassVar[int]
    CAPITAL_FIELD_NUMBER: _ClassVar[int]
    PEER_TLS_FIELD_NUMBER: _ClassVar[int]
    structure_version: int
    instances: int
    tokens: int
    stale_tokens: int
    config: EngineConfig
    ingest_connected: bool
    executor_connected: bool
    info: _common_pb2.ServiceInfo
    peers: _containers.RepeatedCompositeFieldContainer[_common_pb2.PeerState]
    signals_by_strategy: _containers.ScalarMap[str, int]
    last_evaluation_ns: int
    in_flight: int
    skipped_acks: int
    instance_views: _containers.RepeatedCompositeFieldContainer[InstanceView]
    held_instances: int
    capital: float
    peer_tls: bool
    def __init__(self, structure_version: _Optional[int] = ..., instances: _Optional[int] = ..., tokens: _Optional[int] = ..., stale_tokens: _Optional[int] = ..., config: _Optional[_Union[EngineConfig, _Mapping]] = ..., ingest_connected: _Optional[bool] = ..., executor_connected: _Optional[bool] = ..., info: _Optional[_Union[_common_pb2.ServiceInfo, _Mapping]] = ..., peers: _Optional[_Iterable[_Union[_common_pb2.PeerState, _Mapping]]] = ..., signals_by_strategy: _Optional[_Mapping[str, int]] = ..., last_evaluation_ns: _Optional[int] = ..., in_flight: _Optional[int] = ..., skipped_acks: _Optional[int] = ..., instance_views: _Optional[_Iterable[_Union[InstanceView, _Mapping]]] = ..., held_instances: _Optional[int] = ..., capital: _Optional[float] = ..., peer_tls: _Optional[bool] = ...) -> None: ...
