"""Node providers: the registry, the fake's failure injection, the command provider with a
real script, the local provider with real agent processes, vagrant's argv."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from autoscaler import providers
from autoscaler.providers import ProviderContext, ProviderError
from autoscaler.providers.command import CommandNodeProvider
from autoscaler.providers.local import LocalNodeProvider
from autoscaler.providers.vagrant import VagrantNodeProvider
from shoal import provider_config
from shoal.netutil import free_port
from shoal.validation import ValidationError
from tests.fake_provider import FakeNodeProvider
from tests.waiting import wait_for


def ctx(tmp_path: Path, name: str = "cp1") -> ProviderContext:
    return ProviderContext(capacity_provider=name, cluster="default", endpoint=f"127.0.0.1:{free_port()}",
                           state_dir=tmp_path / name)


# ---- registry ---------------------------------------------------------------------------------

def test_registry_loads_lazily_and_checks_config(tmp_path, monkeypatch):
    with pytest.raises(ValidationError, match="nodeProvider.type"):
        providers.create("fake", {}, ctx(tmp_path))  # the test double is not a production type
    monkeypatch.setitem(providers.TYPES, "fake", "tests.fake_provider:FakeNodeProvider")
    assert isinstance(providers.create("fake", {}, ctx(tmp_path)), FakeNodeProvider)
    with pytest.raises(ValidationError, match="nodeProvider.type"):
        provider_config.check_config("ec2", {})
    with pytest.raises(ValidationError, match=r"nodeProvider.config.cpu_unit: unknown key"):
        provider_config.check_config("local", {"cpu_unit": "512"})
    with pytest.raises(ValidationError, match=r"nodeProvider.config.cpu_units: must be a whole number"):
        provider_config.check_config("local", {"cpu_units": "lots"})
    with pytest.raises(ValidationError, match=r"nodeProvider.config.create: required"):
        provider_config.check_config("command", {"terminate": "/bin/true"})


def test_external_type_is_a_dotted_path(tmp_path):
    provider_config.check_config("external", {"class": "mycorp.nodes:Provider"})  # not loaded by the control plane
    with pytest.raises(ValidationError, match="nodeProvider.config.class"):
        provider_config.check_config("external", {"class": "not a path"})
    p = providers.create("external", {"class": "tests.fake_provider:FakeNodeProvider"}, ctx(tmp_path))
    assert isinstance(p, FakeNodeProvider)
    with pytest.raises(ValidationError, match="is not a NodeProvider"):
        providers.create("external", {"class": "pathlib:Path"}, ctx(tmp_path))


# ---- fake ---------------------------------------------------------------------------------------

def test_fake_provider_failure_injection():
    p = FakeNodeProvider()
    p.fail_creates = 1
    with pytest.raises(ProviderError, match="injected"):
        p.create_node("a")
    node = p.create_node("a")
    assert [n.name for n in p.non_terminated_nodes()] == ["a"]
    p.fail_terminates = 1
    with pytest.raises(ProviderError):
        p.terminate_node(node.id)
    p.terminate_node(node.id)
    assert p.non_terminated_nodes() == [] and p.terminated == [node.id]
    p.unreachable = True
    with pytest.raises(ProviderError, match="unreachable"):
        p.non_terminated_nodes()


# ---- command ------------------------------------------------------------------------------------

SCRIPT = """#!/bin/sh
# $1: node name (create) or id (terminate). Records its calls so the test sees the argv.
echo "$0 $* cluster=$SHOAL_CLUSTER provider=$SHOAL_CAPACITY_PROVIDER node=$SHOAL_NODE_NAME" >> "{log}"
case "$(basename "$0")" in
  create.sh) [ "$1" = "boom" ] && {{ echo "no capacity left" >&2; exit 3; }}; echo "starting..."; echo "id-$1" ;;
  terminate.sh) : ;;
