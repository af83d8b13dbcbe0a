"""The ECS gateway's daemon operations (ECS, 2026) on the in-memory store: each maps onto a
DAEMON service (create, update, delete, list, describe), a daemon task definition onto a
marked task definition, deployments and revisions onto the service's history; every answer
is checked against botocore's model, and every member Shoal cannot act on is refused by name
with nothing written."""

from __future__ import annotations

import pytest

from controlplane.controllers.services import ServiceController
from controlplane.ecs import actions, daemons
from controlplane.ecs.access import authorize
from controlplane.ecs.errors import EcsError
from controlplane.ecs.server import ACTIONS
from controlplane.scheduler.model import PROVIDER_ATTRIBUTE
from shoal import keys
from shoal.security.ca import Identity
from shoal.v1 import resources_pb2 as r
from tests.ecs_model import check_output
from tests.fixtures.plane import Plane, place_and_run

AGENT = {"family": "agent", "containerDefinitions": [
    {"name": "agent", "image": "busybox", "cpu": 128, "memory": 256, "command": ["sleep", "3600"]}]}


def call(plane: Plane, operation: str, body: dict) -> dict:
    out = ACTIONS[operation](plane.api, body)
    check_output(operation, out)
    return out


def refused(plane: Plane, operation: str, body: dict, code: str = "InvalidParameterException") -> str:
    with pytest.raises(EcsError) as e:
        ACTIONS[operation](plane.api, body)
    assert e.value.ecs_type == code, e.value.message
    return e.value.message


def provider_node(plane: Plane, name: str, provider: str) -> None:
    plane.node(name, memory=2048)
    rec = plane.store.get(keys.node("default", name))
    node = r.ContainerInstance.FromString(rec.value if hasattr(rec, "value") else rec)
    node.attributes.add(name=PROVIDER_ATTRIBUTE, value=provider)
    plane.store.put(keys.node("default", name), node.SerializeToString())


def register(plane: Plane, doc: dict = AGENT) -> str:
    return call(plane, "RegisterDaemonTaskDefinition", doc)["daemonTaskDefinitionArn"]


def create(plane: Plane, **extra) -> dict:
    td = register(plane)
    return call(plane, "CreateDaemon", {"daemonName": "agent", "daemonTaskDefinitionArn": td,
                                        "capacityProviderArns": ["edge"], **extra})


# ---- mapping ------------------------------------------------------------------------------------


def test_create_daemon_is_a_daemon_service_on_its_providers_nodes(plane: Plane) -> None:
    provider_node(plane, "n1", "edge")
    provider_node(plane, "n2", "edge")
    provider_node(plane, "n3", "core")
    out = create(plane, critical=True, deploymentConfiguration={"drainPercent": 50.0},
                 tags=[{"key": "team", "value": "obs"}])
    assert out["daemonArn"] == "arn:aws:ecs:local:000000000000:daemon/default/agent"
    assert out["status"] == "ACTIVE" and out["deploymentArn"]
    svc = plane.service("agent")
    assert svc.scheduling_strategy == "DAEMON" and svc.daemon_critical
    assert svc.deployment_configuration.minimum_healthy_percent == 50
    assert [(t.key, t.value) for t in svc.tags] == [("team", "obs")]
    assert daemons.providers_of(svc) == ["edge"]
    ctl = ServiceController(plane.writer, plane.api.arns)
    ctl.reconcile(plane.view())
    place_and_run(plane)
    ctl.reconcile(plane.view())
    running = sorted(t.node_id for t in plane.tasks().values() if t.service_name == "agent")
    assert running == ["n1", "n2"]  # one per node of the edge provider, none on core

    described = call(plane, "DescribeDaemon", {"daemonArn": out["daemonArn"]})["daemon"]
    (rev,) = described["currentRevisions"]
    assert rev["totalRunningCount"] == 2 and rev["totalWithoutDaemonCount"] == 0
    assert rev["capacityProviders"] == [{"arn": "edge", "runningCount": 2, "withoutDaemonCount": 0}]
    revision = call(plane, "DescribeDaemonRevisions", {"daemonRevisionArns": [rev["arn"]]})
    (one,) = revision["daemonRevisions"]
    assert one["daemonArn"] == out["daemonArn"] and one["containerImages"] == [
        {"containerName": "agent", "image": "busybox"}]
    listed = call(plane, "ListDaemons", {})["daemonSummariesList"]
    assert [d["daemonArn"] for d in listed] == [out["daemonArn"]]
    assert call(plane, "ListDaemons", {"capacityProviderArns": ["core"]})["daemonSummariesList"] == []


