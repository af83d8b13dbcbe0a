"""The agent enforces its own node's policy on every assignment, whatever the control plane
(or whoever wrote etcd) let through: a refused task creates nothing and is reported STOPPED
with a reason naming the field and the flag. Against the in-memory runtime."""

from __future__ import annotations

from agent import main as agent_main
from agent.agent import Agent, AgentConfig
from agent.hollow import HollowRuntime
from shoal.taskdef.policy import HostPolicy
from shoal.v1 import agent_pb2
from shoal.v1 import resources_pb2 as r
from tests.fakegateway import assignment


def host_net_admin(task_id: str) -> r.TaskAssignment:
    """What a local user wrote straight into etcd: host networking plus NET_ADMIN."""
    return assignment(task_id, [r.ContainerDefinition(
        name="main", image="img",
        linux_parameters=r.LinuxParameters(capabilities=r.KernelCapabilities(add=["NET_ADMIN"])))],
        network_mode="host")


def run(policy: HostPolicy, *tasks: r.TaskAssignment) -> tuple[HollowRuntime, dict[str, agent_pb2.TaskStateChange]]:
    rt = HollowRuntime()
    agent = Agent(AgentConfig(node_id="n1", policy=policy), rt)
    reports: list[agent_pb2.TaskStateChange] = []
    agent.listeners.append(reports.append)
    agent.apply_assignments(agent_pb2.Assignments(revision=1, tasks=list(tasks)))
    agent.run_cycle()
    return rt, {x.task_id: x for x in reports}


def test_assignment_bypassing_the_control_plane_is_refused_by_the_node() -> None:
    rt, final = run(HostPolicy(), host_net_admin("t1"))
    assert rt.creates == []
    report = final["t1"]
    assert report.last_status == "STOPPED" and report.stop_code == "TaskFailedToStart"
    assert report.stopped_reason == ("CannotStartContainerError: refused by this node's policy: "
                                     "networkMode: host networking needs --allow-host-network")
    assert [c.last_status for c in report.containers] == ["STOPPED"]


def test_each_flag_is_checked_on_its_own() -> None:
    rt, final = run(HostPolicy(host_network=True), host_net_admin("t1"))
    assert rt.creates == []
    assert "linuxParameters.capabilities.add: adding kernel capabilities needs --allow-capabilities" in (
        final["t1"].stopped_reason)


def test_node_policy_that_allows_it_runs_it() -> None:
    rt, final = run(HostPolicy(host_network=True, capabilities=True), host_net_admin("t1"))
    assert final["t1"].last_status == "RUNNING" and len(rt.creates) == 1


def test_another_tasks_volume_is_refused_and_a_refused_task_does_not_stop_others() -> None:
    thief = assignment("t2", [r.ContainerDefinition(
        name="main", image="img", mount_points=[r.MountPoint(source_volume="loot", container_path="/loot")])])
    thief.task_definition.volumes.add(name="shoal-t1-data", docker_volume_configuration=r.DockerVolumeConfiguration(
        scope="shared", autoprovision=False))
    thief.task_definition.volumes.add(name="loot", host=r.HostVolumeProperties(source_path="/"))
    rt, final = run(HostPolicy(shared_volumes=frozenset({"shoal-t1-data"}), host_volume_prefixes=("/srv",)),
                    thief, assignment("t3"))
    assert final["t2"].stopped_reason.endswith(
        "volumes[0].name: names starting with 'shoal-' are Shoal's own task volumes")
    assert final["t3"].last_status == "RUNNING" and len(rt.creates) == 1


def test_agent_flags_are_the_control_planes(tmp_path) -> None:
    args = agent_main.parser().parse_args(["--allow-host-network", "--allow-host-volumes", "/srv",
                                           "--state-dir", str(tmp_path)])
    got = agent_main.node_policy(args)
    assert got.host_network and not got.capabilities and got.host_volume_prefixes == ("/srv",)
    assert str(tmp_path) in got.forbidden


