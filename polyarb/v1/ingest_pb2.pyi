from polyarb.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BookSubscription(_message.Message):
    __slots__ = ("add_token_ids", "remove_token_ids", "coalesce")
    ADD_TOKEN_IDS_FIELD_NUMBER: _ClassVar[int]
    REMOVE_TOKEN_IDS_FIELD_NUMBER: _ClassVar[int]
    COALESCE_FIELD_NUMBER: _ClassVar[int]
    add_token_ids: _containers.RepeatedScalarFieldContainer[str]
    remove_token_ids: _containers.RepeatedScalarFieldContainer[str]
    coalesce: bool
    def __init__(self, add_token_ids: _Optional[_Iterable[str]] = ..., remove_token_ids: _Optional[_Iterable[str]] = ..., coalesce: _Optional[bool] = ...) -> None: ...

class TopOfBook(_message.Message):
    __slots__ = ("token_id", "bid_price", "bid_size", "ask_price", "ask_size", "stale", "tick_size", "venue_ts_ms")
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    BID_PRICE_FIELD_NUMBER: _ClassVar[int]
    BID_SIZE_FIELD_NUMBER: _ClassVar[int]
    ASK_PRICE_FIELD_NUMBER: _ClassVar[int]
    ASK_SIZE_FIELD_NUMBER: _ClassVar[int]
    STALE_FIELD_NUMBER: _ClassVar[int]
    TICK_SIZE_FIELD_NUMBER: _ClassVar[int]
    VENUE_TS_MS_FIELD_NUMBER: _ClassVar[int]
    token_id: str
    bid_price: float
    bid_size: float
    ask_price: float
    ask_size: float
    stale: bool
    tick_size: float
    venue_ts_ms: int
    def __init__(self, token_id: _Optional[str] = ..., bid_price: _Optional[float] = ..., bid_size: _Optional[float] = ..., ask_price: _Optional[float] = ..., ask_size: _Optional[float] = ..., stale: _Optional[bool] = ..., tick_size: _Optional[float] = ..., venue_ts_ms: _Optional[int] = ...) -> None: ...

class TopOfBookBatch(_message.Message):
    __slots__ = ("updates", "ws_recv_ns", "sent_ns", "seq", "snapshot")
    UPDATES_FIELD_NUMBER: _ClassVar[int]
    WS_RECV_NS_FIELD_NUMBER: _ClassVar[int]
    SENT_NS_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    updates: _containers.RepeatedCompositeFieldContainer[TopOfBook]
    ws_recv_ns: int
    sent_ns: int
    seq: int
    snapshot: bool
    def __init__(self, updates: _Optional[_Iterable[_Union[TopOfBook, _Mapping]]] = ..., ws_recv_ns: _Optional[int] = ..., sent_ns: _Optional[int] = ..., seq: _Optional[int] = ..., snapshot: _Optional[bool] = ...) -> None: ...

class GetIngestStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class IngestStatus(_message.Message):
    __slots__ = ("info", "ws_url", "connections", "subscribed_tokens", "stale_tokens", "last_frame_age_s", "messages_per_s", "streams", "sockets")
    INFO_FIELD_NUMBER: _ClassVar[int]
    WS_URL_FIELD_NUMBER: _ClassVar[int]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBED_TOKENS_FIELD_NUMBER: _ClassVar[int]
    STALE_TOKENS_FIELD_NUMBER: _ClassVar[int]
    LAST_FRAME_AGE_S_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_PER_S_FIELD_NUMBER: _ClassVar[int]
    STREAMS_FIELD_NUMBER: _ClassVar[int]
    SOCKETS_FIELD_NUMBER: _ClassVar[int]
    info: _common_pb2.ServiceInfo
    ws_url: str
    connections: int
    subscribed_tokens: int
    stale_tokens: int
    last_frame_age_s: float
    messages_per_s: float
    streams: int
    sockets: _containers.RepeatedCompositeFieldContainer[_common_pb2.PeerState]
    def __init__(self, info: _Optional[_Union[_common_pb2.ServiceInfo, _Mapping]] = ..., ws_url: _Optional[str] = ..., connections: _Optional[int] = ..., subscribed_tokens: _Optional[int] = ..., stale_tokens: _Optional[int] = ..., last_frame_age_s: _Optional[float] = ..., messages_per_s: _Optional[float] = ..., streams: _Optional[int] = ..., sockets: _Optional[_Iterable[_Union[_common_pb2.PeerState, _Mapping]]] = ...) -> None: ...
