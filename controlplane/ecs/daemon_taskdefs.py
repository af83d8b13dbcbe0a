"""The ECS gateway's daemon task definitions (ECS, 2026): RegisterDaemonTaskDefinition,
DescribeDaemonTaskDefinition, DeleteDaemonTaskDefinition and ListDaemonTaskDefinitions.

A daemon task definition is a Shoal task definition registered through this door and
marked so (``daemon_task_definition``): the same record, parser, policy and revisions as any
task definition, and the same ARN (``...:task-definition/family:revision``). Only members of
ECS's daemon shapes are taken: a member a daemon task definition does not have in ECS
(``networkMode``, ``portMappings``, ...) is refused by name, never kept and forgotten."""

from __future__ import annotations

import json
from typing import Any

from controlplane.api import taskdefs
from controlplane.api.context import ApiContext
from controlplane.api.paging import page
from controlplane.ecs import fields
from controlplane.ecs.errors import EcsError, invalid_parameter
from controlplane.ecs.shapes import paged, to_ecs
from shoal import keys
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r

Body = dict[str, Any]

# The members of ECS's RegisterDaemonTaskDefinition input and DaemonContainerDefinition.
TOP_MEMBERS = frozenset({"family", "taskRoleArn", "executionRoleArn", "containerDefinitions", "cpu", "memory",
                         "volumes", "tags", "pidMode", "ipcMode"})
CONTAINER_MEMBERS = frozenset({
    "name", "image", "memory", "memoryReservation", "repositoryCredentials", "healthCheck", "cpu", "essential",
    "entryPoint", "command", "workingDirectory", "environmentFiles", "environment", "secrets",
    "readonlyRootFilesystem", "mountPoints", "logConfiguration", "firelensConfiguration", "privileged", "user",
    "ulimits", "linuxParameters", "dependsOn", "startTimeout", "stopTimeout", "systemControls", "interactive",
    "pseudoTerminal", "restartPolicy"})
VOLUME_MEMBERS = frozenset({"name", "host", "logDriverVolumeConfiguration"})
# What DescribeDaemonTaskDefinition returns beside the registered members.
_OUT_MEMBERS = (TOP_MEMBERS - {"tags"}) | {"revision", "status", "registeredAt", "registeredBy"}
_STATUSES = ("ACTIVE", taskdefs.DELETE_IN_PROGRESS)


def _only(items: Any, allowed: frozenset[str], where: str) -> None:
    if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
        raise invalid_parameter(f"{where}: must be a list of objects")
    for i, item in enumerate(items):
        fields.only(item, allowed, f"not a member of a daemon task definition's {where}; leave it out",
                    where=f"{where}[{i}]")


def check_document(body: Body) -> None:
    """Refuses what ECS's daemon task definition does not have, naming the member."""
    fields.only(body, TOP_MEMBERS, "not a member of a daemon task definition; leave it out")
    for name in ("family", "containerDefinitions"):
        fields.required(body, name)
    _only(body["containerDefinitions"], CONTAINER_MEMBERS, "containerDefinitions")
    if "volumes" in body:
        _only(body["volumes"], VOLUME_MEMBERS, "volumes")
    for name in ("pidMode", "ipcMode"):
        fields.choice(body, name, ("none", "shared"))


def daemon_taskdef(ctx: ApiContext, ref: str, field: str) -> r.TaskDefinition:
    """The daemon task definition ``ref`` names (family, family:revision or ARN); one
    registered by RegisterTaskDefinition is refused, naming ``field``."""
    if not isinstance(ref, str) or not ref:
        raise invalid_parameter(f"{field}: required, a daemon task definition family:revision or ARN")
    td = taskdefs.resolve(ctx, ref, field=field).msg
    if not td.daemon_task_definition:
        raise invalid_parameter(f"{field}: {td.task_definition_arn} is a task definition, not a daemon task "
                                "definition: register it with RegisterDaemonTaskDefinition")
    return td


def _out(td: r.TaskDefinition) -> Body:
    full = to_ecs(td)
    out = {k: v for k, v in full.items() if k in _OUT_MEMBERS}
    out["daemonTaskDefinitionArn"] = td.task_definition_arn
    out["containerDefinitions"] = [{k: v for k, v in c.items() if k in CONTAINER_MEMBERS}
                                   for c in full.get("containerDefinitions", [])]
    out["volumes"] = [{k: v for k, v in v.items() if k in VOLUME_MEMBERS} for v in full.get("volumes", [])]
    if td.status == taskdefs.DELETE_IN_PROGRESS and td.deregistered_at:
        out["deleteRequestedAt"] = td.deregistered_at
    return out