class VolumeRuntime(HollowRuntime):
    """The in-memory runtime with task-scoped volumes on record."""

    def __init__(self, owners: set[str]) -> None:
        super().__init__()
        self.owners = set(owners)
        self.removed: list[dict[str, str]] = []

    def volume_tasks(self, labels: dict[str, str]) -> set[str]:
        assert labels == {"shoal.volume-scope": "task", "shoal.node": "n1"}
        return set(self.owners)

    def remove_volumes(self, labels: dict[str, str]) -> int:
        self.removed.append(labels)
        self.owners.discard(labels["shoal.task"])
        return 1


def test_task_volumes_outliving_their_task_are_swept_once_assignments_are_known() -> None:
    rt = VolumeRuntime({"gone", "t1"})
    agent = Agent(AgentConfig(node_id="n1", resync_interval=0), rt)
    agent.run_cycle()
    assert rt.removed == [], "nothing is judged before the first assignment set"
    agent.apply_assignments(agent_pb2.Assignments(revision=1, tasks=[assignment("t1")]))
    agent.run_cycle()
    assert rt.removed == [{"shoal.volume-scope": "task", "shoal.task": "gone", "shoal.node": "n1"}]
    assert rt.owners == {"t1"}


def test_volumes_from_a_container_of_another_task_is_refused() -> None:
    """Container names are "shoal-<task id[:12]>-<name>": a definition written into etcd
    naming a container it does not have would take that of a task sharing the prefix."""
    a = assignment("t4", [r.ContainerDefinition(name="main", image="img",
                                                volumes_from=[r.VolumeFrom(source_container="db")])])
    rt, final = run(HostPolicy(), a)
    assert rt.creates == []
    assert final["t4"].stopped_reason.endswith(
        "containerDefinitions[0].volumesFrom[0].sourceContainer: 'db' is not another container of this task")


def restarted(rt: HollowRuntime, policy: HostPolicy, *tasks: r.TaskAssignment
              ) -> dict[str, agent_pb2.TaskStateChange]:
    """A new agent on the node's runtime: it restores the node's containers, then gets the
    same assignment set as the agent before it."""
    agent = Agent(AgentConfig(node_id="n1", policy=policy), rt)
    reports: list[agent_pb2.TaskStateChange] = []
    agent.listeners.append(reports.append)
    agent.restore()
    agent.apply_assignments(agent_pb2.Assignments(revision=1, tasks=list(tasks)))
    agent.run_cycle()
    return {x.task_id: x for x in reports}


def test_a_running_task_the_restarted_agents_narrower_policy_refuses_is_stopped() -> None:
    rt, before = run(HostPolicy(host_network=True, capabilities=True), host_net_admin("t1"), assignment("t2"))
    assert before["t1"].last_status == before["t2"].last_status == "RUNNING"

    after = restarted(rt, HostPolicy(capabilities=True), host_net_admin("t1"), assignment("t2"))
    report = after["t1"]
    assert report.last_status == "STOPPED" and report.stop_code == "TaskFailedToStart"
    assert report.stopped_reason == ("CannotStartContainerError: refused by this node's policy: "
                                     "networkMode: host networking needs --allow-host-network")
    states = {c.labels["shoal.task"]: c.state for c in rt.list({"shoal.node": "n1"})}
    assert states == {"t1": "exited", "t2": "running"}, "only the refused task's container is stopped"
    assert "t2" not in after, "a task the policy still allows is adopted as it was"


def test_a_restored_task_within_the_policy_keeps_running() -> None:
    rt, _ = run(HostPolicy(host_network=True, capabilities=True), host_net_admin("t1"))
    after = restarted(rt, HostPolicy(host_network=True, capabilities=True), host_net_admin("t1"))
    assert after == {} and [c.state for c in rt.list({"shoal.node": "n1"})] == ["running"]
