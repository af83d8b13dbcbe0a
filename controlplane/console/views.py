"""What the console's pages show, as plain JSON-ready dicts built from the replica's cache
(no etcd round trip per page view). Only what an operator reads is sent: no task
definition documents (their environment may hold what their authors thought private),
no secrets, no certificates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from controlplane.api.targetgroups import health_of, host_port
from controlplane.cache import Cache
from controlplane.feed import EventFeed
from controlplane.taskspec import is_live
from shoal import keys
from shoal.v1 import events_pb2 as ev
from shoal.v1 import resources_pb2 as r
from shoal.v1 import scaling_pb2 as sc

Json = dict[str, Any]
RECENT_EVENTS = 20
RECENT_ACTIVITIES = 20


class Views:
    def __init__(self, cache: Cache, feed: EventFeed, leader: Callable[[], str]) -> None:
        self.cache = cache
        self.feed = feed
        # The leader replica's name, or "" (a read of the leader key).
        self.leader = leader

    def _nodes(self) -> list[r.ContainerInstance]:
        return [rec.msg for rec in self.cache.records(keys.NODES) if rec.msg.status != "INACTIVE"]

    def _alive(self) -> set[str]:
        return {k[len(keys.ALIVE):] for k in self.cache.keys_under(keys.ALIVE)}

    def _tasks(self) -> list[r.Task]:
        return [rec.msg for rec in self.cache.records(keys.TASKS)]

    def _names(self) -> dict[str, str]:
        """Node id -> the name users know it by (its hostname, e.g. agent-1)."""
        return {n.id: n.hostname or n.id for n in self._nodes()}

    def _services(self) -> list[r.Service]:
        return [rec.msg for rec in self.cache.records(keys.SERVICES) if rec.msg.status != "INACTIVE"]

    def overview(self) -> Json:
        nodes, tasks, services, alive = self._nodes(), self._tasks(), self._services(), self._alive()
        return {
            "leader": self.leader(),
            "nodes": {"total": len(nodes), "connected": sum(1 for n in nodes if n.id in alive),
                      "draining": sum(1 for n in nodes if n.status == "DRAINING")},
            "services": len(services),
            "tasks": {"running": sum(1 for t in tasks if t.last_status == "RUNNING"),
                      "pending": sum(1 for t in tasks if is_live(t) and t.last_status != "RUNNING")},
            "alerts": alerts(nodes, alive, services, tasks),
            "events": [event(e) for e in self.feed.list(ev.ListEventsRequest(limit=RECENT_EVENTS)).events][::-1],
        }

    def services(self) -> list[Json]:
        return sorted((service_row(s) for s in self._services()), key=lambda s: (s["cluster"], s["name"]))

    def service(self, cluster: str, name: str) -> Json | None:
        rec = self.cache.record(keys.service(cluster, name))
        if rec is None:
            return None
        svc, names = rec.msg, self._names()
        return {
            **service_row(svc),
            "deployments": [{"id": d.id, "status": d.status, "taskDefinition": d.task_definition.rpartition("/")[2],
                             "desired": d.desired_count, "running": d.running_count, "pending": d.pending_count,
                             "failed": d.failed_tasks, "rolloutState": d.rollout_state,
                             "rolloutStateReason": d.rollout_state_reason, "createdAt": d.created_at}
                            for d in svc.deployments],
            "circuitBreaker": {"enable": svc.deployment_configuration.deployment_circuit_breaker.enable,
                               "rollback": svc.deployment_configuration.deployment_circuit_breaker.rollback},
            "tasks": [task_row(t, names) for t in self._tasks() if t.cluster == cluster and t.service_name == name],
            "events": [event(e) for e in self.feed.list(
                ev.ListEventsRequest(cluster=cluster, service=name, limit=50)).events][::-1],
            **self._scaling(cluster, name),
            "targets": self._targets(svc),
        }

    def _scaling(self, cluster: str, name: str) -> Json:
        target = self.cache.record(keys.scalable_target(cluster, name))
        policies = self.cache.records_under(f"{keys.SCALING_POLICIES}{cluster}/{name}/")
        # Keys sort by start time; the newest first, as `shoal scaling activities` lists them.
        mine = [rec.msg for rec in sorted(self.cache.records_under(f"{keys.SCALING_ACTIVITIES}{cluster}/"),
                                          key=lambda rec: rec.key, reverse=True) if rec.msg.service == name]
        return {"scalableTarget": {"min": target.msg.min_capacity, "max": target.msg.max_capacity}
                if target is not None else None,
                "scalingPolicies": sorted((policy_row(rec.msg) for rec in policies), key=lambda p: p["name"]),
                "scalingActivities": [activity_row(a) for a in mine[:RECENT_ACTIVITIES]]}

    def _targets(self, svc: r.Service) -> list[Json]:
        """One row per task and attachment, as DescribeTargetHealth reports it for each of
        the service's target groups."""
        attached = [x for x in svc.load_balancers if x.target_group_arn]
        if not attached:
            return []
        groups = {rec.msg.target_group_arn: rec.msg.target_group_name
                  for rec in self.cache.records_under(f"{keys.TARGETGROUPS}{svc.cluster}/")}
        nodes = {n.id: n for n in self._nodes()}
        out = []
        for t in sorted(self._tasks(), key=lambda t: t.id):
            if t.cluster != svc.cluster or t.service_name != svc.service_name or not t.node_id \
                    or t.last_status == "STOPPED":
                continue
            node = nodes.get(t.node_id)
            for x in attached:
                h = health_of(t, x.target_group_arn)
                out.append({"targetGroup": groups.get(x.target_group_arn, x.target_group_arn.rpartition("/")[2]),
                            "task": t.id, "node": t.node_id,
                            "nodeName": (node.hostname if node else "") or t.node_id,
                            "address": node.address if node else "",
                            "port": host_port(t, x.container_name, x.container_port),
                            "state": h.state, "reason": h.reason, "description": h.description})
        return out

    def nodes(self) -> list[Json]:
        alive, by_node = self._alive(), _by_node(self._tasks())
        # One pass over the tasks, not one per node: the topology page is read at 1,000 nodes.
        return sorted((node_row(n, alive, by_node.get(n.id, [])) for n in self._nodes()),
                      key=lambda n: (n["zone"], n["name"]))

    def node(self, cluster: str, node_id: str) -> Json | None:
        rec = self.cache.record(keys.node(cluster, node_id))
        if rec is None:
            return None
        tasks = self._tasks()
        return {**node_row(rec.msg, self._alive(), _by_node(tasks).get(node_id, [])),
                "attributes": {a.name: a.value for a in rec.msg.attributes},
                "address": rec.msg.address, "agentVersion": rec.msg.agent_version,
                "tasks": [task_row(t, self._names()) for t in tasks if t.node_id == node_id and t.cluster == cluster]}

    def tasks(self) -> list[Json]:
        names = self._names()
        return sorted((task_row(t, names) for t in self._tasks()), key=lambda t: -t["createdAt"])

    def task(self, cluster: str, task_id: str) -> Json | None:
        rec = self.cache.record(keys.task(cluster, task_id))
        if rec is None:
            return None
        t = rec.msg
        return {**task_row(t, self._names()), "placementMessage": t.placement_message, "stopCode": t.stop_code,
                "containers": [{"name": c.name, "status": c.last_status,
                                "exitCode": c.exit_code if c.HasField("exit_code") else None, "reason": c.reason,
                                "ports": [{"containerPort": b.container_port, "hostPort": b.host_port,
                                           "protocol": b.protocol or "tcp"} for b in c.network_bindings]}
                               for c in t.containers],
                "events": [event(e) for e in self.feed.list(
                    ev.ListEventsRequest(cluster=cluster, limit=1000)).events if e.task == task_id][::-1]}


