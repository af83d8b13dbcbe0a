"""The agent's record of each task it runs: what it last reported and why, per container."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from agent.runtime import LABEL_CLUSTER, LABEL_CONTAINER, LABEL_ESSENTIAL, LABEL_SERVICE, ContainerInfo
from shoal.v1 import agent_pb2
from shoal.v1 import resources_pb2 as r

ESSENTIAL_EXITED = "EssentialContainerExited"
FAILED_TO_START = "TaskFailedToStart"


@dataclass
class LocalContainer:
    name: str
    image: str = ""
    essential: bool = True
    runtime_id: str = ""
    last_status: str = "PENDING"
    exit_code: int | None = None
    reason: str = ""
    # (container_port, protocol, host_ip, host_port)
    bindings: tuple[tuple[int, str, str, int], ...] = ()
    health: str = "UNKNOWN"
    has_healthcheck: bool = False
    container_arn: str = ""
    stop_timeout: int = 30
    # ECS's container restart policy, when enabled (see agent/restarts.py).
    restart_policy: r.RestartPolicy | None = None
    started_at: float = 0.0
    restart_count: int = 0
    last_restart_at: float = 0.0
    # Exited, and the policy says start it again: the reconciler plans a restart.
    restart_pending: bool = False


@dataclass
class LocalTask:
    task_id: str
    cluster: str = ""
    service: str = ""
    task_arn: str = ""
    last_status: str = "PENDING"
    containers: dict[str, LocalContainer] = field(default_factory=dict)
    stopped_reason: str = ""
    stop_code: str = ""
    health: str = "UNKNOWN"
    stopped_at: float = 0.0
    # False for a task restored from its containers: the agent that started it may have had
    # a wider policy, so its definition meets this node's policy when its assignment arrives.
    policy_checked: bool = True
    # Why this node's policy refuses the task (set at that check); the reconciler stops it.
    refusal: str = ""
    # The task's state in each target group it serves, from agent/targets.py's checks.
    target_health: list[r.TargetHealth] = field(default_factory=list)
    # Adopted from its containers after the agent restarted: what the control plane holds of
    # its target health stands until a check here says otherwise.
    restored: bool = False

    def essential_exited(self) -> LocalContainer | None:
        for c in self.containers.values():
            if c.essential and c.last_status == "STOPPED":
                return c
        return None

    def recompute_health(self) -> None:
        checked = [c for c in self.containers.values() if c.essential and c.has_healthcheck]
        if any(c.health == "UNHEALTHY" for c in checked):
            self.health = "UNHEALTHY"
        elif checked and all(c.health == "HEALTHY" for c in checked):
            self.health = "HEALTHY"
        else:
            self.health = "UNKNOWN"

    def mark_stopped(self, stop_code: str, reason: str, now: float | None = None) -> None:
        self.last_status = "STOPPED"
        self.stop_code = self.stop_code or stop_code
        self.stopped_reason = self.stopped_reason or reason
        self.stopped_at = now or time.time()
        for c in self.containers.values():
            if c.last_status != "STOPPED":
                c.last_status = "STOPPED"

    def to_change(self, now: float | None = None) -> agent_pb2.TaskStateChange:
        change = agent_pb2.TaskStateChange(
            task_id=self.task_id,
            last_status=self.last_status,
            stopped_reason=self.stopped_reason,
            stop_code=self.stop_code,
            at=now or time.time(),
            health_status=self.health,
            target_health=self.target_health,
        )
        for c in self.containers.values():
            pc = change.containers.add(
                container_arn=c.container_arn,
                task_arn=self.task_arn,
                name=c.name,
                image=c.image,
                runtime_id=c.runtime_id,
                last_status=c.last_status,
                reason=c.reason,
                health_status=c.health,
            )
            if c.exit_code is not None:
                pc.exit_code = c.exit_code
            for port, proto, ip, host_port in c.bindings:
                pc.network_bindings.add(bind_ip=ip, container_port=port, host_port=host_port, protocol=proto)
        return change

    def adopt_assignment(self, a: r.TaskAssignment) -> None:
        """Fills what a restored task could not know from labels alone."""
        self.task_arn = a.task.task_arn or self.task_arn
        self.cluster = a.task.cluster or self.cluster
        self.service = a.task.service_name or self.service
        arns = {c.name: c.container_arn for c in a.task.containers}
        defs = {d.name: d for d in a.task_definition.container_definitions}
        for c in self.containers.values():
            c.container_arn = arns.get(c.name, c.container_arn)
            d = defs.get(c.name)
            if d is not None:
                c.has_healthcheck = bool(d.health_check.command)
                if d.HasField("stop_timeout"):
                    c.stop_timeout = d.stop_timeout
                c.restart_policy = d.restart_policy if d.restart_policy.enabled else None


def bindings_of(info: ContainerInfo) -> tuple[tuple[int, str, str, int], ...]:
    return tuple((p.container_port, p.protocol, p.host_ip, p.host_port) for p in info.ports)


def restored(task_id: str, infos: list[ContainerInfo], now: float, stop_timeout: int = 30) -> LocalTask:
    """A task rebuilt from its labelled containers after the agent restarted."""
    first = infos[0].labels
    task = LocalTask(task_id=task_id, cluster=first.get(LABEL_CLUSTER, ""), service=first.get(LABEL_SERVICE, ""),
                     policy_checked=False, restored=True)
    for info in infos:
        name = info.labels.get(LABEL_CONTAINER, info.name)
        running = info.state == "running"
        task.containers[name] = LocalContainer(
            name=name,
            image=info.image,
            essential=info.labels.get(LABEL_ESSENTIAL, "true") != "false",
            runtime_id=info.id,
            last_status="RUNNING" if running else "STOPPED",
            exit_code=None if running else info.exit_code,
            bindings=bindings_of(info),
            health=info.health,
            has_healthcheck=info.health != "UNKNOWN",
            # The task's own stopTimeout, kept by the engine: a task removed after a restart
            # (its assignment gone) must not wait the agent's default instead.
            stop_timeout=info.stop_timeout if info.stop_timeout is not None else stop_timeout,
        )
    if any(i.state == "running" for i in infos):
        task.last_status = "RUNNING"
    else:
        finished = max((i.finished_at for i in infos), default=0.0)
        task.mark_stopped(ESSENTIAL_EXITED, "Essential container in task exited", finished or now)
    task.recompute_health()
    return task
