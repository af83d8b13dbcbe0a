"""The agent's side of traffic: ELBv2-like target states from probe outcomes, the probes
against a real local HTTP server and closed ports, which tasks are checked, the drain
plan (DEACTIVATING until deregister_until, then stop), and routing tables handed to the
registered consumers, never an older one."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator

import pytest

from agent import reconcile
from agent.agent import Agent, AgentConfig
from agent.hollow import HollowRuntime
from agent.targets import Check, Outcome, TargetChecker, TargetState, checks_for, matches, probe
from agent.tasks import LocalContainer, LocalTask
from controlplane.api.task_reports import observed_update
from shoal.v1 import agent_pb2
from shoal.v1 import resources_pb2 as r
from shoal.v1 import traffic_pb2 as t
from tests.fakegateway import assignment
from tests.unit.test_agent_reconcile import info, running
from tests.waiting import wait_for

OK, CODE, TIMEOUT = Outcome(True), Outcome(False, "Target.ResponseCodeMismatch"), Outcome(False, "Target.Timeout")
CHECK = Check("t1", "arn:tg", "HTTP", "127.0.0.1", 1, healthy_threshold=3, unhealthy_threshold=2)


@pytest.mark.parametrize(("case", "outcomes", "states"), [
    ("healthy after the healthy threshold", [OK, OK, OK], ["initial", "initial", "healthy"]),
    ("unhealthy from initial after the unhealthy threshold", [CODE, CODE], ["initial", "unhealthy"]),
    ("one failure does not unseat a healthy target", [OK, OK, OK, TIMEOUT, OK], ["initial"] * 2 + ["healthy"] * 3),
    ("a failure resets the passes", [OK, OK, CODE, OK, OK, OK], ["initial"] * 5 + ["healthy"]),
    ("back to healthy only after the threshold", [CODE, CODE, OK, OK, OK],
     ["initial", "unhealthy", "unhealthy", "unhealthy", "healthy"]),
])
def test_target_state_follows_elbv2_thresholds(case, outcomes, states):
    state = TargetState()
    seen = []
    for outcome in outcomes:
        state.step(CHECK, outcome)
        seen.append(state.state)
    assert seen == states, case


def test_an_unhealthy_target_says_why_and_a_new_reason_is_a_change():
    state = TargetState()
    assert (state.state, state.reason) == ("initial", "Elb.InitialHealthChecking")
    assert not state.step(CHECK, CODE) and state.step(CHECK, CODE)
    assert state.reason == "Target.ResponseCodeMismatch"
    assert state.step(CHECK, TIMEOUT) and state.reason == "Target.Timeout"
    assert not state.step(CHECK, TIMEOUT)


@pytest.mark.parametrize(("matcher", "code", "ok"), [
    ("200", 200, True), ("200", 204, False), ("200,204", 204, True), ("200-399", 302, True),
    ("200-399", 404, False), ("", 200, True),
])
def test_matcher(matcher, code, ok):
    assert matches(matcher, code) is ok


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the stdlib's name)
        if self.path == "/slow":
            threading.Event().wait(2)
        self.send_response(200 if self.path in ("/", "/slow") else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def server() -> Iterator[int]:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_probes_against_a_real_server(server: int) -> None:
    def http_check(path: str, **kw) -> Check:
        return Check("t1", "arn:tg", "HTTP", "127.0.0.1", server, path=path, **kw)

    assert probe(http_check("/")).ok
    missing = probe(http_check("/missing"))
    assert (missing.ok, missing.reason) == (False, "Target.ResponseCodeMismatch") and "[404]" in missing.description
    slow = probe(http_check("/slow", timeout=0.3))
    assert (slow.ok, slow.reason) == (False, "Target.Timeout")
    assert probe(Check("t1", "arn:tg", "TCP", "127.0.0.1", server)).ok
    refused = probe(Check("t1", "arn:tg", "TCP", "127.0.0.1", closed_port(), timeout=1))
    assert (refused.ok, refused.reason) == (False, "Target.FailedHealthChecks")


def test_checker_reports_initial_then_healthy_off_the_caller_thread(server: int) -> None:
    reports: list[tuple[str, list[str]]] = []
    checker = TargetChecker(lambda task_id, health: reports.append((task_id, [h.state for h in health])))
    try:
        checker.set_targets([Check("t1", "arn:tg", "HTTP", "127.0.0.1", server, interval=0.05, healthy_threshold=2)])
        assert reports == [("t1", ["initial"])]
        wait_for(lambda: reports[-1] == ("t1", ["healthy"]), 5, "the target healthy")
        checker.set_targets([])
        assert checker.health("t1") == []
    finally:
        checker.stop()


def test_checks_only_running_targets_on_their_bound_ports():
    def task(task_id: str, status: str = "RUNNING", ip: str = "0.0.0.0") -> LocalTask:
        tk = LocalTask(task_id=task_id, last_status=status)
        tk.containers["web"] = LocalContainer(name="web", bindings=((80, "tcp", ip, 32001),))
        return tk

    target = r.AssignedTarget(target_group_arn="arn:tg", container_name="web", container_port=80, protocol="HTTP",
                              path="/h", interval_seconds=10, timeout_seconds=2, healthy_threshold=3,
                              unhealthy_threshold=2)
    desired = {}
    for task_id, desired_status, targets in (("a", "RUNNING", [target]), ("b", "RUNNING", []),
                                             ("c", "STOPPED", [target]), ("d", "RUNNING", [target]),
                                             ("e", "RUNNING", [target])):
        desired[task_id] = assignment(task_id, desired=desired_status)
        desired[task_id].targets.extend(targets)
    tasks = {"a": task("a"), "b": task("b"), "c": task("c"), "d": task("d", status="PENDING"),
             "e": task("e", ip="10.1.2.3")}
    assert checks_for(desired, tasks) == [
        Check("a", "arn:tg", "HTTP", "127.0.0.1", 32001, "/h", "", 10.0, 2.0, 3, 2),
        Check("e", "arn:tg", "HTTP", "10.1.2.3", 32001, "/h", "", 10.0, 2.0, 3, 2)]


def test_a_draining_target_deactivates_then_stops_at_its_time():
    a = assignment("t1", desired="STOPPED")
    a.task.deregister_until = 100.0
    observed = {"t1": [info("t1", "c1")]}
    tasks = {"t1": running("t1")}
    p = reconcile.plan({"t1": a}, tasks, observed, now=50, gc_delay=30)
    assert [x.kind for x in p.actions] == ["deactivate"] and p.wake_at == 100.0 and "draining 1 task" in p.sentence
    tasks["t1"].last_status = "DEACTIVATING"
    p = reconcile.plan({"t1": a}, tasks, observed, now=99, gc_delay=30)
    assert p.actions == [] and p.wake_at == 100.0
    p = reconcile.plan({"t1": a}, tasks, observed, now=100, gc_delay=30)
    assert [x.kind for x in p.actions] == ["stop"] and p.wake_at is None


class Recorder:
    def __init__(self) -> None:
        self.tables: list[int] = []
        self.frontends: list[list[str]] = []

    def apply(self, table: t.RoutingTable) -> str:
        self.tables.append(table.revision)
        self.frontends.append([f.name for f in table.frontends])
        return f"recorded {table.revision}"


def test_routing_tables_go_to_every_consumer_never_an_older_one():
    agent = Agent(AgentConfig(node_id="n1"), HollowRuntime())
    first, second = Recorder(), Recorder()
    agent.routing_consumers.extend([first, second])
    assert agent.apply_routing(t.RoutingTable(revision=5)).endswith("recorded 5; recorded 5")
    assert agent.apply_routing(t.RoutingTable(revision=3)).startswith("ignored")
    agent.apply_routing(t.RoutingTable(revision=5))
    agent.apply_routing(t.RoutingTable(revision=9))
    assert first.tables == second.tables == [5, 5, 9]


def test_the_gateway_keeps_reported_target_health_and_nothing_else_new():
    stored = r.Task(id="t1", last_status="RUNNING", desired_status="STOPPED", deregister_until=100.0,
                    target_health=[r.TargetHealth(target_group_arn="arn:tg", state="healthy")])
    change = agent_pb2.TaskStateChange(task_id="t1", last_status="DEACTIVATING", target_health=[
        r.TargetHealth(target_group_arn="arn:tg", state="draining", reason="Target.DeregistrationInProgress")])
    merged = observed_update(stored, change)
    assert merged.last_status == "DEACTIVATING" and [h.state for h in merged.target_health] == ["draining"]
    assert merged.deregister_until == 100.0
    # A report without target health (a container's change) leaves the last one.
    later = observed_update(merged, agent_pb2.TaskStateChange(task_id="t1", last_status="DEACTIVATING",
                                                              health_status="HEALTHY"))
    assert [h.state for h in later.target_health] == ["draining"]


def test_a_node_gets_only_the_frontends_that_listen_on_it():
    agent = Agent(AgentConfig(node_id="n1"), HollowRuntime())
    recorder = Recorder()
    agent.routing_consumers.append(recorder)
    table = t.RoutingTable(revision=1, frontends=[
        t.RouteFrontend(name="lb-every-80"), t.RouteFrontend(name="lb-here-81", node_ids=["n0", "n1"]),
        t.RouteFrontend(name="lb-elsewhere-82", node_ids=["n2"]), t.RouteFrontend(name="sc-8080", internal=True)])
    agent.apply_routing(table)
    assert recorder.frontends == [["lb-every-80", "lb-here-81", "sc-8080"]]
    assert len(table.frontends) == 4  # the table received is left as it came


def test_a_restarted_agent_does_not_take_a_restored_target_out_of_rotation():
    agent = Agent(AgentConfig(node_id="n1"), HollowRuntime())
    reports: list[agent_pb2.TaskStateChange] = []
    agent.listeners.append(reports.append)
    fresh, adopted = running("fresh"), running("adopted", cid="c2")
    adopted.restored = True
    agent.tasks.update(fresh=fresh, adopted=adopted)
    initial = [r.TargetHealth(target_group_arn="arn:tg", state="initial")]
    agent._on_target_health("fresh", initial)
    agent._on_target_health("adopted", initial)  # not reported: the stored state stands
    agent._on_target_health("adopted", [r.TargetHealth(target_group_arn="arn:tg", state="unhealthy")])
    assert [(c.task_id, [h.state for h in c.target_health]) for c in reports] == [
        ("fresh", ["initial"]), ("adopted", ["unhealthy"])]
