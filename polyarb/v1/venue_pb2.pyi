from polyarb.v1 import common_pb2 as _common_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetVenueStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VenueStatus(_message.Message):
    __slots__ = ("info", "scenario", "ws_addr", "http_addr", "ws_clients", "tokens", "frames_sent", "orders_received", "orders_filled")
    INFO_FIELD_NUMBER: _ClassVar[int]
    SCENARIO_FIELD_NUMBER: _ClassVar[int]
    WS_ADDR_FIELD_NUMBER: _ClassVar[int]
    HTTP_ADDR_FIELD_NUMBER: _ClassVar[int]
    WS_CLIENTS_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    FRAMES_SENT_FIELD_NUMBER: _ClassVar[int]
    ORDERS_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    ORDERS_FILLED_FIELD_NUMBER: _ClassVar[int]
    info: _common_pb2.ServiceInfo
    scenario: str
    ws_addr: str
    http_addr: str
    ws_clients: int
    tokens: int
    frames_sent: int
    orders_received: int
    orders_filled: int
    def __init__(self, info: _Optional[_Union[_common_pb2.ServiceInfo, _Mapping]] = ..., scenario: _Optional[str] = ..., ws_addr: _Optional[str] = ..., http_addr: _Optional[str] = ..., ws_clients: _Optional[int] = ..., tokens: _Optional[int] = ..., frames_sent: _Optional[int] = ..., orders_received: _Optional[int] = ..., orders_filled: _Optional[int] = ...) -> None: ...
