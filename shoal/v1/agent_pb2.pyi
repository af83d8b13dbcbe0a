from shoal.v1 import resources_pb2 as _resources_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RegisterNodeRequest(_message.Message):
    __slots__ = ("cluster", "node_id", "hostname", "cpu_units", "memory_mib", "attributes", "address", "metrics_port", "agent_version", "dynamic_port_low", "dynamic_port_high")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    CPU_UNITS_FIELD_NUMBER: _ClassVar[int]
    MEMORY_MIB_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    METRICS_PORT_FIELD_NUMBER: _ClassVar[int]
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    DYNAMIC_PORT_LOW_FIELD_NUMBER: _ClassVar[int]
    DYNAMIC_PORT_HIGH_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    node_id: str
    hostname: str
    cpu_units: int
    memory_mib: int
    attributes: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Attribute]
    address: str
    metrics_port: int
    agent_version: str
    dynamic_port_low: int
    dynamic_port_high: int
    def __init__(self, cluster: _Optional[str] = ..., node_id: _Optional[str] = ..., hostname: _Optional[str] = ..., cpu_units: _Optional[int] = ..., memory_mib: _Optional[int] = ..., attributes: _Optional[_Iterable[_Union[_resources_pb2.Attribute, _Mapping]]] = ..., address: _Optional[str] = ..., metrics_port: _Optional[int] = ..., agent_version: _Optional[str] = ..., dynamic_port_low: _Optional[int] = ..., dynamic_port_high: _Optional[int] = ...) -> None: ...

class RegisterNodeResponse(_message.Message):
    __slots__ = ("node_id", "container_instance_arn", "heartbeat_interval_seconds", "lease_ttl_seconds")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_INSTANCE_ARN_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    LEASE_TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    container_instance_arn: str
    heartbeat_interval_seconds: float
    lease_ttl_seconds: float
    def __init__(self, node_id: _Optional[str] = ..., container_instance_arn: _Optional[str] = ..., heartbeat_interval_seconds: _Optional[float] = ..., lease_ttl_seconds: _Optional[float] = ...) -> None: ...

class Hello(_message.Message):
    __slots__ = ("cluster", "node_id")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    node_id: str
    def __init__(self, cluster: _Optional[str] = ..., node_id: _Optional[str] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("cpu_percent", "memory_used_bytes", "memory_total_bytes", "running_containers")
    CPU_PERCENT_FIELD_NUMBER: _ClassVar[int]
    MEMORY_USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    MEMORY_TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    RUNNING_CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    cpu_percent: float
    memory_used_bytes: int
    memory_total_bytes: int
    running_containers: int
    def __init__(self, cpu_percent: _Optional[float] = ..., memory_used_bytes: _Optional[int] = ..., memory_total_bytes: _Optional[int] = ..., running_containers: _Optional[int] = ...) -> None: ...

class TaskStateChange(_message.Message):
    __slots__ = ("task_id", "last_status", "containers", "stopped_reason", "stop_code", "at", "health_status")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_STATUS_FIELD_NUMBER: _ClassVar[int]
    CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    STOPPED_REASON_FIELD_NUMBER: _ClassVar[int]
    STOP_CODE_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    HEALTH_STATUS_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    last_status: str
    containers: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Container]
    stopped_reason: str
    stop_code: str
    at: float
    health_status: str
    def __init__(self, task_id: _Optional[str] = ..., last_status: _Optional[str] = ..., containers: _Optional[_Iterable[_Union[_resources_pb2.Container, _Mapping]]] = ..., stopped_reason: _Optional[str] = ..., stop_code: _Optional[str] = ..., at: _Optional[float] = ..., health_status: _Optional[str] = ...) -> None: ...

class AgentMessage(_message.Message):
    __slots__ = ("hello", "heartbeat", "task_state")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    TASK_STATE_FIELD_NUMBER: _ClassVar[int]
    hello: Hello
    heartbeat: Heartbeat
    task_state: TaskStateChange
    def __init__(self, hello: _Optional[_Union[Hello, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., task_state: _Optional[_Union[TaskStateChange, _Mapping]] = ...) -> None: ...

class Assignments(_message.Message):
    __slots__ = ("revision", "tasks")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    revision: int
    tasks: _containers.RepeatedCompositeFieldContainer[_resources_pb2.TaskAssignment]
    def __init__(self, revision: _Optional[int] = ..., tasks: _Optional[_Iterable[_Union[_resources_pb2.TaskAssignment, _Mapping]]] = ...) -> None: ...

class ControlMessage(_message.Message):
    __slots__ = ("assignments",)
    ASSIGNMENTS_FIELD_NUMBER: _ClassVar[int]
    assignments: Assignments
    def __init__(self, assignments: _Optional[_Union[Assignments, _Mapping]] = ...) -> None: ...
