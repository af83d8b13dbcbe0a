from shoal.v1 import resources_pb2 as _resources_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListRequest(_message.Message):
    __slots__ = ("max_results", "next_token")
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    max_results: int
    next_token: str
    def __init__(self, max_results: _Optional[int] = ..., next_token: _Optional[str] = ...) -> None: ...

class ListResponse(_message.Message):
    __slots__ = ("arns", "next_token")
    ARNS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    arns: _containers.RepeatedScalarFieldContainer[str]
    next_token: str
    def __init__(self, arns: _Optional[_Iterable[str]] = ..., next_token: _Optional[str] = ...) -> None: ...

class CreateClusterRequest(_message.Message):
    __slots__ = ("cluster_name", "tags", "settings")
    CLUSTER_NAME_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    cluster_name: str
    tags: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Tag]
    settings: _containers.RepeatedCompositeFieldContainer[_resources_pb2.ClusterSetting]
    def __init__(self, cluster_name: _Optional[str] = ..., tags: _Optional[_Iterable[_Union[_resources_pb2.Tag, _Mapping]]] = ..., settings: _Optional[_Iterable[_Union[_resources_pb2.ClusterSetting, _Mapping]]] = ...) -> None: ...

class DeleteClusterRequest(_message.Message):
    __slots__ = ("cluster",)
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    def __init__(self, cluster: _Optional[str] = ...) -> None: ...

class ClusterResponse(_message.Message):
    __slots__ = ("cluster",)
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    cluster: _resources_pb2.Cluster
    def __init__(self, cluster: _Optional[_Union[_resources_pb2.Cluster, _Mapping]] = ...) -> None: ...

class DescribeClustersRequest(_message.Message):
    __slots__ = ("clusters",)
    CLUSTERS_FIELD_NUMBER: _ClassVar[int]
    clusters: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, clusters: _Optional[_Iterable[str]] = ...) -> None: ...

class DescribeClustersResponse(_message.Message):
    __slots__ = ("clusters", "failures")
    CLUSTERS_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    clusters: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Cluster]
    failures: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Failure]
    def __init__(self, clusters: _Optional[_Iterable[_Union[_resources_pb2.Cluster, _Mapping]]] = ..., failures: _Optional[_Iterable[_Union[_resources_pb2.Failure, _Mapping]]] = ...) -> None: ...

class RegisterTaskDefinitionRequest(_message.Message):
    __slots__ = ("json",)
    JSON_FIELD_NUMBER: _ClassVar[int]
    json: str
    def __init__(self, json: _Optional[str] = ...) -> None: ...

class TaskDefinitionRef(_message.Message):
    __slots__ = ("task_definition",)
    TASK_DEFINITION_FIELD_NUMBER: _ClassVar[int]
    task_definition: str
    def __init__(self, task_definition: _Optional[str] = ...) -> None: ...

class TaskDefinitionResponse(_message.Message):
    __slots__ = ("task_definition",)
    TASK_DEFINITION_FIELD_NUMBER: _ClassVar[int]
    task_definition: _resources_pb2.TaskDefinition
    def __init__(self, task_definition: _Optional[_Union[_resources_pb2.TaskDefinition, _Mapping]] = ...) -> None: ...

class ListTaskDefinitionsRequest(_message.Message):
    __slots__ = ("family_prefix", "status", "max_results", "next_token")
    FAMILY_PREFIX_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    family_prefix: str
    status: str
    max_results: int
    next_token: str
    def __init__(self, family_prefix: _Optional[str] = ..., status: _Optional[str] = ..., max_results: _Optional[int] = ..., next_token: _Optional[str] = ...) -> None: ...

