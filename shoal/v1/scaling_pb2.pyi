from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SuspendedState(_message.Message):
    __slots__ = ("dynamic_scaling_in_suspended", "dynamic_scaling_out_suspended", "scheduled_scaling_suspended")
    DYNAMIC_SCALING_IN_SUSPENDED_FIELD_NUMBER: _ClassVar[int]
    DYNAMIC_SCALING_OUT_SUSPENDED_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_SCALING_SUSPENDED_FIELD_NUMBER: _ClassVar[int]
    dynamic_scaling_in_suspended: bool
    dynamic_scaling_out_suspended: bool
    scheduled_scaling_suspended: bool
    def __init__(self, dynamic_scaling_in_suspended: _Optional[bool] = ..., dynamic_scaling_out_suspended: _Optional[bool] = ..., scheduled_scaling_suspended: _Optional[bool] = ...) -> None: ...

class ScalableTarget(_message.Message):
    __slots__ = ("cluster", "service", "resource_id", "scalable_dimension", "min_capacity", "max_capacity", "suspended_state", "creation_time", "role_arn")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    SCALABLE_DIMENSION_FIELD_NUMBER: _ClassVar[int]
    MIN_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    MAX_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    SUSPENDED_STATE_FIELD_NUMBER: _ClassVar[int]
    CREATION_TIME_FIELD_NUMBER: _ClassVar[int]
    ROLE_ARN_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    service: str
    resource_id: str
    scalable_dimension: str
    min_capacity: int
    max_capacity: int
    suspended_state: SuspendedState
    creation_time: float
    role_arn: str
    def __init__(self, cluster: _Optional[str] = ..., service: _Optional[str] = ..., resource_id: _Optional[str] = ..., scalable_dimension: _Optional[str] = ..., min_capacity: _Optional[int] = ..., max_capacity: _Optional[int] = ..., suspended_state: _Optional[_Union[SuspendedState, _Mapping]] = ..., creation_time: _Optional[float] = ..., role_arn: _Optional[str] = ...) -> None: ...

class RegisterScalableTargetRequest(_message.Message):
    __slots__ = ("cluster", "service", "min_capacity", "max_capacity", "suspended_state", "role_arn")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    MIN_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    MAX_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    SUSPENDED_STATE_FIELD_NUMBER: _ClassVar[int]
    ROLE_ARN_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    service: str
    min_capacity: int
    max_capacity: int
    suspended_state: SuspendedState
    role_arn: str
    def __init__(self, cluster: _Optional[str] = ..., service: _Optional[str] = ..., min_capacity: _Optional[int] = ..., max_capacity: _Optional[int] = ..., suspended_state: _Optional[_Union[SuspendedState, _Mapping]] = ..., role_arn: _Optional[str] = ...) -> None: ...

class ScalableTargetRef(_message.Message):
    __slots__ = ("cluster", "service")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    service: str
    def __init__(self, cluster: _Optional[str] = ..., service: _Optional[str] = ...) -> None: ...

class ScalableTargetResponse(_message.Message):
    __slots__ = ("scalable_target",)
    SCALABLE_TARGET_FIELD_NUMBER: _ClassVar[int]
    scalable_target: ScalableTarget
    def __init__(self, scalable_target: _Optional[_Union[ScalableTarget, _Mapping]] = ...) -> None: ...

class DescribeScalableTargetsRequest(_message.Message):
    __slots__ = ("cluster", "services")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    services: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, cluster: _Optional[str] = ..., services: _Optional[_Iterable[str]] = ...) -> None: ...

class DescribeScalableTargetsResponse(_message.Message):
    __slots__ = ("scalable_targets",)
    SCALABLE_TARGETS_FIELD_NUMBER: _ClassVar[int]
    scalable_targets: _containers.RepeatedCompositeFieldContainer[ScalableTarget]
    def __init__(self, scalable_targets: _Optional[_Iterable[_Union[ScalableTarget, _Mapping]]] = ...) -> None: ...

