from shoal.v1 import resources_pb2 as _resources_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class HealthCheckConfig(_message.Message):
    __slots__ = ("protocol", "path", "matcher", "interval_seconds", "timeout_seconds", "healthy_threshold", "unhealthy_threshold")
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    MATCHER_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    HEALTHY_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    UNHEALTHY_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    protocol: str
    path: str
    matcher: str
    interval_seconds: int
    timeout_seconds: int
    healthy_threshold: int
    unhealthy_threshold: int
    def __init__(self, protocol: _Optional[str] = ..., path: _Optional[str] = ..., matcher: _Optional[str] = ..., interval_seconds: _Optional[int] = ..., timeout_seconds: _Optional[int] = ..., healthy_threshold: _Optional[int] = ..., unhealthy_threshold: _Optional[int] = ...) -> None: ...

class TargetGroup(_message.Message):
    __slots__ = ("target_group_arn", "target_group_name", "protocol", "port", "health_check", "deregistration_delay_seconds", "load_balancer_arns", "created_at", "tags", "cluster", "id", "registered_targets")
    TARGET_GROUP_ARN_FIELD_NUMBER: _ClassVar[int]
    TARGET_GROUP_NAME_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    HEALTH_CHECK_FIELD_NUMBER: _ClassVar[int]
    DEREGISTRATION_DELAY_SECONDS_FIELD_NUMBER: _ClassVar[int]
    LOAD_BALANCER_ARNS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_TARGETS_FIELD_NUMBER: _ClassVar[int]
    target_group_arn: str
    target_group_name: str
    protocol: str
    port: int
    health_check: HealthCheckConfig
    deregistration_delay_seconds: int
    load_balancer_arns: _containers.RepeatedScalarFieldContainer[str]
    created_at: float
    tags: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Tag]
    cluster: str
    id: str
    registered_targets: _containers.RepeatedCompositeFieldContainer[RegisteredTarget]
    def __init__(self, target_group_arn: _Optional[str] = ..., target_group_name: _Optional[str] = ..., protocol: _Optional[str] = ..., port: _Optional[int] = ..., health_check: _Optional[_Union[HealthCheckConfig, _Mapping]] = ..., deregistration_delay_seconds: _Optional[int] = ..., load_balancer_arns: _Optional[_Iterable[str]] = ..., created_at: _Optional[float] = ..., tags: _Optional[_Iterable[_Union[_resources_pb2.Tag, _Mapping]]] = ..., cluster: _Optional[str] = ..., id: _Optional[str] = ..., registered_targets: _Optional[_Iterable[_Union[RegisteredTarget, _Mapping]]] = ...) -> None: ...

class ListenerRule(_message.Message):
    __slots__ = ("rule_arn", "priority", "host_patterns", "path_patterns", "target_group_arn")
    RULE_ARN_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    HOST_PATTERNS_FIELD_NUMBER: _ClassVar[int]
    PATH_PATTERNS_FIELD_NUMBER: _ClassVar[int]
    TARGET_GROUP_ARN_FIELD_NUMBER: _ClassVar[int]
    rule_arn: str
    priority: int
    host_patterns: _containers.RepeatedScalarFieldContainer[str]
    path_patterns: _containers.RepeatedScalarFieldContainer[str]
    target_group_arn: str
    def __init__(self, rule_arn: _Optional[str] = ..., priority: _Optional[int] = ..., host_patterns: _Optional[_Iterable[str]] = ..., path_patterns: _Optional[_Iterable[str]] = ..., target_group_arn: _Optional[str] = ...) -> None: ...

class Listener(_message.Message):
    __slots__ = ("listener_arn", "port", "protocol", "default_target_group_arn", "rules", "proxy_protocol")
    LISTENER_ARN_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_TARGET_GROUP_ARN_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    PROXY_PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    listener_arn: str
    port: int
    protocol: str
    default_target_group_arn: str
    rules: _containers.RepeatedCompositeFieldContainer[ListenerRule]
    proxy_protocol: bool
    def __init__(self, listener_arn: _Optional[str] = ..., port: _Optional[int] = ..., protocol: _Optional[str] = ..., default_target_group_arn: _Optional[str] = ..., rules: _Optional[_Iterable[_Union[ListenerRule, _Mapping]]] = ..., proxy_protocol: _Optional[bool] = ...) -> None: ...