class RunTaskRequest(_message.Message):
    __slots__ = ("cluster", "task_definition", "count", "group", "started_by", "placement_constraints", "placement_strategy", "tags", "launch_type", "capacity_provider_strategy", "enable_execute_command")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    TASK_DEFINITION_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    STARTED_BY_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_CONSTRAINTS_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    LAUNCH_TYPE_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_PROVIDER_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    ENABLE_EXECUTE_COMMAND_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    task_definition: str
    count: int
    group: str
    started_by: str
    placement_constraints: _containers.RepeatedCompositeFieldContainer[_resources_pb2.PlacementConstraint]
    placement_strategy: _containers.RepeatedCompositeFieldContainer[_resources_pb2.PlacementStrategy]
    tags: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Tag]
    launch_type: str
    capacity_provider_strategy: _containers.RepeatedCompositeFieldContainer[_resources_pb2.CapacityProviderStrategyItem]
    enable_execute_command: bool
    def __init__(self, cluster: _Optional[str] = ..., task_definition: _Optional[str] = ..., count: _Optional[int] = ..., group: _Optional[str] = ..., started_by: _Optional[str] = ..., placement_constraints: _Optional[_Iterable[_Union[_resources_pb2.PlacementConstraint, _Mapping]]] = ..., placement_strategy: _Optional[_Iterable[_Union[_resources_pb2.PlacementStrategy, _Mapping]]] = ..., tags: _Optional[_Iterable[_Union[_resources_pb2.Tag, _Mapping]]] = ..., launch_type: _Optional[str] = ..., capacity_provider_strategy: _Optional[_Iterable[_Union[_resources_pb2.CapacityProviderStrategyItem, _Mapping]]] = ..., enable_execute_command: _Optional[bool] = ...) -> None: ...

class TasksResponse(_message.Message):
    __slots__ = ("tasks", "failures")
    TASKS_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Task]
    failures: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Failure]
    def __init__(self, tasks: _Optional[_Iterable[_Union[_resources_pb2.Task, _Mapping]]] = ..., failures: _Optional[_Iterable[_Union[_resources_pb2.Failure, _Mapping]]] = ...) -> None: ...

class StopTaskRequest(_message.Message):
    __slots__ = ("cluster", "task", "reason")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    task: str
    reason: str
    def __init__(self, cluster: _Optional[str] = ..., task: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class TaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: _resources_pb2.Task
    def __init__(self, task: _Optional[_Union[_resources_pb2.Task, _Mapping]] = ...) -> None: ...

class DescribeTasksRequest(_message.Message):
    __slots__ = ("cluster", "tasks")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    tasks: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, cluster: _Optional[str] = ..., tasks: _Optional[_Iterable[str]] = ...) -> None: ...

class ListTasksRequest(_message.Message):
    __slots__ = ("cluster", "container_instance", "family", "started_by", "service_name", "desired_status", "max_results", "next_token", "launch_type")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_INSTANCE_FIELD_NUMBER: _ClassVar[int]
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    STARTED_BY_FIELD_NUMBER: _ClassVar[int]
    SERVICE_NAME_FIELD_NUMBER: _ClassVar[int]
    DESIRED_STATUS_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    LAUNCH_TYPE_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    container_instance: str
    family: str
    started_by: str
    service_name: str
    desired_status: str
    max_results: int
    next_token: str
    launch_type: str
    def __init__(self, cluster: _Optional[str] = ..., container_instance: _Optional[str] = ..., family: _Optional[str] = ..., started_by: _Optional[str] = ..., service_name: _Optional[str] = ..., desired_status: _Optional[str] = ..., max_results: _Optional[int] = ..., next_token: _Optional[str] = ..., launch_type: _Optional[str] = ...) -> None: ...