esac
"""


def scripts(tmp_path: Path) -> tuple[Path, Path, Path]:
    log = tmp_path / "calls.log"
    out = []
    for name in ("create.sh", "terminate.sh"):
        path = tmp_path / name
        path.write_text(SCRIPT.format(log=log))
        path.chmod(0o755)
        out.append(path)
    return out[0], out[1], log


def test_command_provider_runs_scripts_with_argv_lists_and_no_shell(tmp_path):
    create, terminate, calls = scripts(tmp_path)
    # A name with shell metacharacters reaches the script as one argument, uninterpreted.
    p = CommandNodeProvider({"create": json.dumps([str(create)]), "terminate": str(terminate)}, ctx(tmp_path))
    node = p.create_node("web-1")
    assert (node.id, node.name) == ("id-web-1", "web-1")
    assert [(n.id, n.name) for n in p.non_terminated_nodes()] == [("id-web-1", "web-1")]
    p.terminate_node("id-web-1")
    assert p.non_terminated_nodes() == []
    lines = calls.read_text().splitlines()
    assert lines[0].endswith("create.sh web-1 cluster=default provider=cp1 node=web-1")
    assert lines[1].endswith("terminate.sh id-web-1 cluster=default provider=cp1 node=web-1")
    evil = p._run("create", [str(create)], ["$(touch pwned);x"])
    assert "id-$(touch pwned);x" in evil and not (tmp_path / "pwned").exists()


def test_command_provider_failures_say_what_and_why(tmp_path):
    create, terminate, _ = scripts(tmp_path)
    p = CommandNodeProvider({"create": str(create), "terminate": str(terminate), "timeout": "5"}, ctx(tmp_path))
    with pytest.raises(ProviderError, match=r"create command .* exited with 3: no capacity left"):
        p.create_node("boom")
    missing = CommandNodeProvider({"create": "/nonexistent/create", "terminate": "x"}, ctx(tmp_path))
    with pytest.raises(ProviderError, match="not found"):
        missing.create_node("a")
    slow = CommandNodeProvider({"create": "sleep", "terminate": "x", "timeout": "1"}, ctx(tmp_path))
    with pytest.raises(ProviderError, match="longer than 1s"):
        slow.create_node("30")  # the node name is the last argument: `sleep 30`


def test_command_provider_list_command(tmp_path):
    lister = tmp_path / "list.sh"
    lister.write_text("#!/bin/sh\necho 'i-1 node-a'\necho 'i-2'\n")
    lister.chmod(0o755)
    p = CommandNodeProvider({"create": "true", "terminate": "true", "list": str(lister)}, ctx(tmp_path))
    assert [(n.id, n.name) for n in p.non_terminated_nodes()] == [("i-1", "node-a"), ("i-2", "i-2")]


# ---- vagrant ------------------------------------------------------------------------------------

def test_vagrant_provider_argv(tmp_path):
    calls: list[list[str]] = []
    status = "1,node-1,state,running\n1,node-2,state,not_created\n1,node-3,state,running\n"

    def runner(argv, **kw):
        calls.append(argv)
        out = status if argv[1] == "status" else ""
        return subprocess.CompletedProcess(argv, 0, out, "")

    p = VagrantNodeProvider({"vagrant_dir": str(tmp_path), "max_nodes": "3"}, ctx(tmp_path), runner=runner)
    assert [n.id for n in p.non_terminated_nodes()] == ["node-1", "node-3"]
    assert p.create_node("ignored").name == "node-2"
    p.terminate_node("node-3")
    assert ["vagrant", "up", "node-2"] in calls and ["vagrant", "destroy", "-f", "node-3"] in calls
    with pytest.raises(ProviderError):
        p.terminate_node("rm -rf /")


# ---- local (real processes) ----------------------------------------------------------------------

@pytest.fixture
def local_provider(tmp_path, monkeypatch):
    # No control plane here: the agents start plaintext instead of failing for want of a join token.
    monkeypatch.setenv("SHOAL_INSECURE", "1")
    p = LocalNodeProvider({"runtime": "hollow", "cpu_units": "512", "memory_mib": "256", "zone": "zone-x",
                           "attributes": "rack=r1", "stop_timeout": "10"}, ctx(tmp_path))
    yield p
    for n in p.non_terminated_nodes():
        p.terminate_node(n.id)


def test_local_provider_starts_and_stops_real_agents(local_provider, tmp_path):
    p = local_provider
    node = p.create_node("cp1-a")
    assert node.name == "cp1-a"
    assert [n.name for n in p.non_terminated_nodes()] == ["cp1-a"]
    pid = int((tmp_path / "cp1" / "cp1-a" / "pid").read_text().split()[0])
    cmdline = psutil.Process(pid).cmdline()
    assert cmdline[:3] == [sys.executable, "-m", "agent"]
    for flag, value in (("--name", "cp1-a"), ("--runtime", "hollow"), ("--cpu-units", "512"), ("--zone", "zone-x"),
                        ("--cluster", "default")):
        assert cmdline[cmdline.index(flag) + 1] == value
    assert "shoal.capacity-provider=cp1" in cmdline and "rack=r1" in cmdline
    wait_for(lambda: "agent starting" in (tmp_path / "cp1" / "cp1-a" / "agent.log").read_text(), 60,
             "the agent to log its start")
    with pytest.raises(ProviderError, match="already running"):
        p.create_node("cp1-a")

    # A new provider object (a restarted autoscaler) finds the node from its pid file.
    again = LocalNodeProvider({"runtime": "hollow"}, ctx(tmp_path))
    assert [n.name for n in again.non_terminated_nodes()] == ["cp1-a"]
    again.terminate_node("cp1-a")
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert p.non_terminated_nodes() == []
    assert (tmp_path / "cp1" / "cp1-a.terminated.log").exists()
    again.terminate_node("cp1-a")  # already gone: no error


def test_local_provider_ignores_a_recycled_pid(local_provider, tmp_path):
    node_dir = tmp_path / "cp1" / "ghost"
    node_dir.mkdir(parents=True)
    (node_dir / "pid").write_text(f"{os.getpid()} 12345.0\n")  # our pid, a different start time
    assert local_provider.non_terminated_nodes() == []
