"""One function per ECS operation: the request JSON becomes our request message (the
Operator's messages use ECS's field names, so json_format reads most of them as they
come), the same function the gRPC Operator calls does the work, and the answer is shaped
as ECS's output for that operation."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message

from controlplane.api import clusters, namespaces, nodes, services, tags, taskdefs, tasks
from controlplane.api.context import ApiContext
from controlplane.api.described import described
from controlplane.api.paging import page
from controlplane.api.traffic_state import find_namespace, live_services
from controlplane.ecs import fields, task_sets
from controlplane.ecs.capacity import strategy_items
from controlplane.ecs.errors import EcsError, invalid_parameter
from controlplane.ecs.shapes import paged, tag_list, to_ecs
from controlplane.errors import ApiError
from shoal.arns import last_segment
from shoal.jsonfields import unknown_members
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r

Body = dict[str, Any]
Action = Callable[[ApiContext, Body], Body]
M = TypeVar("M", bound=Message)

# ECS starts at most 10 tasks per StartTask call, one per listed container instance.
MAX_START_INSTANCES = 10


def _parse(body: Body, cls: type[M]) -> M:
    return json_format.ParseDict(body, cls(), ignore_unknown_fields=True)


def _wants_tags(body: Body) -> bool:
    include = body.get("include") or []
    return isinstance(include, list) and "TAGS" in include


def _launch_type(body: Body) -> None:
    """The launch type itself is checked where it is stored (controlplane/launch_types.py),
    for the gRPC API as well."""
    launch_type = body.get("launchType")
    if launch_type is not None and not isinstance(launch_type, str):
        raise invalid_parameter("launchType: must be a string: EC2 or EXTERNAL")
    if "capacityProviderStrategy" in body:
        # Checked here for members json_format would skip; the rest where it is stored.
        strategy_items(body["capacityProviderStrategy"], "capacityProviderStrategy")


def _no_overrides(body: Body) -> None:
    if body.get("overrides"):
        raise invalid_parameter("overrides: task overrides are not supported by Shoal; register a revision instead")


def _paged(arns: list[str], body: Body, member: str) -> Body:
    resp = page(arns, int(body.get("maxResults") or 0), str(body.get("nextToken") or ""))
    return _listing(resp, member)


def _listing(resp: op.ListResponse, member: str) -> Body:
    return paged({member: list(resp.arns)}, resp)


def _tags(value: Any) -> list[r.Tag]:
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise invalid_parameter("tags: must be a list of {key, value} objects")
    return [_parse(t, r.Tag) for t in value]


def _failures(failures: Any) -> list[Body]:
    return [to_ecs(f) for f in failures]


# ---- clusters ---------------------------------------------------------------------------------

def _cluster_settings(body: Body, *, required: bool = False) -> list[r.ClusterSetting]:
    value = body.get("settings")
    if value is None and not required:
        return []
    if not isinstance(value, list) or not all(isinstance(x, dict) for x in value) or (required and not value):
        raise invalid_parameter("settings: required: a list of {name, value} objects")
    for i, item in enumerate(value):
        unknown = sorted(set(item) - {"name", "value"})
        if unknown:
            raise invalid_parameter(f"settings[{i}].{unknown[0]}: not a member of a cluster setting")
    return [_parse(x, r.ClusterSetting) for x in value]


def _no_cluster_extras(body: Body) -> None:
    """Cluster members Shoal has no counterpart for are refused, not dropped."""
    for member, why in (("configuration", "ECS Exec and managed storage are not supported by Shoal"),
                        ("serviceConnectDefaults", "Shoal has no default namespace: give each service's "
                                                   "serviceConnectConfiguration.namespace"),
                        ("defaultCapacityProviderStrategy", "use PutClusterCapacityProviders"),
                        ("capacityProviders", "use PutClusterCapacityProviders")):
        if body.get(member):
            raise invalid_parameter(f"{member}: {why}")


def create_cluster(ctx: ApiContext, body: Body) -> Body:
    _no_cluster_extras(body)
    req = _parse({k: v for k, v in body.items() if k != "settings"}, op.CreateClusterRequest)
    req.settings.extend(_cluster_settings(body))
    return {"cluster": to_ecs(clusters.create(ctx, req).cluster)}


def update_cluster(ctx: ApiContext, body: Body) -> Body:
    _no_cluster_extras(body)
    ref = str(fields.required(body, "cluster"))
    return {"cluster": to_ecs(clusters.update_settings(ctx, ref, _cluster_settings(body)).cluster)}


def update_cluster_settings(ctx: ApiContext, body: Body) -> Body:
    ref = str(fields.required(body, "cluster"))
    return {"cluster": to_ecs(clusters.update_settings(ctx, ref, _cluster_settings(body, required=True)).cluster)}


def delete_cluster(ctx: ApiContext, body: Body) -> Body:
    req = op.DeleteClusterRequest(cluster=fields.required(body, "cluster"))
    return {"cluster": to_ecs(clusters.delete(ctx, req).cluster)}


def describe_clusters(ctx: ApiContext, body: Body) -> Body:
    resp = clusters.describe(ctx, _parse(body, op.DescribeClustersRequest))
    with_tags = _wants_tags(body)
    return {"clusters": [to_ecs(c, tags=with_tags) for c in resp.clusters], "failures": _failures(resp.failures)}


def list_clusters(ctx: ApiContext, body: Body) -> Body:
    # clusters.list_ returns every cluster; paging is applied here.
    return _paged(list(clusters.list_(ctx, op.ListRequest()).arns), body, "clusterArns")


# ---- task definitions -------------------------------------------------------------------------

def register_task_definition(ctx: ApiContext, body: Body) -> Body:
    # The document goes through as text: the parser names bad fields in ECS terms and keeps
    # the fields Shoal does not act on.
    td = taskdefs.register(ctx, op.RegisterTaskDefinitionRequest(json=json.dumps(body))).task_definition
    return {"taskDefinition": to_ecs(td), "tags": tag_list(td.tags)}


def deregister_task_definition(ctx: ApiContext, body: Body) -> Body:
    ref = op.TaskDefinitionRef(task_definition=fields.required(body, "taskDefinition"))
    return {"taskDefinition": to_ecs(taskdefs.deregister(ctx, ref).task_definition)}


def delete_task_definitions(ctx: ApiContext, body: Body) -> Body:
    refs = fields.required(body, "taskDefinitions")
    if not isinstance(refs, list) or not all(isinstance(x, str) for x in refs):
        raise invalid_parameter("taskDefinitions: must be a list of family:revision references or ARNs")
    deleted, failures = taskdefs.delete(ctx, refs)
    return {"taskDefinitions": [to_ecs(td) for td in deleted], "failures": _failures(failures)}


def describe_task_definition(ctx: ApiContext, body: Body) -> Body:
    ref = op.TaskDefinitionRef(task_definition=fields.required(body, "taskDefinition"))
    td = taskdefs.describe(ctx, ref).task_definition
    out: Body = {"taskDefinition": to_ecs(td)}
    if _wants_tags(body):
        out["tags"] = tag_list(td.tags)
    return out


def _taskdef_listing(body: Body) -> op.ListTaskDefinitionsRequest:
    if body.get("sort") not in (None, "ASC"):
        raise invalid_parameter("sort: only ASC is supported")
    return _parse(body, op.ListTaskDefinitionsRequest)


def list_task_definitions(ctx: ApiContext, body: Body) -> Body:
    return _listing(taskdefs.list_(ctx, _taskdef_listing(body)), "taskDefinitionArns")


def list_task_definition_families(ctx: ApiContext, body: Body) -> Body:
    return _listing(taskdefs.families(ctx, _taskdef_listing(body)), "families")


# ---- tasks ------------------------------------------------------------------------------------

def _tasks_out(resp: op.TasksResponse, with_tags: bool = True) -> Body:
    return {"tasks": [to_ecs(t, tags=with_tags) for t in resp.tasks], "failures": _failures(resp.failures)}


def run_task(ctx: ApiContext, body: Body) -> Body:
    _launch_type(body)
    _no_overrides(body)
    return _tasks_out(tasks.run(ctx, _parse(body, op.RunTaskRequest)))


def start_task(ctx: ApiContext, body: Body) -> Body:
    """RunTask pinned to the listed container instances: one task on each, through a
    memberOf constraint on their ids and distinctInstance."""
    _no_overrides(body)
    refs = fields.required(body, "containerInstances")
    if not isinstance(refs, list) or not all(isinstance(x, str) for x in refs):
        raise invalid_parameter("containerInstances: must be a list of container instance ids or ARNs")
    if len(refs) > MAX_START_INSTANCES:
        raise invalid_parameter(f"containerInstances: at most {MAX_START_INSTANCES} per call")
    cluster = ctx.require_cluster(str(body.get("cluster") or "")).msg.cluster_name

    def instance_id(ref: str) -> str | None:
        rec = ctx.state.node(cluster, last_segment(ref))
        return rec.msg.ec2_instance_id if rec is not None and rec.msg.status != "INACTIVE" else None

    found, failures = described(refs, instance_id)
    if not found:
        return {"tasks": [], "failures": _failures(failures)}
    req = op.RunTaskRequest(
        cluster=cluster,
        task_definition=fields.required(body, "taskDefinition"),
        count=len(found),
        group=str(body.get("group") or ""),
        started_by=str(body.get("startedBy") or ""),
        placement_constraints=[
            r.PlacementConstraint(type="memberOf", expression=f"ec2InstanceId in [{', '.join(found)}]"),
            r.PlacementConstraint(type="distinctInstance"),
        ],
    )
    req.tags.extend(_tags(body.get("tags") or []))
    resp = tasks.run(ctx, req)
    resp.failures.extend(failures)
    return _tasks_out(resp)


def stop_task(ctx: ApiContext, body: Body) -> Body:
    fields.required(body, "task")
    return {"task": to_ecs(tasks.stop(ctx, _parse(body, op.StopTaskRequest)).task)}


def describe_tasks(ctx: ApiContext, body: Body) -> Body:
    return _tasks_out(tasks.describe(ctx, _parse(body, op.DescribeTasksRequest)), _wants_tags(body))


def list_tasks(ctx: ApiContext, body: Body) -> Body:
    _launch_type(body)
    return _listing(tasks.list_(ctx, _parse(body, op.ListTasksRequest)), "taskArns")


def _protection_out(resp: op.TaskProtectionResponse) -> Body:
    return {"protectedTasks": [to_ecs(t) for t in resp.protected_tasks], "failures": _failures(resp.failures)}


def get_task_protection(ctx: ApiContext, body: Body) -> Body:
    fields.required(body, "tasks")
    return _protection_out(tasks.get_protection(ctx, _parse(body, op.GetTaskProtectionRequest)))


def update_task_protection(ctx: ApiContext, body: Body) -> Body:
    fields.required(body, "tasks")
    if not isinstance(body.get("protectionEnabled"), bool):
        raise invalid_parameter("protectionEnabled: required, true or false")
    return _protection_out(tasks.update_protection(ctx, _parse(body, op.UpdateTaskProtectionRequest)))


def execute_command(ctx: ApiContext, body: Body) -> Body:
    """ECS Exec hands the caller an SSM session for the AWS Session Manager plugin; Shoal has
    no SSM, so the gateway says where the same thing is: ``shoal exec``."""
    task = str(fields.required(body, "task"))
    fields.required(body, "command")
    raise EcsError("ClientException",
                   "ExecuteCommand needs the AWS Session Manager plugin, which Shoal does not support: run "
                   f"`shoal exec -it {last_segment(task)} -- COMMAND` instead (the same task, interactive, through the "
                   "node's agent).")


# ---- services ---------------------------------------------------------------------------------

# The members of these service fields that Shoal does not act on are refused, not dropped
# (advancedConfiguration, Service Connect's tls, timeout, logConfiguration, ...).
_TRAFFIC_MEMBERS = {
    "loadBalancers": r.ServiceLoadBalancer.DESCRIPTOR,
    "serviceRegistries": r.ServiceRegistry.DESCRIPTOR,
    "serviceConnectConfiguration": r.ServiceConnectConfiguration.DESCRIPTOR,
    # Deployment alarms and Lambda hooks' hookDetails have nothing to act on in Shoal.
    "deploymentConfiguration": r.DeploymentConfiguration.DESCRIPTOR,
}


def _traffic_members(body: Body) -> None:
    if body.get("role"):
        raise invalid_parameter("role: Shoal has no IAM roles; its load balancers need none, leave it out")
    for member, desc in _TRAFFIC_MEMBERS.items():
        unknown = unknown_members(body.get(member), desc, member)
        if unknown:
            raise invalid_parameter(f"{unknown[0]}: not supported by Shoal; leave it out")


def _service(svc: r.Service, tags: bool = True) -> Body:
    """ECS returns a service's Service Connect configuration in its deployments, not beside
    its loadBalancers: the primary deployment carries the service's."""
    out = to_ecs(svc, tags=tags)
    if svc.HasField("service_connect_configuration"):
        for d in out.get("deployments", []):
            if d.get("status") == "PRIMARY":
                d["serviceConnectConfiguration"] = to_ecs(svc.service_connect_configuration)
    return out


