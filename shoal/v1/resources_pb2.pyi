from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class KeyValuePair(_message.Message):
    __slots__ = ("name", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class Attribute(_message.Message):
    __slots__ = ("name", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class Tag(_message.Message):
    __slots__ = ("key", "value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: str
    def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class PortMapping(_message.Message):
    __slots__ = ("container_port", "host_port", "protocol", "name")
    CONTAINER_PORT_FIELD_NUMBER: _ClassVar[int]
    HOST_PORT_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    container_port: int
    host_port: int
    protocol: str
    name: str
    def __init__(self, container_port: _Optional[int] = ..., host_port: _Optional[int] = ..., protocol: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class HealthCheck(_message.Message):
    __slots__ = ("command", "interval", "timeout", "retries", "start_period")
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    RETRIES_FIELD_NUMBER: _ClassVar[int]
    START_PERIOD_FIELD_NUMBER: _ClassVar[int]
    command: _containers.RepeatedScalarFieldContainer[str]
    interval: int
    timeout: int
    retries: int
    start_period: int
    def __init__(self, command: _Optional[_Iterable[str]] = ..., interval: _Optional[int] = ..., timeout: _Optional[int] = ..., retries: _Optional[int] = ..., start_period: _Optional[int] = ...) -> None: ...

class ContainerDependency(_message.Message):
    __slots__ = ("container_name", "condition")
    CONTAINER_NAME_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    container_name: str
    condition: str
    def __init__(self, container_name: _Optional[str] = ..., condition: _Optional[str] = ...) -> None: ...

class MountPoint(_message.Message):
    __slots__ = ("source_volume", "container_path", "read_only")
    SOURCE_VOLUME_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_PATH_FIELD_NUMBER: _ClassVar[int]
    READ_ONLY_FIELD_NUMBER: _ClassVar[int]
    source_volume: str
    container_path: str
    read_only: bool
    def __init__(self, source_volume: _Optional[str] = ..., container_path: _Optional[str] = ..., read_only: _Optional[bool] = ...) -> None: ...

class VolumeFrom(_message.Message):
    __slots__ = ("source_container", "read_only")
    SOURCE_CONTAINER_FIELD_NUMBER: _ClassVar[int]
    READ_ONLY_FIELD_NUMBER: _ClassVar[int]
    source_container: str
    read_only: bool
    def __init__(self, source_container: _Optional[str] = ..., read_only: _Optional[bool] = ...) -> None: ...

class Ulimit(_message.Message):
    __slots__ = ("name", "soft_limit", "hard_limit")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SOFT_LIMIT_FIELD_NUMBER: _ClassVar[int]
    HARD_LIMIT_FIELD_NUMBER: _ClassVar[int]
    name: str
    soft_limit: int
    hard_limit: int
    def __init__(self, name: _Optional[str] = ..., soft_limit: _Optional[int] = ..., hard_limit: _Optional[int] = ...) -> None: ...

class LinuxParameters(_message.Message):
    __slots__ = ("init_process_enabled", "capabilities")
    INIT_PROCESS_ENABLED_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    init_process_enabled: bool
    capabilities: KernelCapabilities
    def __init__(self, init_process_enabled: _Optional[bool] = ..., capabilities: _Optional[_Union[KernelCapabilities, _Mapping]] = ...) -> None: ...

class KernelCapabilities(_message.Message):
    __slots__ = ("add", "drop")
    ADD_FIELD_NUMBER: _ClassVar[int]
    DROP_FIELD_NUMBER: _ClassVar[int]
    add: _containers.RepeatedScalarFieldContainer[str]
    drop: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, add: _Optional[_Iterable[str]] = ..., drop: _Optional[_Iterable[str]] = ...) -> None: ...

class Secret(_message.Message):
    __slots__ = ("name", "value_from")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FROM_FIELD_NUMBER: _ClassVar[int]
    name: str
    value_from: str
    def __init__(self, name: _Optional[str] = ..., value_from: _Optional[str] = ...) -> None: ...

class RestartPolicy(_message.Message):
    __slots__ = ("enabled", "ignored_exit_codes", "restart_attempt_period")
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    IGNORED_EXIT_CODES_FIELD_NUMBER: _ClassVar[int]
    RESTART_ATTEMPT_PERIOD_FIELD_NUMBER: _ClassVar[int]
    enabled: bool
    ignored_exit_codes: _containers.RepeatedScalarFieldContainer[int]
    restart_attempt_period: int
    def __init__(self, enabled: _Optional[bool] = ..., ignored_exit_codes: _Optional[_Iterable[int]] = ..., restart_attempt_period: _Optional[int] = ...) -> None: ...

class ContainerDefinition(_message.Message):
    __slots__ = ("name", "image", "cpu", "memory", "memory_reservation", "port_mappings", "essential", "command", "entry_point", "environment", "working_directory", "health_check", "stop_timeout", "depends_on", "mount_points", "volumes_from", "secrets", "privileged", "user", "docker_labels", "ulimits", "linux_parameters", "restart_policy", "hostname", "readonly_root_filesystem", "start_timeout")
    class DockerLabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    CPU_FIELD_NUMBER: _ClassVar[int]
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    MEMORY_RESERVATION_FIELD_NUMBER: _ClassVar[int]
    PORT_MAPPINGS_FIELD_NUMBER: _ClassVar[int]
    ESSENTIAL_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    ENTRY_POINT_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    WORKING_DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    HEALTH_CHECK_FIELD_NUMBER: _ClassVar[int]
    STOP_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    DEPENDS_ON_FIELD_NUMBER: _ClassVar[int]
    MOUNT_POINTS_FIELD_NUMBER: _ClassVar[int]
    VOLUMES_FROM_FIELD_NUMBER: _ClassVar[int]
    SECRETS_FIELD_NUMBER: _ClassVar[int]
    PRIVILEGED_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    DOCKER_LABELS_FIELD_NUMBER: _ClassVar[int]
    ULIMITS_FIELD_NUMBER: _ClassVar[int]
    LINUX_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    RESTART_POLICY_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    READONLY_ROOT_FILESYSTEM_FIELD_NUMBER: _ClassVar[int]
    START_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    name: str
    image: str
    cpu: int
    memory: int
    memory_reservation: int
    port_mappings: _containers.RepeatedCompositeFieldContainer[PortMapping]
    essential: bool
    command: _containers.RepeatedScalarFieldContainer[str]
    entry_point: _containers.RepeatedScalarFieldContainer[str]
    environment: _containers.RepeatedCompositeFieldContainer[KeyValuePair]
    working_directory: str
    health_check: HealthCheck
    stop_timeout: int
    depends_on: _containers.RepeatedCompositeFieldContainer[ContainerDependency]
    mount_points: _containers.RepeatedCompositeFieldContainer[MountPoint]
    volumes_from: _containers.RepeatedCompositeFieldContainer[VolumeFrom]
    secrets: _containers.RepeatedCompositeFieldContainer[Secret]
    privileged: bool
    user: str
    docker_labels: _containers.ScalarMap[str, str]
    ulimits: _containers.RepeatedCompositeFieldContainer[Ulimit]
    linux_parameters: LinuxParameters
    restart_policy: RestartPolicy
    hostname: str
    readonly_root_filesystem: bool
    start_timeout: int
    def __init__(self, name: _Optional[str] = ..., image: _Optional[str] = ..., cpu: _Optional[int] = ..., memory: _Optional[int] = ..., memory_reservation: _Optional[int] = ..., port_mappings: _Optional[_Iterable[_Union[PortMapping, _Mapping]]] = ..., essential: _Optional[bool] = ..., command: _Optional[_Iterable[str]] = ..., entry_point: _Optional[_Iterable[str]] = ..., environment: _Optional[_Iterable[_Union[KeyValuePair, _Mapping]]] = ..., working_directory: _Optional[str] = ..., health_check: _Optional[_Union[HealthCheck, _Mapping]] = ..., stop_timeout: _Optional[int] = ..., depends_on: _Optional[_Iterable[_Union[ContainerDependency, _Mapping]]] = ..., mount_points: _Optional[_Iterable[_Union[MountPoint, _Mapping]]] = ..., volumes_from: _Optional[_Iterable[_Union[VolumeFrom, _Mapping]]] = ..., secrets: _Optional[_Iterable[_Union[Secret, _Mapping]]] = ..., privileged: _Optional[bool] = ..., user: _Optional[str] = ..., docker_labels: _Optional[_Mapping[str, str]] = ..., ulimits: _Optional[_Iterable[_Union[Ulimit, _Mapping]]] = ..., linux_parameters: _Optional[_Union[LinuxParameters, _Mapping]] = ..., restart_policy: _Optional[_Union[RestartPolicy, _Mapping]] = ..., hostname: _Optional[str] = ..., readonly_root_filesystem: _Optional[bool] = ..., start_timeout: _Optional[int] = ...) -> None: ...

class HostVolumeProperties(_message.Message):
    __slots__ = ("source_path",)
    SOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    source_path: str
    def __init__(self, source_path: _Optional[str] = ...) -> None: ...

class DockerVolumeConfiguration(_message.Message):
    __slots__ = ("scope", "autoprovision", "driver", "driver_opts", "labels")
    class DriverOptsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    AUTOPROVISION_FIELD_NUMBER: _ClassVar[int]
    DRIVER_FIELD_NUMBER: _ClassVar[int]
    DRIVER_OPTS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    scope: str
    autoprovision: bool
    driver: str
    driver_opts: _containers.ScalarMap[str, str]
    labels: _containers.ScalarMap[str, str]
    def __init__(self, scope: _Optional[str] = ..., autoprovision: _Optional[bool] = ..., driver: _Optional[str] = ..., driver_opts: _Optional[_Mapping[str, str]] = ..., labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Volume(_message.Message):
    __slots__ = ("name", "host", "docker_volume_configuration", "efs_volume_configuration")
    NAME_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    DOCKER_VOLUME_CONFIGURATION_FIELD_NUMBER: _ClassVar[int]
    EFS_VOLUME_CONFIGURATION_FIELD_NUMBER: _ClassVar[int]
    name: str
    host: HostVolumeProperties
    docker_volume_configuration: DockerVolumeConfiguration
    efs_volume_configuration: EfsVolumeConfiguration
    def __init__(self, name: _Optional[str] = ..., host: _Optional[_Union[HostVolumeProperties, _Mapping]] = ..., docker_volume_configuration: _Optional[_Union[DockerVolumeConfiguration, _Mapping]] = ..., efs_volume_configuration: _Optional[_Union[EfsVolumeConfiguration, _Mapping]] = ...) -> None: ...

class PlacementConstraint(_message.Message):
    __slots__ = ("type", "expression")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    type: str
    expression: str
    def __init__(self, type: _Optional[str] = ..., expression: _Optional[str] = ...) -> None: ...

class PlacementStrategy(_message.Message):
    __slots__ = ("type", "field")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    type: str
    field: str
    def __init__(self, type: _Optional[str] = ..., field: _Optional[str] = ...) -> None: ...

class TaskDefinition(_message.Message):
    __slots__ = ("task_definition_arn", "family", "revision", "container_definitions", "cpu", "memory", "network_mode", "volumes", "placement_constraints", "status", "registered_at", "deregistered_at", "requires_compatibilities", "execution_role_arn", "task_role_arn", "warnings", "source_json", "tags", "daemon_task_definition")
    TASK_DEFINITION_ARN_FIELD_NUMBER: _ClassVar[int]
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_DEFINITIONS_FIELD_NUMBER: _ClassVar[int]
    CPU_FIELD_NUMBER: _ClassVar[int]
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    NETWORK_MODE_FIELD_NUMBER: _ClassVar[int]
    VOLUMES_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_CONSTRAINTS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    DEREGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    REQUIRES_COMPATIBILITIES_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_ROLE_ARN_FIELD_NUMBER: _ClassVar[int]
    TASK_ROLE_ARN_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_JSON_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    DAEMON_TASK_DEFINITION_FIELD_NUMBER: _ClassVar[int]
    task_definition_arn: str
    family: str
    revision: int
    container_definitions: _containers.RepeatedCompositeFieldContainer[ContainerDefinition]
    cpu: str
    memory: str
    network_mode: str
    volumes: _containers.RepeatedCompositeFieldContainer[Volume]
    placement_constraints: _containers.RepeatedCompositeFieldContainer[PlacementConstraint]
    status: str
    registered_at: float
    deregistered_at: float
    requires_compatibilities: _containers.RepeatedScalarFieldContainer[str]
    execution_role_arn: str
    task_role_arn: str
    warnings: _containers.RepeatedScalarFieldContainer[str]
    source_json: str
    tags: _containers.RepeatedCompositeFieldContainer[Tag]
    daemon_task_definition: bool
    def __init__(self, task_definition_arn: _Optional[str] = ..., family: _Optional[str] = ..., revision: _Optional[int] = ..., container_definitions: _Optional[_Iterable[_Union[ContainerDefinition, _Mapping]]] = ..., cpu: _Optional[str] = ..., memory: _Optional[str] = ..., network_mode: _Optional[str] = ..., volumes: _Optional[_Iterable[_Union[Volume, _Mapping]]] = ..., placement_constraints: _Optional[_Iterable[_Union[PlacementConstraint, _Mapping]]] = ..., status: _Optional[str] = ..., registered_at: _Optional[float] = ..., deregistered_at: _Optional[float] = ..., requires_compatibilities: _Optional[_Iterable[str]] = ..., execution_role_arn: _Optional[str] = ..., task_role_arn: _Optional[str] = ..., warnings: _Optional[_Iterable[str]] = ..., source_json: _Optional[str] = ..., tags: _Optional[_Iterable[_Union[Tag, _Mapping]]] = ..., daemon_task_definition: _Optional[bool] = ...) -> None: ...

class NetworkBinding(_message.Message):
    __slots__ = ("bind_ip", "container_port", "host_port", "protocol")
    BIND_IP_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_PORT_FIELD_NUMBER: _ClassVar[int]
    HOST_PORT_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    bind_ip: str
    container_port: int
    host_port: int
    protocol: str
    def __init__(self, bind_ip: _Optional[str] = ..., container_port: _Optional[int] = ..., host_port: _Optional[int] = ..., protocol: _Optional[str] = ...) -> None: ...

class Container(_message.Message):
    __slots__ = ("container_arn", "task_arn", "name", "image", "runtime_id", "last_status", "exit_code", "reason", "network_bindings", "health_status")
    CONTAINER_ARN_FIELD_NUMBER: _ClassVar[int]
    TASK_ARN_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_STATUS_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    NETWORK_BINDINGS_FIELD_NUMBER: _ClassVar[int]
    HEALTH_STATUS_FIELD_NUMBER: _ClassVar[int]
    container_arn: str
    task_arn: str
    name: str
    image: str
    runtime_id: str
    last_status: str
    exit_code: int
    reason: str
    network_bindings: _containers.RepeatedCompositeFieldContainer[NetworkBinding]
    health_status: str
    def __init__(self, container_arn: _Optional[str] = ..., task_arn: _Optional[str] = ..., name: _Optional[str] = ..., image: _Optional[str] = ..., runtime_id: _Optional[str] = ..., last_status: _Optional[str] = ..., exit_code: _Optional[int] = ..., reason: _Optional[str] = ..., network_bindings: _Optional[_Iterable[_Union[NetworkBinding, _Mapping]]] = ..., health_status: _Optional[str] = ...) -> None: ...

class Task(_message.Message):
    __slots__ = ("task_arn", "cluster_arn", "task_definition_arn", "container_instance_arn", "last_status", "desired_status", "stopped_reason", "stop_code", "containers", "group", "started_by", "cpu", "memory", "launch_type", "version", "created_at", "started_at", "stopping_at", "stopped_at", "pull_started_at", "pull_stopped_at", "health_status", "tags", "id", "cluster", "node_id", "service_name", "placement_message", "placement_constraints", "placement_strategy", "deployment_id", "target_health", "deregister_until", "capacity_provider_name", "protection_enabled", "protection_expires_at", "disconnected_at", "status_before_disconnect", "task_set_id", "enable_execute_command")
    TASK_ARN_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_ARN_FIELD_NUMBER: _ClassVar[int]
    TASK_DEFINITION_ARN_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_INSTANCE_ARN_FIELD_NUMBER: _ClassVar[int]
    LAST_STATUS_FIELD_NUMBER: _ClassVar[int]
    DESIRED_STATUS_FIELD_NUMBER: _ClassVar[int]
    STOPPED_REASON_FIELD_NUMBER: _ClassVar[int]
    STOP_CODE_FIELD_NUMBER: _ClassVar[int]
    CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    STARTED_BY_FIELD_NUMBER: _ClassVar[int]
    CPU_FIELD_NUMBER: _ClassVar[int]
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    LAUNCH_TYPE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    STOPPING_AT_FIELD_NUMBER: _ClassVar[int]
    STOPPED_AT_FIELD_NUMBER: _ClassVar[int]
    PULL_STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    PULL_STOPPED_AT_FIELD_NUMBER: _ClassVar[int]
    HEALTH_STATUS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_NAME_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_CONSTRAINTS_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_HEALTH_FIELD_NUMBER: _ClassVar[int]
    DEREGISTER_UNTIL_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_PROVIDER_NAME_FIELD_NUMBER: _ClassVar[int]
    PROTECTION_ENABLED_FIELD_NUMBER: _ClassVar[int]
    PROTECTION_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    DISCONNECTED_AT_FIELD_NUMBER: _ClassVar[int]
    STATUS_BEFORE_DISCONNECT_FIELD_NUMBER: _ClassVar[int]
    TASK_SET_ID_FIELD_NUMBER: _ClassVar[int]
    ENABLE_EXECUTE_COMMAND_FIELD_NUMBER: _ClassVar[int]
    task_arn: str
    cluster_arn: str
    task_definition_arn: str
    container_instance_arn: str
    last_status: str
    desired_status: str
    stopped_reason: str
    stop_code: str
    containers: _containers.RepeatedCompositeFieldContainer[Container]
    group: str
    started_by: str
    cpu: str
    memory: str
    launch_type: str
    version: int
    created_at: float
    started_at: float
    stopping_at: float
    stopped_at: float
    pull_started_at: float
    pull_stopped_at: float
    health_status: str
    tags: _containers.RepeatedCompositeFieldContainer[Tag]
    id: str
    cluster: str
    node_id: str
    service_name: str
    placement_message: str
    placement_constraints: _containers.RepeatedCompositeFieldContainer[PlacementConstraint]
    placement_strategy: _containers.RepeatedCompositeFieldContainer[PlacementStrategy]
    deployment_id: str
    target_health: _containers.RepeatedCompositeFieldContainer[TargetHealth]
    deregister_until: float
    capacity_provider_name: str
    protection_enabled: bool
    protection_expires_at: float
    disconnected_at: float
    status_before_disconnect: str
    task_set_id: str
    enable_execute_command: bool
    def __init__(self, task_arn: _Optional[str] = ..., cluster_arn: _Optional[str] = ..., task_definition_arn: _Optional[str] = ..., container_instance_arn: _Optional[str] = ..., last_status: _Optional[str] = ..., desired_status: _Optional[str] = ..., stopped_reason: _Optional[str] = ..., stop_code: _Optional[str] = ..., containers: _Optional[_Iterable[_Union[Container, _Mapping]]] = ..., group: _Optional[str] = ..., started_by: _Optional[str] = ..., cpu: _Optional[str] = ..., memory: _Optional[str] = ..., launch_type: _Optional[str] = ..., version: _Optional[int] = ..., created_at: _Optional[float] = ..., started_at: _Optional[float] = ..., stopping_at: _Optional[float] = ..., stopped_at: _Optional[float] = ..., pull_started_at: _Optional[float] = ..., pull_stopped_at: _Optional[float] = ..., health_status: _Optional[str] = ..., tags: _Optional[_Iterable[_Union[Tag, _Mapping]]] = ..., id: _Optional[str] = ..., cluster: _Optional[str] = ..., node_id: _Optional[str] = ..., service_name: _Optional[str] = ..., placement_message: _Optional[str] = ..., placement_constraints: _Optional[_Iterable[_Union[PlacementConstraint, _Mapping]]] = ..., placement_strategy: _Optional[_Iterable[_Union[PlacementStrategy, _Mapping]]] = ..., deployment_id: _Optional[str] = ..., target_health: _Optional[_Iterable[_Union[TargetHealth, _Mapping]]] = ..., deregister_until: _Optional[float] = ..., capacity_provider_name: _Optional[str] = ..., protection_enabled: _Optional[bool] = ..., protection_expires_at: _Optional[float] = ..., disconnected_at: _Optional[float] = ..., status_before_disconnect: _Optional[str] = ..., task_set_id: _Optional[str] = ..., enable_execute_command: _Optional[bool] = ...) -> None: ...

class Resource(_message.Message):
    __slots__ = ("name", "type", "integer_value", "string_set_value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    INTEGER_VALUE_FIELD_NUMBER: _ClassVar[int]
    STRING_SET_VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    integer_value: int
    string_set_value: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., integer_value: _Optional[int] = ..., string_set_value: _Optional[_Iterable[str]] = ...) -> None: ...

class ContainerInstance(_message.Message):
    __slots__ = ("container_instance_arn", "ec2_instance_id", "status", "agent_connected", "registered_resources", "remaining_resources", "running_tasks_count", "pending_tasks_count", "attributes", "registered_at", "status_reason", "tags", "id", "cluster", "hostname", "address", "metrics_port", "cpu_units", "memory_mib", "host_cpu_percent", "host_memory_used_bytes", "host_memory_total_bytes", "last_heartbeat_at", "agent_version", "dynamic_port_low", "dynamic_port_high", "proxy_metrics_port", "custom_attributes", "activated_at")
    CONTAINER_INSTANCE_ARN_FIELD_NUMBER: _ClassVar[int]
    EC2_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    AGENT_CONNECTED_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_RESOURCES_FIELD_NUMBER: _ClassVar[int]
    REMAINING_RESOURCES_FIELD_NUMBER: _ClassVar[int]
    RUNNING_TASKS_COUNT_FIELD_NUMBER: _ClassVar[int]
    PENDING_TASKS_COUNT_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    STATUS_REASON_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    METRICS_PORT_FIELD_NUMBER: _ClassVar[int]
    CPU_UNITS_FIELD_NUMBER: _ClassVar[int]
    MEMORY_MIB_FIELD_NUMBER: _ClassVar[int]
    HOST_CPU_PERCENT_FIELD_NUMBER: _ClassVar[int]
    HOST_MEMORY_USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    HOST_MEMORY_TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_AT_FIELD_NUMBER: _ClassVar[int]
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    DYNAMIC_PORT_LOW_FIELD_NUMBER: _ClassVar[int]
    DYNAMIC_PORT_HIGH_FIELD_NUMBER: _ClassVar[int]
    PROXY_METRICS_PORT_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    ACTIVATED_AT_FIELD_NUMBER: _ClassVar[int]
    container_instance_arn: str
    ec2_instance_id: str
    status: str
    agent_connected: bool
    registered_resources: _containers.RepeatedCompositeFieldContainer[Resource]
    remaining_resources: _containers.RepeatedCompositeFieldContainer[Resource]
    running_tasks_count: int
    pending_tasks_count: int
    attributes: _containers.RepeatedCompositeFieldContainer[Attribute]
    registered_at: float
    status_reason: str
    tags: _containers.RepeatedCompositeFieldContainer[Tag]
    id: str
    cluster: str
    hostname: str
    address: str
    metrics_port: int
    cpu_units: int
    memory_mib: int
    host_cpu_percent: float
    host_memory_used_bytes: int
    host_memory_total_bytes: int
    last_heartbeat_at: float
    agent_version: str
    dynamic_port_low: int
    dynamic_port_high: int
    proxy_metrics_port: int
    custom_attributes: _containers.RepeatedCompositeFieldContainer[Attribute]
    activated_at: float
    def __init__(self, container_instance_arn: _Optional[str] = ..., ec2_instance_id: _Optional[str] = ..., status: _Optional[str] = ..., agent_connected: _Optional[bool] = ..., registered_resources: _Optional[_Iterable[_Union[Resource, _Mapping]]] = ..., remaining_resources: _Optional[_Iterable[_Union[Resource, _Mapping]]] = ..., running_tasks_count: _Optional[int] = ..., pending_tasks_count: _Optional[int] = ..., attributes: _Optional[_Iterable[_Union[Attribute, _Mapping]]] = ..., registered_at: _Optional[float] = ..., status_reason: _Optional[str] = ..., tags: _Optional[_Iterable[_Union[Tag, _Mapping]]] = ..., id: _Optional[str] = ..., cluster: _Optional[str] = ..., hostname: _Optional[str] = ..., address: _Optional[str] = ..., metrics_port: _Optional[int] = ..., cpu_units: _Optional[int] = ..., memory_mib: _Optional[int] = ..., host_cpu_percent: _Optional[float] = ..., host_memory_used_bytes: _Optional[int] = ..., host_memory_total_bytes: _Optional[int] = ..., last_heartbeat_at: _Optional[float] = ..., agent_version: _Optional[str] = ..., dynamic_port_low: _Optional[int] = ..., dynamic_port_high: _Optional[int] = ..., proxy_metrics_port: _Optional[int] = ..., custom_attributes: _Optional[_Iterable[_Union[Attribute, _Mapping]]] = ..., activated_at: _Optional[float] = ...) -> None: ...

class DeploymentCircuitBreaker(_message.Message):
    __slots__ = ("enable", "rollback")
    ENABLE_FIELD_NUMBER: _ClassVar[int]
    ROLLBACK_FIELD_NUMBER: _ClassVar[int]
    enable: bool
    rollback: bool
    def __init__(self, enable: _Optional[bool] = ..., rollback: _Optional[bool] = ...) -> None: ...

class DeploymentConfiguration(_message.Message):
    __slots__ = ("minimum_healthy_percent", "maximum_percent", "deployment_circuit_breaker", "strategy", "bake_time_in_minutes", "canary_configuration", "linear_configuration", "lifecycle_hooks")
    MINIMUM_HEALTHY_PERCENT_FIELD_NUMBER: _ClassVar[int]
    MAXIMUM_PERCENT_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_CIRCUIT_BREAKER_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    BAKE_TIME_IN_MINUTES_FIELD_NUMBER: _ClassVar[int]
    CANARY_CONFIGURATION_FIELD_NUMBER: _ClassVar[int]
    LINEAR_CONFIGURATION_FIELD_NUMBER: _ClassVar[int]
    LIFECYCLE_HOOKS_FIELD_NUMBER: _ClassVar[int]
    minimum_healthy_percent: int
    maximum_percent: int
    deployment_circuit_breaker: DeploymentCircuitBreaker
    strategy: str
    bake_time_in_minutes: int
    canary_configuration: CanaryConfiguration
    linear_configuration: LinearConfiguration
    lifecycle_hooks: _containers.RepeatedCompositeFieldContainer[DeploymentLifecycleHook]
    def __init__(self, minimum_healthy_percent: _Optional[int] = ..., maximum_percent: _Optional[int] = ..., deployment_circuit_breaker: _Optional[_Union[DeploymentCircuitBreaker, _Mapping]] = ..., strategy: _Optional[str] = ..., bake_time_in_minutes: _Optional[int] = ..., canary_configuration: _Optional[_Union[CanaryConfiguration, _Mapping]] = ..., linear_configuration: _Optional[_Union[LinearConfiguration, _Mapping]] = ..., lifecycle_hooks: _Optional[_Iterable[_Union[DeploymentLifecycleHook, _Mapping]]] = ...) -> None: ...

class Deployment(_message.Message):
    __slots__ = ("id", "status", "task_definition", "desired_count", "pending_count", "running_count", "failed_tasks", "created_at", "updated_at", "rollout_state", "rollout_state_reason", "capacity_provider_strategy", "service_revision_arn", "rollback_of", "lifecycle_stage", "stage_started_at", "traffic_percent", "hooks")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TASK_DEFINITION_FIELD_NUMBER: _ClassVar[int]
    DESIRED_COUNT_FIELD_NUMBER: _ClassVar[int]
    PENDING_COUNT_FIELD_NUMBER: _ClassVar[int]
    RUNNING_COUNT_FIELD_NUMBER: _ClassVar[int]
    FAILED_TASKS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    ROLLOUT_STATE_FIELD_NUMBER: _ClassVar[int]
    ROLLOUT_STATE_REASON_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_PROVIDER_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    SERVICE_REVISION_ARN_FIELD_NUMBER: _ClassVar[int]
    ROLLBACK_OF_FIELD_NUMBER: _ClassVar[int]
    LIFECYCLE_STAGE_FIELD_NUMBER: _ClassVar[int]
    STAGE_STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    TRAFFIC_PERCENT_FIELD_NUMBER: _ClassVar[int]
    HOOKS_FIELD_NUMBER: _ClassVar[int]
    id: str
    status: str
    task_definition: str
    desired_count: int
    pending_count: int
    running_count: int
    failed_tasks: int
    created_at: float
    updated_at: float
    rollout_state: str
    rollout_state_reason: str
    capacity_provider_strategy: _containers.RepeatedCompositeFieldContainer[CapacityProviderStrategyItem]
    service_revision_arn: str
    rollback_of: str
    lifecycle_stage: str
    stage_started_at: float
    traffic_percent: float
    hooks: _containers.RepeatedCompositeFieldContainer[DeploymentLifecycleHookDetail]
    def __init__(self, id: _Optional[str] = ..., status: _Optional[str] = ..., task_definition: _Optional[str] = ..., desired_count: _Optional[int] = ..., pending_count: _Optional[int] = ..., running_count: _Optional[int] = ..., failed_tasks: _Optional[int] = ..., created_at: _Optional[float] = ..., updated_at: _Optional[float] = ..., rollout_state: _Optional[str] = ..., rollout_state_reason: _Optional[str] = ..., capacity_provider_strategy: _Optional[_Iterable[_Union[CapacityProviderStrategyItem, _Mapping]]] = ..., service_revision_arn: _Optional[str] = ..., rollback_of: _Optional[str] = ..., lifecycle_stage: _Optional[str] = ..., stage_started_at: _Optional[float] = ..., traffic_percent: _Optional[float] = ..., hooks: _Optional[_Iterable[_Union[DeploymentLifecycleHookDetail, _Mapping]]] = ...) -> None: ...

class ServiceEvent(_message.Message):
    __slots__ = ("id", "created_at", "message")
    ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    id: str
    created_at: float
    message: str
    def __init__(self, id: _Optional[str] = ..., created_at: _Optional[float] = ..., message: _Optional[str] = ...) -> None: ...

class Service(_message.Message):
    __slots__ = ("service_arn", "service_name", "cluster_arn", "task_definition", "desired_count", "running_count", "pending_count", "status", "launch_type", "placement_constraints", "placement_strategy", "deployment_configuration", "deployments", "events", "created_at", "health_check_grace_period_seconds", "scheduling_strategy", "tags", "load_balancers", "service_registries", "service_connect_configuration", "cluster", "capacity_provider_strategy", "service_deployments", "service_revisions", "disconnect_tolerance_seconds", "replace_on_disconnect", "daemon_critical", "daemon_critical_grace_seconds", "availability_zone_rebalancing", "rebalancing_task_id", "rebalance_not_before", "enable_execute_command", "deployment_controller", "task_sets")
    SERVICE_ARN_FIELD_NUMBER: _ClassVar[int]
    SERVICE_NAME_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_ARN_FIELD_NUMBER: _ClassVar[int]
    TASK_DEFINITION_FIELD_NUMBER: _ClassVar[int]
    DESIRED_COUNT_FIELD_NUMBER: _ClassVar[int]
    RUNNING_COUNT_FIELD_NUMBER: _ClassVar[int]
    PENDING_COUNT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LAUNCH_TYPE_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_CONSTRAINTS_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_CONFIGURATION_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENTS_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    HEALTH_CHECK_GRACE_PERIOD_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SCHEDULING_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    LOAD_BALANCERS_FIELD_NUMBER: _ClassVar[int]
    SERVICE_REGISTRIES_FIELD_NUMBER: _ClassVar[int]
    SERVICE_CONNECT_CONFIGURATION_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_PROVIDER_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    SERVICE_DEPLOYMENTS_FIELD_NUMBER: _ClassVar[int]
    SERVICE_REVISIONS_FIELD_NUMBER: _ClassVar[int]
    DISCONNECT_TOLERANCE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    REPLACE_ON_DISCONNECT_FIELD_NUMBER: _ClassVar[int]
    DAEMON_CRITICAL_FIELD_NUMBER: _ClassVar[int]
    DAEMON_CRITICAL_GRACE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    AVAILABILITY_ZONE_REBALANCING_FIELD_NUMBER: _ClassVar[int]
    REBALANCING_TASK_ID_FIELD_NUMBER: _ClassVar[int]
    REBALANCE_NOT_BEFORE_FIELD_NUMBER: _ClassVar[int]
    ENABLE_EXECUTE_COMMAND_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_CONTROLLER_FIELD_NUMBER: _ClassVar[int]
    TASK_SETS_FIELD_NUMBER: _ClassVar[int]
    service_arn: str
    service_name: str
    cluster_arn: str
    task_definition: str
    desired_count: int
    running_count: int
    pending_count: int
    status: str
    launch_type: str
    placement_constraints: _containers.RepeatedCompositeFieldContainer[PlacementConstraint]
    placement_strategy: _containers.RepeatedCompositeFieldContainer[PlacementStrategy]
    deployment_configuration: DeploymentConfiguration
    deployments: _containers.RepeatedCompositeFieldContainer[Deployment]
    events: _containers.RepeatedCompositeFieldContainer[ServiceEvent]
    created_at: float
    health_check_grace_period_seconds: int
    scheduling_strategy: str
    tags: _containers.RepeatedCompositeFieldContainer[Tag]
    load_balancers: _containers.RepeatedCompositeFieldContainer[ServiceLoadBalancer]
    service_registries: _containers.RepeatedCompositeFieldContainer[ServiceRegistry]
    service_connect_configuration: ServiceConnectConfiguration
    cluster: str
    capacity_provider_strategy: _containers.RepeatedCompositeFieldContainer[CapacityProviderStrategyItem]
    service_deployments: _containers.RepeatedCompositeFieldContainer[ServiceDeployment]
    service_revisions: _containers.RepeatedCompositeFieldContainer[ServiceRevision]
    disconnect_tolerance_seconds: int
    replace_on_disconnect: bool
    daemon_critical: bool
    daemon_critical_grace_seconds: int
    availability_zone_rebalancing: str
    rebalancing_task_id: str
    rebalance_not_before: float
    enable_execute_command: bool
    deployment_controller: DeploymentController
    task_sets: _containers.RepeatedCompositeFieldContainer[TaskSet]
    def __init__(self, service_arn: _Optional[str] = ..., service_name: _Optional[str] = ..., cluster_arn: _Optional[str] = ..., task_definition: _Optional[str] = ..., desired_count: _Optional[int] = ..., running_count: _Optional[int] = ..., pending_count: _Optional[int] = ..., status: _Optional[str] = ..., launch_type: _Optional[str] = ..., placement_constraints: _Optional[_Iterable[_Union[PlacementConstraint, _Mapping]]] = ..., placement_strategy: _Optional[_Iterable[_Union[PlacementStrategy, _Mapping]]] = ..., deployment_configuration: _Optional[_Union[DeploymentConfiguration, _Mapping]] = ..., deployments: _Optional[_Iterable[_Union[Deployment, _Mapping]]] = ..., events: _Optional[_Iterable[_Union[ServiceEvent, _Mapping]]] = ..., created_at: _Optional[float] = ..., health_check_grace_period_seconds: _Optional[int] = ..., scheduling_strategy: _Optional[str] = ..., tags: _Optional[_Iterable[_Union[Tag, _Mapping]]] = ..., load_balancers: _Optional[_Iterable[_Union[ServiceLoadBalancer, _Mapping]]] = ..., service_registries: _Optional[_Iterable[_Union[ServiceRegistry, _Mapping]]] = ..., service_connect_configuration: _Optional[_Union[ServiceConnectConfiguration, _Mapping]] = ..., cluster: _Optional[str] = ..., capacity_provider_strategy: _Optional[_Iterable[_Union[CapacityProviderStrategyItem, _Mapping]]] = ..., service_deployments: _Optional[_Iterable[_Union[ServiceDeployment, _Mapping]]] = ..., service_revisions: _Optional[_Iterable[_Union[ServiceRevision, _Mapping]]] = ..., disconnect_tolerance_seconds: _Optional[int] = ..., replace_on_disconnect: _Optional[bool] = ..., daemon_critical: _Optional[bool] = ..., daemon_critical_grace_seconds: _Optional[int] = ..., availability_zone_rebalancing: _Optional[str] = ..., rebalancing_task_id: _Optional[str] = ..., rebalance_not_before: _Optional[float] = ..., enable_execute_command: _Optional[bool] = ..., deployment_controller: _Optional[_Union[DeploymentController, _Mapping]] = ..., task_sets: _Optional[_Iterable[_Union[TaskSet, _Mapping]]] = ...) -> None: ...

class Cluster(_message.Message):
    __slots__ = ("cluster_arn", "cluster_name", "status", "registered_container_instances_count", "running_tasks_count", "pending_tasks_count", "active_services_count", "tags", "capacity_providers", "default_capacity_provider_strategy", "settings")
    CLUSTER_ARN_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_CONTAINER_INSTANCES_COUNT_FIELD_NUMBER: _ClassVar[int]
    RUNNING_TASKS_COUNT_FIELD_NUMBER: _ClassVar[int]
    PENDING_TASKS_COUNT_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_SERVICES_COUNT_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_CAPACITY_PROVIDER_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    cluster_arn: str
    cluster_name: str
    status: str
    registered_container_instances_count: int
    running_tasks_count: int
    pending_tasks_count: int
    active_services_count: int
    tags: _containers.RepeatedCompositeFieldContainer[Tag]
    capacity_providers: _containers.RepeatedScalarFieldContainer[str]
    default_capacity_provider_strategy: _containers.RepeatedCompositeFieldContainer[CapacityProviderStrategyItem]
    settings: _containers.RepeatedCompositeFieldContainer[ClusterSetting]
    def __init__(self, cluster_arn: _Optional[str] = ..., cluster_name: _Optional[str] = ..., status: _Optional[str] = ..., registered_container_instances_count: _Optional[int] = ..., running_tasks_count: _Optional[int] = ..., pending_tasks_count: _Optional[int] = ..., active_services_count: _Optional[int] = ..., tags: _Optional[_Iterable[_Union[Tag, _Mapping]]] = ..., capacity_providers: _Optional[_Iterable[str]] = ..., default_capacity_provider_strategy: _Optional[_Iterable[_Union[CapacityProviderStrategyItem, _Mapping]]] = ..., settings: _Optional[_Iterable[_Union[ClusterSetting, _Mapping]]] = ...) -> None: ...

class CapacityProviderStrategyItem(_message.Message):
    __slots__ = ("capacity_provider", "weight", "base")
    CAPACITY_PROVIDER_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    BASE_FIELD_NUMBER: _ClassVar[int]
    capacity_provider: str
    weight: int
    base: int
    def __init__(self, capacity_provider: _Optional[str] = ..., weight: _Optional[int] = ..., base: _Optional[int] = ...) -> None: ...

class Failure(_message.Message):
    __slots__ = ("arn", "reason", "detail")
    ARN_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    arn: str
    reason: str
    detail: str
    def __init__(self, arn: _Optional[str] = ..., reason: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class TaskAssignment(_message.Message):
    __slots__ = ("task", "task_definition", "revision", "targets")
    TASK_FIELD_NUMBER: _ClassVar[int]
    TASK_DEFINITION_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    task: Task
    task_definition: TaskDefinition
    revision: int
    targets: _containers.RepeatedCompositeFieldContainer[AssignedTarget]
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ..., task_definition: _Optional[_Union[TaskDefinition, _Mapping]] = ..., revision: _Optional[int] = ..., targets: _Optional[_Iterable[_Union[AssignedTarget, _Mapping]]] = ...) -> None: ...

class AssignedTarget(_message.Message):
    __slots__ = ("target_group_arn", "container_name", "container_port", "protocol", "path", "matcher", "interval_seconds", "timeout_seconds", "healthy_threshold", "unhealthy_threshold", "deregistration_delay_seconds")
    TARGET_GROUP_ARN_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_NAME_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_PORT_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    MATCHER_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    HEALTHY_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    UNHEALTHY_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    DEREGISTRATION_DELAY_SECONDS_FIELD_NUMBER: _ClassVar[int]
    target_group_arn: str
    container_name: str
    container_port: int
    protocol: str
    path: str
    matcher: str
    interval_seconds: int
    timeout_seconds: int
    healthy_threshold: int
    unhealthy_threshold: int
    deregistration_delay_seconds: int
    def __init__(self, target_group_arn: _Optional[str] = ..., container_name: _Optional[str] = ..., container_port: _Optional[int] = ..., protocol: _Optional[str] = ..., path: _Optional[str] = ..., matcher: _Optional[str] = ..., interval_seconds: _Optional[int] = ..., timeout_seconds: _Optional[int] = ..., healthy_threshold: _Optional[int] = ..., unhealthy_threshold: _Optional[int] = ..., deregistration_delay_seconds: _Optional[int] = ...) -> None: ...

class ServiceLoadBalancer(_message.Message):
    __slots__ = ("target_group_arn", "load_balancer_name", "container_name", "container_port")
    TARGET_GROUP_ARN_FIELD_NUMBER: _ClassVar[int]
    LOAD_BALANCER_NAME_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_NAME_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_PORT_FIELD_NUMBER: _ClassVar[int]
    target_group_arn: str
    load_balancer_name: str
    container_name: str
    container_port: int
    def __init__(self, target_group_arn: _Optional[str] = ..., load_balancer_name: _Optional[str] = ..., container_name: _Optional[str] = ..., container_port: _Optional[int] = ...) -> None: ...

class ServiceRegistry(_message.Message):
    __slots__ = ("registry_arn", "namespace", "container_name", "container_port", "port")
    REGISTRY_ARN_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_NAME_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_PORT_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    registry_arn: str
    namespace: str
    container_name: str
    container_port: int
    port: int
    def __init__(self, registry_arn: _Optional[str] = ..., namespace: _Optional[str] = ..., container_name: _Optional[str] = ..., container_port: _Optional[int] = ..., port: _Optional[int] = ...) -> None: ...

class ServiceConnectClientAlias(_message.Message):
    __slots__ = ("port", "dns_name")
    PORT_FIELD_NUMBER: _ClassVar[int]
    DNS_NAME_FIELD_NUMBER: _ClassVar[int]
    port: int
    dns_name: str
    def __init__(self, port: _Optional[int] = ..., dns_name: _Optional[str] = ...) -> None: ...

class ServiceConnectService(_message.Message):
    __slots__ = ("port_name", "discovery_name", "client_aliases")
    PORT_NAME_FIELD_NUMBER: _ClassVar[int]
    DISCOVERY_NAME_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ALIASES_FIELD_NUMBER: _ClassVar[int]
    port_name: str
    discovery_name: str
    client_aliases: _containers.RepeatedCompositeFieldContainer[ServiceConnectClientAlias]
    def __init__(self, port_name: _Optional[str] = ..., discovery_name: _Optional[str] = ..., client_aliases: _Optional[_Iterable[_Union[ServiceConnectClientAlias, _Mapping]]] = ...) -> None: ...

class ServiceConnectConfiguration(_message.Message):
    __slots__ = ("enabled", "namespace", "services")
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    enabled: bool
    namespace: str
    services: _containers.RepeatedCompositeFieldContainer[ServiceConnectService]
    def __init__(self, enabled: _Optional[bool] = ..., namespace: _Optional[str] = ..., services: _Optional[_Iterable[_Union[ServiceConnectService, _Mapping]]] = ...) -> None: ...

class TargetHealth(_message.Message):
    __slots__ = ("target_group_arn", "state", "reason", "description")
    TARGET_GROUP_ARN_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    target_group_arn: str
    state: str
    reason: str
    description: str
    def __init__(self, target_group_arn: _Optional[str] = ..., state: _Optional[str] = ..., reason: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class PrePull(_message.Message):
    __slots__ = ("cluster", "service", "deployment_id", "task_definition_arn", "images", "created_at", "node_id")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_DEFINITION_ARN_FIELD_NUMBER: _ClassVar[int]
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    service: str
    deployment_id: str
    task_definition_arn: str
    images: _containers.RepeatedScalarFieldContainer[str]
    created_at: float
    node_id: str
    def __init__(self, cluster: _Optional[str] = ..., service: _Optional[str] = ..., deployment_id: _Optional[str] = ..., task_definition_arn: _Optional[str] = ..., images: _Optional[_Iterable[str]] = ..., created_at: _Optional[float] = ..., node_id: _Optional[str] = ...) -> None: ...

class ClusterSetting(_message.Message):
    __slots__ = ("name", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class ServiceRevision(_message.Message):
    __slots__ = ("service_revision_arn", "service_arn", "cluster_arn", "task_definition", "capacity_provider_strategy", "launch_type", "load_balancers", "service_registries", "created_at")
    SERVICE_REVISION_ARN_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ARN_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_ARN_FIELD_NUMBER: _ClassVar[int]
    TASK_DEFINITION_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_PROVIDER_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    LAUNCH_TYPE_FIELD_NUMBER: _ClassVar[int]
    LOAD_BALANCERS_FIELD_NUMBER: _ClassVar[int]
    SERVICE_REGISTRIES_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    service_revision_arn: str
    service_arn: str
    cluster_arn: str
    task_definition: str
    capacity_provider_strategy: _containers.RepeatedCompositeFieldContainer[CapacityProviderStrategyItem]
    launch_type: str
    load_balancers: _containers.RepeatedCompositeFieldContainer[ServiceLoadBalancer]
    service_registries: _containers.RepeatedCompositeFieldContainer[ServiceRegistry]
    created_at: float
    def __init__(self, service_revision_arn: _Optional[str] = ..., service_arn: _Optional[str] = ..., cluster_arn: _Optional[str] = ..., task_definition: _Optional[str] = ..., capacity_provider_strategy: _Optional[_Iterable[_Union[CapacityProviderStrategyItem, _Mapping]]] = ..., launch_type: _Optional[str] = ..., load_balancers: _Optional[_Iterable[_Union[ServiceLoadBalancer, _Mapping]]] = ..., service_registries: _Optional[_Iterable[_Union[ServiceRegistry, _Mapping]]] = ..., created_at: _Optional[float] = ...) -> None: ...

class ServiceRevisionSummary(_message.Message):
    __slots__ = ("arn", "requested_task_count", "running_task_count", "pending_task_count", "requested_production_traffic_weight")
    ARN_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_TASK_COUNT_FIELD_NUMBER: _ClassVar[int]
    RUNNING_TASK_COUNT_FIELD_NUMBER: _ClassVar[int]
    PENDING_TASK_COUNT_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_PRODUCTION_TRAFFIC_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    arn: str
    requested_task_count: int
    running_task_count: int
    pending_task_count: int
    requested_production_traffic_weight: float
    def __init__(self, arn: _Optional[str] = ..., requested_task_count: _Optional[int] = ..., running_task_count: _Optional[int] = ..., pending_task_count: _Optional[int] = ..., requested_production_traffic_weight: _Optional[float] = ...) -> None: ...

class ServiceDeploymentRollback(_message.Message):
    __slots__ = ("reason", "started_at", "service_revision_arn")
    REASON_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    SERVICE_REVISION_ARN_FIELD_NUMBER: _ClassVar[int]
    reason: str
    started_at: float
    service_revision_arn: str
    def __init__(self, reason: _Optional[str] = ..., started_at: _Optional[float] = ..., service_revision_arn: _Optional[str] = ...) -> None: ...

class ServiceDeploymentCircuitBreaker(_message.Message):
    __slots__ = ("status", "failure_count", "threshold")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FAILURE_COUNT_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    status: str
    failure_count: int
    threshold: int
    def __init__(self, status: _Optional[str] = ..., failure_count: _Optional[int] = ..., threshold: _Optional[int] = ...) -> None: ...

class ServiceDeployment(_message.Message):
    __slots__ = ("service_deployment_arn", "service_arn", "cluster_arn", "created_at", "started_at", "finished_at", "stopped_at", "updated_at", "source_service_revisions", "target_service_revision", "status", "status_reason", "deployment_configuration", "rollback", "deployment_circuit_breaker", "lifecycle_stage", "lifecycle_hook_details", "deployment_id")
    SERVICE_DEPLOYMENT_ARN_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ARN_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_ARN_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    STOPPED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_SERVICE_REVISIONS_FIELD_NUMBER: _ClassVar[int]
    TARGET_SERVICE_REVISION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_REASON_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_CONFIGURATION_FIELD_NUMBER: _ClassVar[int]
    ROLLBACK_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_CIRCUIT_BREAKER_FIELD_NUMBER: _ClassVar[int]
    LIFECYCLE_STAGE_FIELD_NUMBER: _ClassVar[int]
    LIFECYCLE_HOOK_DETAILS_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    service_deployment_arn: str
    service_arn: str
    cluster_arn: str
    created_at: float
    started_at: float
    finished_at: float
    stopped_at: float
    updated_at: float
    source_service_revisions: _containers.RepeatedCompositeFieldContainer[ServiceRevisionSummary]
    target_service_revision: ServiceRevisionSummary
    status: str
    status_reason: str
    deployment_configuration: DeploymentConfiguration
    rollback: ServiceDeploymentRollback
    deployment_circuit_breaker: ServiceDeploymentCircuitBreaker
    lifecycle_stage: str
    lifecycle_hook_details: _containers.RepeatedCompositeFieldContainer[DeploymentLifecycleHookDetail]
    deployment_id: str
    def __init__(self, service_deployment_arn: _Optional[str] = ..., service_arn: _Optional[str] = ..., cluster_arn: _Optional[str] = ..., created_at: _Optional[float] = ..., started_at: _Optional[float] = ..., finished_at: _Optional[float] = ..., stopped_at: _Optional[float] = ..., updated_at: _Optional[float] = ..., source_service_revisions: _Optional[_Iterable[_Union[ServiceRevisionSummary, _Mapping]]] = ..., target_service_revision: _Optional[_Union[ServiceRevisionSummary, _Mapping]] = ..., status: _Optional[str] = ..., status_reason: _Optional[str] = ..., deployment_configuration: _Optional[_Union[DeploymentConfiguration, _Mapping]] = ..., rollback: _Optional[_Union[ServiceDeploymentRollback, _Mapping]] = ..., deployment_circuit_breaker: _Optional[_Union[ServiceDeploymentCircuitBreaker, _Mapping]] = ..., lifecycle_stage: _Optional[str] = ..., lifecycle_hook_details: _Optional[_Iterable[_Union[DeploymentLifecycleHookDetail, _Mapping]]] = ..., deployment_id: _Optional[str] = ...) -> None: ...

class CanaryConfiguration(_message.Message):
    __slots__ = ("canary_percent", "canary_bake_time_in_minutes")
    CANARY_PERCENT_FIELD_NUMBER: _ClassVar[int]
    CANARY_BAKE_TIME_IN_MINUTES_FIELD_NUMBER: _ClassVar[int]
    canary_percent: float
    canary_bake_time_in_minutes: int
    def __init__(self, canary_percent: _Optional[float] = ..., canary_bake_time_in_minutes: _Optional[int] = ...) -> None: ...

class LinearConfiguration(_message.Message):
    __slots__ = ("step_percent", "step_bake_time_in_minutes")
    STEP_PERCENT_FIELD_NUMBER: _ClassVar[int]
    STEP_BAKE_TIME_IN_MINUTES_FIELD_NUMBER: _ClassVar[int]
    step_percent: float
    step_bake_time_in_minutes: int
    def __init__(self, step_percent: _Optional[float] = ..., step_bake_time_in_minutes: _Optional[int] = ...) -> None: ...

class DeploymentLifecycleHookTimeoutConfiguration(_message.Message):
    __slots__ = ("timeout_in_minutes", "action")
    TIMEOUT_IN_MINUTES_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    timeout_in_minutes: int
    action: str
    def __init__(self, timeout_in_minutes: _Optional[int] = ..., action: _Optional[str] = ...) -> None: ...

class DeploymentLifecycleHook(_message.Message):
    __slots__ = ("target_type", "hook_target_arn", "role_arn", "lifecycle_stages", "timeout_configuration")
    TARGET_TYPE_FIELD_NUMBER: _ClassVar[int]
    HOOK_TARGET_ARN_FIELD_NUMBER: _ClassVar[int]
    ROLE_ARN_FIELD_NUMBER: _ClassVar[int]
    LIFECYCLE_STAGES_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_CONFIGURATION_FIELD_NUMBER: _ClassVar[int]
    target_type: str
    hook_target_arn: str
    role_arn: str
    lifecycle_stages: _containers.RepeatedScalarFieldContainer[str]
    timeout_configuration: DeploymentLifecycleHookTimeoutConfiguration
    def __init__(self, target_type: _Optional[str] = ..., hook_target_arn: _Optional[str] = ..., role_arn: _Optional[str] = ..., lifecycle_stages: _Optional[_Iterable[str]] = ..., timeout_configuration: _Optional[_Union[DeploymentLifecycleHookTimeoutConfiguration, _Mapping]] = ...) -> None: ...

class DeploymentLifecycleHookDetail(_message.Message):
    __slots__ = ("hook_id", "target_type", "target_arn", "status", "expires_at", "timeout_action", "stage")
    HOOK_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_TYPE_FIELD_NUMBER: _ClassVar[int]
    TARGET_ARN_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_ACTION_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    hook_id: str
    target_type: str
    target_arn: str
    status: str
    expires_at: float
    timeout_action: str
    stage: str
    def __init__(self, hook_id: _Optional[str] = ..., target_type: _Optional[str] = ..., target_arn: _Optional[str] = ..., status: _Optional[str] = ..., expires_at: _Optional[float] = ..., timeout_action: _Optional[str] = ..., stage: _Optional[str] = ...) -> None: ...

class DeploymentController(_message.Message):
    __slots__ = ("type",)
    TYPE_FIELD_NUMBER: _ClassVar[int]
    type: str
    def __init__(self, type: _Optional[str] = ...) -> None: ...

class Scale(_message.Message):
    __slots__ = ("value", "unit")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    value: float
    unit: str
    def __init__(self, value: _Optional[float] = ..., unit: _Optional[str] = ...) -> None: ...

class TaskSet(_message.Message):
    __slots__ = ("id", "task_set_arn", "service_arn", "cluster_arn", "started_by", "external_id", "status", "task_definition", "computed_desired_count", "pending_count", "running_count", "created_at", "updated_at", "launch_type", "capacity_provider_strategy", "scale", "stability_status", "stability_status_at", "tags", "client_token", "load_balancers")
    ID_FIELD_NUMBER: _ClassVar[int]
    TASK_SET_ARN_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ARN_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_ARN_FIELD_NUMBER: _ClassVar[int]
    STARTED_BY_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TASK_DEFINITION_FIELD_NUMBER: _ClassVar[int]
    COMPUTED_DESIRED_COUNT_FIELD_NUMBER: _ClassVar[int]
    PENDING_COUNT_FIELD_NUMBER: _ClassVar[int]
    RUNNING_COUNT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    LAUNCH_TYPE_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_PROVIDER_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    SCALE_FIELD_NUMBER: _ClassVar[int]
    STABILITY_STATUS_FIELD_NUMBER: _ClassVar[int]
    STABILITY_STATUS_AT_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    LOAD_BALANCERS_FIELD_NUMBER: _ClassVar[int]
    id: str
    task_set_arn: str
    service_arn: str
    cluster_arn: str
    started_by: str
    external_id: str
    status: str
    task_definition: str
    computed_desired_count: int
    pending_count: int
    running_count: int
    created_at: float
    updated_at: float
    launch_type: str
    capacity_provider_strategy: _containers.RepeatedCompositeFieldContainer[CapacityProviderStrategyItem]
    scale: Scale
    stability_status: str
    stability_status_at: float
    tags: _containers.RepeatedCompositeFieldContainer[Tag]
    client_token: str
    load_balancers: _containers.RepeatedCompositeFieldContainer[ServiceLoadBalancer]
    def __init__(self, id: _Optional[str] = ..., task_set_arn: _Optional[str] = ..., service_arn: _Optional[str] = ..., cluster_arn: _Optional[str] = ..., started_by: _Optional[str] = ..., external_id: _Optional[str] = ..., status: _Optional[str] = ..., task_definition: _Optional[str] = ..., computed_desired_count: _Optional[int] = ..., pending_count: _Optional[int] = ..., running_count: _Optional[int] = ..., created_at: _Optional[float] = ..., updated_at: _Optional[float] = ..., launch_type: _Optional[str] = ..., capacity_provider_strategy: _Optional[_Iterable[_Union[CapacityProviderStrategyItem, _Mapping]]] = ..., scale: _Optional[_Union[Scale, _Mapping]] = ..., stability_status: _Optional[str] = ..., stability_status_at: _Optional[float] = ..., tags: _Optional[_Iterable[_Union[Tag, _Mapping]]] = ..., client_token: _Optional[str] = ..., load_balancers: _Optional[_Iterable[_Union[ServiceLoadBalancer, _Mapping]]] = ...) -> None: ...

class FileSystem(_message.Message):
    __slots__ = ("name", "nfs_host", "nfs_export", "nfs_options", "bind_dir", "created_at", "created_by")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NFS_HOST_FIELD_NUMBER: _ClassVar[int]
    NFS_EXPORT_FIELD_NUMBER: _ClassVar[int]
    NFS_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    BIND_DIR_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    name: str
    nfs_host: str
    nfs_export: str
    nfs_options: _containers.RepeatedScalarFieldContainer[str]
    bind_dir: str
    created_at: float
    created_by: str
    def __init__(self, name: _Optional[str] = ..., nfs_host: _Optional[str] = ..., nfs_export: _Optional[str] = ..., nfs_options: _Optional[_Iterable[str]] = ..., bind_dir: _Optional[str] = ..., created_at: _Optional[float] = ..., created_by: _Optional[str] = ...) -> None: ...

class EfsVolumeConfiguration(_message.Message):
    __slots__ = ("file_system_id", "root_directory", "transit_encryption", "file_system")
    FILE_SYSTEM_ID_FIELD_NUMBER: _ClassVar[int]
    ROOT_DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    TRANSIT_ENCRYPTION_FIELD_NUMBER: _ClassVar[int]
    FILE_SYSTEM_FIELD_NUMBER: _ClassVar[int]
    file_system_id: str
    root_directory: str
    transit_encryption: str
    file_system: FileSystem
    def __init__(self, file_system_id: _Optional[str] = ..., root_directory: _Optional[str] = ..., transit_encryption: _Optional[str] = ..., file_system: _Optional[_Union[FileSystem, _Mapping]] = ...) -> None: ...