class LoadBalancer(_message.Message):
    __slots__ = ("load_balancer_arn", "load_balancer_name", "type", "state", "listeners", "node_expression", "default_target_group_arn", "created_at", "tags", "cluster", "id", "client_token")
    LOAD_BALANCER_ARN_FIELD_NUMBER: _ClassVar[int]
    LOAD_BALANCER_NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    LISTENERS_FIELD_NUMBER: _ClassVar[int]
    NODE_EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_TARGET_GROUP_ARN_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    load_balancer_arn: str
    load_balancer_name: str
    type: str
    state: str
    listeners: _containers.RepeatedCompositeFieldContainer[Listener]
    node_expression: str
    default_target_group_arn: str
    created_at: float
    tags: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Tag]
    cluster: str
    id: str
    client_token: str
    def __init__(self, load_balancer_arn: _Optional[str] = ..., load_balancer_name: _Optional[str] = ..., type: _Optional[str] = ..., state: _Optional[str] = ..., listeners: _Optional[_Iterable[_Union[Listener, _Mapping]]] = ..., node_expression: _Optional[str] = ..., default_target_group_arn: _Optional[str] = ..., created_at: _Optional[float] = ..., tags: _Optional[_Iterable[_Union[_resources_pb2.Tag, _Mapping]]] = ..., cluster: _Optional[str] = ..., id: _Optional[str] = ..., client_token: _Optional[str] = ...) -> None: ...

class Namespace(_message.Message):
    __slots__ = ("arn", "name", "cluster", "created_at")
    ARN_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    arn: str
    name: str
    cluster: str
    created_at: float
    def __init__(self, arn: _Optional[str] = ..., name: _Optional[str] = ..., cluster: _Optional[str] = ..., created_at: _Optional[float] = ...) -> None: ...

class TargetHealthDescription(_message.Message):
    __slots__ = ("task_id", "node_id", "address", "port", "health")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    node_id: str
    address: str
    port: int
    health: _resources_pb2.TargetHealth
    def __init__(self, task_id: _Optional[str] = ..., node_id: _Optional[str] = ..., address: _Optional[str] = ..., port: _Optional[int] = ..., health: _Optional[_Union[_resources_pb2.TargetHealth, _Mapping]] = ...) -> None: ...

class RouteServer(_message.Message):
    __slots__ = ("name", "address", "port", "active", "weight", "proxy_checked")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    PROXY_CHECKED_FIELD_NUMBER: _ClassVar[int]
    name: str
    address: str
    port: int
    active: bool
    weight: int
    proxy_checked: bool
    def __init__(self, name: _Optional[str] = ..., address: _Optional[str] = ..., port: _Optional[int] = ..., active: _Optional[bool] = ..., weight: _Optional[int] = ..., proxy_checked: _Optional[bool] = ...) -> None: ...

class RouteBackend(_message.Message):
    __slots__ = ("name", "mode", "servers", "deregistration_delay_seconds", "health_check")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    SERVERS_FIELD_NUMBER: _ClassVar[int]
    DEREGISTRATION_DELAY_SECONDS_FIELD_NUMBER: _ClassVar[int]
    HEALTH_CHECK_FIELD_NUMBER: _ClassVar[int]
    name: str
    mode: str
    servers: _containers.RepeatedCompositeFieldContainer[RouteServer]
    deregistration_delay_seconds: int
    health_check: HealthCheckConfig
    def __init__(self, name: _Optional[str] = ..., mode: _Optional[str] = ..., servers: _Optional[_Iterable[_Union[RouteServer, _Mapping]]] = ..., deregistration_delay_seconds: _Optional[int] = ..., health_check: _Optional[_Union[HealthCheckConfig, _Mapping]] = ...) -> None: ...

class RouteRule(_message.Message):
    __slots__ = ("priority", "host_patterns", "path_patterns", "backend")
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    HOST_PATTERNS_FIELD_NUMBER: _ClassVar[int]
    PATH_PATTERNS_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    priority: int
    host_patterns: _containers.RepeatedScalarFieldContainer[str]
    path_patterns: _containers.RepeatedScalarFieldContainer[str]
    backend: str
    def __init__(self, priority: _Optional[int] = ..., host_patterns: _Optional[_Iterable[str]] = ..., path_patterns: _Optional[_Iterable[str]] = ..., backend: _Optional[str] = ...) -> None: ...