def create_service(ctx: ApiContext, body: Body) -> Body:
    if task_sets.controller_of(body) == task_sets.EXTERNAL:
        return task_sets.create_external_service(ctx, body)
    _launch_type(body)
    fields.required(body, "serviceName")
    _traffic_members(body)
    if body.get("schedulingStrategy") == "DAEMON" and body.get("desiredCount") is not None:
        raise invalid_parameter("desiredCount: the daemon scheduling strategy does not support a desired count")
    return {"service": _service(services.create(ctx, _parse(body, op.CreateServiceRequest)).service)}


def update_service(ctx: ApiContext, body: Body) -> Body:
    fields.required(body, "service")
    if "capacityProviderStrategy" in body:
        strategy_items(body["capacityProviderStrategy"], "capacityProviderStrategy")
    _traffic_members(body)
    req = _parse(body, op.UpdateServiceRequest)
    # ECS: present (even empty, meaning the cluster's default) replaces the strategy.
    req.update_capacity_provider_strategy = "capacityProviderStrategy" in body
    req.update_load_balancers = "loadBalancers" in body
    req.update_service_registries = "serviceRegistries" in body
    # ECS replaces a list when the member is present, even empty; absent keeps it.
    req.update_placement_constraints = "placementConstraints" in body
    req.update_placement_strategy = "placementStrategy" in body
    return {"service": _service(services.update(ctx, req).service)}


