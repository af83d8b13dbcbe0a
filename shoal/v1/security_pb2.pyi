from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JoinNodeRequest(_message.Message):
    __slots__ = ("token", "csr_pem", "hostname")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    CSR_PEM_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    token: str
    csr_pem: str
    hostname: str
    def __init__(self, token: _Optional[str] = ..., csr_pem: _Optional[str] = ..., hostname: _Optional[str] = ...) -> None: ...

class JoinNodeResponse(_message.Message):
    __slots__ = ("node_id", "cert_pem", "ca_bundle_pem")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    CERT_PEM_FIELD_NUMBER: _ClassVar[int]
    CA_BUNDLE_PEM_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    cert_pem: str
    ca_bundle_pem: str
    def __init__(self, node_id: _Optional[str] = ..., cert_pem: _Optional[str] = ..., ca_bundle_pem: _Optional[str] = ...) -> None: ...

class RenewNodeCertificateRequest(_message.Message):
    __slots__ = ("csr_pem",)
    CSR_PEM_FIELD_NUMBER: _ClassVar[int]
    csr_pem: str
    def __init__(self, csr_pem: _Optional[str] = ...) -> None: ...

class JoinToken(_message.Message):
    __slots__ = ("id", "secret_sha256", "created_at", "expires_at", "max_uses", "used", "revoked", "description", "last_used_at", "cluster")
    ID_FIELD_NUMBER: _ClassVar[int]
    SECRET_SHA256_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    MAX_USES_FIELD_NUMBER: _ClassVar[int]
    USED_FIELD_NUMBER: _ClassVar[int]
    REVOKED_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_AT_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    id: str
    secret_sha256: str
    created_at: float
    expires_at: float
    max_uses: int
    used: int
    revoked: bool
    description: str
    last_used_at: float
    cluster: str
    def __init__(self, id: _Optional[str] = ..., secret_sha256: _Optional[str] = ..., created_at: _Optional[float] = ..., expires_at: _Optional[float] = ..., max_uses: _Optional[int] = ..., used: _Optional[int] = ..., revoked: _Optional[bool] = ..., description: _Optional[str] = ..., last_used_at: _Optional[float] = ..., cluster: _Optional[str] = ...) -> None: ...

class CreateJoinTokenRequest(_message.Message):
    __slots__ = ("ttl_seconds", "max_uses", "description", "cluster")
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MAX_USES_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    ttl_seconds: float
    max_uses: int
    description: str
    cluster: str
    def __init__(self, ttl_seconds: _Optional[float] = ..., max_uses: _Optional[int] = ..., description: _Optional[str] = ..., cluster: _Optional[str] = ...) -> None: ...

class CreateJoinTokenResponse(_message.Message):
    __slots__ = ("token", "info")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    INFO_FIELD_NUMBER: _ClassVar[int]
    token: str
    info: JoinToken
    def __init__(self, token: _Optional[str] = ..., info: _Optional[_Union[JoinToken, _Mapping]] = ...) -> None: ...

class ListJoinTokensRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListJoinTokensResponse(_message.Message):
    __slots__ = ("tokens",)
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    tokens: _containers.RepeatedCompositeFieldContainer[JoinToken]
    def __init__(self, tokens: _Optional[_Iterable[_Union[JoinToken, _Mapping]]] = ...) -> None: ...

class RevokeJoinTokenRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class IssueOperatorCertificateRequest(_message.Message):
    __slots__ = ("name", "role", "csr_pem", "ttl_seconds", "grants")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CSR_PEM_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    name: str
    role: str
    csr_pem: str
    ttl_seconds: float
    grants: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., role: _Optional[str] = ..., csr_pem: _Optional[str] = ..., ttl_seconds: _Optional[float] = ..., grants: _Optional[_Iterable[str]] = ...) -> None: ...