class CreateServiceRequest(_message.Message):
    __slots__ = ("cluster", "service_name", "task_definition", "desired_count", "placement_constraints", "placement_strategy", "deployment_configuration", "health_check_grace_period_seconds", "scheduling_strategy", "tags", "load_balancers", "service_registries", "service_connect_configuration", "launch_type", "capacity_provider_strategy", "disconnect_tolerance_seconds", "replace_on_disconnect", "daemon_critical", "daemon_critical_grace_seconds", "availability_zone_rebalancing", "enable_execute_command")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    SERVICE_NAME_FIELD_NUMBER: _ClassVar[int]
    TASK_DEFINITION_FIELD_NUMBER: _ClassVar[int]
    DESIRED_COUNT_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_CONSTRAINTS_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_CONFIGURATION_FIELD_NUMBER: _ClassVar[int]
    HEALTH_CHECK_GRACE_PERIOD_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SCHEDULING_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    LOAD_BALANCERS_FIELD_NUMBER: _ClassVar[int]
    SERVICE_REGISTRIES_FIELD_NUMBER: _ClassVar[int]
    SERVICE_CONNECT_CONFIGURATION_FIELD_NUMBER: _ClassVar[int]
    LAUNCH_TYPE_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_PROVIDER_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    DISCONNECT_TOLERANCE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    REPLACE_ON_DISCONNECT_FIELD_NUMBER: _ClassVar[int]
    DAEMON_CRITICAL_FIELD_NUMBER: _ClassVar[int]
    DAEMON_CRITICAL_GRACE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    AVAILABILITY_ZONE_REBALANCING_FIELD_NUMBER: _ClassVar[int]
    ENABLE_EXECUTE_COMMAND_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    service_name: str
    task_definition: str
    desired_count: int
    placement_constraints: _containers.RepeatedCompositeFieldContainer[_resources_pb2.PlacementConstraint]
    placement_strategy: _containers.RepeatedCompositeFieldContainer[_resources_pb2.PlacementStrategy]
    deployment_configuration: _resources_pb2.DeploymentConfiguration
    health_check_grace_period_seconds: int
    scheduling_strategy: str
    tags: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Tag]
    load_balancers: _containers.RepeatedCompositeFieldContainer[_resources_pb2.ServiceLoadBalancer]
    service_registries: _containers.RepeatedCompositeFieldContainer[_resources_pb2.ServiceRegistry]
    service_connect_configuration: _resources_pb2.ServiceConnectConfiguration
    launch_type: str
    capacity_provider_strategy: _containers.RepeatedCompositeFieldContainer[_resources_pb2.CapacityProviderStrategyItem]
    disconnect_tolerance_seconds: int
    replace_on_disconnect: bool
    daemon_critical: bool
    daemon_critical_grace_seconds: int
    availability_zone_rebalancing: str
    enable_execute_command: bool
    def __init__(self, cluster: _Optional[str] = ..., service_name: _Optional[str] = ..., task_definition: _Optional[str] = ..., desired_count: _Optional[int] = ..., placement_constraints: _Optional[_Iterable[_Union[_resources_pb2.PlacementConstraint, _Mapping]]] = ..., placement_strategy: _Optional[_Iterable[_Union[_resources_pb2.PlacementStrategy, _Mapping]]] = ..., deployment_configuration: _Optional[_Union[_resources_pb2.DeploymentConfiguration, _Mapping]] = ..., health_check_grace_period_seconds: _Optional[int] = ..., scheduling_strategy: _Optional[str] = ..., tags: _Optional[_Iterable[_Union[_resources_pb2.Tag, _Mapping]]] = ..., load_balancers: _Optional[_Iterable[_Union[_resources_pb2.ServiceLoadBalancer, _Mapping]]] = ..., service_registries: _Optional[_Iterable[_Union[_resources_pb2.ServiceRegistry, _Mapping]]] = ..., service_connect_configuration: _Optional[_Union[_resources_pb2.ServiceConnectConfiguration, _Mapping]] = ..., launch_type: _Optional[str] = ..., capacity_provider_strategy: _Optional[_Iterable[_Union[_resources_pb2.CapacityProviderStrategyItem, _Mapping]]] = ..., disconnect_tolerance_seconds: _Optional[int] = ..., replace_on_disconnect: _Optional[bool] = ..., daemon_critical: _Optional[bool] = ..., daemon_critical_grace_seconds: _Optional[int] = ..., availability_zone_rebalancing: _Optional[str] = ..., enable_execute_command: _Optional[bool] = ...) -> None: ...

