"""Shoal's resource messages as the ECS API returns them. The protos already use ECS's
names; what differs is removed or fixed here: Shoal's own fields are dropped, int64s are
numbers (proto3 JSON would make them strings), unset timestamps and empty strings are left
out, and one name differs in case (``bindIP``). The tests check every output against
botocore's service model, so this table and the model cannot drift apart unnoticed."""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r

_SHOAL_ONLY: dict[str, frozenset[str]] = {
    r.Task.DESCRIPTOR.full_name: frozenset({
        "id", "cluster", "node_id", "service_name", "placement_message", "placement_constraints",
        "placement_strategy", "deployment_id", "target_health", "deregister_until",
        "protection_enabled", "protection_expires_at", "disconnected_at", "status_before_disconnect",
        "task_set_id",
    }),
    r.ContainerInstance.DESCRIPTOR.full_name: frozenset({
        "id", "cluster", "hostname", "address", "metrics_port", "cpu_units", "memory_mib", "host_cpu_percent",
        "host_memory_used_bytes", "host_memory_total_bytes", "last_heartbeat_at", "agent_version",
        "dynamic_port_low", "dynamic_port_high", "proxy_metrics_port", "custom_attributes", "activated_at",
    }),
    r.Service.DESCRIPTOR.full_name: frozenset({"cluster", "service_connect_configuration", "service_deployments",
                                               "service_revisions", "disconnect_tolerance_seconds", "daemon_critical",
                                               "replace_on_disconnect", "daemon_critical_grace_seconds",
                                               "rebalancing_task_id", "rebalance_not_before"}),
    r.Deployment.DESCRIPTOR.full_name: frozenset({"service_revision_arn", "rollback_of", "lifecycle_stage",
                                                  "stage_started_at", "traffic_percent", "hooks"}),
    r.TaskSet.DESCRIPTOR.full_name: frozenset({"client_token"}),
    r.DeploymentLifecycleHookDetail.DESCRIPTOR.full_name: frozenset({"stage"}),
    r.ServiceDeployment.DESCRIPTOR.full_name: frozenset({"deployment_id"}),
    # Shoal names the namespace directly; ECS's registryArn carries the namespace's ARN too.
    r.ServiceRegistry.DESCRIPTOR.full_name: frozenset({"namespace"}),
    # Tags of a task definition travel beside it in ECS responses, not inside it.
    r.TaskDefinition.DESCRIPTOR.full_name: frozenset({"source_json", "warnings", "tags", "daemon_task_definition"}),
    # The registered file system Shoal copied in (what the agent mounts) is Shoal's own.
    r.EfsVolumeConfiguration.DESCRIPTOR.full_name: frozenset({"file_system"}),
}
_RENAMED: dict[str, dict[str, str]] = {
    r.NetworkBinding.DESCRIPTOR.full_name: {"bind_ip": "bindIP"},
}
_INTEGERS = frozenset({
    FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SINT64,
})


def to_ecs(msg: Message, *, tags: bool = True) -> dict[str, Any]:
    """``msg`` as an ECS JSON object; ``tags=False`` leaves the ``tags`` member out, as ECS
    does unless a Describe* call asks for them (``include: ["TAGS"]``)."""
    desc = msg.DESCRIPTOR
    skip = _SHOAL_ONLY.get(desc.full_name, frozenset())
    renamed = _RENAMED.get(desc.full_name, {})
    out: dict[str, Any] = {}
    for field in desc.fields:
        if field.name in skip or (field.name == "tags" and not tags):
            continue
        name = renamed.get(field.name, field.json_name)
        value = getattr(msg, field.name)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            if value:
                out[name] = dict(value)
        elif field.is_repeated:
            out[name] = [to_ecs(v, tags=tags) if isinstance(v, Message) else v for v in value]
        elif field.message_type is not None:
            if msg.HasField(field.name):
                out[name] = to_ecs(value, tags=tags)
        elif field.has_presence:
            if msg.HasField(field.name):
                out[name] = value
        elif field.type == FieldDescriptor.TYPE_STRING:
            if value:
                out[name] = value
        elif field.type == FieldDescriptor.TYPE_DOUBLE:
            # Every double ECS returns is a timestamp; 0 means "not yet", which ECS omits.
            if value:
                out[name] = value
        elif field.type in _INTEGERS:
            out[name] = int(value)
        else:
            out[name] = value
    return out


def tag_list(tags: Any) -> list[dict[str, str]]:
    return [{"key": t.key, "value": t.value} for t in tags]


def paged(out: dict[str, Any], listed: op.ListResponse) -> dict[str, Any]:
    """``out``, the answer holding one page of ``listed``, with the token of the next page
    when there is one: ECS leaves nextToken out of the last page."""
    if listed.next_token:
        out["nextToken"] = listed.next_token
    return out