class TargetTrackingConfiguration(_message.Message):
    __slots__ = ("target_value", "predefined_metric_type", "custom_promql", "scale_out_cooldown", "scale_in_cooldown", "disable_scale_in", "resource_label")
    TARGET_VALUE_FIELD_NUMBER: _ClassVar[int]
    PREDEFINED_METRIC_TYPE_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_PROMQL_FIELD_NUMBER: _ClassVar[int]
    SCALE_OUT_COOLDOWN_FIELD_NUMBER: _ClassVar[int]
    SCALE_IN_COOLDOWN_FIELD_NUMBER: _ClassVar[int]
    DISABLE_SCALE_IN_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_LABEL_FIELD_NUMBER: _ClassVar[int]
    target_value: float
    predefined_metric_type: str
    custom_promql: str
    scale_out_cooldown: int
    scale_in_cooldown: int
    disable_scale_in: bool
    resource_label: str
    def __init__(self, target_value: _Optional[float] = ..., predefined_metric_type: _Optional[str] = ..., custom_promql: _Optional[str] = ..., scale_out_cooldown: _Optional[int] = ..., scale_in_cooldown: _Optional[int] = ..., disable_scale_in: _Optional[bool] = ..., resource_label: _Optional[str] = ...) -> None: ...

class Alarm(_message.Message):
    __slots__ = ("promql", "comparison", "threshold", "evaluation_periods")
    PROMQL_FIELD_NUMBER: _ClassVar[int]
    COMPARISON_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    EVALUATION_PERIODS_FIELD_NUMBER: _ClassVar[int]
    promql: str
    comparison: str
    threshold: float
    evaluation_periods: int
    def __init__(self, promql: _Optional[str] = ..., comparison: _Optional[str] = ..., threshold: _Optional[float] = ..., evaluation_periods: _Optional[int] = ...) -> None: ...

class StepAdjustment(_message.Message):
    __slots__ = ("metric_interval_lower_bound", "metric_interval_upper_bound", "scaling_adjustment")
    METRIC_INTERVAL_LOWER_BOUND_FIELD_NUMBER: _ClassVar[int]
    METRIC_INTERVAL_UPPER_BOUND_FIELD_NUMBER: _ClassVar[int]
    SCALING_ADJUSTMENT_FIELD_NUMBER: _ClassVar[int]
    metric_interval_lower_bound: float
    metric_interval_upper_bound: float
    scaling_adjustment: int
    def __init__(self, metric_interval_lower_bound: _Optional[float] = ..., metric_interval_upper_bound: _Optional[float] = ..., scaling_adjustment: _Optional[int] = ...) -> None: ...

class StepScalingConfiguration(_message.Message):
    __slots__ = ("alarm", "adjustment_type", "step_adjustments", "min_adjustment_magnitude", "cooldown")
    ALARM_FIELD_NUMBER: _ClassVar[int]
    ADJUSTMENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    STEP_ADJUSTMENTS_FIELD_NUMBER: _ClassVar[int]
    MIN_ADJUSTMENT_MAGNITUDE_FIELD_NUMBER: _ClassVar[int]
    COOLDOWN_FIELD_NUMBER: _ClassVar[int]
    alarm: Alarm
    adjustment_type: str
    step_adjustments: _containers.RepeatedCompositeFieldContainer[StepAdjustment]
    min_adjustment_magnitude: int
    cooldown: int
    def __init__(self, alarm: _Optional[_Union[Alarm, _Mapping]] = ..., adjustment_type: _Optional[str] = ..., step_adjustments: _Optional[_Iterable[_Union[StepAdjustment, _Mapping]]] = ..., min_adjustment_magnitude: _Optional[int] = ..., cooldown: _Optional[int] = ...) -> None: ...

class ScalingPolicy(_message.Message):
    __slots__ = ("policy_name", "cluster", "service", "resource_id", "policy_type", "target_tracking", "step_scaling", "creation_time")
    POLICY_NAME_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    POLICY_TYPE_FIELD_NUMBER: _ClassVar[int]
    TARGET_TRACKING_FIELD_NUMBER: _ClassVar[int]
    STEP_SCALING_FIELD_NUMBER: _ClassVar[int]
    CREATION_TIME_FIELD_NUMBER: _ClassVar[int]
    policy_name: str
    cluster: str
    service: str
    resource_id: str
    policy_type: str
    target_tracking: TargetTrackingConfiguration
    step_scaling: StepScalingConfiguration
    creation_time: float
    def __init__(self, policy_name: _Optional[str] = ..., cluster: _Optional[str] = ..., service: _Optional[str] = ..., resource_id: _Optional[str] = ..., policy_type: _Optional[str] = ..., target_tracking: _Optional[_Union[TargetTrackingConfiguration, _Mapping]] = ..., step_scaling: _Optional[_Union[StepScalingConfiguration, _Mapping]] = ..., creation_time: _Optional[float] = ...) -> None: ...

