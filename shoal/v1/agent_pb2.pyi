from shoal.v1 import resources_pb2 as _resources_pb2
from shoal.v1 import traffic_pb2 as _traffic_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RegisterNodeRequest(_message.Message):
    __slots__ = ("cluster", "node_id", "hostname", "cpu_units", "memory_mib", "attributes", "address", "metrics_port", "agent_version", "dynamic_port_low", "dynamic_port_high", "proxy_metrics_port")
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
    PROXY_METRICS_PORT_FIELD_NUMBER: _ClassVar[int]
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
    proxy_metrics_port: int
    def __init__(self, cluster: _Optional[str] = ..., node_id: _Optional[str] = ..., hostname: _Optional[str] = ..., cpu_units: _Optional[int] = ..., memory_mib: _Optional[int] = ..., attributes: _Optional[_Iterable[_Union[_resources_pb2.Attribute, _Mapping]]] = ..., address: _Optional[str] = ..., metrics_port: _Optional[int] = ..., agent_version: _Optional[str] = ..., dynamic_port_low: _Optional[int] = ..., dynamic_port_high: _Optional[int] = ..., proxy_metrics_port: _Optional[int] = ...) -> None: ...

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
    __slots__ = ("task_id", "last_status", "containers", "stopped_reason", "stop_code", "at", "health_status", "target_health")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_STATUS_FIELD_NUMBER: _ClassVar[int]
    CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    STOPPED_REASON_FIELD_NUMBER: _ClassVar[int]
    STOP_CODE_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    HEALTH_STATUS_FIELD_NUMBER: _ClassVar[int]
    TARGET_HEALTH_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    last_status: str
    containers: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Container]
    stopped_reason: str
    stop_code: str
    at: float
    health_status: str
    target_health: _containers.RepeatedCompositeFieldContainer[_resources_pb2.TargetHealth]
    def __init__(self, task_id: _Optional[str] = ..., last_status: _Optional[str] = ..., containers: _Optional[_Iterable[_Union[_resources_pb2.Container, _Mapping]]] = ..., stopped_reason: _Optional[str] = ..., stop_code: _Optional[str] = ..., at: _Optional[float] = ..., health_status: _Optional[str] = ..., target_health: _Optional[_Iterable[_Union[_resources_pb2.TargetHealth, _Mapping]]] = ...) -> None: ...

