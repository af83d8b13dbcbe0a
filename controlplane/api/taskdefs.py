"""RegisterTaskDefinition and friends. Revisions are immutable: a revision number is
claimed with a create-only write, so two concurrent registrations never share one."""

from __future__ import annotations

import time

from controlplane.api.context import ApiContext
from controlplane.api.paging import page
from controlplane.errors import invalid, not_found
from controlplane.state import Record
from shoal import keys
from shoal.store.base import KV, Compare, Conflict, Put
from shoal.store.update import retrying
from shoal.taskdef import policy
from shoal.taskdef.document import parse_task_definition, parse_task_definition_ref
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoal.validation import ValidationError


def register(ctx: ApiContext, req: op.RegisterTaskDefinitionRequest, *,
             daemon: bool = False) -> op.TaskDefinitionResponse:
    """``daemon``: registered as a daemon task definition (the ECS gateway's
    RegisterDaemonTaskDefinition), which only a daemon runs."""
    td, warnings = parse_task_definition(req.json, ctx.policy)
    td.daemon_task_definition = daemon
    td.warnings[:] = warnings
    td.status = "ACTIVE"
    td.registered_at = time.time()

    def claim_next_revision() -> None:
        revisions = ctx.state.taskdef_revisions(td.family)
        td.revision = (revisions[-1].msg.revision + 1) if revisions else 1
        td.task_definition_arn = ctx.arns.taskdef(td.family, td.revision)
        key = keys.taskdef(td.family, td.revision)
        named = resolve_file_systems(ctx, td)
        if not named:
            ctx.store.create(key, td.SerializeToString())
            return
        # Each file system named is rewritten unchanged in the same transaction: its revision
        # moves, so a `shoal fs delete` that checked for users before this commit conflicts
        # and checks again, and a delete that won makes this registration resolve again.
        ctx.store.txn([Compare(key, 0, on_create=True), *(Compare(kv.key, kv.mod_revision) for kv in named)],
                      [Put(key, td.SerializeToString()), *(Put(kv.key, kv.value) for kv in named)])

    try:
        retrying(claim_next_revision)
    except Conflict:
        raise invalid(f"family: too many concurrent registrations of {td.family!r}; try again") from None
    return op.TaskDefinitionResponse(task_definition=td)


def resolve_file_systems(ctx: ApiContext, td: r.TaskDefinition) -> list[KV]:
    """Copies the registered file system each efsVolumeConfiguration names into it (what its
    tasks mount, controlplane/api/filesystems.py) and returns their records as read; an
    unknown one is refused naming the field."""
    read: dict[str, KV] = {}
    for i, vol in enumerate(td.volumes):
        if not vol.HasField("efs_volume_configuration"):
            continue
        conf = vol.efs_volume_configuration
        where = f"volumes[{i}].efsVolumeConfiguration"
        item = ctx.store.get(keys.filesystem(conf.file_system_id))
        if item is None:
            raise ValidationError(f"{where}.fileSystemId", f"no file system {conf.file_system_id!r} is registered "
                                                           "(an operator registers one with `shoal fs create`)")
        conf.file_system.ParseFromString(item.value)
        policy.check_efs(conf, where, ctx.policy.forbidden)
        read[item.key] = item
    return list(read.values())


def resolve(ctx: ApiContext, ref: str, *, field: str = "taskDefinition") -> Record[r.TaskDefinition]:
    """family (latest ACTIVE revision), family:revision, or an ARN."""
    if not ref:
        raise invalid(f"{field}: required")
    family, revision = parse_task_definition_ref(ref)
    if revision is not None:
        rec = ctx.state.taskdef(family, revision)
        if rec is None:
            raise not_found(f"{field}: task definition {family}:{revision} not found")
        return rec
    active = [t for t in ctx.state.taskdef_revisions(family) if t.msg.status == "ACTIVE"]
    if not active:
        raise not_found(f"{field}: no ACTIVE revision of task definition family {family!r}")
    return active[-1]


def runnable(ctx: ApiContext, ref: str) -> r.TaskDefinition:
    """The definition a new task is made from (RunTask, CreateService, UpdateService, and
    the ECS gateway's same calls): ACTIVE, and within the cluster's policy as it is now. A
    definition registered before the policy was tightened is refused here, naming the field
    and the flag, rather than only by the node it lands on."""
    td = resolve(ctx, ref).msg
    if td.status != "ACTIVE":
        raise invalid(f"taskDefinition: {td.task_definition_arn} is {td.status}")
    try:
        policy.check(td, ctx.policy)
    except ValidationError as exc:
        raise invalid(f"taskDefinition: {td.family}:{td.revision} is outside this cluster's policy: {exc}") from None
    return td


def describe(ctx: ApiContext, req: op.TaskDefinitionRef) -> op.TaskDefinitionResponse:
    return op.TaskDefinitionResponse(task_definition=resolve(ctx, req.task_definition).msg)