class PutScalingPolicyRequest(_message.Message):
    __slots__ = ("cluster", "service", "policy_name", "policy_type", "target_tracking", "step_scaling")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    POLICY_NAME_FIELD_NUMBER: _ClassVar[int]
    POLICY_TYPE_FIELD_NUMBER: _ClassVar[int]
    TARGET_TRACKING_FIELD_NUMBER: _ClassVar[int]
    STEP_SCALING_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    service: str
    policy_name: str
    policy_type: str
    target_tracking: TargetTrackingConfiguration
    step_scaling: StepScalingConfiguration
    def __init__(self, cluster: _Optional[str] = ..., service: _Optional[str] = ..., policy_name: _Optional[str] = ..., policy_type: _Optional[str] = ..., target_tracking: _Optional[_Union[TargetTrackingConfiguration, _Mapping]] = ..., step_scaling: _Optional[_Union[StepScalingConfiguration, _Mapping]] = ...) -> None: ...

class ScalingPolicyResponse(_message.Message):
    __slots__ = ("policy",)
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: ScalingPolicy
    def __init__(self, policy: _Optional[_Union[ScalingPolicy, _Mapping]] = ...) -> None: ...

class DeleteScalingPolicyRequest(_message.Message):
    __slots__ = ("cluster", "service", "policy_name")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    POLICY_NAME_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    service: str
    policy_name: str
    def __init__(self, cluster: _Optional[str] = ..., service: _Optional[str] = ..., policy_name: _Optional[str] = ...) -> None: ...

class DescribeScalingPoliciesRequest(_message.Message):
    __slots__ = ("cluster", "service", "policy_names")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    POLICY_NAMES_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    service: str
    policy_names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, cluster: _Optional[str] = ..., service: _Optional[str] = ..., policy_names: _Optional[_Iterable[str]] = ...) -> None: ...

class DescribeScalingPoliciesResponse(_message.Message):
    __slots__ = ("policies",)
    POLICIES_FIELD_NUMBER: _ClassVar[int]
    policies: _containers.RepeatedCompositeFieldContainer[ScalingPolicy]
    def __init__(self, policies: _Optional[_Iterable[_Union[ScalingPolicy, _Mapping]]] = ...) -> None: ...

class ScalableTargetAction(_message.Message):
    __slots__ = ("min_capacity", "max_capacity")
    MIN_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    MAX_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    min_capacity: int
    max_capacity: int
    def __init__(self, min_capacity: _Optional[int] = ..., max_capacity: _Optional[int] = ...) -> None: ...

class ScheduledAction(_message.Message):
    __slots__ = ("scheduled_action_name", "cluster", "service", "resource_id", "schedule", "timezone", "scalable_target_action", "start_time", "end_time", "creation_time")
    SCHEDULED_ACTION_NAME_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    SCALABLE_TARGET_ACTION_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    CREATION_TIME_FIELD_NUMBER: _ClassVar[int]
    scheduled_action_name: str
    cluster: str
    service: str
    resource_id: str
    schedule: str
    timezone: str
    scalable_target_action: ScalableTargetAction
    start_time: float
    end_time: float
    creation_time: float
    def __init__(self, scheduled_action_name: _Optional[str] = ..., cluster: _Optional[str] = ..., service: _Optional[str] = ..., resource_id: _Optional[str] = ..., schedule: _Optional[str] = ..., timezone: _Optional[str] = ..., scalable_target_action: _Optional[_Union[ScalableTargetAction, _Mapping]] = ..., start_time: _Optional[float] = ..., end_time: _Optional[float] = ..., creation_time: _Optional[float] = ...) -> None: ...

class PutScheduledActionRequest(_message.Message):
    __slots__ = ("cluster", "service", "scheduled_action_name", "schedule", "timezone", "scalable_target_action", "start_time", "end_time")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_ACTION_NAME_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    SCALABLE_TARGET_ACTION_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    service: str
    scheduled_action_name: str
    schedule: str
    timezone: str
    scalable_target_action: ScalableTargetAction
    start_time: float
    end_time: float
    def __init__(self, cluster: _Optional[str] = ..., service: _Optional[str] = ..., scheduled_action_name: _Optional[str] = ..., schedule: _Optional[str] = ..., timezone: _Optional[str] = ..., scalable_target_action: _Optional[_Union[ScalableTargetAction, _Mapping]] = ..., start_time: _Optional[float] = ..., end_time: _Optional[float] = ...) -> None: ...

