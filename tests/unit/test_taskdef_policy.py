"""shoal.taskdef.policy: each door a task definition has to its node is closed unless the
cluster's policy opens it, the refusal names the field and the flag, and the flags parse the
same for the control plane, the agent and `shoal up`."""

from __future__ import annotations

import argparse
import json
from typing import Any

import pytest

from shoal.taskdef import policy
from shoal.taskdef.document import parse_task_definition
from shoal.taskdef.policy import HostPolicy
from shoal.v1 import resources_pb2 as r
from shoal.validation import ValidationError


def doc(container: dict[str, Any] | None = None, **task: Any) -> dict[str, Any]:
    c = {"name": "app", "image": "shoal/busybox:latest", "memory": 64, **(container or {})}
    return {"family": "door", "containerDefinitions": [c], **task}


def volume(name: str = "v", **conf: Any) -> dict[str, Any]:
    return {"volumes": [{"name": name, "dockerVolumeConfiguration": conf}],
            "containerDefinitions": [{"name": "app", "image": "shoal/busybox:latest", "memory": 64,
                                      "mountPoints": [{"sourceVolume": name, "containerPath": "/v"}]}]}


def host_volume(path: str) -> dict[str, Any]:
    return {"volumes": [{"name": "h", "host": {"sourcePath": path}}]}


CLOSED = HostPolicy()


def refusal(d: dict[str, Any], p: HostPolicy = CLOSED) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        parse_task_definition(json.dumps(d), p)
    return info.value


def accepted(d: dict[str, Any], p: HostPolicy) -> r.TaskDefinition:
    return parse_task_definition(json.dumps(d), p)[0]


BIND_ROOT = {"driver": "local", "driverOpts": {"type": "none", "o": "bind", "device": "/"}}

# (door, document, field refused, flag named, policy that opens it)
DOORS = [
    ("privileged", doc({"privileged": True}), "containerDefinitions[0].privileged", "--allow-privileged",
     HostPolicy(privileged=True)),
    ("host network", doc(networkMode="host"), "networkMode", "--allow-host-network", HostPolicy(host_network=True)),
    ("capabilities", doc({"linuxParameters": {"capabilities": {"add": ["NET_ADMIN"]}}}),
     "containerDefinitions[0].linuxParameters.capabilities.add", "--allow-capabilities",
     HostPolicy(capabilities=True)),
    ("ulimit memlock", doc({"ulimits": [{"name": "memlock", "softLimit": 1024, "hardLimit": 2**31 - 1}]}),
     "containerDefinitions[0].ulimits[0].name", "--allow-ulimits", HostPolicy(ulimits=True)),
    ("ulimit rtprio", doc({"ulimits": [{"name": "rtprio", "softLimit": 99, "hardLimit": 99}]}),
     "containerDefinitions[0].ulimits[0].name", "--allow-ulimits", HostPolicy(ulimits=True)),
    ("host sourcePath", doc(**host_volume("/srv/www")), "volumes[0].host.sourcePath", "--allow-host-volumes",
     HostPolicy(host_volume_prefixes=("/srv",))),
    ("driverOpts bind", doc(**volume(driver="local", driverOpts={"type": "none", "o": "bind", "device": "/srv/x"})),
     "volumes[0].dockerVolumeConfiguration.driverOpts", "--allow-host-volumes",
     HostPolicy(host_volume_prefixes=("/srv",))),
    ("driverOpts o=bind on tmpfs", doc(**volume(driverOpts={"type": "tmpfs", "o": "bind", "device": "/srv/x"})),
     "volumes[0].dockerVolumeConfiguration.driverOpts", "--allow-host-volumes",
     HostPolicy(host_volume_prefixes=("/srv",))),
    ("driverOpts block device", doc(**volume(driverOpts={"type": "ext4", "device": "/srv/disk.img"})),
     "volumes[0].dockerVolumeConfiguration.driverOpts", "--allow-host-volumes",
     HostPolicy(host_volume_prefixes=("/srv",))),
    ("driverOpts nfs", doc(**volume(driverOpts={"type": "nfs", "o": "addr=10.0.0.1", "device": ":/export"})),
     "volumes[0].dockerVolumeConfiguration.driverOpts", "--allow-host-volumes",
     HostPolicy(host_volume_prefixes=("/srv",))),
    ("volume driver", doc(**volume(driver="vieux/sshfs")), "volumes[0].dockerVolumeConfiguration.driver",
     "--allow-volume-drivers vieux/sshfs", HostPolicy(volume_drivers=frozenset({"vieux/sshfs"}))),
    ("shared volume", doc(**volume("cache", scope="shared", autoprovision=True)),
     "volumes[0].dockerVolumeConfiguration.scope", "--allow-shared-volumes cache",
     HostPolicy(shared_volumes=frozenset({"cache"}))),
]


@pytest.mark.parametrize(("d", "field", "flag", "opened"), [x[1:] for x in DOORS], ids=[x[0] for x in DOORS])
def test_each_door_is_closed_by_default_and_names_field_and_flag(
    d: dict[str, Any], field: str, flag: str, opened: HostPolicy
) -> None:
    err = refusal(d)
    assert err.field == field, str(err)
    assert flag in err.message, str(err)
    assert accepted(d, opened).family == "door"


def test_one_flag_does_not_open_another_door() -> None:
    everything_but_volumes = HostPolicy(privileged=True, host_network=True, capabilities=True, ulimits=True,
                                        volume_drivers=frozenset({"x"}), shared_volumes=frozenset({"v"}))
    err = refusal(doc(**volume(**BIND_ROOT)), everything_but_volumes)
    assert err.field == "volumes[0].dockerVolumeConfiguration.driverOpts"


