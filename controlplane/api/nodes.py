"""Container instances: list, describe (with what is left on each), drain/activate,
deregister. Agents register themselves through the agent gateway."""

from __future__ import annotations

import time

import grpc

from controlplane import placement_input
from controlplane.api.context import ApiContext
from controlplane.api.described import described
from controlplane.api.paging import page
from controlplane.authz import current_identity, record_denial
from controlplane.errors import ApiError, check_refs, conflict, invalid
from controlplane.scheduler import cql
from controlplane.state import Record
from controlplane.taskspec import is_live
from shoal import keys
from shoal.arns import last_segment
from shoal.refusals import DEREGISTERED
from shoal.store.base import Compare, Conflict, Delete, Put, Store
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r


def deregistered_error(node_id: str) -> ApiError:
    """PERMISSION_DENIED with the "deregistered" reason trailer, which agents act on."""
    return ApiError(grpc.StatusCode.PERMISSION_DENIED,
                    f"nodeId: {node_id} was deregistered; it may not register again under this id "
                    "(join with a new token to come back as a new node)", reason=DEREGISTERED)


def refuse_if_deregistered(store: Store, node_id: str) -> None:
    """Raises ``deregistered_error`` if ``node_id`` was deregistered."""
    if store.get(keys.deregistered(node_id)) is not None:
        record_denial("deregistered", current_identity() or node_id, "a deregistered node tried to come back",
                      node=node_id)
        raise deregistered_error(node_id)


def with_usage(node: r.ContainerInstance, tasks: list[r.Task], alive: set[str]) -> r.ContainerInstance:
    """Fills the ECS-shaped fields derived from the tasks on the node."""
    mine = [t for t in tasks if t.node_id == node.id and is_live(t)]
    used_cpu = sum(int(t.cpu or 0) for t in mine)
    used_mem = sum(int(t.memory or 0) for t in mine)
    ports = sorted({b.host_port for t in mine for c in t.containers for b in c.network_bindings if b.host_port})
    node.running_tasks_count = sum(1 for t in mine if t.last_status == "RUNNING")
    node.pending_tasks_count = len(mine) - node.running_tasks_count
    node.agent_connected = node.id in alive
    del node.registered_resources[:]
    del node.remaining_resources[:]
    node.registered_resources.add(name="CPU", type="INTEGER", integer_value=node.cpu_units)
    node.registered_resources.add(name="MEMORY", type="INTEGER", integer_value=node.memory_mib)
    node.registered_resources.add(name="PORTS", type="STRINGSET")
    node.remaining_resources.add(name="CPU", type="INTEGER", integer_value=node.cpu_units - used_cpu)
    node.remaining_resources.add(name="MEMORY", type="INTEGER", integer_value=node.memory_mib - used_mem)
    node.remaining_resources.add(name="PORTS", type="STRINGSET", string_set_value=[str(p) for p in ports])
    return node


def list_(ctx: ApiContext, req: op.ListContainerInstancesRequest) -> op.ListResponse:
    cluster = ctx.require_cluster(req.cluster).msg.cluster_name
    if req.status not in ("", "ACTIVE", "DRAINING", "INACTIVE"):
        raise invalid("status: must be ACTIVE, DRAINING or INACTIVE")
    nodes = [n.msg for n in ctx.state.nodes(cluster)
             if (n.msg.status == req.status) or (not req.status and n.msg.status != "INACTIVE")]
    if req.filter:
        nodes = _matching(ctx, cluster, nodes, req.filter)
    arns = [n.container_instance_arn for n in nodes]
    return page(arns, req.max_results, req.next_token)


def _matching(ctx: ApiContext, cluster: str, nodes: list[r.ContainerInstance], expression: str
              ) -> list[r.ContainerInstance]:
    """The nodes a Cluster Query Language expression selects, as ECS's --filter does."""
    try:
        expr = cql.parse(expression)
    except cql.CQLError as exc:
        raise invalid(f"filter: {exc}") from exc
    snap = placement_input.snapshot(nodes, [t.msg for t in ctx.state.tasks(cluster)], ctx.state.alive_node_ids())
    by_id = {n.id: n for n in snap.nodes}
    return [n for n in nodes if expr.evaluate(by_id[n.id])]