class RouteFrontend(_message.Message):
    __slots__ = ("name", "port", "mode", "rules", "default_backend", "proxy_protocol", "internal", "node_ids")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_BACKEND_FIELD_NUMBER: _ClassVar[int]
    PROXY_PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    INTERNAL_FIELD_NUMBER: _ClassVar[int]
    NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    name: str
    port: int
    mode: str
    rules: _containers.RepeatedCompositeFieldContainer[RouteRule]
    default_backend: str
    proxy_protocol: bool
    internal: bool
    node_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., port: _Optional[int] = ..., mode: _Optional[str] = ..., rules: _Optional[_Iterable[_Union[RouteRule, _Mapping]]] = ..., default_backend: _Optional[str] = ..., proxy_protocol: _Optional[bool] = ..., internal: _Optional[bool] = ..., node_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class DnsRecord(_message.Message):
    __slots__ = ("name", "via_proxy", "backend", "port", "port_name")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VIA_PROXY_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    PORT_NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    via_proxy: bool
    backend: str
    port: int
    port_name: str
    def __init__(self, name: _Optional[str] = ..., via_proxy: _Optional[bool] = ..., backend: _Optional[str] = ..., port: _Optional[int] = ..., port_name: _Optional[str] = ...) -> None: ...

class RoutingTable(_message.Message):
    __slots__ = ("cluster", "revision", "frontends", "backends", "dns")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    FRONTENDS_FIELD_NUMBER: _ClassVar[int]
    BACKENDS_FIELD_NUMBER: _ClassVar[int]
    DNS_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    revision: int
    frontends: _containers.RepeatedCompositeFieldContainer[RouteFrontend]
    backends: _containers.RepeatedCompositeFieldContainer[RouteBackend]
    dns: _containers.RepeatedCompositeFieldContainer[DnsRecord]
    def __init__(self, cluster: _Optional[str] = ..., revision: _Optional[int] = ..., frontends: _Optional[_Iterable[_Union[RouteFrontend, _Mapping]]] = ..., backends: _Optional[_Iterable[_Union[RouteBackend, _Mapping]]] = ..., dns: _Optional[_Iterable[_Union[DnsRecord, _Mapping]]] = ...) -> None: ...

class CreateLoadBalancerRequest(_message.Message):
    __slots__ = ("cluster", "name", "type", "node_expression", "tags", "client_token")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    NODE_EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    name: str
    type: str
    node_expression: str
    tags: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Tag]
    client_token: str
    def __init__(self, cluster: _Optional[str] = ..., name: _Optional[str] = ..., type: _Optional[str] = ..., node_expression: _Optional[str] = ..., tags: _Optional[_Iterable[_Union[_resources_pb2.Tag, _Mapping]]] = ..., client_token: _Optional[str] = ...) -> None: ...

class LoadBalancerRef(_message.Message):
    __slots__ = ("cluster", "load_balancer")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    LOAD_BALANCER_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    load_balancer: str
    def __init__(self, cluster: _Optional[str] = ..., load_balancer: _Optional[str] = ...) -> None: ...

class LoadBalancerResponse(_message.Message):
    __slots__ = ("load_balancer", "warnings")
    LOAD_BALANCER_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    load_balancer: LoadBalancer
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, load_balancer: _Optional[_Union[LoadBalancer, _Mapping]] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class DescribeLoadBalancersRequest(_message.Message):
    __slots__ = ("cluster", "load_balancers")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    LOAD_BALANCERS_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    load_balancers: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, cluster: _Optional[str] = ..., load_balancers: _Optional[_Iterable[str]] = ...) -> None: ...

class DescribeLoadBalancersResponse(_message.Message):
    __slots__ = ("load_balancers", "failures")
    LOAD_BALANCERS_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    load_balancers: _containers.RepeatedCompositeFieldContainer[LoadBalancer]
    failures: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Failure]
    def __init__(self, load_balancers: _Optional[_Iterable[_Union[LoadBalancer, _Mapping]]] = ..., failures: _Optional[_Iterable[_Union[_resources_pb2.Failure, _Mapping]]] = ...) -> None: ...

