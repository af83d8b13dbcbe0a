"""The agent's supervisor against the in-memory runtime, one cycle at a time (operations
run inline when the agent's loop is not started)."""

from agent import spec
from agent.agent import Agent, AgentConfig
from agent.hollow import HollowRuntime
from agent.runtime import LABEL_NODE
from shoal.v1 import agent_pb2
from shoal.v1 import resources_pb2 as r
from tests.fakegateway import assignment


def make(rt: HollowRuntime | None = None, node: str = "n1", gc_delay: float = 30) -> tuple[Agent, HollowRuntime, list]:
    rt = rt or HollowRuntime()
    agent = Agent(AgentConfig(node_id=node, gc_delay=gc_delay), rt)
    reports: list[agent_pb2.TaskStateChange] = []
    agent.listeners.append(reports.append)
    return agent, rt, reports


def assign(agent: Agent, *tasks, revision: int = 1) -> str:
    return agent.apply_assignments(agent_pb2.Assignments(revision=revision, tasks=list(tasks)))


def two_containers(task_id: str) -> r.TaskAssignment:
    return assignment(task_id, [
        r.ContainerDefinition(name="main", image="img"),
        r.ContainerDefinition(name="side", image="img", essential=False),
    ], bindings={})


def test_start_reports_pending_then_running_with_runtime_ids():
    agent, rt, reports = make()
    a = assignment("t1", [r.ContainerDefinition(name="web", image="img",
                                                port_mappings=[r.PortMapping(container_port=80)])],
                   bindings={"web": [(80, 31001)]})
    assign(agent, a)
    assert "starting 1 task" in agent.run_cycle()
    assert [x.last_status for x in reports] == ["PENDING", "RUNNING"]
    c = reports[-1].containers[0]
    assert c.runtime_id and c.last_status == "RUNNING"
    assert [(b.container_port, b.host_port) for b in c.network_bindings] == [(80, 31001)]
    assert rt.pulls == []  # present locally: never pulled
    agent.run_cycle()
    assert len(rt.creates) == 1


def test_missing_image_is_pulled_and_pull_failure_names_image():
    agent, rt, reports = make(HollowRuntime(missing_images={"ok:1"}, unpullable={"shoal/nope:1"}))
    good = assignment("t1", [r.ContainerDefinition(name="m", image="ok:1")])
    bad = assignment("t2", [r.ContainerDefinition(name="m", image="shoal/nope:1")])
    assign(agent, good, bad)
    agent.run_cycle()
    assert rt.pulls == ["ok:1", "shoal/nope:1"]
    final = {x.task_id: x for x in reports}
    assert final["t1"].last_status == "RUNNING"
    assert final["t2"].last_status == "STOPPED" and final["t2"].stop_code == "TaskFailedToStart"
    assert final["t2"].stopped_reason.startswith("CannotPullContainerError: pull image shoal/nope:1: ")
    agent.run_cycle()
    assert len(rt.creates) == 1  # a failed task is never retried by the agent


def test_pull_credentials_are_asked_only_for_a_missing_image_and_their_failure_stops_the_task():
    agent, rt, reports = make(HollowRuntime(missing_images={"reg:5000/app:1"}))
    asked: list[str] = []

    def credentials(task: r.Task) -> dict[str, dict[str, str]]:
        asked.append(task.id)
        if task.id == "t3":
            raise RuntimeError("PERMISSION_DENIED: taskId: task t3 is not assigned to shoal:node:n1")
        return {"reg:5000/app:1": {"registrytoken": "tok"}}

    agent.resolve_pull_auth = credentials
    assign(agent, assignment("t1", [r.ContainerDefinition(name="m", image="img")]),
           assignment("t2", [r.ContainerDefinition(name="m", image="reg:5000/app:1")]))
    agent.run_cycle()
    assert asked == ["t2"], "a present image needs no credentials"
    assert list(zip(rt.pulls, rt.pull_auths, strict=True)) == [("reg:5000/app:1", {"registrytoken": "tok"})]
    rt.missing_images.add("reg:5000/app:2")
    assign(agent, assignment("t3", [r.ContainerDefinition(name="m", image="reg:5000/app:2")]), revision=2)
    agent.run_cycle()
    final = {x.task_id: x for x in reports}
    assert final["t3"].last_status == "STOPPED"
    assert final["t3"].stopped_reason.startswith(
        "CannotPullContainerError: pull image reg:5000/app:2: unable to get pull credentials from the control plane: "
        "PERMISSION_DENIED"), final["t3"].stopped_reason
    assert rt.pulls == ["reg:5000/app:1"], "no pull without its credentials"


def test_start_failure_reports_docker_error():
    agent, _, reports = make(HollowRuntime(unstartable={"broken"}))
    assign(agent, assignment("t1", [r.ContainerDefinition(name="m", image="broken")]))
    agent.run_cycle()
    assert reports[-1].stop_code == "TaskFailedToStart"
    assert "exec format error" in reports[-1].stopped_reason


def test_essential_exit_stops_siblings_non_essential_exit_only_updates():
    agent, rt, reports = make()
    assign(agent, two_containers("t1"))
    agent.run_cycle()
    ids = {c.name: c.runtime_id for c in reports[-1].containers}
    rt.exit(ids["side"], 2)
    agent.run_cycle()
    last = reports[-1]
    assert last.last_status == "RUNNING"
    side = next(c for c in last.containers if c.name == "side")
    assert side.last_status == "STOPPED" and side.exit_code == 2
    rt.exit(ids["main"], 7)
    agent.run_cycle()  # sync notices the exit and plans the stop
    last = reports[-1]
    assert last.last_status == "STOPPED" and last.stop_code == "EssentialContainerExited"
    assert last.stopped_reason == "Essential container in task exited"
    assert next(c for c in last.containers if c.name == "main").exit_code == 7


