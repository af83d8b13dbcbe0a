"""shoal.taskdef: ECS task definition JSON in, TaskDefinition + warnings out, and a
ValidationError naming the field (and nothing else) for anything malformed or hostile."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from shoal.taskdef.document import parse_task_definition
from shoal.taskdef.policy import HostPolicy
from shoal.taskdef.values import task_cpu, task_memory
from shoal.validation import ValidationError
from tests.fixtures.taskdef_docs import ALLOW_ALL, SAMPLES, base, c0, c1, parse, refused, with_

# --- what comes out ---------------------------------------------------------------------------


def test_minimal_document_registers_with_defaults() -> None:
    text = json.dumps(base())
    td, warnings = parse_task_definition(text)
    assert warnings == []
    assert td.family == "web"
    assert td.network_mode == "bridge"
    assert td.source_json == text
    app, side = td.container_definitions
    assert (app.name, app.image, app.memory, app.essential) == ("app", "shoal/busybox:latest", 64, True)
    assert app.HasField("memory") and not app.HasField("memory_reservation")
    assert side.memory_reservation == 32 and side.essential is False
    assert td.cpu == "" and td.memory == ""


def test_bytes_and_bom_are_accepted() -> None:
    text = json.dumps(base())
    td, _ = parse_task_definition(("\ufeff" + text).encode())
    assert td.family == "web"


def test_full_container_maps_to_proto() -> None:
    doc = base()
    doc["volumes"] = [{"name": "data", "dockerVolumeConfiguration": {"scope": "shared", "autoprovision": True}}]
    c0(doc).update(
        {
            "cpu": 256,
            "memoryReservation": 32,
            "portMappings": [{"containerPort": 80}, {"containerPort": 53, "hostPort": 5353, "protocol": "UDP"}],
            "command": ["httpd", "-f"],
            "entryPoint": ["/bin/sh", "-c"],
            "environment": [{"name": "A", "value": "1"}, {"name": "EMPTY"}],
            "healthCheck": {"command": ["CMD-SHELL", "true"]},
            "stopTimeout": 0,
            "mountPoints": [{"sourceVolume": "data", "containerPath": "/data", "readOnly": True}],
            "secrets": [{"name": "TOKEN", "valueFrom": "arn:aws:ssm:us-east-1:1:parameter/x"}],
            "dockerLabels": {"com.example": "x"},
            "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 2048}],
            "linuxParameters": {"initProcessEnabled": True, "capabilities": {"drop": ["ALL"]}},
            "restartPolicy": {"enabled": True},
            "workingDirectory": "/srv",
            "user": "1000:1000",
        }
    )
    c1(doc)["dependsOn"] = [{"containerName": "app", "condition": "HEALTHY"}]
    c1(doc)["volumesFrom"] = [{"sourceContainer": "app"}]
    td, warnings = parse(doc, shared_volumes=frozenset({"data"}))
    assert warnings == []
    app = td.container_definitions[0]
    assert [(p.container_port, p.host_port, p.protocol) for p in app.port_mappings] == [
        (80, 0, "tcp"),
        (53, 5353, "udp"),
    ]
    assert [(e.name, e.value) for e in app.environment] == [("A", "1"), ("EMPTY", "")]
    # ECS's health check defaults are filled in so the agent need not know them.
    hc = app.health_check
    assert (list(hc.command), hc.interval, hc.timeout, hc.retries, hc.start_period) == (
        ["CMD-SHELL", "true"],
        30,
        5,
        3,
        0,
    )
    assert app.HasField("stop_timeout") and app.stop_timeout == 0
    assert app.mount_points[0].read_only is True
    assert app.secrets[0].value_from == "arn:aws:ssm:us-east-1:1:parameter/x"
    assert dict(app.docker_labels) == {"com.example": "x"}
    assert app.linux_parameters.init_process_enabled and list(app.linux_parameters.capabilities.drop) == ["ALL"]
    assert td.volumes[0].docker_volume_configuration.autoprovision is True
    side = td.container_definitions[1]
    assert (side.depends_on[0].container_name, side.depends_on[0].condition) == ("app", "HEALTHY")
    assert side.volumes_from[0].source_container == "app"


@pytest.mark.parametrize(
    ("value", "units"),
    [
        (512, "512"),
        ("512", "512"),
        ("1 vCPU", "1024"),
        ("0.5 vcpu", "512"),
        (".25 vCPU", "256"),
        ("2vcpus", "2048"),
        (" 256 ", "256"),
        (1024.0, "1024"),
    ],
)
def test_task_cpu_normalised(value: Any, units: str) -> None:
    assert task_cpu(value) == units


@pytest.mark.parametrize(
    ("value", "mib"),
    [
        (512, "512"),
        ("512", "512"),
        ("1GB", "1024"),
        ("2 GB", "2048"),
        ("0.5 GB", "512"),
        ("1 GiB", "1024"),
        ("300 MiB", "300"),
        ("300mb", "300"),
    ],
)
def test_task_memory_normalised(value: Any, mib: str) -> None:
    assert task_memory(value) == mib


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cpu", "0"),
        ("cpu", "lots"),
        ("cpu", "1.5"),
        ("cpu", -1),
        ("cpu", True),
        ("cpu", [512]),
        ("cpu", "99999999 vCPU"),
        ("memory", "2 TB"),
        ("memory", "0"),
        ("memory", "1.5"),
        ("memory", {}),
        ("memory", "1e9"),
        ("memory", 10**30),
    ],
)
def test_task_cpu_memory_refused(field: str, value: Any) -> None:
    doc = base()
    doc[field] = value
    err = refused(doc)
    assert err.field == field


def test_task_memory_covers_containers_without_their_own() -> None:
    doc = base()
    doc["memory"] = "1 GB"
    doc["cpu"] = "1 vCPU"
    del c0(doc)["memory"]
    del c1(doc)["memoryReservation"]
    td, _ = parse(doc)
    assert (td.cpu, td.memory) == ("1024", "1024")
    assert not td.container_definitions[0].HasField("memory")


# --- rules, each naming its field ------------------------------------------------------------------

# A table reads better than the formatter's one-field-per-line layout.
# fmt: off
RULES: list[tuple[str, Callable[[dict[str, Any]], Any], dict[str, bool], str, str]] = [
    # (id, mutation, flags, field, message fragment)
    ("family missing", lambda d: d.pop("family"), {}, "family", "required"),
    ("family typo", lambda d: d.update(famliy=d.pop("family")), {}, "family", "found 'famliy'"),
    ("family bad", lambda d: d.update(family="my app"), {}, "family", "letters, digits"),
    ("family type", lambda d: d.update(family=7), {}, "family", "got 7"),
    ("no containers", lambda d: d.pop("containerDefinitions"), {}, "containerDefinitions", "required"),
    ("empty containers", lambda d: d.update(containerDefinitions=[]), {}, "containerDefinitions", "at least one"),
    ("containers dict", lambda d: d.update(containerDefinitions={"a": 1}), {}, "containerDefinitions",
     "must be a list, got an object"),
    ("eleven containers", lambda d: d.update(containerDefinitions=[
        {"name": f"c{i}", "image": "x", "memory": 8} for i in range(11)]), {}, "containerDefinitions", "at most 10"),
    ("container not object", lambda d: d["containerDefinitions"].append("x"), {}, "containerDefinitions[2]",
     "must be an object"),
    ("image missing", lambda d: c0(d).pop("image"), {}, "containerDefinitions[0].image", "required"),
    ("image bad", lambda d: c0(d).update(image="Shoal/BusyBox"), {}, "containerDefinitions[0].image", "lower-case"),
    ("name missing", lambda d: c1(d).pop("name"), {}, "containerDefinitions[1].name", "required"),
    ("name bad", lambda d: c1(d).update(name="a b"), {}, "containerDefinitions[1].name", "letters"),
    ("name duplicate", lambda d: c1(d).update(name="app"), {}, "containerDefinitions[1].name", "duplicate"),
    ("memory negative", lambda d: c1(d).update(memory=-5), {}, "containerDefinitions[1].memory",
     "must be a positive integer (MiB), got -5"),
    ("memory string", lambda d: c0(d).update(memory="512"), {}, "containerDefinitions[0].memory",
     "must be a positive integer (MiB), got the string '512'"),
    ("memory tiny", lambda d: c0(d).update(memory=4), {}, "containerDefinitions[0].memory", "at least 6 MiB"),
    ("memory huge", lambda d: c0(d).update(memory=2**40), {}, "containerDefinitions[0].memory", "at most"),
    ("memory float", lambda d: c0(d).update(memory=64.5), {}, "containerDefinitions[0].memory", "got 64.5"),
    ("reservation over memory", lambda d: c0(d).update(memoryReservation=128), {},
     "containerDefinitions[0].memoryReservation", "must not exceed memory (64 MiB), got 128"),
    ("no memory at all", lambda d: c1(d).pop("memoryReservation"), {}, "containerDefinitions[1].memory",
     "memory or memoryReservation"),
    ("container over task memory", lambda d: d.update(memory="32"), {}, "containerDefinitions[0].memory",
     "exceeds the task's memory"),
    ("sum over task memory", lambda d: d.update(memory="90"), {}, "memory", "reserve 96 MiB"),
    ("cpu negative", lambda d: c0(d).update(cpu=-1), {}, "containerDefinitions[0].cpu", "CPU units from 0"),
    ("cpu absurd", lambda d: c0(d).update(cpu=10 * 1024 * 1024 + 1), {}, "containerDefinitions[0].cpu", "CPU units"),
    ("cpu sum over task", lambda d: (d.update(cpu="256"), c0(d).update(cpu=200), c1(d).update(cpu=100)), {},
     "cpu", "300 CPU units"),
    ("containerPort missing", lambda d: c0(d).update(portMappings=[{"hostPort": 80}]), {},
     "containerDefinitions[0].portMappings[0].containerPort", "required"),
    ("containerPort zero", lambda d: c0(d).update(portMappings=[{"containerPort": 0}]), {},
     "containerDefinitions[0].portMappings[0].containerPort", "1 to 65535"),
    ("port range", lambda d: c0(d).update(portMappings=[{"containerPortRange": "8000-8010"}]), {},
     "containerDefinitions[0].portMappings[0].containerPort", "ranges are not supported"),
    ("hostPort big", lambda d: c0(d).update(portMappings=[{"containerPort": 80, "hostPort": 70000}]), {},
     "containerDefinitions[0].portMappings[0].hostPort", "0 to 65535"),
    ("hostPort string", lambda d: c0(d).update(portMappings=[{"containerPort": 80, "hostPort": "80"}]), {},
     "containerDefinitions[0].portMappings[0].hostPort", "got the string '80'"),
    ("protocol", lambda d: c0(d).update(portMappings=[{"containerPort": 80, "protocol": "sctp"}]), {},
     "containerDefinitions[0].portMappings[0].protocol", "tcp or udp"),
    ("duplicate host port", lambda d: (c0(d).update(portMappings=[{"containerPort": 80, "hostPort": 8080}]),
                                       c1(d).update(portMappings=[{"containerPort": 81, "hostPort": 8080}])), {},
     "containerDefinitions[1].portMappings[0].hostPort", "already mapped by containerDefinitions[0].portMappings[0]"),
    ("host mode port mismatch", lambda d: (d.update(networkMode="host"),
                                           c0(d).update(portMappings=[{"containerPort": 80, "hostPort": 81}])),
     {"host_network": True}, "containerDefinitions[0].portMappings[0].hostPort", "must equal containerPort"),
    ("host mode duplicate", lambda d: (d.update(networkMode="host"), c0(d).update(portMappings=[{"containerPort": 80}]),
                                       c1(d).update(portMappings=[{"containerPort": 80}])),
     {"host_network": True}, "containerDefinitions[1].portMappings[0].hostPort", "already mapped"),
    ("none mode ports", lambda d: (d.update(networkMode="none"), c0(d).update(portMappings=[{"containerPort": 80}])),
     {}, "containerDefinitions[0].portMappings", "none allows no port mappings"),
    ("network mode foo", lambda d: d.update(networkMode="foo"), {}, "networkMode", "must be one of bridge, host, none"),
    ("network mode type", lambda d: d.update(networkMode=["host"]), {}, "networkMode", "must be a string"),
    ("env name", lambda d: c0(d).update(environment=[{"name": "1BAD", "value": "x"}]), {},
     "containerDefinitions[0].environment[0].name", "letters, digits and underscores"),
    ("env value number", lambda d: c0(d).update(environment=[{"name": "PORT", "value": 8080}]), {},
     "containerDefinitions[0].environment[0].value", "must be a string (quote numbers"),
    ("env not list", lambda d: c0(d).update(environment={"A": "b"}), {},
     "containerDefinitions[0].environment", "must be a list, got an object"),
    ("command string", lambda d: c0(d).update(command="httpd -f"), {}, "containerDefinitions[0].command",
     "must be a list, got the string"),
    ("entryPoint item", lambda d: c0(d).update(entryPoint=["sh", 1]), {}, "containerDefinitions[0].entryPoint[1]",
     "must be a string, got 1"),
    ("healthcheck kind", lambda d: c0(d).update(healthCheck={"command": ["curl", "x"]}), {},
     "containerDefinitions[0].healthCheck.command", "must start with CMD, CMD-SHELL or NONE"),
    ("healthcheck empty", lambda d: c0(d).update(healthCheck={"command": []}), {},
     "containerDefinitions[0].healthCheck.command", "got an empty list"),
    ("healthcheck CMD alone", lambda d: c0(d).update(healthCheck={"command": ["CMD"]}), {},
     "containerDefinitions[0].healthCheck.command", "must be followed"),
    ("healthcheck interval", lambda d: c0(d).update(healthCheck={"command": ["CMD", "x"], "interval": 4}), {},
     "containerDefinitions[0].healthCheck.interval", "from 5 to 300"),
    ("healthcheck timeout", lambda d: c0(d).update(healthCheck={"command": ["CMD", "x"], "timeout": 61}), {},
     "containerDefinitions[0].healthCheck.timeout", "from 2 to 60"),
    ("healthcheck retries", lambda d: c0(d).update(healthCheck={"command": ["CMD", "x"], "retries": 0}), {},
     "containerDefinitions[0].healthCheck.retries", "from 1 to 10"),
    ("healthcheck startPeriod", lambda d: c0(d).update(healthCheck={"command": ["CMD", "x"], "startPeriod": 301}),
     {}, "containerDefinitions[0].healthCheck.startPeriod", "from 0 to 300"),
    ("healthcheck no command", lambda d: c0(d).update(healthCheck={"interval": 10}), {},
     "containerDefinitions[0].healthCheck.command", "required"),
    ("stopTimeout", lambda d: c0(d).update(stopTimeout=121), {}, "containerDefinitions[0].stopTimeout", "0 to 120"),
    ("dependsOn unknown", lambda d: c1(d).update(dependsOn=[{"containerName": "db", "condition": "START"}]), {},
     "containerDefinitions[1].dependsOn[0].containerName", "no container named 'db'"),
    ("dependsOn self", lambda d: c1(d).update(dependsOn=[{"containerName": "side", "condition": "START"}]), {},
     "containerDefinitions[1].dependsOn[0].containerName", "itself"),
    ("dependsOn condition", lambda d: c1(d).update(dependsOn=[{"containerName": "app", "condition": "READY"}]), {},
     "containerDefinitions[1].dependsOn[0].condition", "START, COMPLETE, SUCCESS, HEALTHY"),
    ("dependsOn healthy", lambda d: c1(d).update(dependsOn=[{"containerName": "app", "condition": "HEALTHY"}]), {},
     "containerDefinitions[1].dependsOn[0].condition", "HEALTHY needs a healthCheck"),
    ("dependsOn healthy NONE", lambda d: (c0(d).update(healthCheck={"command": ["NONE"]}),
                                          c1(d).update(dependsOn=[{"containerName": "app", "condition": "HEALTHY"}])),
     {}, "containerDefinitions[1].dependsOn[0].condition", "HEALTHY needs a healthCheck"),
    ("dependsOn complete essential", lambda d: c1(d).update(
        dependsOn=[{"containerName": "app", "condition": "COMPLETE"}]), {},
     "containerDefinitions[1].dependsOn[0].condition", "essential container 'app'"),
    ("dependency cycle", lambda d: (c0(d).update(dependsOn=[{"containerName": "side", "condition": "START"}]),
                                    c1(d).update(dependsOn=[{"containerName": "app", "condition": "START"}])), {},
     "containerDefinitions[0].dependsOn", "cycle: app -> side -> app"),
    ("mount undeclared", lambda d: c0(d).update(mountPoints=[{"sourceVolume": "data", "containerPath": "/d"}]), {},
     "containerDefinitions[0].mountPoints[0].sourceVolume", "no volume named 'data'"),
    ("mount relative", lambda d: (d.update(volumes=[{"name": "data"}]),
                                  c0(d).update(mountPoints=[{"sourceVolume": "data", "containerPath": "d"}])), {},
     "containerDefinitions[0].mountPoints[0].containerPath", "absolute path"),
    ("volumesFrom unknown", lambda d: c1(d).update(volumesFrom=[{"sourceContainer": "db"}]), {},
     "containerDefinitions[1].volumesFrom[0].sourceContainer", "no container named 'db'"),
    ("ulimit name", lambda d: c0(d).update(ulimits=[{"name": "files", "softLimit": 1, "hardLimit": 1}]), {},
     "containerDefinitions[0].ulimits[0].name", "nofile"),
    ("ulimit soft>hard", lambda d: c0(d).update(ulimits=[{"name": "nofile", "softLimit": 2, "hardLimit": 1}]), {},
     "containerDefinitions[0].ulimits[0].softLimit", "must not exceed hardLimit"),
    ("ulimit duplicate", lambda d: c0(d).update(ulimits=[{"name": "core", "softLimit": 0, "hardLimit": 0}] * 2), {},
     "containerDefinitions[0].ulimits[1].name", "duplicate"),
    ("no essential", lambda d: c0(d).update(essential=False), {}, "containerDefinitions", "at least one container"),
    ("essential string", lambda d: c0(d).update(essential="true"), {}, "containerDefinitions[0].essential",
     "true or false"),
    ("capability unknown", lambda d: c0(d).update(linuxParameters={"capabilities": {"drop": ["FLY"]}}), {},
     "containerDefinitions[0].linuxParameters.capabilities.drop[0]", "unknown Linux capability"),
    ("host volume relative", lambda d: d.update(volumes=[{"name": "root", "host": {"sourcePath": "etc"}}]),
     {"host_volume_prefixes": ("/srv",)}, "volumes[0].host.sourcePath", "absolute path"),
    ("volume duplicate", lambda d: d.update(volumes=[{"name": "v"}, {"name": "v"}]), {}, "volumes[1].name",
     "duplicate"),
    ("volume scope", lambda d: d.update(volumes=[{"name": "v", "dockerVolumeConfiguration": {"scope": "global"}}]),
     {}, "volumes[0].dockerVolumeConfiguration.scope", "task or shared"),
    ("secret no valueFrom", lambda d: c0(d).update(secrets=[{"name": "X"}]), {},
     "containerDefinitions[0].secrets[0].valueFrom", "required"),
    ("secret no name", lambda d: c0(d).update(secrets=[{"valueFrom": "x"}]), {},
     "containerDefinitions[0].secrets[0].name", "required"),
    ("placement type", lambda d: d.update(placementConstraints=[{"type": "sameHost"}]), {},
     "placementConstraints[0].type", "memberOf or distinctInstance"),
    ("placement expression", lambda d: d.update(placementConstraints=[{"type": "memberOf"}]), {},
     "placementConstraints[0].expression", "required"),
    ("requiresCompatibilities", lambda d: d.update(requiresCompatibilities=["LAMBDA"]), {},
     "requiresCompatibilities[0]", "EC2, FARGATE"),
    ("tag aws prefix", lambda d: d.update(tags=[{"key": "aws:x", "value": "y"}]), {}, "tags[0].key", "reserved"),
    ("tag duplicate", lambda d: d.update(tags=[{"key": "a"}, {"key": "a"}]), {}, "tags[1].key", "duplicate"),
    ("reserved label", lambda d: c0(d).update(dockerLabels={"shoal.task": "x"}), {},
     "containerDefinitions[0].dockerLabels.shoal.task", "reserved for Shoal"),
    ("label value type", lambda d: c0(d).update(dockerLabels={"a": 1}), {}, "containerDefinitions[0].dockerLabels.a",
     "must be a string"),
    ("restart period", lambda d: c0(d).update(restartPolicy={"enabled": True, "restartAttemptPeriod": 5}), {},
     "containerDefinitions[0].restartPolicy.restartAttemptPeriod", "60 to 1800"),
    ("linuxParameters list", lambda d: c0(d).update(linuxParameters=[]), {}, "containerDefinitions[0].linuxParameters",
     "must be an object, got a list"),
]
# fmt: on


@pytest.mark.parametrize(("mutate", "policy", "field", "fragment"), [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_rule_names_field(
    mutate: Callable[[dict[str, Any]], Any], policy: dict[str, Any], field: str, fragment: str
) -> None:
    err = refused(with_(mutate), **policy)
    assert err.field == field, str(err)
    assert fragment in err.message, str(err)
    assert str(err) == f"{field}: {err.message}"


def test_empty_host_volume_needs_no_flag() -> None:
    td, _ = parse(with_(lambda d: d.update(volumes=[{"name": "scratch", "host": {}}])))
    assert td.volumes[0].name == "scratch" and not td.volumes[0].host.source_path


def test_host_network_port_becomes_host_port() -> None:
    doc = with_(lambda d: (d.update(networkMode="host"), c0(d).update(portMappings=[{"containerPort": 9100}])))
    td, _ = parse(doc, host_network=True)
    assert td.network_mode == "host"
    assert td.container_definitions[0].port_mappings[0].host_port == 9100


def test_awsvpc_registers_as_bridge_with_dynamic_ports() -> None:
    doc = with_(
        lambda d: (d.update(networkMode="awsvpc"), c0(d).update(portMappings=[{"containerPort": 80, "hostPort": 80}]))
    )
    td, warnings = parse(doc)
    assert td.network_mode == "bridge"
    assert td.container_definitions[0].port_mappings[0].host_port == 0
    assert any(w.startswith("networkMode: awsvpc is not supported") for w in warnings)
    # ECS's own awsvpc rule still holds.
    doc["containerDefinitions"][0]["portMappings"][0]["hostPort"] = 81
    assert refused(doc).field == "containerDefinitions[0].portMappings[0].hostPort"


def test_dynamic_host_ports_may_repeat() -> None:
    doc = with_(
        lambda d: (
            c0(d).update(portMappings=[{"containerPort": 80}, {"containerPort": 81, "hostPort": 0}]),
            c1(d).update(portMappings=[{"containerPort": 80, "hostPort": 0}]),
        )
    )
    td, _ = parse(doc)
    assert len(td.container_definitions[0].port_mappings) == 2


def test_same_host_port_on_tcp_and_udp_is_fine() -> None:
    doc = with_(
        lambda d: c0(d).update(
            portMappings=[
                {"containerPort": 53, "hostPort": 53},
                {"containerPort": 53, "hostPort": 53, "protocol": "udp"},
            ]
        )
    )
    td, _ = parse(doc)
    assert [(m.host_port, m.protocol) for m in td.container_definitions[0].port_mappings] == [(53, "tcp"), (53, "udp")]


def test_null_optional_fields_count_as_absent() -> None:
    doc = with_(lambda d: (d.update(cpu=None, volumes=None, tags=None), c0(d).update(portMappings=None, cpu=None)))
    td, _ = parse(doc)
    assert td.family == "web"


# --- warnings -----------------------------------------------------------------------------------


def test_unknown_field_warns_with_suggestion() -> None:
    doc = with_(lambda d: c1(d).update(memroy=64))
    _, warnings = parse(doc)
    assert warnings == [
        "containerDefinitions[1]: unknown field 'memroy' (did you mean 'memory'?); kept but not acted on by Shoal"
    ]


def test_snake_case_field_suggests_camel_case() -> None:
    doc = base()
    doc["network_mode"] = "host"
    _, warnings = parse(doc)
    assert warnings == ["unknown field 'network_mode' (did you mean 'networkMode'?); kept but not acted on by Shoal"]


def test_known_unsupported_fields_warn() -> None:
    doc = base()
    doc.update(
        pidMode="host",
        ipcMode="task",
        ephemeralStorage={"sizeInGiB": 30},
        executionRoleArn="arn:aws:iam::000000000001:role/x",
        taskRoleArn="arn:aws:iam::000000000001:role/y",
    )
    c0(doc).update(
        logConfiguration={"logDriver": "awslogs"},
        firelensConfiguration={"type": "fluentbit"},
    )
    c0(doc)["linuxParameters"] = {"sharedMemorySize": 64}
    td, warnings = parse(doc)
    assert td.execution_role_arn.endswith(":role/x") and td.task_role_arn.endswith(":role/y")
    prefixes = sorted(w.split(":")[0] for w in warnings)
    assert prefixes == sorted(
        [
            "pidMode",
            "ipcMode",
            "ephemeralStorage",
            "containerDefinitions[0].logConfiguration",
            "containerDefinitions[0].firelensConfiguration",
            "containerDefinitions[0].linuxParameters.sharedMemorySize",
        ]
    )
    assert all("kept but not acted on by Shoal" in w for w in warnings)
    assert "logConfiguration" in td.source_json


@pytest.mark.parametrize("value", ["arn:aws:iam::1:role/y", "not an arn", "arn:aws:s3:::bucket",
                                   "arn:aws:iam::000000000000:user/alice"])
def test_a_role_that_is_no_role_is_refused_naming_the_field(value: str) -> None:
    for key in ("taskRoleArn", "executionRoleArn"):
        doc = base()
        doc[key] = value
        with pytest.raises(ValidationError, match=f"^{key}: must be a role ARN"):
            parse(doc)


def test_task_roles_by_arn_with_a_path_or_by_name_are_acted_on_without_a_warning() -> None:
    for value in ("arn:aws:iam::000000000000:role/service/reader", "reader"):
        doc = base()
        doc["taskRoleArn"] = value
        td, warnings = parse(doc)
        assert td.task_role_arn == value and warnings == []


def test_warnings_are_capped() -> None:
    doc = base()
    for i in range(500):
        doc[f"x{i}"] = i
    _, warnings = parse(doc)
    assert len(warnings) == 101
    assert warnings[-1] == "... and 400 more warnings"


def test_hostile_unknown_key_is_truncated_in_warning() -> None:
    doc = base()
    doc["k" * 5000 + "\n"] = 1
    _, warnings = parse(doc)
    assert len(warnings) == 1 and len(warnings[0]) < 200


# --- realistic samples --------------------------------------------------------------------------


def sample(name: str) -> str:
    return (SAMPLES / name).read_text()


def test_fargate_sample_registers_with_warnings() -> None:
    td, warnings = parse_task_definition(sample("fargate-webserver.json"))
    assert (td.family, td.cpu, td.memory, td.network_mode) == ("webserver", "256", "512", "bridge")
    assert list(td.requires_compatibilities) == ["FARGATE"]
    assert td.execution_role_arn.endswith("ecsTaskExecutionRole")
    web = td.container_definitions[0]
    assert web.secrets[0].name == "DB_PASSWORD"
    assert web.health_check.start_period == 10
    assert web.port_mappings[0].host_port == 0
    fields = {w.split(":")[0] for w in warnings}
    assert fields == {
        "networkMode",
        "requiresCompatibilities",
        "runtimePlatform",
        "containerDefinitions[0].logConfiguration",
        "containerDefinitions[0].portMappings[0].appProtocol",
    }


def test_wordpress_sample_registers_with_warnings() -> None:
    td, warnings = parse_task_definition(sample("ec2-wordpress.json"))
    assert [c.name for c in td.container_definitions] == ["wordpress", "mysql"]
    assert td.container_definitions[0].port_mappings[0].host_port == 80
    assert {w.split(":")[0] for w in warnings} == {"containerDefinitions[0].links", "requiresCompatibilities"}


def test_describe_output_sample_unwraps() -> None:
    td, warnings = parse_task_definition(sample("describe-output.json"))
    assert (td.family, td.memory, td.revision, td.task_definition_arn) == ("api", "1024", 0, "")
    assert [(t.key, t.value) for t in td.tags] == [("team", "platform")]
    assert td.placement_constraints[0].expression == "attribute:ecs.instance-type =~ t3.*"
    assert td.container_definitions[0].depends_on[0].condition == "SUCCESS"
    fields = {w.split(":")[0] for w in warnings}
    assert "taskDefinition.taskDefinitionArn" in fields and "taskDefinition.registeredAt" in fields
    assert "taskDefinition.containerDefinitions[0].logConfiguration" in fields
    assert all("assigned by Shoal" in w or "kept but not acted on" in w for w in warnings)


def test_wrapped_document_paths_say_so() -> None:
    doc = {"taskDefinition": with_(lambda d: c1(d).update(memory=-5))}
    err = refused(doc)
    assert err.field == "taskDefinition.containerDefinitions[1].memory"


def test_shoal_sample_registers_clean() -> None:
    td, warnings = parse_task_definition(sample("shoal-web-sidecar.json"))
    assert warnings == []
    assert (td.cpu, td.memory) == ("512", "256")
    assert td.container_definitions[1].depends_on[0].condition == "HEALTHY"


def test_host_network_sample_needs_the_cluster_to_allow_it() -> None:
    with pytest.raises(ValidationError) as info:
        parse_task_definition(sample("ec2-host-network.json"))
    assert info.value.field == "networkMode"
    with pytest.raises(ValidationError) as info:
        parse_task_definition(sample("ec2-host-network.json"), HostPolicy(host_network=True))
    assert info.value.field == "volumes[0].host.sourcePath"
    # Its volume is the node's root: refused whatever prefixes are allowed.
    with pytest.raises(ValidationError) as info:
        parse_task_definition(sample("ec2-host-network.json"), ALLOW_ALL)
    assert info.value.field == "volumes[0].host.sourcePath" and "never mountable" in info.value.message




def test_start_timeout_is_kept_and_bounded() -> None:
    doc = {"family": "f", "containerDefinitions": [
        {"name": "a", "image": "busybox", "memory": 16, "startTimeout": 30}]}
    td, warnings = parse_task_definition(json.dumps(doc))
    assert td.container_definitions[0].start_timeout == 30
    assert not any("startTimeout" in w for w in warnings)
    doc["containerDefinitions"][0]["startTimeout"] = 0
    with pytest.raises(ValidationError) as err:
        parse_task_definition(json.dumps(doc))
    assert err.value.field == "containerDefinitions[0].startTimeout"


def test_dns_servers_are_kept_but_not_acted_on_and_say_what_containers_use() -> None:
    doc = base()
    c0(doc).update(dnsServers=["10.0.0.2"], dnsSearchDomains=["corp.example"])
    _, warnings = parse(doc)
    assert warnings == [
        "containerDefinitions[0].dnsServers: kept but not acted on by Shoal "
        "(containers use their node's DNS responder when its agent runs with --dns)",
        "containerDefinitions[0].dnsSearchDomains: kept but not acted on by Shoal "
        "(containers search their service's namespaces when their agent runs with --dns)",
    ]


def test_repository_credentials_name_a_secret_and_are_kept() -> None:
    doc = base()
    c0(doc)["repositoryCredentials"] = {"credentialsParameter": "registry/other"}
    td, warnings = parse(doc)
    assert not warnings
    assert json.loads(td.source_json)["containerDefinitions"][0]["repositoryCredentials"] == {
        "credentialsParameter": "registry/other"}
    c0(doc)["repositoryCredentials"] = {"credentialsParameter": "x", "kmsKey": "y"}
    assert parse(doc)[1] == ["containerDefinitions[0].repositoryCredentials: unknown field 'kmsKey'; "
                             "kept but not acted on by Shoal"]
    for bad, where in (({}, "credentialsParameter: required"), ({"credentialsParameter": ""}, "must not be empty"),
                       ("x", "must be an object")):
        c0(doc)["repositoryCredentials"] = bad
        with pytest.raises(ValidationError, match=f"containerDefinitions\\[0\\].repositoryCredentials.*{where}"):
            parse(doc)