class CreateListenerRequest(_message.Message):
    __slots__ = ("cluster", "load_balancer", "port", "protocol", "default_target_group", "proxy_protocol")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    LOAD_BALANCER_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_TARGET_GROUP_FIELD_NUMBER: _ClassVar[int]
    PROXY_PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    load_balancer: str
    port: int
    protocol: str
    default_target_group: str
    proxy_protocol: bool
    def __init__(self, cluster: _Optional[str] = ..., load_balancer: _Optional[str] = ..., port: _Optional[int] = ..., protocol: _Optional[str] = ..., default_target_group: _Optional[str] = ..., proxy_protocol: _Optional[bool] = ...) -> None: ...

class ListenerRef(_message.Message):
    __slots__ = ("cluster", "listener_arn")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    LISTENER_ARN_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    listener_arn: str
    def __init__(self, cluster: _Optional[str] = ..., listener_arn: _Optional[str] = ...) -> None: ...

class CreateRuleRequest(_message.Message):
    __slots__ = ("cluster", "listener_arn", "priority", "host_patterns", "path_patterns", "target_group")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    LISTENER_ARN_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    HOST_PATTERNS_FIELD_NUMBER: _ClassVar[int]
    PATH_PATTERNS_FIELD_NUMBER: _ClassVar[int]
    TARGET_GROUP_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    listener_arn: str
    priority: int
    host_patterns: _containers.RepeatedScalarFieldContainer[str]
    path_patterns: _containers.RepeatedScalarFieldContainer[str]
    target_group: str
    def __init__(self, cluster: _Optional[str] = ..., listener_arn: _Optional[str] = ..., priority: _Optional[int] = ..., host_patterns: _Optional[_Iterable[str]] = ..., path_patterns: _Optional[_Iterable[str]] = ..., target_group: _Optional[str] = ...) -> None: ...

class RuleRef(_message.Message):
    __slots__ = ("cluster", "rule_arn")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    RULE_ARN_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    rule_arn: str
    def __init__(self, cluster: _Optional[str] = ..., rule_arn: _Optional[str] = ...) -> None: ...

class CreateTargetGroupRequest(_message.Message):
    __slots__ = ("cluster", "name", "protocol", "port", "health_check", "deregistration_delay_seconds", "tags")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    HEALTH_CHECK_FIELD_NUMBER: _ClassVar[int]
    DEREGISTRATION_DELAY_SECONDS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    name: str
    protocol: str
    port: int
    health_check: HealthCheckConfig
    deregistration_delay_seconds: int
    tags: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Tag]
    def __init__(self, cluster: _Optional[str] = ..., name: _Optional[str] = ..., protocol: _Optional[str] = ..., port: _Optional[int] = ..., health_check: _Optional[_Union[HealthCheckConfig, _Mapping]] = ..., deregistration_delay_seconds: _Optional[int] = ..., tags: _Optional[_Iterable[_Union[_resources_pb2.Tag, _Mapping]]] = ...) -> None: ...

class ModifyTargetGroupRequest(_message.Message):
    __slots__ = ("cluster", "target_group", "health_check", "deregistration_delay_seconds")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    TARGET_GROUP_FIELD_NUMBER: _ClassVar[int]
    HEALTH_CHECK_FIELD_NUMBER: _ClassVar[int]
    DEREGISTRATION_DELAY_SECONDS_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    target_group: str
    health_check: HealthCheckConfig
    deregistration_delay_seconds: int
    def __init__(self, cluster: _Optional[str] = ..., target_group: _Optional[str] = ..., health_check: _Optional[_Union[HealthCheckConfig, _Mapping]] = ..., deregistration_delay_seconds: _Optional[int] = ...) -> None: ...

class TargetGroupRef(_message.Message):
    __slots__ = ("cluster", "target_group")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    TARGET_GROUP_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    target_group: str
    def __init__(self, cluster: _Optional[str] = ..., target_group: _Optional[str] = ...) -> None: ...

class TargetGroupResponse(_message.Message):
    __slots__ = ("target_group", "warnings")
    TARGET_GROUP_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    target_group: TargetGroup
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, target_group: _Optional[_Union[TargetGroup, _Mapping]] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class DescribeTargetGroupsRequest(_message.Message):
    __slots__ = ("cluster", "target_groups", "load_balancer")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    TARGET_GROUPS_FIELD_NUMBER: _ClassVar[int]
    LOAD_BALANCER_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    target_groups: _containers.RepeatedScalarFieldContainer[str]
    load_balancer: str
    def __init__(self, cluster: _Optional[str] = ..., target_groups: _Optional[_Iterable[str]] = ..., load_balancer: _Optional[str] = ...) -> None: ...

