"""The faults `shoal chaos` makes. Each one says what it did, then measures how long the
cluster took to notice and to converge back (see converge.py), and returns a Report.

A fault with a duration (pause, partition, docker down) is always undone, even when the
command is interrupted: chaos rehearses failures, it must not leave one behind.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shoal.v1 import operator_pb2 as op
from shoalctl.chaos.converge import Clock, Measurement, Picture, picture
from shoalctl.chaos.targets import Target
from shoalctl.local.cluster import ClusterError

Say = Callable[[str], None]


@dataclass
class Report:
    action: str
    did: list[str] = field(default_factory=list)
    measurements: list[tuple[str, Measurement]] = field(default_factory=list)

    @property
    def converged(self) -> bool:
        return all(m.converged_after is not None for _, m in self.measurements)

    @property
    def converged_after(self) -> float | None:
        """Seconds from the fault until the last measurement converged."""
        return self.measurements[-1][1].converged_after if self.measurements else None

    def lines(self) -> list[str]:
        return [*self.did, *(f"{what}: {m.sentence()}" for what, m in self.measurements)]


def _quiet(_: str) -> None:
    return None


def _node_id(target: Target, name: str) -> str:
    node_id = target.node_ids().get(name)
    if not node_id:
        raise ClusterError(f"{name} has not registered yet (no node.json in its state dir)")
    return node_id


def kill_agent(target: Target, api: Any, node: str, restart: bool = False, timeout: float = 120,
               cluster: str = "default", say: Say = _quiet) -> Report:
    """SIGKILL the agent. Converged: its service tasks run elsewhere (node lost). With
    ``restart``: then start it again and converge once more (it must remove the
    containers whose tasks were replaced)."""
    name = target.agent_name(node)
    node_id = _node_id(target, name)
    report = Report("kill-agent")
    before = picture(api, cluster)
    if restart:
        target.prepare_restart(name)
    clock = Clock(api, cluster, noticed=lambda p: node_id not in p.connected(),
                  expect_connected=before.connected() - {node_id})
    pid = target.signal_agent(name, signal.SIGKILL)
    _did(report, say, f"killed {name} (pid {pid}, node {node_id[:12]}) with SIGKILL")
    _measure(report, say, "node lost, tasks replaced", clock.wait_converged(timeout, notice_within=timeout))
    if restart:
        clock = Clock(api, cluster, noticed=lambda p: node_id in p.connected(), expect_connected=before.connected())
        pid = target.start_agent(name)
        _did(report, say, f"started {name} again (pid {pid})")
        _measure(report, say, "agent back", clock.wait_converged(timeout, notice_within=timeout))
    return report


def pause_agent(target: Target, api: Any, node: str, duration: float, timeout: float = 120,
                cluster: str = "default", say: Say = _quiet) -> Report:
    """SIGSTOP the agent for ``duration`` seconds, then SIGCONT. Longer than the lease TTL,
    its tasks are replaced; once awake it must stop its stale copies."""
    name = target.agent_name(node)
    node_id = _node_id(target, name)
    report = Report("pause-agent")
    before = picture(api, cluster)
    clock = Clock(api, cluster, noticed=lambda p: node_id not in p.connected(), expect_connected=before.connected())
    pid = target.signal_agent(name, signal.SIGSTOP)
    try:
        _did(report, say, f"froze {name} (pid {pid}) with SIGSTOP for {duration:g}s")
        clock.hold(duration)
    finally:
        target.signal_agent(name, signal.SIGCONT)
    _did(report, say, f"resumed {name} with SIGCONT")
    _measure(report, say, "after the pause", clock.wait_converged(timeout))
    return report


def partition(target: Target, api: Any, node: str, duration: float, timeout: float = 120,
              cluster: str = "default", say: Say = _quiet) -> Report:
    """Cuts the node's lab link for ``duration`` seconds, then restores it."""
    name = target.agent_name(node)
    node_id = _node_id(target, name)
    report = Report("partition")
    before = picture(api, cluster)
    clock = Clock(api, cluster, noticed=lambda p: node_id not in p.connected(), expect_connected=before.connected())
    try:
        _did(report, say, target.partition(name) + f" for {duration:g}s")
        clock.hold(duration)
    finally:
        healed = target.heal(name)
    _did(report, say, healed)
    _measure(report, say, "after the partition", clock.wait_converged(timeout))
    return report