class UpdateServiceRequest(_message.Message):
    __slots__ = ("cluster", "service", "desired_count", "task_definition", "force_new_deployment", "deployment_configuration", "update_placement_constraints", "placement_constraints", "update_placement_strategy", "placement_strategy", "health_check_grace_period_seconds", "update_load_balancers", "load_balancers", "update_service_registries", "service_registries", "service_connect_configuration", "update_capacity_provider_strategy", "capacity_provider_strategy", "disconnect_tolerance_seconds", "replace_on_disconnect", "daemon_critical", "daemon_critical_grace_seconds", "availability_zone_rebalancing", "enable_execute_command")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    DESIRED_COUNT_FIELD_NUMBER: _ClassVar[int]
    TASK_DEFINITION_FIELD_NUMBER: _ClassVar[int]
    FORCE_NEW_DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_CONFIGURATION_FIELD_NUMBER: _ClassVar[int]
    UPDATE_PLACEMENT_CONSTRAINTS_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_CONSTRAINTS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_PLACEMENT_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    HEALTH_CHECK_GRACE_PERIOD_SECONDS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_LOAD_BALANCERS_FIELD_NUMBER: _ClassVar[int]
    LOAD_BALANCERS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_SERVICE_REGISTRIES_FIELD_NUMBER: _ClassVar[int]
    SERVICE_REGISTRIES_FIELD_NUMBER: _ClassVar[int]
    SERVICE_CONNECT_CONFIGURATION_FIELD_NUMBER: _ClassVar[int]
    UPDATE_CAPACITY_PROVIDER_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_PROVIDER_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    DISCONNECT_TOLERANCE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    REPLACE_ON_DISCONNECT_FIELD_NUMBER: _ClassVar[int]
    DAEMON_CRITICAL_FIELD_NUMBER: _ClassVar[int]
    DAEMON_CRITICAL_GRACE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    AVAILABILITY_ZONE_REBALANCING_FIELD_NUMBER: _ClassVar[int]
    ENABLE_EXECUTE_COMMAND_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    service: str
    desired_count: int
    task_definition: str
    force_new_deployment: bool
    deployment_configuration: _resources_pb2.DeploymentConfiguration
    update_placement_constraints: bool
    placement_constraints: _containers.RepeatedCompositeFieldContainer[_resources_pb2.PlacementConstraint]
    update_placement_strategy: bool
    placement_strategy: _containers.RepeatedCompositeFieldContainer[_resources_pb2.PlacementStrategy]
    health_check_grace_period_seconds: int
    update_load_balancers: bool
    load_balancers: _containers.RepeatedCompositeFieldContainer[_resources_pb2.ServiceLoadBalancer]
    update_service_registries: bool
    service_registries: _containers.RepeatedCompositeFieldContainer[_resources_pb2.ServiceRegistry]
    service_connect_configuration: _resources_pb2.ServiceConnectConfiguration
    update_capacity_provider_strategy: bool
    capacity_provider_strategy: _containers.RepeatedCompositeFieldContainer[_resources_pb2.CapacityProviderStrategyItem]
    disconnect_tolerance_seconds: int
    replace_on_disconnect: bool
    daemon_critical: bool
    daemon_critical_grace_seconds: int
    availability_zone_rebalancing: str
    enable_execute_command: bool
    def __init__(self, cluster: _Optional[str] = ..., service: _Optional[str] = ..., desired_count: _Optional[int] = ..., task_definition: _Optional[str] = ..., force_new_deployment: _Optional[bool] = ..., deployment_configuration: _Optional[_Union[_resources_pb2.DeploymentConfiguration, _Mapping]] = ..., update_placement_constraints: _Optional[bool] = ..., placement_constraints: _Optional[_Iterable[_Union[_resources_pb2.PlacementConstraint, _Mapping]]] = ..., update_placement_strategy: _Optional[bool] = ..., placement_strategy: _Optional[_Iterable[_Union[_resources_pb2.PlacementStrategy, _Mapping]]] = ..., health_check_grace_period_seconds: _Optional[int] = ..., update_load_balancers: _Optional[bool] = ..., load_balancers: _Optional[_Iterable[_Union[_resources_pb2.ServiceLoadBalancer, _Mapping]]] = ..., update_service_registries: _Optional[bool] = ..., service_registries: _Optional[_Iterable[_Union[_resources_pb2.ServiceRegistry, _Mapping]]] = ..., service_connect_configuration: _Optional[_Union[_resources_pb2.ServiceConnectConfiguration, _Mapping]] = ..., update_capacity_provider_strategy: _Optional[bool] = ..., capacity_provider_strategy: _Optional[_Iterable[_Union[_resources_pb2.CapacityProviderStrategyItem, _Mapping]]] = ..., disconnect_tolerance_seconds: _Optional[int] = ..., replace_on_disconnect: _Optional[bool] = ..., daemon_critical: _Optional[bool] = ..., daemon_critical_grace_seconds: _Optional[int] = ..., availability_zone_rebalancing: _Optional[str] = ..., enable_execute_command: _Optional[bool] = ...) -> None: ...