class IssueOperatorCertificateResponse(_message.Message):
    __slots__ = ("cert_pem", "ca_bundle_pem", "identity")
    CERT_PEM_FIELD_NUMBER: _ClassVar[int]
    CA_BUNDLE_PEM_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    cert_pem: str
    ca_bundle_pem: str
    identity: str
    def __init__(self, cert_pem: _Optional[str] = ..., ca_bundle_pem: _Optional[str] = ..., identity: _Optional[str] = ...) -> None: ...

class RevokeOperatorCertificatesRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class RevokedOperator(_message.Message):
    __slots__ = ("name", "not_before")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NOT_BEFORE_FIELD_NUMBER: _ClassVar[int]
    name: str
    not_before: int
    def __init__(self, name: _Optional[str] = ..., not_before: _Optional[int] = ...) -> None: ...

class RevokeOperatorCertificatesResponse(_message.Message):
    __slots__ = ("revoked",)
    REVOKED_FIELD_NUMBER: _ClassVar[int]
    revoked: RevokedOperator
    def __init__(self, revoked: _Optional[_Union[RevokedOperator, _Mapping]] = ...) -> None: ...

class ListRevokedOperatorsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListRevokedOperatorsResponse(_message.Message):
    __slots__ = ("revoked",)
    REVOKED_FIELD_NUMBER: _ClassVar[int]
    revoked: _containers.RepeatedCompositeFieldContainer[RevokedOperator]
    def __init__(self, revoked: _Optional[_Iterable[_Union[RevokedOperator, _Mapping]]] = ...) -> None: ...

class RotateCARequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RotateCAResponse(_message.Message):
    __slots__ = ("new_fingerprint", "trusted_fingerprints")
    NEW_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    TRUSTED_FINGERPRINTS_FIELD_NUMBER: _ClassVar[int]
    new_fingerprint: str
    trusted_fingerprints: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, new_fingerprint: _Optional[str] = ..., trusted_fingerprints: _Optional[_Iterable[str]] = ...) -> None: ...

class WhoAmIRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WhoAmIResponse(_message.Message):
    __slots__ = ("identity", "role", "name", "grants", "cluster")
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    identity: str
    role: str
    name: str
    grants: _containers.RepeatedScalarFieldContainer[str]
    cluster: str
    def __init__(self, identity: _Optional[str] = ..., role: _Optional[str] = ..., name: _Optional[str] = ..., grants: _Optional[_Iterable[str]] = ..., cluster: _Optional[str] = ...) -> None: ...

class PutSecretRequest(_message.Message):
    __slots__ = ("name", "value", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    description: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class SecretInfo(_message.Message):
    __slots__ = ("name", "created_at", "updated_at", "description", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    created_at: float
    updated_at: float
    description: str
    version: int
    def __init__(self, name: _Optional[str] = ..., created_at: _Optional[float] = ..., updated_at: _Optional[float] = ..., description: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class ListSecretsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListSecretsResponse(_message.Message):
    __slots__ = ("secrets",)
    SECRETS_FIELD_NUMBER: _ClassVar[int]
    secrets: _containers.RepeatedCompositeFieldContainer[SecretInfo]
    def __init__(self, secrets: _Optional[_Iterable[_Union[SecretInfo, _Mapping]]] = ...) -> None: ...

class DeleteSecretRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetTaskSecretsRequest(_message.Message):
    __slots__ = ("cluster", "task_id")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    task_id: str
    def __init__(self, cluster: _Optional[str] = ..., task_id: _Optional[str] = ...) -> None: ...

class ContainerSecrets(_message.Message):
    __slots__ = ("container_name", "values")
    class ValuesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CONTAINER_NAME_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    container_name: str
    values: _containers.ScalarMap[str, str]
    def __init__(self, container_name: _Optional[str] = ..., values: _Optional[_Mapping[str, str]] = ...) -> None: ...

class GetTaskSecretsResponse(_message.Message):
    __slots__ = ("containers",)
    CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    containers: _containers.RepeatedCompositeFieldContainer[ContainerSecrets]
    def __init__(self, containers: _Optional[_Iterable[_Union[ContainerSecrets, _Mapping]]] = ...) -> None: ...