class ScheduledActionResponse(_message.Message):
    __slots__ = ("scheduled_action",)
    SCHEDULED_ACTION_FIELD_NUMBER: _ClassVar[int]
    scheduled_action: ScheduledAction
    def __init__(self, scheduled_action: _Optional[_Union[ScheduledAction, _Mapping]] = ...) -> None: ...

class DeleteScheduledActionRequest(_message.Message):
    __slots__ = ("cluster", "service", "scheduled_action_name")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_ACTION_NAME_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    service: str
    scheduled_action_name: str
    def __init__(self, cluster: _Optional[str] = ..., service: _Optional[str] = ..., scheduled_action_name: _Optional[str] = ...) -> None: ...

class DescribeScheduledActionsRequest(_message.Message):
    __slots__ = ("cluster", "service", "scheduled_action_names")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_ACTION_NAMES_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    service: str
    scheduled_action_names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, cluster: _Optional[str] = ..., service: _Optional[str] = ..., scheduled_action_names: _Optional[_Iterable[str]] = ...) -> None: ...

class DescribeScheduledActionsResponse(_message.Message):
    __slots__ = ("scheduled_actions",)
    SCHEDULED_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    scheduled_actions: _containers.RepeatedCompositeFieldContainer[ScheduledAction]
    def __init__(self, scheduled_actions: _Optional[_Iterable[_Union[ScheduledAction, _Mapping]]] = ...) -> None: ...

class ScalingActivity(_message.Message):
    __slots__ = ("activity_id", "cluster", "service", "resource_id", "description", "cause", "from_capacity", "to_capacity", "status_code", "status_message", "start_time", "end_time", "metrics", "policy_name", "scheduled_action_name")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    ACTIVITY_ID_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    FROM_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    TO_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    STATUS_CODE_FIELD_NUMBER: _ClassVar[int]
    STATUS_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    POLICY_NAME_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_ACTION_NAME_FIELD_NUMBER: _ClassVar[int]
    activity_id: str
    cluster: str
    service: str
    resource_id: str
    description: str
    cause: str
    from_capacity: int
    to_capacity: int
    status_code: str
    status_message: str
    start_time: float
    end_time: float
    metrics: _containers.ScalarMap[str, float]
    policy_name: str
    scheduled_action_name: str
    def __init__(self, activity_id: _Optional[str] = ..., cluster: _Optional[str] = ..., service: _Optional[str] = ..., resource_id: _Optional[str] = ..., description: _Optional[str] = ..., cause: _Optional[str] = ..., from_capacity: _Optional[int] = ..., to_capacity: _Optional[int] = ..., status_code: _Optional[str] = ..., status_message: _Optional[str] = ..., start_time: _Optional[float] = ..., end_time: _Optional[float] = ..., metrics: _Optional[_Mapping[str, float]] = ..., policy_name: _Optional[str] = ..., scheduled_action_name: _Optional[str] = ...) -> None: ...

class DescribeScalingActivitiesRequest(_message.Message):
    __slots__ = ("cluster", "service", "resource_id", "max_results")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    service: str
    resource_id: str
    max_results: int
    def __init__(self, cluster: _Optional[str] = ..., service: _Optional[str] = ..., resource_id: _Optional[str] = ..., max_results: _Optional[int] = ...) -> None: ...

class DescribeScalingActivitiesResponse(_message.Message):
    __slots__ = ("activities",)
    ACTIVITIES_FIELD_NUMBER: _ClassVar[int]
    activities: _containers.RepeatedCompositeFieldContainer[ScalingActivity]
    def __init__(self, activities: _Optional[_Iterable[_Union[ScalingActivity, _Mapping]]] = ...) -> None: ...

class RecordScalingActivityRequest(_message.Message):
    __slots__ = ("activity",)
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    activity: ScalingActivity
    def __init__(self, activity: _Optional[_Union[ScalingActivity, _Mapping]] = ...) -> None: ...

class ScalingActivityResponse(_message.Message):
    __slots__ = ("activity",)
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    activity: ScalingActivity
    def __init__(self, activity: _Optional[_Union[ScalingActivity, _Mapping]] = ...) -> None: ...

class NodeProviderConfig(_message.Message):
    __slots__ = ("profile", "config")
    class ConfigEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    profile: str
    config: _containers.ScalarMap[str, str]
    def __init__(self, profile: _Optional[str] = ..., config: _Optional[_Mapping[str, str]] = ...) -> None: ...

