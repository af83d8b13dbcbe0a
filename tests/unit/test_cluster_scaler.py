"""Capacity providers: the CapacityProviderReservation math (pure) and the cluster scaler's
cycle against a fake control plane and the fake node provider, including managed
termination protection (drain, wait for the tasks to leave, terminate, deregister)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from autoscaler import cluster_scaler as cs
from autoscaler.providers import ProviderNode
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoal.v1 import scaling_pb2 as sc
from tests.fake_provider import FakeNodeProvider
from tests.waiting import wait_for


def inst(name: str, status: str = "ACTIVE", cpu: int = 1024, mem: int = 1024) -> r.ContainerInstance:
    return r.ContainerInstance(id=f"id-{name}", hostname=name, status=status, cpu_units=cpu, memory_mib=mem)


def task(tid: str, node: str = "", status: str = "RUNNING", msg: str = "", cpu: int = 256, mem: int = 128) -> r.Task:
    return r.Task(id=tid, node_id=f"id-{node}" if node else "", last_status=status, desired_status="RUNNING",
                  placement_message=msg, cpu=str(cpu), memory=str(mem))


def pn(name: str) -> ProviderNode:
    return ProviderNode(id=name, name=name)


def test_reservation_counts_busy_nodes_and_nodes_for_unplaceable_tasks():
    nodes = [pn("a"), pn("b"), pn("c")]
    instances = [inst("a"), inst("b"), inst("c"), inst("other")]
    tasks = [task("1", "a"), task("2", "a"), task("3", "b"), task("4", "other")]
    res = cs.reservation(nodes, instances, tasks, 1024, 1024)
    assert (res.needed, res.running, round(res.percent)) == (2, 3, 67)
    waiting = [task(f"w{i}", status="PROVISIONING", msg="no node has enough CPU", cpu=512) for i in range(5)]
    res = cs.reservation(nodes, instances, tasks + waiting, 1024, 1024)
    assert (res.extra, res.unplaced, res.needed) == (3, 5, 5)  # ceil(2560 / 1024) = 3 more nodes
    # PROVISIONING without a placement message is just not placed *yet*: not counted.
    assert cs.reservation(nodes, instances, tasks + [task("p", status="PROVISIONING")], 1024, 1024).extra == 0


def test_reservation_counts_only_the_waiting_tasks_its_provider_may_take():
    waiting = [task(f"w{i}", status="PROVISIONING", msg="refused by capacityProvider", cpu=512) for i in range(4)]
    waiting[0].capacity_provider_name = waiting[1].capacity_provider_name = "burst"
    waiting[2].capacity_provider_name = "onprem"
    # Two given to burst and one with no provider; onprem's task is not burst's to serve.
    res = cs.reservation([pn("a")], [inst("a")], waiting, 1024, 1024, "burst")
    assert (res.unplaced, res.extra) == (3, 2)
    assert cs.reservation([pn("a")], [inst("a")], waiting, 1024, 1024, "onprem").unplaced == 2


def test_reservation_with_no_nodes_is_100_or_200():
    assert cs.reservation([], [], [], 0, 0).percent == 100
    res = cs.reservation([], [], [task("w", status="PROVISIONING", msg="no nodes")], 0, 0)
    assert (res.percent, res.needed) == (200, 1)


@pytest.mark.parametrize(("needed", "target", "lo", "hi", "want"), [
    (2, 100, 0, 10, 2), (3, 50, 0, 10, 6), (3, 75, 0, 10, 4), (0, 100, 1, 10, 1), (20, 100, 0, 5, 5),
])
def test_desired_nodes(needed, target, lo, hi, want):
    res = cs.Reservation(needed, 1, 0, needed, 0, 0)
    assert cs.desired_nodes(res, sc.CapacityProvider(target_capacity=target, min_size=lo, max_size=hi)) == want


def test_step_sizes_bound_each_move():
    c = sc.CapacityProvider(min_size=0, max_size=10, minimum_scaling_step_size=2, maximum_scaling_step_size=3)
    assert cs.step(1, 2, c) == 2 and cs.step(1, 9, c) == 3 and cs.step(9, 10, c) == 1 and cs.step(8, 1, c) == -3


class FakeCP:
    """What ClusterScaler calls on autoscaler.api.ControlPlane, over plain lists."""

    def __init__(self, cps: list[sc.CapacityProvider]) -> None:
        self.cps = cps
        self.instances: list[r.ContainerInstance] = []
        self.tasks: list[r.Task] = []
        self.activities: list[sc.ScalingActivity] = []
        self.deregistered: list[str] = []
        outer = self

        class Scaling:
            def DescribeCapacityProviders(self, req):  # noqa: N802 (gRPC naming)
                return sc.DescribeCapacityProvidersResponse(capacity_providers=outer.cps)

        class Operator:
            def UpdateContainerInstancesState(self, req):  # noqa: N802
                for i in outer.instances:
                    if i.id in req.container_instances:
                        i.status = req.status
                return op.DescribeContainerInstancesResponse()

            def DeregisterContainerInstance(self, req):  # noqa: N802
                outer.instances = [i for i in outer.instances if i.id != req.container_instance]
                outer.deregistered.append(req.container_instance)
                return op.DescribeContainerInstancesResponse()

        self.scaling, self.operator = Scaling(), Operator()

    def nodes(self, cluster):
        return list(self.instances)

    def live_tasks(self, cluster):
        return list(self.tasks)

    def record(self, a):
        self.activities.append(a)
        return a


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def provider(**kw) -> sc.CapacityProvider:
    base = dict(name="cp", cluster="default", node_provider=sc.NodeProviderConfig(profile="fake"), min_size=0,
                max_size=4, target_capacity=100, managed_termination_protection=True)
    base.update(kw)
    return sc.CapacityProvider(**base)


_MADE: list[cs.ClusterScaler] = []


@pytest.fixture(autouse=True)
def _close_scalers() -> Iterator[None]:
    """Every scaler a test made is closed (its provider threads joined), pass or fail."""
    yield
    while _MADE:
        _MADE.pop().close()


def scaler(cp_api: FakeCP, fake: FakeNodeProvider, clock: Clock) -> cs.ClusterScaler:
    made = cs.ClusterScaler(cp_api, endpoint="127.0.0.1:1", state_dir=Path("/nonexistent"), scale_in_delay=30,
                            clock=clock, provider_factory=lambda c, ctx: fake)
    _MADE.append(made)
    return made


def register_created(api: FakeCP, fake: FakeNodeProvider) -> None:
    """The nodes' agents register: each provider node becomes a container instance."""
    known = {i.hostname for i in api.instances}
    api.instances += [inst(n.name) for n in fake.non_terminated_nodes() if n.name not in known]