class DeleteServiceRequest(_message.Message):
    __slots__ = ("cluster", "service", "force")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    service: str
    force: bool
    def __init__(self, cluster: _Optional[str] = ..., service: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class ServiceResponse(_message.Message):
    __slots__ = ("service",)
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    service: _resources_pb2.Service
    def __init__(self, service: _Optional[_Union[_resources_pb2.Service, _Mapping]] = ...) -> None: ...

class DescribeServicesRequest(_message.Message):
    __slots__ = ("cluster", "services")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    services: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, cluster: _Optional[str] = ..., services: _Optional[_Iterable[str]] = ...) -> None: ...

class DescribeServicesResponse(_message.Message):
    __slots__ = ("services", "failures")
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    services: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Service]
    failures: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Failure]
    def __init__(self, services: _Optional[_Iterable[_Union[_resources_pb2.Service, _Mapping]]] = ..., failures: _Optional[_Iterable[_Union[_resources_pb2.Failure, _Mapping]]] = ...) -> None: ...

class ListServicesRequest(_message.Message):
    __slots__ = ("cluster", "max_results", "next_token", "launch_type")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    LAUNCH_TYPE_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    max_results: int
    next_token: str
    launch_type: str
    def __init__(self, cluster: _Optional[str] = ..., max_results: _Optional[int] = ..., next_token: _Optional[str] = ..., launch_type: _Optional[str] = ...) -> None: ...

class ListContainerInstancesRequest(_message.Message):
    __slots__ = ("cluster", "status", "filter", "max_results", "next_token")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    status: str
    filter: str
    max_results: int
    next_token: str
    def __init__(self, cluster: _Optional[str] = ..., status: _Optional[str] = ..., filter: _Optional[str] = ..., max_results: _Optional[int] = ..., next_token: _Optional[str] = ...) -> None: ...

class DescribeContainerInstancesRequest(_message.Message):
    __slots__ = ("cluster", "container_instances")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_INSTANCES_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    container_instances: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, cluster: _Optional[str] = ..., container_instances: _Optional[_Iterable[str]] = ...) -> None: ...

class DescribeContainerInstancesResponse(_message.Message):
    __slots__ = ("container_instances", "failures")
    CONTAINER_INSTANCES_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    container_instances: _containers.RepeatedCompositeFieldContainer[_resources_pb2.ContainerInstance]
    failures: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Failure]
    def __init__(self, container_instances: _Optional[_Iterable[_Union[_resources_pb2.ContainerInstance, _Mapping]]] = ..., failures: _Optional[_Iterable[_Union[_resources_pb2.Failure, _Mapping]]] = ...) -> None: ...

class UpdateContainerInstancesStateRequest(_message.Message):
    __slots__ = ("cluster", "container_instances", "status")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_INSTANCES_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    container_instances: _containers.RepeatedScalarFieldContainer[str]
    status: str
    def __init__(self, cluster: _Optional[str] = ..., container_instances: _Optional[_Iterable[str]] = ..., status: _Optional[str] = ...) -> None: ...