def deregister(ctx: ApiContext, req: op.TaskDefinitionRef) -> op.TaskDefinitionResponse:
    family, revision = parse_task_definition_ref(req.task_definition)
    if revision is None:
        raise invalid("taskDefinition: give family:revision; deregistering a whole family is not an ECS action")
    key = resolve(ctx, req.task_definition).key

    def deactivate(td: r.TaskDefinition | None) -> r.TaskDefinition | None:
        if td is None:
            raise not_found(f"taskDefinition: task definition {family}:{revision} not found")
        if td.status == "INACTIVE":
            return None
        td.status = "INACTIVE"
        td.deregistered_at = time.time()
        return td

    rec = ctx.state.update(key, r.TaskDefinition, deactivate, field="taskDefinition")
    return op.TaskDefinitionResponse(task_definition=rec.msg)


MAX_DELETE = 10
DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"


def delete(ctx: ApiContext, refs: list[str]) -> tuple[list[r.TaskDefinition], list[r.Failure]]:
    """ECS's DeleteTaskDefinitions: INACTIVE revisions only, and (unlike ECS, which waits for
    them) none a live task or service still runs. What is left is a tombstone in status
    DELETE_IN_PROGRESS holding the family, revision and dates, so the revision number is
    never handed out again; the document itself is gone."""
    if not 1 <= len(refs) <= MAX_DELETE:
        raise invalid(f"taskDefinitions: give 1 to {MAX_DELETE} family:revision references")
    deleted, failures = [], []
    used = in_use(ctx)
    for ref in refs:
        family, revision = parse_task_definition_ref(ref)
        if revision is None:
            raise invalid(f"taskDefinitions: {ref[:200]!r}: give family:revision")
        rec = ctx.state.taskdef(family, revision)
        if rec is None:
            failures.append(r.Failure(arn=ref, reason="MISSING"))
            continue
        arn = rec.msg.task_definition_arn
        if rec.msg.status == "ACTIVE":
            failures.append(r.Failure(arn=arn, reason="ACTIVE",
                                      detail="deregister the revision first (DeregisterTaskDefinition)"))
            continue
        if arn in used:
            failures.append(r.Failure(arn=arn, reason="IN_USE", detail=f"still used by {used[arn]}"))
            continue

        def tombstone(td: r.TaskDefinition | None) -> r.TaskDefinition | None:
            if td is None or td.status == DELETE_IN_PROGRESS:
                return None
            return r.TaskDefinition(family=td.family, revision=td.revision, task_definition_arn=td.task_definition_arn,
                                    status=DELETE_IN_PROGRESS, registered_at=td.registered_at,
                                    deregistered_at=td.deregistered_at,
                                    daemon_task_definition=td.daemon_task_definition)

        after = ctx.state.update(rec.key, r.TaskDefinition, tombstone, field="taskDefinitions")
        deleted.append(after.msg if after is not None else rec.msg)
    return deleted, failures


def in_use(ctx: ApiContext) -> dict[str, str]:
    """Task definition ARN -> a task or service that still runs it."""
    used: dict[str, str] = {}
    for rec in ctx.state.load_all(keys.SERVICES, r.Service):
        svc = rec.msg
        if svc.status != "INACTIVE":
            for arn in [svc.task_definition] + [d.task_definition for d in svc.deployments if d.status != "INACTIVE"]:
                used.setdefault(arn, f"service {svc.service_name}")
    for rec in ctx.state.load_all(keys.TASKS, r.Task):
        if rec.msg.last_status != "STOPPED":
            used.setdefault(rec.msg.task_definition_arn, f"task {rec.msg.task_arn}")
    return used


def _all(ctx: ApiContext) -> list[r.TaskDefinition]:
    return [rec.msg for rec in ctx.state.load_all(keys.TASKDEFS, r.TaskDefinition)]


def list_(ctx: ApiContext, req: op.ListTaskDefinitionsRequest) -> op.ListResponse:
    status = req.status or "ACTIVE"
    if status not in ("ACTIVE", "INACTIVE", DELETE_IN_PROGRESS, "ALL"):
        raise invalid(f"status: must be ACTIVE, INACTIVE, {DELETE_IN_PROGRESS} or ALL")
    arns = [
        td.task_definition_arn
        for td in _all(ctx)
        if td.family.startswith(req.family_prefix) and (status == "ALL" or td.status == status)
    ]
    return page(arns, req.max_results, req.next_token)


def families(ctx: ApiContext, req: op.ListTaskDefinitionsRequest) -> op.ListResponse:
    status = req.status or "ACTIVE"
    names: set[str] = set()
    for td in _all(ctx):
        if td.family.startswith(req.family_prefix) and (status == "ALL" or td.status == status):
            names.add(td.family)
    return page(sorted(names), req.max_results, req.next_token)