def test_scale_out_for_unplaceable_tasks_then_drain_and_remove_when_idle():
    api, fake, clock = FakeCP([provider()]), FakeNodeProvider(), Clock()
    s = scaler(api, fake, clock)
    api.tasks = [task("w1", status="PROVISIONING", msg="no node has enough CPU", cpu=900)]
    said = s.run_once()
    assert "reservation 200%" in said and "launching cp-" in said
    wait_for(lambda: len(fake.created) == 1, 10, "the launch to run on the provider's thread")
    # Next cycle: the launch is listed, nothing more to do (M=1, N=1).
    assert "steady at 1 nodes" in s.run_once()
    register_created(api, fake)
    node = api.instances[0]
    api.tasks = [task("w1", node.hostname, cpu=900)]
    assert "steady" in s.run_once()
    assert api.activities[0].metrics["CapacityProviderReservation"] == 200

    # The load goes: the node is idle. Scale-in waits scale_in_delay, then drains.
    api.tasks = []
    assert "below target for 0s of 30s" in s.run_once()
    clock.now += 31
    said = s.run_once()
    assert f"draining {node.hostname}" in said and api.instances[0].status == "DRAINING"
    # A task lands on it in the meantime (a race with placement): no termination yet.
    api.tasks = [task("late", node.hostname)]
    assert "tasks still on it" in s.run_once() and fake.terminated == []
    api.tasks = []
    assert "terminating drained node" in s.run_once()
    wait_for(lambda: fake.terminated and api.deregistered == [node.id], 10, "terminate then deregister")
    assert fake.non_terminated_nodes() == []
    s.close()


def test_scale_out_reactivates_a_draining_node_first():
    api, fake, clock = FakeCP([provider()]), FakeNodeProvider(), Clock()
    fake.nodes["n1"] = pn("n1")
    api.instances = [inst("n1", status="DRAINING")]
    api.tasks = [task("t", "n1"), task("w", status="PROVISIONING", msg="no room")]
    said = scaler(api, fake, clock).run_once()
    assert "reactivated n1" in said and api.instances[0].status == "ACTIVE"


def test_min_size_is_kept_and_failed_launches_are_reported():
    api, fake, clock = FakeCP([provider(min_size=2)]), FakeNodeProvider(), Clock()
    fake.fail_creates = 1
    s = scaler(api, fake, clock)
    s.run_once()
    wait_for(lambda: len(fake.created) == 1, 10, "one launch to succeed, one to fail")
    said = wait_for(lambda: (t := s.run_once()) and "failed" in t and t, 10, "the failure to be reported")
    assert "injected failure" in said
    assert any(a.status_code == "Failed" for a in api.activities)

    def relaunched() -> bool:
        s.run_once()
        return len(fake.non_terminated_nodes()) == 2

    wait_for(relaunched, 10, "a relaunch up to min_size 2")
    assert len(fake.created) == 2
    s.close()


def test_without_termination_protection_idle_nodes_go_at_once_and_busy_nodes_never():
    api, fake, clock = FakeCP([provider(managed_termination_protection=False)]), FakeNodeProvider(), Clock()
    for n in ("a", "b", "c"):
        fake.nodes[n] = pn(n)
        api.instances.append(inst(n))
    api.tasks = [task("1", "a"), task("2", "b")]
    s = scaler(api, fake, clock)
    s.run_once()
    clock.now += 31
    said = s.run_once()
    assert "terminating c" in said
    wait_for(lambda: fake.terminated == ["c"], 10, "c terminated")
    clock.now += 31
    assert "terminating" not in s.run_once()  # a and b hold tasks: M == N
    s.close()


def test_provider_errors_hold_the_cycle():
    api, fake, clock = FakeCP([provider()]), FakeNodeProvider(), Clock()
    fake.unreachable = True
    assert "node provider failed (fake provider is unreachable); holding" in scaler(api, fake, clock).run_once()