def register_daemon_task_definition(ctx: ApiContext, body: Body) -> Body:
    check_document(body)
    td = taskdefs.register(ctx, op.RegisterTaskDefinitionRequest(json=json.dumps(body)), daemon=True).task_definition
    return {"daemonTaskDefinitionArn": td.task_definition_arn}


def describe_daemon_task_definition(ctx: ApiContext, body: Body) -> Body:
    return {"daemonTaskDefinition": _out(daemon_taskdef(ctx, body.get("daemonTaskDefinition"),
                                                        "daemonTaskDefinition"))}


def delete_daemon_task_definition(ctx: ApiContext, body: Body) -> Body:
    """ECS deletes a daemon task definition in one call; Shoal deregisters and deletes the
    revision, after checking that nothing runs it (so a refusal changes nothing)."""
    ref = body.get("daemonTaskDefinition")
    td = daemon_taskdef(ctx, ref, "daemonTaskDefinition")
    user = taskdefs.in_use(ctx).get(td.task_definition_arn)
    if user:
        raise EcsError("ClientException", f"daemonTaskDefinition: {td.task_definition_arn} is still used by {user}; "
                                          "delete or update the daemon first")
    if td.status == "ACTIVE":
        taskdefs.deregister(ctx, op.TaskDefinitionRef(task_definition=td.task_definition_arn))
    _, failures = taskdefs.delete(ctx, [f"{td.family}:{td.revision}"])
    if failures:
        raise EcsError("ClientException", f"daemonTaskDefinition: {failures[0].reason} {failures[0].detail}".strip())
    return {"daemonTaskDefinitionArn": td.task_definition_arn}


def list_daemon_task_definitions(ctx: ApiContext, body: Body) -> Body:
    status = body.get("status") or "ACTIVE"
    if status not in (*_STATUSES, "ALL"):
        raise invalid_parameter("status: must be ACTIVE, DELETE_IN_PROGRESS or ALL")
    if body.get("sort") not in (None, "ASC", "DESC"):
        raise invalid_parameter("sort: must be ASC or DESC")
    if body.get("revision") not in (None, "LAST_REGISTERED"):
        raise invalid_parameter("revision: must be LAST_REGISTERED")
    family, prefix = str(body.get("family") or ""), str(body.get("familyPrefix") or "")
    if family and prefix:
        raise invalid_parameter("family: give family or familyPrefix, not both")
    found = [rec.msg for rec in ctx.state.load_all(keys.TASKDEFS, r.TaskDefinition)
             if rec.msg.daemon_task_definition and rec.msg.status in _STATUSES
             and (status == "ALL" or rec.msg.status == status)
             and (rec.msg.family == family if family else rec.msg.family.startswith(prefix))]
    found.sort(key=lambda td: (td.family, td.revision), reverse=body.get("sort") == "DESC")
    if body.get("revision") == "LAST_REGISTERED":
        last: dict[str, r.TaskDefinition] = {}
        for td in found:
            if td.family not in last or td.revision > last[td.family].revision:
                last[td.family] = td
        found = [td for td in found if last[td.family] is td]
    by_arn = {td.task_definition_arn: td for td in found}
    resp = page([td.task_definition_arn for td in found], int(body.get("maxResults") or 0),
                str(body.get("nextToken") or ""))
    out: Body = {"daemonTaskDefinitions": []}
    for arn in resp.arns:
        td = by_arn[arn]
        item: Body = {"arn": arn, "status": td.status, "registeredAt": td.registered_at}
        if td.status == taskdefs.DELETE_IN_PROGRESS and td.deregistered_at:
            item["deleteRequestedAt"] = td.deregistered_at
        out["daemonTaskDefinitions"].append(item)
    return paged(out, resp)


ACTIONS = {
    "RegisterDaemonTaskDefinition": register_daemon_task_definition,
    "DescribeDaemonTaskDefinition": describe_daemon_task_definition,
    "DeleteDaemonTaskDefinition": delete_daemon_task_definition,
    "ListDaemonTaskDefinitions": list_daemon_task_definitions,
}