class CapacityProvider(_message.Message):
    __slots__ = ("name", "capacity_provider_arn", "cluster", "node_provider", "min_size", "max_size", "target_capacity", "managed_termination_protection", "minimum_scaling_step_size", "maximum_scaling_step_size", "status", "creation_time", "update_status", "update_status_reason", "fargate")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_PROVIDER_ARN_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    NODE_PROVIDER_FIELD_NUMBER: _ClassVar[int]
    MIN_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_SIZE_FIELD_NUMBER: _ClassVar[int]
    TARGET_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    MANAGED_TERMINATION_PROTECTION_FIELD_NUMBER: _ClassVar[int]
    MINIMUM_SCALING_STEP_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAXIMUM_SCALING_STEP_SIZE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATION_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_STATUS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_STATUS_REASON_FIELD_NUMBER: _ClassVar[int]
    FARGATE_FIELD_NUMBER: _ClassVar[int]
    name: str
    capacity_provider_arn: str
    cluster: str
    node_provider: NodeProviderConfig
    min_size: int
    max_size: int
    target_capacity: int
    managed_termination_protection: bool
    minimum_scaling_step_size: int
    maximum_scaling_step_size: int
    status: str
    creation_time: float
    update_status: str
    update_status_reason: str
    fargate: bool
    def __init__(self, name: _Optional[str] = ..., capacity_provider_arn: _Optional[str] = ..., cluster: _Optional[str] = ..., node_provider: _Optional[_Union[NodeProviderConfig, _Mapping]] = ..., min_size: _Optional[int] = ..., max_size: _Optional[int] = ..., target_capacity: _Optional[int] = ..., managed_termination_protection: _Optional[bool] = ..., minimum_scaling_step_size: _Optional[int] = ..., maximum_scaling_step_size: _Optional[int] = ..., status: _Optional[str] = ..., creation_time: _Optional[float] = ..., update_status: _Optional[str] = ..., update_status_reason: _Optional[str] = ..., fargate: _Optional[bool] = ...) -> None: ...

class CreateCapacityProviderRequest(_message.Message):
    __slots__ = ("name", "cluster", "node_provider", "min_size", "max_size", "target_capacity", "managed_termination_protection", "minimum_scaling_step_size", "maximum_scaling_step_size", "fargate")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    NODE_PROVIDER_FIELD_NUMBER: _ClassVar[int]
    MIN_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_SIZE_FIELD_NUMBER: _ClassVar[int]
    TARGET_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    MANAGED_TERMINATION_PROTECTION_FIELD_NUMBER: _ClassVar[int]
    MINIMUM_SCALING_STEP_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAXIMUM_SCALING_STEP_SIZE_FIELD_NUMBER: _ClassVar[int]
    FARGATE_FIELD_NUMBER: _ClassVar[int]
    name: str
    cluster: str
    node_provider: NodeProviderConfig
    min_size: int
    max_size: int
    target_capacity: int
    managed_termination_protection: bool
    minimum_scaling_step_size: int
    maximum_scaling_step_size: int
    fargate: bool
    def __init__(self, name: _Optional[str] = ..., cluster: _Optional[str] = ..., node_provider: _Optional[_Union[NodeProviderConfig, _Mapping]] = ..., min_size: _Optional[int] = ..., max_size: _Optional[int] = ..., target_capacity: _Optional[int] = ..., managed_termination_protection: _Optional[bool] = ..., minimum_scaling_step_size: _Optional[int] = ..., maximum_scaling_step_size: _Optional[int] = ..., fargate: _Optional[bool] = ...) -> None: ...

class CapacityProviderResponse(_message.Message):
    __slots__ = ("capacity_provider",)
    CAPACITY_PROVIDER_FIELD_NUMBER: _ClassVar[int]
    capacity_provider: CapacityProvider
    def __init__(self, capacity_provider: _Optional[_Union[CapacityProvider, _Mapping]] = ...) -> None: ...

class DescribeCapacityProvidersRequest(_message.Message):
    __slots__ = ("names", "cluster")
    NAMES_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    names: _containers.RepeatedScalarFieldContainer[str]
    cluster: str
    def __init__(self, names: _Optional[_Iterable[str]] = ..., cluster: _Optional[str] = ...) -> None: ...

class DescribeCapacityProvidersResponse(_message.Message):
    __slots__ = ("capacity_providers",)
    CAPACITY_PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    capacity_providers: _containers.RepeatedCompositeFieldContainer[CapacityProvider]
    def __init__(self, capacity_providers: _Optional[_Iterable[_Union[CapacityProvider, _Mapping]]] = ...) -> None: ...

class DeleteCapacityProviderRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...