def test_desired_stopped_then_gc_removes_containers():
    agent, rt, reports = make(gc_delay=0)
    assign(agent, assignment("t1"))
    agent.run_cycle()
    stop = assignment("t1", desired="STOPPED", last_status="RUNNING")
    stop.task.stop_code = "UserInitiated"
    assign(agent, stop, revision=2)
    agent.run_cycle()
    assert reports[-1].last_status == "STOPPED" and reports[-1].stop_code == "UserInitiated"
    assert reports[-1].containers[0].exit_code == 143
    assert "collecting 1 task" in agent.run_cycle()
    assert rt.list({LABEL_NODE: "n1"}) == []


def test_absent_task_is_removed_without_report_and_old_revisions_ignored():
    agent, rt, reports = make()
    assign(agent, assignment("t1"), revision=5)
    agent.run_cycle()
    n = len(reports)
    assert "ignored" in assign(agent, revision=4)
    agent.run_cycle()
    assert len(rt.list({LABEL_NODE: "n1"})) == 1
    assign(agent, revision=6)
    assert "removing 1 task" in agent.run_cycle()
    assert rt.list({LABEL_NODE: "n1"}) == [] and len(reports) == n and agent.tasks == {}


def test_restart_adopts_running_containers_without_duplicates():
    rt = HollowRuntime()
    first, _, _ = make(rt)
    a = two_containers("t1")
    assign(first, a)
    first.run_cycle()
    # A new agent process with the same node id, same engine.
    second, _, reports = make(rt)
    assert "restored 1 tasks (1 running)" in second.restore()
    assert [x.last_status for x in second.snapshot()] == ["RUNNING"]
    assign(second, a)
    second.run_cycle()
    assert len(rt.creates) == 2 and len(rt.list({LABEL_NODE: "n1"})) == 2
    assert reports == []  # nothing changed, nothing to report beyond the catch-up snapshot


def test_agents_sharing_an_engine_see_only_their_own_containers():
    rt = HollowRuntime()
    one, _, _ = make(rt, node="n1")
    two, _, _ = make(rt, node="n2")
    assign(one, assignment("t1"))
    assign(two, assignment("t2"))
    one.run_cycle()
    two.run_cycle()
    assign(one, revision=2)  # n1 loses t1; n2's t2 must survive
    one.run_cycle()
    assert rt.list({LABEL_NODE: "n1"}) == []
    assert len(rt.list({LABEL_NODE: "n2"})) == 1


def test_runtime_unavailable_changes_nothing():
    agent, rt, _ = make()
    assign(agent, assignment("t1"))
    rt.available = False
    assert agent.run_cycle().startswith("runtime unavailable")
    assert rt.creates == [], "nothing created while the runtime was out of reach"
    rt.available = True
    agent.run_cycle()
    assert agent.tasks["t1"].last_status == "RUNNING"


def test_containers_the_agent_starts_get_the_dns_it_is_given_for_their_task():
    agent, rt, _ = make()
    asked = []

    def dns_for(task: r.Task) -> spec.ContainerDns:
        asked.append(task.service_name)
        return spec.ContainerDns(servers=("172.17.0.1",), search=("lab",))

    agent.container_dns = dns_for
    assign(agent, assignment("t1", [r.ContainerDefinition(name="web", image="img")], service="api"))
    agent.run_cycle()
    [created] = rt._containers.values()
    assert asked == ["api"]
    assert created.spec.dns == ("172.17.0.1",) and created.spec.dns_search == ("lab",)


class Deferred:
    """An operation pool that runs what it was given only when told (``run``)."""

    def __init__(self) -> None:
        self.ops: list = []

    def submit(self, fn, *args) -> None:
        self.ops.append((fn, args))

    def run(self) -> None:
        ops, self.ops = self.ops, []
        for fn, args in ops:
            fn(*args)


class ListsThenRuns(HollowRuntime):
    """Lists the containers, then lets the pool's operations end before the listing is read,
    as the agent's operation threads do while its loop lists a busy engine."""

    pool: Deferred | None = None

    def list(self, labels):
        infos = super().list(labels)
        if self.pool is not None:
            self.pool.run()
        return infos


def test_a_start_ending_while_the_runtime_is_listed_is_not_taken_for_a_removed_container():
    # Seen in bench/scale.py: 14 of 5,000 hollow tasks reported EssentialContainerExited
    # ("container removed outside the agent") a moment after RUNNING, and the service's
    # launch throttle held their replacements for 5 minutes.
    rt = ListsThenRuns()
    agent, _, reports = make(rt)
    rt.pool = agent._pool = Deferred()
    assign(agent, assignment("t1", [r.ContainerDefinition(name="m", image="img")]))
    agent.run_cycle()  # the start goes to the pool
    assert reports == []
    agent.run_cycle()  # the start ends after the listing, before it is read
    assert [x.last_status for x in reports] == ["PENDING", "RUNNING"]
    agent.run_cycle()  # the next cycle lists the container
    agent.run_cycle()
    assert [x.last_status for x in reports] == ["PENDING", "RUNNING"]
    assert len(rt.creates) == 1