def test_update_daemon_rolls_a_new_revision_and_deployments_show_it(plane: Plane) -> None:
    provider_node(plane, "n1", "edge")
    out = create(plane)
    ctl = ServiceController(plane.writer, plane.api.arns)
    ctl.reconcile(plane.view())
    place_and_run(plane)
    ctl.reconcile(plane.view())
    td2 = register(plane, {**AGENT, "containerDefinitions": [{**AGENT["containerDefinitions"][0],
                                                              "image": "busybox:2"}]})
    upd = call(plane, "UpdateDaemon", {"daemonArn": out["daemonArn"], "daemonTaskDefinitionArn": td2,
                                       "capacityProviderArns": ["edge", "core"], "critical": True})
    assert upd["deploymentArn"] != out["deploymentArn"]
    svc = plane.service("agent")
    assert svc.task_definition == td2 and svc.daemon_critical and daemons.providers_of(svc) == ["core", "edge"]
    assert len([c for c in svc.placement_constraints if c.type == "memberOf"]) == 1  # replaced, not added
    listed = call(plane, "ListDaemonDeployments", {"daemonArn": out["daemonArn"]})["daemonDeployments"]
    assert [d["daemonDeploymentArn"] for d in listed] == [upd["deploymentArn"], out["deploymentArn"]]
    assert all(d["daemonArn"] == out["daemonArn"] for d in listed)
    (dep,) = call(plane, "DescribeDaemonDeployments",
                  {"daemonDeploymentArns": [upd["deploymentArn"]]})["daemonDeployments"]
    assert dep["sourceDaemonRevisions"] and dep["targetDaemonRevision"]["arn"]
    missing = call(plane, "DescribeDaemonDeployments", {"daemonDeploymentArns": ["arn:nope"]})
    assert missing["failures"][0]["reason"] == "MISSING"


def test_delete_daemon_drains_it_and_a_second_delete_is_refused(plane: Plane) -> None:
    provider_node(plane, "n1", "edge")
    out = create(plane)
    gone = call(plane, "DeleteDaemon", {"daemonArn": out["daemonArn"]})
    assert gone["status"] == "DELETE_IN_PROGRESS" and plane.service("agent").status == "DRAINING"
    refused(plane, "DeleteDaemon", {"daemonArn": out["daemonArn"]}, "DaemonNotActiveException")
    refused(plane, "DescribeDaemon", {"daemonArn": out["daemonArn"].replace("agent", "other")},
            "DaemonNotFoundException")


def test_a_replica_service_is_no_daemon(plane: Plane) -> None:
    plane.register({"family": "web", "containerDefinitions": [{"name": "w", "image": "busybox", "memory": 64}]})
    actions.create_service(plane.api, {"serviceName": "web", "taskDefinition": "web:1", "desiredCount": 1})
    refused(plane, "DescribeDaemon", {"daemonArn": "arn:aws:ecs:local:000000000000:daemon/default/web"},
            "DaemonNotFoundException")
    svc = plane.service("web")
    dep, rev = svc.service_deployments[0].service_deployment_arn, svc.service_revisions[0].service_revision_arn
    assert call(plane, "DescribeDaemonDeployments", {"daemonDeploymentArns": [dep]}) == {
        "daemonDeployments": [], "failures": [{"arn": dep, "reason": "MISSING"}]}
    assert call(plane, "DescribeDaemonRevisions", {"daemonRevisionArns": [rev]}) == {
        "daemonRevisions": [], "failures": [{"arn": rev, "reason": "MISSING"}]}
    assert call(plane, "ListDaemons", {})["daemonSummariesList"] == []


# ---- daemon task definitions --------------------------------------------------------------------


def test_daemon_task_definitions_register_describe_list_and_delete(plane: Plane) -> None:
    arn = register(plane)
    plane.register({"family": "plain", "containerDefinitions": [{"name": "p", "image": "busybox", "memory": 64}]})
    td = call(plane, "DescribeDaemonTaskDefinition", {"daemonTaskDefinition": arn})["daemonTaskDefinition"]
    assert td["daemonTaskDefinitionArn"] == arn and td["family"] == "agent" and td["status"] == "ACTIVE"
    assert td["containerDefinitions"][0]["command"] == ["sleep", "3600"]
    listed = call(plane, "ListDaemonTaskDefinitions", {})["daemonTaskDefinitions"]
    assert [d["arn"] for d in listed] == [arn]  # the plain task definition is no daemon's
    assert "RegisterDaemonTaskDefinition" in refused(plane, "DescribeDaemonTaskDefinition",
                                                     {"daemonTaskDefinition": "plain:1"})
    # In use by a daemon: refused, and still ACTIVE (nothing half done).
    provider_node(plane, "n1", "edge")
    call(plane, "CreateDaemon", {"daemonName": "agent", "daemonTaskDefinitionArn": arn,
                                 "capacityProviderArns": ["edge"]})
    assert "still used by service agent" in refused(plane, "DeleteDaemonTaskDefinition",
                                                    {"daemonTaskDefinition": arn}, "ClientException")
    assert call(plane, "DescribeDaemonTaskDefinition", {"daemonTaskDefinition": arn})[
        "daemonTaskDefinition"]["status"] == "ACTIVE"
    arn2 = register(plane)
    assert call(plane, "DeleteDaemonTaskDefinition", {"daemonTaskDefinition": arn2}) == {
        "daemonTaskDefinitionArn": arn2}
    everything = call(plane, "ListDaemonTaskDefinitions", {"status": "ALL", "sort": "DESC"})
    assert [(d["arn"], d["status"]) for d in everything["daemonTaskDefinitions"]] == [
        (arn2, "DELETE_IN_PROGRESS"), (arn, "ACTIVE")]
    last = call(plane, "ListDaemonTaskDefinitions", {"revision": "LAST_REGISTERED", "status": "ALL"})
    assert [d["arn"] for d in last["daemonTaskDefinitions"]] == [arn2]