def kill_task(target: Target, api: Any, task: str, timeout: float = 120, cluster: str = "default",
              say: Say = _quiet) -> Report:
    """Kills the task's containers with SIGKILL through the docker its node uses."""
    import docker
    import docker.errors

    found = api.DescribeTasks(op.DescribeTasksRequest(cluster=cluster, tasks=[task])).tasks
    if not found:
        raise ClusterError(f"task {task!r}: no such task in cluster {cluster!r}")
    t = found[0]
    if t.last_status != "RUNNING":
        raise ClusterError(f"task {t.id}: is {t.last_status}, not RUNNING; nothing to kill")
    name = target.agent_name(t.node_id)
    before = picture(api, cluster)
    report = Report("kill-task")
    clock = Clock(api, cluster, noticed=lambda p: _task_gone(p, t.id), expect_connected=before.connected())
    host = target.docker_host(name)
    client = docker.DockerClient(base_url=host, timeout=30) if host else docker.from_env(timeout=30)
    try:
        killed = []
        for c in t.containers:
            if not c.runtime_id:
                continue
            try:
                client.api.kill(c.runtime_id, "SIGKILL")
                killed.append(f"{c.name} ({c.runtime_id[:12]})")
            except docker.errors.APIError as exc:
                say(f"could not kill container {c.name}: {exc.explanation or exc}")
    finally:
        client.close()
    if not killed:
        raise ClusterError(f"task {t.id}: none of its containers could be killed")
    _did(report, say, f"killed task {t.id} on {name}: containers {', '.join(killed)}")
    _measure(report, say, "task replaced", clock.wait_converged(timeout, notice_within=timeout))
    return report


def _task_gone(p: Picture, task_id: str) -> bool:
    return not any(t.id == task_id and t.last_status == "RUNNING" for t in p.tasks)


def stop_docker(target: Target, api: Any, node: str, down_for: float = 0.0, timeout: float = 120,
                cluster: str = "default", say: Say = _quiet) -> Report:
    """Stops the node's own dockerd (its containers die with it), keeps it down for
    ``down_for`` seconds, starts it again. Only for lab hosts with a private dockerd."""
    name = target.agent_name(node)
    node_id = _node_id(target, name)
    if target.docker_host(name) is None:
        raise ClusterError(f"{name} uses the machine's shared dockerd; stop-docker needs a lab host with its "
                           "own (`shoal lab up --own-dockerd N`)")
    before = picture(api, cluster)
    on_node = {t.id for t in before.tasks if t.node_id == node_id and t.last_status == "RUNNING"}
    report = Report("stop-docker")
    clock = Clock(api, cluster, noticed=lambda p: any(_task_gone(p, t) for t in on_node) if on_node else True,
                  expect_connected=before.connected())
    _did(report, say, f"stopping {name}'s dockerd ({len(on_node)} tasks on it)"
         + (f", down for {down_for:g}s" if down_for else ""))
    _did(report, say, target.restart_docker(name, down_for))
    _measure(report, say, "after the dockerd restart", clock.wait_converged(timeout, notice_within=timeout / 2))
    return report


def kill_leader(target: Target, api: Any, restart: bool = False, timeout: float = 120, cluster: str = "default",
                say: Say = _quiet) -> Report:
    """SIGKILL the replica holding leadership. Noticed: another replica holds the leader
    key. With ``restart``, start the killed replica again afterwards."""
    old = target.leader_name()
    if old is None:
        raise ClusterError("no replica holds leadership right now")
    if old not in target.replica_names():
        names = ", ".join(target.replica_names())
        raise ClusterError(f"the leader is {old!r}, not a replica of this cluster ({names})")
    if len(target.replica_names()) < 2:
        say("warning: a single replica; the control plane is down until it is started again")
    before = picture(api, cluster)
    report = Report("kill-leader")
    if restart:
        target.prepare_restart(old)

    def new_leader(_: Picture) -> bool:
        try:
            holder = target.leader_name()
        except ClusterError:
            return False
        if holder is not None and holder != old:
            report.did.append(f"{holder} took leadership")
            return True
        return False

    clock = Clock(api, cluster, noticed=new_leader, expect_connected=before.connected())
    started = time.monotonic()
    pid = target.kill_replica(old)
    _did(report, say, f"killed leader {old} (pid {pid}) with SIGKILL")
    m = clock.wait_converged(timeout, notice_within=timeout)
    if m.noticed_after is not None:
        say(report.did[-1] if report.did else "")
    _measure(report, say, "leader failover", m)
    if restart:
        pid = target.start_replica(old)
        _did(report, say, f"started {old} again (pid {pid}) after {time.monotonic() - started:.1f}s")
    return report


def _did(report: Report, say: Say, line: str) -> None:
    report.did.append(line)
    say(line)


def _measure(report: Report, say: Say, what: str, m: Measurement) -> None:
    report.measurements.append((what, m))
    say(f"{what}: {m.sentence()}")