def delete_service(ctx: ApiContext, body: Body) -> Body:
    fields.required(body, "service")
    return {"service": _service(services.delete(ctx, _parse(body, op.DeleteServiceRequest)).service)}


def describe_services(ctx: ApiContext, body: Body) -> Body:
    resp = services.describe(ctx, _parse(body, op.DescribeServicesRequest))
    with_tags = _wants_tags(body)
    return {"services": [_service(s, tags=with_tags) for s in resp.services], "failures": _failures(resp.failures)}


def list_services(ctx: ApiContext, body: Body) -> Body:
    strategy = body.get("schedulingStrategy")
    if strategy not in (None, "REPLICA", "DAEMON"):
        # A filter no Shoal service can match.
        ctx.require_cluster(str(body.get("cluster") or ""))
        return {"serviceArns": []}
    _launch_type(body)
    if strategy is not None:
        cluster = ctx.require_cluster(str(body.get("cluster") or "")).msg.cluster_name
        launch_type = body.get("launchType")
        return _paged(sorted(s.msg.service_arn for s in live_services(ctx, cluster)
                             if (s.msg.scheduling_strategy or "REPLICA") == strategy
                             and (not launch_type or (s.msg.launch_type or "EC2") == launch_type)),
                      body, "serviceArns")
    return _listing(services.list_(ctx, _parse(body, op.ListServicesRequest)), "serviceArns")