def alerts(nodes: list[r.ContainerInstance], alive: set[str], services: list[r.Service],
           tasks: list[r.Task]) -> list[Json]:
    """What an operator must see first: lost nodes, failing deployments, unplaceable tasks."""
    out: list[Json] = []
    for n in nodes:
        if n.id not in alive and n.status != "INACTIVE":
            out.append({"level": "error", "what": f"node {n.hostname or n.id} ({n.id}) is lost: its agent is not "
                                                  "connected", "node": n.id, "cluster": n.cluster})
    for s in services:
        for d in s.deployments:
            if d.rollout_state == "FAILED" or (d.status == "PRIMARY" and d.failed_tasks > 0
                                               and d.rollout_state != "COMPLETED"):
                out.append({"level": "error", "service": s.service_name, "cluster": s.cluster,
                            "what": f"service {s.service_name}: deployment {d.id} {d.rollout_state or 'failing'}, "
                                    f"{d.failed_tasks} tasks failed. {d.rollout_state_reason}".strip()})
    unplaced: dict[tuple[str, str], tuple[int, str]] = {}
    for t in tasks:
        if t.placement_message and not t.node_id and t.desired_status != "STOPPED":
            count, _ = unplaced.get((t.cluster, t.group), (0, ""))
            unplaced[(t.cluster, t.group)] = (count + 1, t.placement_message)
    for (cluster, group), (count, why) in sorted(unplaced.items()):
        out.append({"level": "warning", "cluster": cluster,
                    "what": f"{count} task(s) of {group} cannot be placed: {why}"})
    return out