class DescribeTargetGroupsResponse(_message.Message):
    __slots__ = ("target_groups", "failures")
    TARGET_GROUPS_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    target_groups: _containers.RepeatedCompositeFieldContainer[TargetGroup]
    failures: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Failure]
    def __init__(self, target_groups: _Optional[_Iterable[_Union[TargetGroup, _Mapping]]] = ..., failures: _Optional[_Iterable[_Union[_resources_pb2.Failure, _Mapping]]] = ...) -> None: ...

class DescribeTargetHealthResponse(_message.Message):
    __slots__ = ("targets",)
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    targets: _containers.RepeatedCompositeFieldContainer[TargetHealthDescription]
    def __init__(self, targets: _Optional[_Iterable[_Union[TargetHealthDescription, _Mapping]]] = ...) -> None: ...

class CreateNamespaceRequest(_message.Message):
    __slots__ = ("cluster", "name")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    name: str
    def __init__(self, cluster: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class NamespaceRef(_message.Message):
    __slots__ = ("cluster", "name")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    name: str
    def __init__(self, cluster: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class NamespaceResponse(_message.Message):
    __slots__ = ("namespace",)
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    namespace: Namespace
    def __init__(self, namespace: _Optional[_Union[Namespace, _Mapping]] = ...) -> None: ...

class ListNamespacesRequest(_message.Message):
    __slots__ = ("cluster",)
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    def __init__(self, cluster: _Optional[str] = ...) -> None: ...

class ListNamespacesResponse(_message.Message):
    __slots__ = ("namespaces",)
    NAMESPACES_FIELD_NUMBER: _ClassVar[int]
    namespaces: _containers.RepeatedCompositeFieldContainer[Namespace]
    def __init__(self, namespaces: _Optional[_Iterable[_Union[Namespace, _Mapping]]] = ...) -> None: ...

class ModifyListenerRequest(_message.Message):
    __slots__ = ("cluster", "listener_arn", "port", "protocol", "default_target_group")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    LISTENER_ARN_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_TARGET_GROUP_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    listener_arn: str
    port: int
    protocol: str
    default_target_group: str
    def __init__(self, cluster: _Optional[str] = ..., listener_arn: _Optional[str] = ..., port: _Optional[int] = ..., protocol: _Optional[str] = ..., default_target_group: _Optional[str] = ...) -> None: ...

class RegisteredTarget(_message.Message):
    __slots__ = ("id", "port", "registered_at", "deregister_until")
    ID_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    DEREGISTER_UNTIL_FIELD_NUMBER: _ClassVar[int]
    id: str
    port: int
    registered_at: float
    deregister_until: float
    def __init__(self, id: _Optional[str] = ..., port: _Optional[int] = ..., registered_at: _Optional[float] = ..., deregister_until: _Optional[float] = ...) -> None: ...

class RegisterTargetsRequest(_message.Message):
    __slots__ = ("cluster", "target_group", "targets")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    TARGET_GROUP_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    target_group: str
    targets: _containers.RepeatedCompositeFieldContainer[RegisteredTarget]
    def __init__(self, cluster: _Optional[str] = ..., target_group: _Optional[str] = ..., targets: _Optional[_Iterable[_Union[RegisteredTarget, _Mapping]]] = ...) -> None: ...

class ProxyCheckResult(_message.Message):
    __slots__ = ("target_group_id", "address", "port", "health")
    TARGET_GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    target_group_id: str
    address: str
    port: int
    health: _resources_pb2.TargetHealth
    def __init__(self, target_group_id: _Optional[str] = ..., address: _Optional[str] = ..., port: _Optional[int] = ..., health: _Optional[_Union[_resources_pb2.TargetHealth, _Mapping]] = ...) -> None: ...

class NodeProxyChecks(_message.Message):
    __slots__ = ("node_id", "at", "results")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    at: float
    results: _containers.RepeatedCompositeFieldContainer[ProxyCheckResult]
    def __init__(self, node_id: _Optional[str] = ..., at: _Optional[float] = ..., results: _Optional[_Iterable[_Union[ProxyCheckResult, _Mapping]]] = ...) -> None: ...