class DeregisterContainerInstanceRequest(_message.Message):
    __slots__ = ("cluster", "container_instance", "force")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_INSTANCE_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    container_instance: str
    force: bool
    def __init__(self, cluster: _Optional[str] = ..., container_instance: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class StopServiceDeploymentRequest(_message.Message):
    __slots__ = ("service_deployment_arn", "stop_type")
    SERVICE_DEPLOYMENT_ARN_FIELD_NUMBER: _ClassVar[int]
    STOP_TYPE_FIELD_NUMBER: _ClassVar[int]
    service_deployment_arn: str
    stop_type: str
    def __init__(self, service_deployment_arn: _Optional[str] = ..., stop_type: _Optional[str] = ...) -> None: ...

class StopServiceDeploymentResponse(_message.Message):
    __slots__ = ("service_deployment_arn",)
    SERVICE_DEPLOYMENT_ARN_FIELD_NUMBER: _ClassVar[int]
    service_deployment_arn: str
    def __init__(self, service_deployment_arn: _Optional[str] = ...) -> None: ...

class ContinueServiceDeploymentRequest(_message.Message):
    __slots__ = ("service_deployment_arn", "hook_id", "action")
    SERVICE_DEPLOYMENT_ARN_FIELD_NUMBER: _ClassVar[int]
    HOOK_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    service_deployment_arn: str
    hook_id: str
    action: str
    def __init__(self, service_deployment_arn: _Optional[str] = ..., hook_id: _Optional[str] = ..., action: _Optional[str] = ...) -> None: ...

class ProtectedTask(_message.Message):
    __slots__ = ("task_arn", "protection_enabled", "expiration_date")
    TASK_ARN_FIELD_NUMBER: _ClassVar[int]
    PROTECTION_ENABLED_FIELD_NUMBER: _ClassVar[int]
    EXPIRATION_DATE_FIELD_NUMBER: _ClassVar[int]
    task_arn: str
    protection_enabled: bool
    expiration_date: float
    def __init__(self, task_arn: _Optional[str] = ..., protection_enabled: _Optional[bool] = ..., expiration_date: _Optional[float] = ...) -> None: ...

class GetTaskProtectionRequest(_message.Message):
    __slots__ = ("cluster", "tasks")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    tasks: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, cluster: _Optional[str] = ..., tasks: _Optional[_Iterable[str]] = ...) -> None: ...

class UpdateTaskProtectionRequest(_message.Message):
    __slots__ = ("cluster", "tasks", "protection_enabled", "expires_in_minutes")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    PROTECTION_ENABLED_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_MINUTES_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    tasks: _containers.RepeatedScalarFieldContainer[str]
    protection_enabled: bool
    expires_in_minutes: int
    def __init__(self, cluster: _Optional[str] = ..., tasks: _Optional[_Iterable[str]] = ..., protection_enabled: _Optional[bool] = ..., expires_in_minutes: _Optional[int] = ...) -> None: ...

class TaskProtectionResponse(_message.Message):
    __slots__ = ("protected_tasks", "failures")
    PROTECTED_TASKS_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    protected_tasks: _containers.RepeatedCompositeFieldContainer[ProtectedTask]
    failures: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Failure]
    def __init__(self, protected_tasks: _Optional[_Iterable[_Union[ProtectedTask, _Mapping]]] = ..., failures: _Optional[_Iterable[_Union[_resources_pb2.Failure, _Mapping]]] = ...) -> None: ...

class CreateFileSystemRequest(_message.Message):
    __slots__ = ("name", "nfs", "nfs_options", "bind_dir")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NFS_FIELD_NUMBER: _ClassVar[int]
    NFS_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    BIND_DIR_FIELD_NUMBER: _ClassVar[int]
    name: str
    nfs: str
    nfs_options: _containers.RepeatedScalarFieldContainer[str]
    bind_dir: str
    def __init__(self, name: _Optional[str] = ..., nfs: _Optional[str] = ..., nfs_options: _Optional[_Iterable[str]] = ..., bind_dir: _Optional[str] = ...) -> None: ...

class ListFileSystemsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListFileSystemsResponse(_message.Message):
    __slots__ = ("file_systems",)
    FILE_SYSTEMS_FIELD_NUMBER: _ClassVar[int]
    file_systems: _containers.RepeatedCompositeFieldContainer[_resources_pb2.FileSystem]
    def __init__(self, file_systems: _Optional[_Iterable[_Union[_resources_pb2.FileSystem, _Mapping]]] = ...) -> None: ...

class DeleteFileSystemRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...
