"""The pure parts of chaos and the lab: convergence judged from a picture, the clock that
measures it against a scripted API, lab names and addresses, durations."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from shoal.durations import parse_duration
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoal.validation import ValidationError
from shoalctl.chaos.converge import Clock, Picture
from shoalctl.cli.durations import duration_arg
from shoalctl.lab import lab as labmod
from shoalctl.lab.network import LabNetwork
from shoalctl.local.dockerd import DockerdProcess


def service(name: str, desired: int, running: int, pending: int = 0) -> r.Service:
    return r.Service(service_name=name, desired_count=desired, running_count=running, pending_count=pending,
                     status="ACTIVE")


def test_picture_says_what_keeps_it_from_converging() -> None:
    pic = Picture(services=[service("web", 3, 2), service("db", 1, 1)],
                  tasks=[r.Task(id="t1", desired_status="RUNNING", last_status="PROVISIONING")],
                  nodes=[r.ContainerInstance(id="n1", hostname="agent-1", agent_connected=False)])
    lagging = pic.lagging({"n1"})
    assert lagging == ["service web: 2/3 running, 0 pending", "1 tasks waiting in PROVISIONING",
                       "nodes not connected: agent-1"]
    assert Picture(services=[service("web", 3, 3)]).converged()


class ScriptedApi:
    """Operator answers that follow a script: one picture per poll."""

    def __init__(self, frames: list[tuple[int, bool]]) -> None:
        self.frames = frames  # (running web tasks, node connected)
        self.i = -1

    def ListServices(self, req):  # noqa: N802 - the gRPC method's name
        self.i = min(self.i + 1, len(self.frames) - 1)
        return op.ListResponse(arns=["web"])

    def DescribeServices(self, req):  # noqa: N802
        return op.DescribeServicesResponse(services=[service("web", 2, self.frames[self.i][0])])

    def ListTasks(self, req):  # noqa: N802
        return op.ListResponse()

    def DescribeTasks(self, req):  # noqa: N802
        return op.TasksResponse()

    def ListContainerInstances(self, req):  # noqa: N802
        return op.ListResponse(arns=["n1"])

    def DescribeContainerInstances(self, req):  # noqa: N802
        return op.DescribeContainerInstancesResponse(container_instances=[
            r.ContainerInstance(id="n1", agent_connected=self.frames[self.i][1])])


def test_clock_waits_for_the_fault_to_be_noticed_before_calling_it_converged() -> None:
    api = ScriptedApi([(2, True), (2, True), (1, False), (2, False), (2, True)])
    clock = Clock(api, noticed=lambda p: "n1" not in p.connected(), expect_connected={"n1"}, interval=0)
    m = clock.wait_converged(timeout=5, notice_within=5)
    assert m.noticed_after is not None and m.converged_after is not None
    assert api.i == 4, "converged only once the node is back and the service full"


def test_clock_reports_what_lags_at_the_deadline() -> None:
    api = ScriptedApi([(1, True)])
    m = Clock(api, interval=0.01).wait_converged(timeout=0.05)
    assert m.converged_after is None
    assert "NOT converged" in m.sentence() and "1/2 running" in m.sentence()


def test_lab_names_fit_interfaces_and_addresses_are_link_local() -> None:
    net = LabNetwork.plan(3, lab_id="a1b2c3", subnet="169.254.210.0/24")
    assert net.bridge == "shl-a1b2c3" and net.gateway == "169.254.210.1"
    h2 = net.host("agent-2")
    assert (h2.netns, h2.veth, h2.address) == ("shoal-a1b2c3-h2", "shla1b2c3h2", "169.254.210.12")
    assert all(len(h.veth) + 1 <= 15 for h in net.hosts.values()), "the peer name (veth + 'p') fits IFNAMSIZ"
    assert LabNetwork.from_json(net.to_json()).to_json() == net.to_json()
    with pytest.raises(KeyError, match="agent-9"):
        net.host("agent-9")
    with pytest.raises(ValueError, match="hosts"):
        LabNetwork.plan(0)


def test_a_hosts_own_dockerd_enters_its_namespace_and_keeps_it_across_a_restart(tmp_path: Path) -> None:
    net = LabNetwork.plan(2, "abcd12", subnet="169.254.201.0/24")
    d = DockerdProcess("abcd12-2", tmp_path / "h2", netns=net.hosts[2].netns)
    # The network namespace alone: `ip netns exec` would remount /sys and hide cgroup v1.
    assert d.command()[:3] == ["nsenter", "--net=/run/netns/shoal-abcd12-h2", "dockerd"]
    assert DockerdProcess("abcd12-1", tmp_path / "h1").command()[0] == "dockerd"
    # `shoal chaos stop-docker` restarts it from lab.json, in another process: same namespace.
    (tmp_path / "lab.json").write_text(json.dumps({"network": net.to_json(),
                                                   "dockerds": {"2": labmod._dockerd_record(d)}}))
    again = labmod.RecordedLab(tmp_path).dockerd(2)
    assert again.netns == "shoal-abcd12-h2" and again.command() == d.command()


def test_durations() -> None:
    assert parse_duration("30s", "--for") == 30 and parse_duration("2m", "--for") == 120
    assert parse_duration("500ms", "--for") == 0.5 and parse_duration("7d", "--ttl") == 7 * 86400
    assert parse_duration("1.5", "--for") == 1.5 and parse_duration(" 1H ", "--for") == 3600
    for bad in ("3x", "", "-1s", "1e3", "s"):
        with pytest.raises(ValidationError, match=f"--ttl: '{bad}' is not a duration"):
            parse_duration(bad, "--ttl")
    assert duration_arg("2m") == 120
    with pytest.raises(argparse.ArgumentTypeError, match="'3x' is not a duration"):
        duration_arg("3x")
