from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetLoginCredentialRequest(_message.Message):
    __slots__ = ("ttl_seconds",)
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ttl_seconds: int
    def __init__(self, ttl_seconds: _Optional[int] = ...) -> None: ...

class LoginCredential(_message.Message):
    __slots__ = ("registry", "username", "password", "expires_at")
    REGISTRY_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    registry: str
    username: str
    password: str
    expires_at: float
    def __init__(self, registry: _Optional[str] = ..., username: _Optional[str] = ..., password: _Optional[str] = ..., expires_at: _Optional[float] = ...) -> None: ...

class GetTaskPullCredentialsRequest(_message.Message):
    __slots__ = ("cluster", "task_id", "prepull_deployment_id")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    PREPULL_DEPLOYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    task_id: str
    prepull_deployment_id: str
    def __init__(self, cluster: _Optional[str] = ..., task_id: _Optional[str] = ..., prepull_deployment_id: _Optional[str] = ...) -> None: ...

class PullCredential(_message.Message):
    __slots__ = ("image", "registry_token", "username", "password")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    REGISTRY_TOKEN_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    image: str
    registry_token: str
    username: str
    password: str
    def __init__(self, image: _Optional[str] = ..., registry_token: _Optional[str] = ..., username: _Optional[str] = ..., password: _Optional[str] = ...) -> None: ...

class GetTaskPullCredentialsResponse(_message.Message):
    __slots__ = ("credentials",)
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    credentials: _containers.RepeatedCompositeFieldContainer[PullCredential]
    def __init__(self, credentials: _Optional[_Iterable[_Union[PullCredential, _Mapping]]] = ...) -> None: ...

class Repository(_message.Message):
    __slots__ = ("name", "uri", "created_at", "created_by", "pushed_at", "immutable_tags", "tag_digest", "lifecycle_policy")
    class PushedAtEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class TagDigestEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    PUSHED_AT_FIELD_NUMBER: _ClassVar[int]
    IMMUTABLE_TAGS_FIELD_NUMBER: _ClassVar[int]
    TAG_DIGEST_FIELD_NUMBER: _ClassVar[int]
    LIFECYCLE_POLICY_FIELD_NUMBER: _ClassVar[int]
    name: str
    uri: str
    created_at: float
    created_by: str
    pushed_at: _containers.ScalarMap[str, float]
    immutable_tags: bool
    tag_digest: _containers.ScalarMap[str, str]
    lifecycle_policy: str
    def __init__(self, name: _Optional[str] = ..., uri: _Optional[str] = ..., created_at: _Optional[float] = ..., created_by: _Optional[str] = ..., pushed_at: _Optional[_Mapping[str, float]] = ..., immutable_tags: _Optional[bool] = ..., tag_digest: _Optional[_Mapping[str, str]] = ..., lifecycle_policy: _Optional[str] = ...) -> None: ...

class DescribeRepositoryRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class PutLifecyclePolicyRequest(_message.Message):
    __slots__ = ("name", "policy_text")
    NAME_FIELD_NUMBER: _ClassVar[int]
    POLICY_TEXT_FIELD_NUMBER: _ClassVar[int]
    name: str
    policy_text: str
    def __init__(self, name: _Optional[str] = ..., policy_text: _Optional[str] = ...) -> None: ...

class DeleteLifecyclePolicyRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class CreateRepositoryRequest(_message.Message):
    __slots__ = ("name", "immutable_tags")
    NAME_FIELD_NUMBER: _ClassVar[int]
    IMMUTABLE_TAGS_FIELD_NUMBER: _ClassVar[int]
    name: str
    immutable_tags: bool
    def __init__(self, name: _Optional[str] = ..., immutable_tags: _Optional[bool] = ...) -> None: ...

class UpdateRepositoryRequest(_message.Message):
    __slots__ = ("name", "immutable_tags")
    NAME_FIELD_NUMBER: _ClassVar[int]
    IMMUTABLE_TAGS_FIELD_NUMBER: _ClassVar[int]
    name: str
    immutable_tags: bool
    def __init__(self, name: _Optional[str] = ..., immutable_tags: _Optional[bool] = ...) -> None: ...

class ListRepositoriesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListRepositoriesResponse(_message.Message):
    __slots__ = ("repositories",)
    REPOSITORIES_FIELD_NUMBER: _ClassVar[int]
    repositories: _containers.RepeatedCompositeFieldContainer[Repository]
    def __init__(self, repositories: _Optional[_Iterable[_Union[Repository, _Mapping]]] = ...) -> None: ...

class DeleteRepositoryRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListImagesRequest(_message.Message):
    __slots__ = ("repository",)
    REPOSITORY_FIELD_NUMBER: _ClassVar[int]
    repository: str
    def __init__(self, repository: _Optional[str] = ...) -> None: ...

class Image(_message.Message):
    __slots__ = ("digest", "tags", "size_bytes", "pushed_at", "media_type")
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    PUSHED_AT_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    digest: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    size_bytes: int
    pushed_at: float
    media_type: str
    def __init__(self, digest: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., size_bytes: _Optional[int] = ..., pushed_at: _Optional[float] = ..., media_type: _Optional[str] = ...) -> None: ...

class ListImagesResponse(_message.Message):
    __slots__ = ("repository", "images")
    REPOSITORY_FIELD_NUMBER: _ClassVar[int]
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    repository: str
    images: _containers.RepeatedCompositeFieldContainer[Image]
    def __init__(self, repository: _Optional[str] = ..., images: _Optional[_Iterable[_Union[Image, _Mapping]]] = ...) -> None: ...