def list_services_by_namespace(ctx: ApiContext, body: Body) -> Body:
    """The services registered in a namespace (by a service registry or Service Connect),
    by its name or ARN, in every cluster that has it."""
    ref = str(fields.required(body, "namespace"))
    arns, found = [], False
    for cluster in clusters.list_(ctx, op.ListRequest()).arns:
        name = last_segment(cluster)
        try:
            ns = find_namespace(ctx, name, ref, "namespace").msg
        except ApiError:
            continue
        found = True
        arns += sorted(s.msg.service_arn for s in live_services(ctx, name) if namespaces.uses(s.msg, ns))
    if not found:
        raise EcsError("NamespaceNotFoundException", f"namespace: namespace {ref[:256]!r} not found")
    return _paged(arns, body, "serviceArns")


# ---- container instances ----------------------------------------------------------------------

def _instances_out(resp: op.DescribeContainerInstancesResponse, with_tags: bool = True) -> Body:
    return {
        "containerInstances": [to_ecs(n, tags=with_tags) for n in resp.container_instances],
        "failures": _failures(resp.failures),
    }


def list_container_instances(ctx: ApiContext, body: Body) -> Body:
    return _listing(nodes.list_(ctx, _parse(body, op.ListContainerInstancesRequest)), "containerInstanceArns")


