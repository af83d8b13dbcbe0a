"""IDs as users type them (shoalctl/cli/refs.py): a unique prefix, a hostname, the whole id
or an ARN; an ambiguous prefix names what it matches; none names the cluster. Times as
dates with their age (output.when)."""

from __future__ import annotations

import time

import pytest

from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoalctl.cli import execute, refs, resources
from shoalctl.cli.errors import CliError
from shoalctl.cli.main import build_parser
from shoalctl.cli.output import ago, when

A = "a1b2c3d4e5f6" + "0" * 20
B = "a1b2c3ffffff" + "1" * 20
C = "c0ffee000000" + "2" * 20


class Api:
    """ListTasks/ListContainerInstances/DescribeContainerInstances over fixed records, in pages of 2."""

    def __init__(self) -> None:
        self.tasks = [f"arn:aws:ecs:local:000000000000:task/default/{i}" for i in (A, B, C)]
        self.nodes = {A: "agent-1", B: "agent-2", C: ""}
        self.calls = 0

    def _page(self, arns: list[str], token: str) -> op.ListResponse:
        self.calls += 1
        start = int(token or 0)
        nxt = str(start + 2) if start + 2 < len(arns) else ""
        return op.ListResponse(arns=arns[start:start + 2], next_token=nxt)

    def ListTasks(self, req: op.ListTasksRequest) -> op.ListResponse:  # noqa: N802 (the API's names)
        return self._page(self.tasks, req.next_token)

    def ListContainerInstances(self, req: op.ListContainerInstancesRequest) -> op.ListResponse:  # noqa: N802
        return self._page(list(self.nodes), req.next_token)

    def DescribeContainerInstances(self, req: op.DescribeContainerInstancesRequest):  # noqa: N802
        return op.DescribeContainerInstancesResponse(container_instances=[
            r.ContainerInstance(id=i, hostname=self.nodes[i]) for i in req.container_instances])


def test_a_unique_prefix_names_its_task() -> None:
    api = Api()
    assert refs.task_id(api, "default", C[:12]) == C
    assert refs.task_id(api, "default", "c") == C
    assert refs.task_id(api, "default", A[:12]) == A


def test_whole_ids_and_arns_pass_through_without_a_lookup() -> None:
    api = Api()
    assert refs.task_id(api, "default", A) == A
    assert refs.task_id(api, "default", api.tasks[1]) == api.tasks[1]
    assert refs.node_id(api, "default", "arn:aws:ecs:local:000000000000:container-instance/default/x") \
        .endswith("/x")
    assert api.calls == 0


def test_an_ambiguous_prefix_says_which_match() -> None:
    with pytest.raises(CliError) as err:
        refs.node_id(Api(), "default", "a1b2c3")
    assert "ambiguous" in str(err.value)
    assert f"{A[:12]} (agent-1)" in str(err.value) and f"{B[:12]} (agent-2)" in str(err.value)
    assert C[:12] not in str(err.value)


def test_no_match_says_so_with_the_cluster() -> None:
    with pytest.raises(CliError, match="no task in cluster default has an id starting with it"):
        refs.task_id(Api(), "default", "dead")


def test_a_node_by_its_hostname_even_when_a_prefix_of_another() -> None:
    api = Api()
    api.nodes["agent-1" + "0" * 25] = "agent-10"
    assert refs.node_id(api, "default", "agent-2") == B
    assert refs.node_id(api, "default", "agent-1") == A
    assert refs.node_id(api, "default", C[:4]) == C


def test_times_print_as_dates_with_their_age() -> None:
    shown = when(1_700_000_000.5, now=1_700_000_000.5 + 3 * 3600)
    assert shown.startswith(time.strftime("%Y-%m-%d %H:%M", time.localtime(1_700_000_000))) and shown.endswith(
        "(3h ago)"), shown
    assert when(0) == "-" and ago(0) == "-"
    assert when(100.0, now=100.0 + 3 * 86400).endswith("(3d ago)")


def test_exec_takes_a_task_by_the_prefix_the_tables_print(monkeypatch) -> None:
    # `shoal exec 27c89c8ad91b -- echo hi` answered "task not found": exec alone sent the prefix as is.
    api, sent = Api(), []
    monkeypatch.setattr(execute, "connect", lambda a: api)
    monkeypatch.setattr(execute, "_call", lambda a, request, start: sent.append(request) or 0)
    args = build_parser().parse_args(["exec", C[:12], "--container", "web", "--", "echo", "hi"])
    assert args.func(args) == 0
    assert [(m.task, m.container, list(m.command)) for m in sent] == [(C, "web", ["echo", "hi"])]
    ambiguous = build_parser().parse_args(["exec", "a1b2c3", "--", "true"])
    with pytest.raises(CliError, match="ambiguous"):
        ambiguous.func(ambiguous)


def test_task_protect_takes_a_task_by_its_prefix(monkeypatch) -> None:
    # `shoal task protect 27c89c8ad91b` answered "MISSING": the prefix went to the server as is.
    api, sent = Api(), []

    def protect(req: op.UpdateTaskProtectionRequest) -> op.TaskProtectionResponse:
        sent.append((list(req.tasks), req.protection_enabled, req.expires_in_minutes))
        return op.TaskProtectionResponse()

    api.UpdateTaskProtection = protect
    monkeypatch.setattr(resources, "connect", lambda a: api)
    for argv in (["task", "protect", C[:12], "--minutes", "5"], ["task", "protect", "c0ffee", "--off"]):
        args = build_parser().parse_args(argv)
        args.func(args)
    assert sent == [([C], True, 5), ([C], False, 0)]


def test_a_daemon_service_line_says_one_task_per_node_not_desired_0() -> None:
    # `shoal service create dmn --taskdef web --daemon` printed "desired 0" (the leader sets it later)
    td = "arn:aws:ecs:local:000000000000:task-definition/web:1"
    daemon = r.Service(service_name="dmn", task_definition=td, scheduling_strategy="DAEMON", desired_count=0)
    replica = r.Service(service_name="web", task_definition=td, scheduling_strategy="REPLICA", desired_count=6)
    assert resources.service_line("created", daemon) == \
        "created service dmn (web:1, daemon: one task per eligible node)"
    assert resources.service_line("updated", replica) == "updated service web (web:1, desired 6)"