def _zone(n: r.ContainerInstance) -> str:
    return next((a.value for a in n.attributes if a.name == "ecs.availability-zone"), "")


def _by_node(tasks: list[r.Task]) -> dict[str, list[r.Task]]:
    out: dict[str, list[r.Task]] = {}
    for t in tasks:
        if t.node_id:
            out.setdefault(t.node_id, []).append(t)
    return out


def node_row(n: r.ContainerInstance, alive: set[str], tasks: list[r.Task]) -> Json:
    """``tasks``: the tasks placed on ``n`` (others are ignored)."""
    mine = [t for t in tasks if t.node_id == n.id and is_live(t)]
    return {"id": n.id, "name": n.hostname or n.id, "cluster": n.cluster, "status": n.status,
            "connected": n.id in alive, "zone": _zone(n),
            "cpu": {"registered": n.cpu_units, "reserved": sum(int(t.cpu or 0) for t in mine)},
            "memory": {"registered": n.memory_mib, "reserved": sum(int(t.memory or 0) for t in mine)},
            "hostCpuPercent": round(n.host_cpu_percent, 1),
            "running": sum(1 for t in mine if t.last_status == "RUNNING"), "tasks": len(mine),
            # One block per task on the topology, coloured by its service (or group).
            "taskGroups": sorted(t.service_name or t.group for t in mine)}


def service_row(s: r.Service) -> Json:
    return {"name": s.service_name, "cluster": s.cluster, "status": s.status, "desired": s.desired_count,
            "running": s.running_count, "pending": s.pending_count,
            "taskDefinition": s.task_definition.rpartition("/")[2]}


def task_row(t: r.Task, names: dict[str, str]) -> Json:
    return {"id": t.id, "cluster": t.cluster, "service": t.service_name, "group": t.group, "node": t.node_id,
            "nodeName": names.get(t.node_id, t.node_id),
            "lastStatus": t.last_status, "desiredStatus": t.desired_status, "stoppedReason": t.stopped_reason,
            "taskDefinition": t.task_definition_arn.rpartition("/")[2], "createdAt": t.created_at,
            "health": t.health_status}


def policy_row(p: sc.ScalingPolicy) -> Json:
    if p.policy_type == "StepScaling":
        cfg = p.step_scaling
        what = f"{cfg.adjustment_type} when {cfg.alarm.promql} {cfg.alarm.comparison} {cfg.alarm.threshold:g}"
    else:
        tt = p.target_tracking
        what = f"keep {tt.predefined_metric_type or tt.custom_promql} at {tt.target_value:g}"
        what += " (no scale-in)" if tt.disable_scale_in else ""
    return {"name": p.policy_name, "type": p.policy_type, "what": what, "createdAt": p.creation_time}


def activity_row(a: sc.ScalingActivity) -> Json:
    return {"id": a.activity_id, "status": a.status_code, "description": a.description, "cause": a.cause,
            "from": a.from_capacity, "to": a.to_capacity, "message": a.status_message, "at": a.start_time,
            "policy": a.policy_name or a.scheduled_action_name}


def event(e: ev.ClusterEvent) -> Json:
    return {"seq": e.seq, "at": e.created_at, "kind": e.kind, "cluster": e.cluster, "service": e.service,
            "node": e.node, "task": e.task, "message": e.message}
