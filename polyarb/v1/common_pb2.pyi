from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class Trace(_message.Message):
    __slots__ = ("ws_recv_ns", "ingest_sent_ns", "engine_recv_ns", "signal_sent_ns", "executor_recv_ns", "signed_ns", "posted_ns", "response_ns")
    WS_RECV_NS_FIELD_NUMBER: _ClassVar[int]
    INGEST_SENT_NS_FIELD_NUMBER: _ClassVar[int]
    ENGINE_RECV_NS_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_SENT_NS_FIELD_NUMBER: _ClassVar[int]
    EXECUTOR_RECV_NS_FIELD_NUMBER: _ClassVar[int]
    SIGNED_NS_FIELD_NUMBER: _ClassVar[int]
    POSTED_NS_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_NS_FIELD_NUMBER: _ClassVar[int]
    ws_recv_ns: int
    ingest_sent_ns: int
    engine_recv_ns: int
    signal_sent_ns: int
    executor_recv_ns: int
    signed_ns: int
    posted_ns: int
    response_ns: int
    def __init__(self, ws_recv_ns: _Optional[int] = ..., ingest_sent_ns: _Optional[int] = ..., engine_recv_ns: _Optional[int] = ..., signal_sent_ns: _Optional[int] = ..., executor_recv_ns: _Optional[int] = ..., signed_ns: _Optional[int] = ..., posted_ns: _Optional[int] = ..., response_ns: _Optional[int] = ...) -> None: ...

class ServiceInfo(_message.Message):
    __slots__ = ("service", "version", "uptime_s", "mode", "auth_required")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    UPTIME_S_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    AUTH_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    service: str
    version: str
    uptime_s: float
    mode: str
    auth_required: bool
    def __init__(self, service: _Optional[str] = ..., version: _Optional[str] = ..., uptime_s: _Optional[float] = ..., mode: _Optional[str] = ..., auth_required: _Optional[bool] = ...) -> None: ...

class PeerState(_message.Message):
    __slots__ = ("name", "address", "connected", "reconnects", "last_error")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_FIELD_NUMBER: _ClassVar[int]
    RECONNECTS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    name: str
    address: str
    connected: bool
    reconnects: int
    last_error: str
    def __init__(self, name: _Optional[str] = ..., address: _Optional[str] = ..., connected: _Optional[bool] = ..., reconnects: _Optional[int] = ..., last_error: _Optional[str] = ...) -> None: ...
