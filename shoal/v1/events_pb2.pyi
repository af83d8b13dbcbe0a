from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ClusterEvent(_message.Message):
    __slots__ = ("seq", "created_at", "kind", "cluster", "service", "node", "task", "message")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    seq: int
    created_at: float
    kind: str
    cluster: str
    service: str
    node: str
    task: str
    message: str
    def __init__(self, seq: _Optional[int] = ..., created_at: _Optional[float] = ..., kind: _Optional[str] = ..., cluster: _Optional[str] = ..., service: _Optional[str] = ..., node: _Optional[str] = ..., task: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class ListEventsRequest(_message.Message):
    __slots__ = ("cluster", "service", "node", "kinds", "since", "limit", "after_seq")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    service: str
    node: str
    kinds: _containers.RepeatedScalarFieldContainer[str]
    since: float
    limit: int
    after_seq: int
    def __init__(self, cluster: _Optional[str] = ..., service: _Optional[str] = ..., node: _Optional[str] = ..., kinds: _Optional[_Iterable[str]] = ..., since: _Optional[float] = ..., limit: _Optional[int] = ..., after_seq: _Optional[int] = ...) -> None: ...

class ListEventsResponse(_message.Message):
    __slots__ = ("events", "last_seq")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[ClusterEvent]
    last_seq: int
    def __init__(self, events: _Optional[_Iterable[_Union[ClusterEvent, _Mapping]]] = ..., last_seq: _Optional[int] = ...) -> None: ...

class CreateConsoleLinkRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ConsoleLink(_message.Message):
    __slots__ = ("url", "expires_at")
    URL_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    url: str
    expires_at: float
    def __init__(self, url: _Optional[str] = ..., expires_at: _Optional[float] = ...) -> None: ...

class ConsoleGrant(_message.Message):
    __slots__ = ("role", "user", "cluster", "grants", "anonymous", "created_at", "expires_at", "access_key", "issued")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    ANONYMOUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    ACCESS_KEY_FIELD_NUMBER: _ClassVar[int]
    ISSUED_FIELD_NUMBER: _ClassVar[int]
    role: str
    user: str
    cluster: str
    grants: _containers.RepeatedScalarFieldContainer[str]
    anonymous: bool
    created_at: float
    expires_at: float
    access_key: str
    issued: float
    def __init__(self, role: _Optional[str] = ..., user: _Optional[str] = ..., cluster: _Optional[str] = ..., grants: _Optional[_Iterable[str]] = ..., anonymous: _Optional[bool] = ..., created_at: _Optional[float] = ..., expires_at: _Optional[float] = ..., access_key: _Optional[str] = ..., issued: _Optional[float] = ...) -> None: ...