@pytest.mark.parametrize("path", [
    "/", "/etc", "/etc/shadow", "/proc/1/root", "/sys", "/dev/sda", "/var/lib/shoal", "/var/lib/shoal/agent",
    "/var/run/docker.sock", "/run/docker.sock", "/var/lib/docker/volumes", "/srv/../etc", "/srv/./../etc",
    "//etc", "/srv/..", "relative/path", "/var", "/var/lib",
])
def test_host_path_never_mountable_or_outside_prefixes(path: str) -> None:
    wide = HostPolicy(host_volume_prefixes=("/srv", "/var/log"))
    for d, field in ((doc(**host_volume(path)), "volumes[0].host.sourcePath"),
                     (doc(**volume(**{**BIND_ROOT, "driverOpts": {**BIND_ROOT["driverOpts"], "device": path}})),
                      "volumes[0].dockerVolumeConfiguration.driverOpts.device")):
        err = refusal(d, wide)
        assert err.field == field, str(err)


@pytest.mark.parametrize("path", ["/srv", "/srv/www", "/srv//www/", "/srv/./www", "/var/log/app"])
def test_host_path_under_a_prefix_is_allowed(path: str) -> None:
    accepted(doc(**host_volume(path)), HostPolicy(host_volume_prefixes=("/srv", "/var/log")))


def test_prefix_is_matched_by_component() -> None:
    err = refusal(doc(**host_volume("/srv2/x")), HostPolicy(host_volume_prefixes=("/srv",)))
    assert "outside the allowed host paths" in err.message


def test_symlink_is_judged_by_where_it_leads() -> None:
    td = accepted(doc(**host_volume("/srv/link")), HostPolicy(host_volume_prefixes=("/srv",)))
    with pytest.raises(ValidationError) as info:
        policy.check(td, HostPolicy(host_volume_prefixes=("/srv",)), resolve=lambda p: "/etc")
    assert "leads to '/etc'" in info.value.message


def test_extra_forbidden_path_is_refused() -> None:
    p = HostPolicy(host_volume_prefixes=("/srv",), forbidden=("/srv/agent",))
    assert "never mountable" in refusal(doc(**host_volume("/srv/agent/node.key")), p).message


@pytest.mark.parametrize("name", ["shoal-0123456789ab-data", "Shoal-x"])
def test_shoal_namespace_volume_names_are_refused_even_when_shared_is_allowed(name: str) -> None:
    d = doc(**volume(name, scope="shared", autoprovision=False))
    err = refusal(d, HostPolicy(shared_volumes=frozenset({name})))
    assert err.field == "volumes[0].name" and "Shoal's own" in err.message


def test_volume_labels_in_shoal_namespace_are_refused() -> None:
    err = refusal(doc(**volume(labels={"shoal.task": "other"})))
    assert err.field == "volumes[0].dockerVolumeConfiguration.labels"


def test_plain_tmpfs_and_task_volumes_need_no_flag() -> None:
    accepted(doc(**volume(driver="local", driverOpts={"type": "tmpfs", "device": "tmpfs", "o": "size=10m,uid=1000"})),
             HostPolicy())
    accepted(doc(**volume(scope="task")), HostPolicy())


def test_wrapped_document_names_its_base() -> None:
    err = refusal({"taskDefinition": doc({"privileged": True})})
    assert err.field == "taskDefinition.containerDefinitions[0].privileged"


def test_every_field_an_agent_acts_on_is_classified() -> None:
    """A field added to these messages must be judged (a door in check(), or harmless) here."""
    for message in (r.TaskDefinition, r.Volume, r.ContainerDefinition, r.LinuxParameters):
        name = message.DESCRIPTOR.name
        fields = {f.name for f in message.DESCRIPTOR.fields}
        assert fields == policy.DOORS[name] | policy.HARMLESS[name], name


def flags(*argv: str) -> HostPolicy:
    p = argparse.ArgumentParser()
    policy.add_flags(p)
    return policy.from_args(p.parse_args(list(argv)))


def test_flags_parse_and_round_trip() -> None:
    got = flags("--allow-privileged", "--allow-host-volumes", "/srv,/data/", "--allow-shared-volumes", "cache",
                "--allow-volume-drivers", "vieux/sshfs,local-persist", "--allow-ulimits",
                "--allow-privileged-listener-ports")
    assert got.privileged and got.ulimits and got.privileged_listener_ports and not got.host_network
    assert got.host_volume_prefixes == ("/srv", "/data")
    assert flags(*policy.to_argv(got)) == got
    assert policy.policy_argv(["--etcd", "x", *policy.to_argv(got), "--log-level", "INFO"]) == policy.to_argv(got)
    assert flags() == HostPolicy()


@pytest.mark.parametrize(("argv", "fragment"), [
    (["--allow-host-volumes", "/"], "never mountable"),
    (["--allow-host-volumes", "/var"], "never mountable"),
    (["--allow-host-volumes", "srv"], "absolute path"),
    (["--allow-host-volumes", "/srv/../etc"], "absolute path"),
    (["--allow-shared-volumes", "shoal-abc-data"], "Shoal's"),
    (["--allow-host-volumes"], "expected one argument"),
])
def test_bad_flag_values_are_refused(argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        flags(*argv)
    assert fragment in capsys.readouterr().err