class AgentMessage(_message.Message):
    __slots__ = ("hello", "heartbeat", "task_state", "log_chunk", "prepull_report", "proxy_checks")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    TASK_STATE_FIELD_NUMBER: _ClassVar[int]
    LOG_CHUNK_FIELD_NUMBER: _ClassVar[int]
    PREPULL_REPORT_FIELD_NUMBER: _ClassVar[int]
    PROXY_CHECKS_FIELD_NUMBER: _ClassVar[int]
    hello: Hello
    heartbeat: Heartbeat
    task_state: TaskStateChange
    log_chunk: AgentLogChunk
    prepull_report: PrePullReport
    proxy_checks: _traffic_pb2.NodeProxyChecks
    def __init__(self, hello: _Optional[_Union[Hello, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., task_state: _Optional[_Union[TaskStateChange, _Mapping]] = ..., log_chunk: _Optional[_Union[AgentLogChunk, _Mapping]] = ..., prepull_report: _Optional[_Union[PrePullReport, _Mapping]] = ..., proxy_checks: _Optional[_Union[_traffic_pb2.NodeProxyChecks, _Mapping]] = ...) -> None: ...

class AgentLogChunk(_message.Message):
    __slots__ = ("request_id", "data", "eof", "error", "exit_code")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    EOF_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    data: bytes
    eof: bool
    error: str
    exit_code: int
    def __init__(self, request_id: _Optional[str] = ..., data: _Optional[bytes] = ..., eof: _Optional[bool] = ..., error: _Optional[str] = ..., exit_code: _Optional[int] = ...) -> None: ...

class Assignments(_message.Message):
    __slots__ = ("revision", "tasks", "prepull")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    PREPULL_FIELD_NUMBER: _ClassVar[int]
    revision: int
    tasks: _containers.RepeatedCompositeFieldContainer[_resources_pb2.TaskAssignment]
    prepull: _containers.RepeatedCompositeFieldContainer[_resources_pb2.PrePull]
    def __init__(self, revision: _Optional[int] = ..., tasks: _Optional[_Iterable[_Union[_resources_pb2.TaskAssignment, _Mapping]]] = ..., prepull: _Optional[_Iterable[_Union[_resources_pb2.PrePull, _Mapping]]] = ...) -> None: ...

class ControlMessage(_message.Message):
    __slots__ = ("assignments", "log_request", "cancel_logs", "routing", "exec_request", "exec_input")
    ASSIGNMENTS_FIELD_NUMBER: _ClassVar[int]
    LOG_REQUEST_FIELD_NUMBER: _ClassVar[int]
    CANCEL_LOGS_FIELD_NUMBER: _ClassVar[int]
    ROUTING_FIELD_NUMBER: _ClassVar[int]
    EXEC_REQUEST_FIELD_NUMBER: _ClassVar[int]
    EXEC_INPUT_FIELD_NUMBER: _ClassVar[int]
    assignments: Assignments
    log_request: LogRequest
    cancel_logs: CancelLogs
    routing: _traffic_pb2.RoutingTable
    exec_request: ExecRequest
    exec_input: ExecInputChunk
    def __init__(self, assignments: _Optional[_Union[Assignments, _Mapping]] = ..., log_request: _Optional[_Union[LogRequest, _Mapping]] = ..., cancel_logs: _Optional[_Union[CancelLogs, _Mapping]] = ..., routing: _Optional[_Union[_traffic_pb2.RoutingTable, _Mapping]] = ..., exec_request: _Optional[_Union[ExecRequest, _Mapping]] = ..., exec_input: _Optional[_Union[ExecInputChunk, _Mapping]] = ...) -> None: ...

class LogRequest(_message.Message):
    __slots__ = ("request_id", "task_id", "container", "follow", "since_seconds", "tail")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    SINCE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    TAIL_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    task_id: str
    container: str
    follow: bool
    since_seconds: int
    tail: int
    def __init__(self, request_id: _Optional[str] = ..., task_id: _Optional[str] = ..., container: _Optional[str] = ..., follow: _Optional[bool] = ..., since_seconds: _Optional[int] = ..., tail: _Optional[int] = ...) -> None: ...

class CancelLogs(_message.Message):
    __slots__ = ("request_id",)
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    def __init__(self, request_id: _Optional[str] = ...) -> None: ...

class PrePullReport(_message.Message):
    __slots__ = ("deployment_id", "image", "ok", "error", "seconds")
    DEPLOYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    deployment_id: str
    image: str
    ok: bool
    error: str
    seconds: float
    def __init__(self, deployment_id: _Optional[str] = ..., image: _Optional[str] = ..., ok: _Optional[bool] = ..., error: _Optional[str] = ..., seconds: _Optional[float] = ...) -> None: ...

class ExecRequest(_message.Message):
    __slots__ = ("request_id", "task_id", "container", "command", "stdin", "tty", "rows", "cols")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    STDIN_FIELD_NUMBER: _ClassVar[int]
    TTY_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    COLS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    task_id: str
    container: str
    command: _containers.RepeatedScalarFieldContainer[str]
    stdin: bool
    tty: bool
    rows: int
    cols: int
    def __init__(self, request_id: _Optional[str] = ..., task_id: _Optional[str] = ..., container: _Optional[str] = ..., command: _Optional[_Iterable[str]] = ..., stdin: _Optional[bool] = ..., tty: _Optional[bool] = ..., rows: _Optional[int] = ..., cols: _Optional[int] = ...) -> None: ...

class ExecInputChunk(_message.Message):
    __slots__ = ("request_id", "data", "eof", "rows", "cols")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    EOF_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    COLS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    data: bytes
    eof: bool
    rows: int
    cols: int
    def __init__(self, request_id: _Optional[str] = ..., data: _Optional[bytes] = ..., eof: _Optional[bool] = ..., rows: _Optional[int] = ..., cols: _Optional[int] = ...) -> None: ...