def test_create_daemon_refuses_a_plain_task_definition(plane: Plane) -> None:
    plane.register(AGENT)
    message = refused(plane, "CreateDaemon", {"daemonName": "agent", "daemonTaskDefinitionArn": "agent:1",
                                              "capacityProviderArns": ["edge"]})
    assert message.startswith("daemonTaskDefinitionArn:") and "RegisterDaemonTaskDefinition" in message
    assert plane.store.get(keys.service("default", "agent")) is None


# ---- what Shoal cannot act on is refused by name ---------------------------------------------------


@pytest.mark.parametrize(("extra", "field"), [
    ({"propagateTags": "DAEMON"}, "propagateTags"),
    ({"enableECSManagedTags": True}, "enableECSManagedTags"),
    ({"deploymentConfiguration": {"alarms": {"alarmNames": ["cpu"], "enable": True}}},
     "deploymentConfiguration.alarms"),
    ({"deploymentConfiguration": {"bakeTimeInMinutes": 5}}, "deploymentConfiguration.bakeTimeInMinutes"),
    ({"deploymentConfiguration": {"drainPercent": 150}}, "deploymentConfiguration.drainPercent"),
    ({"deploymentConfiguration": {"rollback": True}}, "deploymentConfiguration.rollback"),
    ({"capacityProviderArns": []}, "capacityProviderArns"),
    ({"capacityProviderArns": ["no such/one ]"]}, "capacityProviderArns"),
    ({"desiredCount": 3}, "desiredCount"),
])
def test_create_daemon_refuses_what_shoal_cannot_act_on(plane: Plane, extra: dict, field: str) -> None:
    td = register(plane)
    body = {"daemonName": "agent", "daemonTaskDefinitionArn": td, "capacityProviderArns": ["edge"], **extra}
    assert refused(plane, "CreateDaemon", body).startswith(field + ":")
    assert plane.store.get(keys.service("default", "agent")) is None


@pytest.mark.parametrize(("doc", "field"), [
    ({**AGENT, "networkMode": "bridge"}, "networkMode"),
    ({**AGENT, "containerDefinitions": [{**AGENT["containerDefinitions"][0], "portMappings": [
        {"containerPort": 80}]}]}, "containerDefinitions[0].portMappings"),
    ({**AGENT, "pidMode": "task"}, "pidMode"),
    ({"family": "agent"}, "containerDefinitions"),
])
def test_register_daemon_task_definition_refuses_members_daemons_lack(plane: Plane, doc: dict, field: str) -> None:
    assert refused(plane, "RegisterDaemonTaskDefinition", doc).startswith(field + ":")
    assert plane.api.state.taskdef_revisions("agent") == []


def test_update_daemon_refuses_without_writing(plane: Plane) -> None:
    provider_node(plane, "n1", "edge")
    out = create(plane)
    before = plane.service("agent").SerializeToString()
    td = plane.service("agent").task_definition
    refused(plane, "UpdateDaemon", {"daemonArn": out["daemonArn"], "daemonTaskDefinitionArn": td,
                                    "capacityProviderArns": ["edge"], "propagateTags": "DAEMON"})
    refused(plane, "UpdateDaemon", {"daemonArn": "arn:aws:ecs:local:0:service/default/agent",
                                    "daemonTaskDefinitionArn": td, "capacityProviderArns": ["edge"]})
    assert plane.service("agent").SerializeToString() == before


# ---- who may call them ------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", sorted(daemons.ACTIONS))
def test_each_daemon_operation_is_judged_as_its_service_or_task_definition_work(operation: str) -> None:
    viewer = Identity("viewer", "vic")
    reads = operation.startswith(("Describe", "List"))
    if reads:
        authorize(operation, viewer, "AKVIEW")  # a viewer reads daemons as it reads services
    else:
        with pytest.raises(EcsError) as e:
            authorize(operation, viewer, "AKVIEW")
        assert e.value.ecs_type == "AccessDeniedException" and operation in e.value.message
    authorize(operation, Identity("admin", "alice"), "AKADMIN")


def test_a_retried_create_daemon_is_refused_not_doubled(plane: Plane) -> None:
    provider_node(plane, "n1", "edge")
    out = create(plane, clientToken="t-1")
    td = plane.service("agent").task_definition
    message = refused(plane, "CreateDaemon", {"daemonName": "agent", "daemonTaskDefinitionArn": td,
                                              "capacityProviderArns": ["edge"], "clientToken": "t-1"})
    assert message.startswith("daemonName: service 'agent' already exists")
    assert [d["daemonArn"] for d in call(plane, "ListDaemons", {})["daemonSummariesList"]] == [out["daemonArn"]]
