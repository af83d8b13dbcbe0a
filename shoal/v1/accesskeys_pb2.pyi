from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AccessKey(_message.Message):
    __slots__ = ("access_key_id", "secret_access_key", "created_at", "description", "status", "user", "role")
    ACCESS_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SECRET_ACCESS_KEY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    access_key_id: str
    secret_access_key: str
    created_at: float
    description: str
    status: str
    user: str
    role: str
    def __init__(self, access_key_id: _Optional[str] = ..., secret_access_key: _Optional[str] = ..., created_at: _Optional[float] = ..., description: _Optional[str] = ..., status: _Optional[str] = ..., user: _Optional[str] = ..., role: _Optional[str] = ...) -> None: ...

class CreateAccessKeyRequest(_message.Message):
    __slots__ = ("description", "user", "role")
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    description: str
    user: str
    role: str
    def __init__(self, description: _Optional[str] = ..., user: _Optional[str] = ..., role: _Optional[str] = ...) -> None: ...

class ListAccessKeysRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListAccessKeysResponse(_message.Message):
    __slots__ = ("access_keys",)
    ACCESS_KEYS_FIELD_NUMBER: _ClassVar[int]
    access_keys: _containers.RepeatedCompositeFieldContainer[AccessKey]
    def __init__(self, access_keys: _Optional[_Iterable[_Union[AccessKey, _Mapping]]] = ...) -> None: ...

class DeleteAccessKeyRequest(_message.Message):
    __slots__ = ("access_key_id",)
    ACCESS_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    access_key_id: str
    def __init__(self, access_key_id: _Optional[str] = ...) -> None: ...