def describe(ctx: ApiContext, req: op.DescribeContainerInstancesRequest) -> op.DescribeContainerInstancesResponse:
    cluster = ctx.require_cluster(req.cluster).msg.cluster_name
    check_refs("containerInstances", req.container_instances, 100, "id or ARN")
    tasks = [t.msg for t in ctx.state.tasks(cluster)]
    alive = ctx.state.alive_node_ids()

    def find(ref: str) -> r.ContainerInstance | None:
        rec = _find(ctx, cluster, ref)
        return with_usage(rec.msg, tasks, alive) if rec is not None else None

    found, failures = described(req.container_instances, find)
    return op.DescribeContainerInstancesResponse(container_instances=found, failures=failures)


def _find(ctx: ApiContext, cluster: str, ref: str) -> Record[r.ContainerInstance] | None:
    """By id or ARN, or by the hostname the agent registered with (what people type)."""
    rec = ctx.state.node(cluster, last_segment(ref))
    if rec is not None:
        return rec
    matches = [n for n in ctx.state.nodes(cluster) if n.msg.hostname == ref]
    return matches[0] if len(matches) == 1 else None


def update_state(
    ctx: ApiContext, req: op.UpdateContainerInstancesStateRequest
) -> op.DescribeContainerInstancesResponse:
    cluster = ctx.require_cluster(req.cluster).msg.cluster_name
    if req.status not in ("ACTIVE", "DRAINING"):
        raise invalid("status: must be ACTIVE or DRAINING")
    if not req.container_instances:
        raise invalid("containerInstances: give at least one id or ARN")
    # The API records only the node's status (the desire); the leader's service controller
    # moves tasks off a DRAINING node.
    def set_status(node: r.ContainerInstance | None) -> r.ContainerInstance | None:
        if node is None or node.status == "INACTIVE" or node.status == req.status:
            return None
        node.status = req.status
        if req.status == "ACTIVE":
            # A node drained for a critical daemon's failure comes back only this way; the
            # failures before it count no more, and the drain's reason is over.
            node.activated_at = time.time()
            node.status_reason = ""
        return node

    def update(ref: str) -> r.ContainerInstance | None:
        found = _find(ctx, cluster, ref)
        rec = ctx.state.update(found.key, r.ContainerInstance, set_status,
                               field="containerInstances") if found is not None else None
        return rec.msg if rec is not None and rec.msg.status != "INACTIVE" else None

    updated, failures = described(req.container_instances, update)
    return op.DescribeContainerInstancesResponse(container_instances=updated, failures=failures)


def deregister(
    ctx: ApiContext, req: op.DeregisterContainerInstanceRequest
) -> op.DescribeContainerInstancesResponse:
    cluster = ctx.require_cluster(req.cluster).msg.cluster_name
    rec = _find(ctx, cluster, req.container_instance)
    if rec is None:
        raise invalid(f"containerInstance: {req.container_instance!r} not found in cluster {cluster!r}")
    live = [t for t in ctx.state.tasks(cluster) if t.msg.node_id == rec.msg.id and is_live(t.msg)]
    if live and not req.force:
        raise conflict(
            f"containerInstance: {rec.msg.id} still has {len(live)} tasks; drain it first or use force"
        )
    # The tombstone goes in the same transaction: from then on the node's id (its
    # certificate's name) is refused, and the replica holding its stream ends it.
    try:
        ctx.store.txn([Compare(rec.key, rec.mod_revision)],
                      [Delete(rec.key), Put(keys.deregistered(rec.msg.id), f"{time.time():.3f}".encode())])
    except Conflict:
        raise conflict(f"containerInstance: {rec.msg.id} changed while being deregistered; try again") from None
    node = rec.msg
    node.status = "INACTIVE"
    return op.DescribeContainerInstancesResponse(container_instances=[node])