def describe_container_instances(ctx: ApiContext, body: Body) -> Body:
    resp = nodes.describe(ctx, _parse(body, op.DescribeContainerInstancesRequest))
    return _instances_out(resp, _wants_tags(body))


def update_container_instances_state(ctx: ApiContext, body: Body) -> Body:
    return _instances_out(nodes.update_state(ctx, _parse(body, op.UpdateContainerInstancesStateRequest)))


def deregister_container_instance(ctx: ApiContext, body: Body) -> Body:
    fields.required(body, "containerInstance")
    resp = nodes.deregister(ctx, _parse(body, op.DeregisterContainerInstanceRequest))
    return {"containerInstance": to_ecs(resp.container_instances[0])}


# ---- tags -------------------------------------------------------------------------------------

def tag_resource(ctx: ApiContext, body: Body) -> Body:
    tags.tag(ctx, str(fields.required(body, "resourceArn")), _tags(body.get("tags") or []))
    return {}


def untag_resource(ctx: ApiContext, body: Body) -> Body:
    keys = body.get("tagKeys") or []
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise invalid_parameter("tagKeys: must be a list of strings")
    tags.untag(ctx, str(fields.required(body, "resourceArn")), keys)
    return {}


def list_tags_for_resource(ctx: ApiContext, body: Body) -> Body:
    return {"tags": tag_list(tags.list_tags(ctx, str(fields.required(body, "resourceArn"))))}


ACTIONS: dict[str, Action] = {
    "CreateCluster": create_cluster,
    "DeleteCluster": delete_cluster,
    "UpdateCluster": update_cluster,
    "UpdateClusterSettings": update_cluster_settings,
    "DescribeClusters": describe_clusters,
    "ListClusters": list_clusters,
    "RegisterTaskDefinition": register_task_definition,
    "DeregisterTaskDefinition": deregister_task_definition,
    "DeleteTaskDefinitions": delete_task_definitions,
    "DescribeTaskDefinition": describe_task_definition,
    "ListTaskDefinitions": list_task_definitions,
    "ListTaskDefinitionFamilies": list_task_definition_families,
    "RunTask": run_task,
    "StartTask": start_task,
    "StopTask": stop_task,
    "DescribeTasks": describe_tasks,
    "ListTasks": list_tasks,
    "GetTaskProtection": get_task_protection,
    "UpdateTaskProtection": update_task_protection,
    "ExecuteCommand": execute_command,
    "CreateService": create_service,
    "UpdateService": update_service,
    "DeleteService": delete_service,
    "DescribeServices": describe_services,
    "ListServices": list_services,
    "ListServicesByNamespace": list_services_by_namespace,
    "ListContainerInstances": list_container_instances,
    "DescribeContainerInstances": describe_container_instances,
    "UpdateContainerInstancesState": update_container_instances_state,
    "DeregisterContainerInstance": deregister_container_instance,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags_for_resource,
}
