"""The ECS gateway in-process on an in-memory store, driven by boto3: error mapping to the
SDK's typed exceptions, operations that need no controllers, and every response checked
against botocore's model (the controllers' side is in tests/integration/test_ecs_gateway.py)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import grpc
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError
from google.protobuf import json_format

from controlplane import revocations
from controlplane.api import accesskeys
from controlplane.api.context import ApiContext
from controlplane.ecs.config import add_flags, start
from controlplane.ecs.errors import to_ecs_error
from controlplane.ecs.server import EcsGateway
from controlplane.errors import ApiError, not_found
from shoal import keys
from shoal.netutil import free_port
from shoal.security import ca as ca_mod
from shoal.store.base import StoreError
from shoal.store.memory import MemoryStore
from shoal.taskdef.policy import HostPolicy
from shoal.v1 import accesskeys_pb2 as ak
from shoal.validation import ValidationError
from tests.ecs_model import check_output, validate_every_response
from tests.tls_gateway import tls_gateway

WEB = {
    "family": "web",
    "containerDefinitions": [{"name": "web", "image": "shoal/busybox:latest", "memory": 64, "cpu": 128,
                              "portMappings": [{"containerPort": 8080}], "essential": True}],
    "tags": [{"key": "team", "value": "a"}],
}

RICH = {
    "family": "rich",
    "cpu": "0.5 vCPU",
    "memory": "256",
    "networkMode": "bridge",
    "volumes": [{"name": "data", "host": {"sourcePath": "/srv/data"}},
                {"name": "scratch", "dockerVolumeConfiguration": {"scope": "task", "driver": "local",
                                                                  "labels": {"a": "b"}}}],
    "containerDefinitions": [
        {"name": "app", "image": "shoal/busybox:latest", "memoryReservation": 64, "essential": True,
         "environment": [{"name": "A", "value": "1"}], "secrets": [{"name": "S", "valueFrom": "arn:x"}],
         "healthCheck": {"command": ["CMD-SHELL", "true"], "interval": 10, "timeout": 5, "retries": 3},
         "dependsOn": [{"containerName": "init", "condition": "SUCCESS"}],
         "mountPoints": [{"sourceVolume": "data", "containerPath": "/data", "readOnly": True}],
         "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 2048}],
         "dockerLabels": {"team": "a"}, "stopTimeout": 10,
         "linuxParameters": {"initProcessEnabled": True},
         "restartPolicy": {"enabled": True, "ignoredExitCodes": [0], "restartAttemptPeriod": 60}},
        {"name": "init", "image": "shoal/busybox:latest", "memory": 32, "essential": False,
         "command": ["true"], "volumesFrom": [{"sourceContainer": "app"}]},
    ],
    "placementConstraints": [{"type": "memberOf", "expression": "attribute:ecs.os-type == linux"}],
    "requiresCompatibilities": ["EC2"],
    "pidMode": "host",
}


ADMIN = {"user": "alice", "role": "admin"}


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[tuple[ApiContext, EcsGateway]]:
    store = MemoryStore()
    # Everything allowed, so that every task definition member can be registered and echoed.
    ctx = ApiContext(store, policy=HostPolicy(privileged=True, host_network=True, capabilities=True, ulimits=True,
                                                 host_volume_prefixes=("/srv",)))
    ctx.ensure_default_cluster()
    try:
        with tls_gateway(ctx, tmp_path) as gw:
            yield ctx, gw
    finally:
        store.close()


def ecs_client(gw: EcsGateway, key: str, secret: str):
    return boto3.client(
        "ecs", endpoint_url=gw.url, region_name="us-east-1", verify=gw.ca_path,  # type: ignore[attr-defined]
        aws_access_key_id=key, aws_secret_access_key=secret,
        # Standard retries, as users run the SDK: an identical write within the same second is
        # refused as a replay and retried, signed anew.
        config=Config(retries={"max_attempts": 6, "mode": "standard"}),
    )


@pytest.fixture
def ecs(gateway):
    ctx, gw = gateway
    key = accesskeys.create(ctx, ak.CreateAccessKeyRequest(description="unit", **ADMIN))
    client = ecs_client(gw, key.access_key_id, key.secret_access_key)
    client.seen = validate_every_response(client)
    return client


def test_error_mapping() -> None:
    err = to_ecs_error(not_found("cluster: nope", "ClusterNotFoundException"), "DescribeServices")
    assert (err.status, err.body()) == (400, {"__type": "ClusterNotFoundException", "message": "cluster: nope"})
    err = to_ecs_error(ApiError(grpc.StatusCode.NOT_FOUND, "x"), "Op")
    assert err.ecs_type == "ClientException"
    err = to_ecs_error(ValidationError("containerDefinitions[0].image", "required"), "RegisterTaskDefinition")
    assert (err.ecs_type, err.message) == ("InvalidParameterException", "containerDefinitions[0].image: required")
    err = to_ecs_error(json_format.ParseError("Failed to parse desiredCount field"), "CreateService")
    assert err.ecs_type == "InvalidParameterException" and "desiredCount" in err.message
    assert to_ecs_error(StoreError("etcd down"), "ListClusters").status == 500
    bug = to_ecs_error(KeyError("secret internals"), "ListClusters")
    assert (bug.status, bug.ecs_type) == (500, "ServerException") and "secret internals" not in bug.message


def test_clusters_and_paging(ecs) -> None:
    for name in ("c1", "c2", "c3"):
        assert ecs.create_cluster(clusterName=name)["cluster"]["status"] == "ACTIVE"
    first = ecs.list_clusters(maxResults=2)
    rest = ecs.list_clusters(maxResults=2, nextToken=first["nextToken"])
    assert len(first["clusterArns"]) == 2 and "nextToken" not in rest
    assert len(first["clusterArns"] + rest["clusterArns"]) == 4
    arn = first["clusterArns"][0]
    resp = ecs.describe_clusters(clusters=[arn, "c2", "missing"])
    assert [c["clusterName"] for c in resp["clusters"]] == ["c1", "c2"]
    assert resp["failures"][0]["reason"] == "MISSING"
    assert ecs.delete_cluster(cluster="c3")["cluster"]["status"] == "INACTIVE"
    with pytest.raises(ecs.exceptions.ClusterNotFoundException):
        ecs.delete_cluster(cluster="c3")


def test_task_definitions_tags_and_tasks(ecs) -> None:
    td = ecs.register_task_definition(**WEB)
    assert td["taskDefinition"]["revision"] == 1 and td["tags"] == [{"key": "team", "value": "a"}]
    arn = td["taskDefinition"]["taskDefinitionArn"]
    described = ecs.describe_task_definition(taskDefinition="web", include=["TAGS"])
    assert described["tags"] == [{"key": "team", "value": "a"}]
    assert "tags" not in ecs.describe_task_definition(taskDefinition="web:1")
    assert ecs.list_task_definitions(familyPrefix="we")["taskDefinitionArns"] == [arn]
    assert ecs.list_task_definition_families()["families"] == ["web"]

    ecs.tag_resource(resourceArn=arn, tags=[{"key": "team", "value": "b"}, {"key": "env", "value": "dev"}])
    ecs.untag_resource(resourceArn=arn, tagKeys=["env"])
    assert ecs.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "team", "value": "b"}]

    # No nodes: the tasks wait in PROVISIONING, which is still a well-formed answer.
    run = ecs.run_task(taskDefinition="web", count=2, startedBy="unit", tags=[{"key": "k", "value": "v"}])
    task_arns = [t["taskArn"] for t in run["tasks"]]
    assert len(task_arns) == 2 and all(t["lastStatus"] == "PROVISIONING" for t in run["tasks"])
    assert sorted(ecs.list_tasks(startedBy="unit")["taskArns"]) == sorted(task_arns)
    resp = ecs.describe_tasks(tasks=[task_arns[0], "nope"], include=["TAGS"])
    assert resp["tasks"][0]["tags"] == [{"key": "k", "value": "v"}]
    assert resp["failures"] == [{"arn": "nope", "reason": "MISSING"}]
    assert ecs.stop_task(task=task_arns[0], reason="done")["task"]["desiredStatus"] == "STOPPED"
    assert ecs.start_task(taskDefinition="web", containerInstances=["nope"])["failures"][0]["reason"] == "MISSING"

    assert ecs.deregister_task_definition(taskDefinition="web:1")["taskDefinition"]["status"] == "INACTIVE"
    assert set(ecs.seen) >= {"RegisterTaskDefinition", "DescribeTaskDefinition", "RunTask", "DescribeTasks",
                             "TagResource", "ListTagsForResource", "StopTask", "StartTask"}


def test_every_task_definition_member_fits_the_model(ecs) -> None:
    td = ecs.register_task_definition(**RICH)["taskDefinition"]
    assert (td["cpu"], td["memory"]) == ("512", "256")
    assert td["containerDefinitions"][0]["healthCheck"]["retries"] == 3
    assert "DescribeTaskDefinition" not in ecs.seen and "RegisterTaskDefinition" in ecs.seen
    ecs.describe_task_definition(taskDefinition="rich:1")


def test_bad_requests_raise_the_sdks_typed_exceptions(ecs) -> None:
    with pytest.raises(ecs.exceptions.ClusterNotFoundException):
        ecs.list_services(cluster="nope")
    with pytest.raises(ecs.exceptions.ServiceNotFoundException):
        ecs.update_service(service="nope", desiredCount=1)
    with pytest.raises(ecs.exceptions.ClientException):
        ecs.describe_task_definition(taskDefinition="nope")
    with pytest.raises(ecs.exceptions.InvalidParameterException) as caught:
        ecs.register_task_definition(family="bad", containerDefinitions=[{"name": "x", "memory": 64}])
    assert "image" in caught.value.response["Error"]["Message"]
    ecs.register_task_definition(**WEB)
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.create_service(serviceName="s", taskDefinition="web", desiredCount=1,
                           placementStrategy=[{"type": "binpack", "field": "nonsense"}])
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.run_task(taskDefinition="web", launchType="FARGATE")
    with pytest.raises(ecs.exceptions.ResourceNotFoundException):
        ecs.list_tags_for_resource(resourceArn="arn:aws:ecs:local:000000000000:task/default/nope")


@pytest.mark.parametrize("kw, field", [
    (dict(startedBy="x" * 129), "startedBy"),
    (dict(startedBy="ops\x00"), "startedBy"),
    (dict(group="g\x00"), "group"),
    (dict(tags=[{"key": f"k{i}", "value": "v"} for i in range(51)]), "tags: at most 50"),
    (dict(tags=[{"key": "k" * 129, "value": "v"}]), "tags[0].key"),
    (dict(tags=[{"key": "k\x00", "value": "v"}]), "tags[0].key"),
    (dict(tags=[{"key": "k", "value": "v\n"}]), "tags[0].value"),
])
def test_run_task_refuses_an_oversized_or_control_character_field(ecs, kw, field) -> None:
    """Each task of a RunTask keeps these: a 1 MiB startedBy times count tasks went to the store."""
    ecs.register_task_definition(**WEB)
    with pytest.raises(ecs.exceptions.InvalidParameterException) as caught:
        ecs.run_task(taskDefinition="web", count=10, **kw)
    assert field in caught.value.response["Error"]["Message"], caught.value.response["Error"]["Message"]
    assert ecs.list_tasks()["taskArns"] == []


def test_tags_with_a_control_character_are_refused_everywhere(ecs) -> None:
    with pytest.raises(ecs.exceptions.InvalidParameterException) as caught:
        ecs.create_cluster(clusterName="c1", tags=[{"key": "team\x00", "value": "a"}])
    assert "tags[0].key" in caught.value.response["Error"]["Message"]
    arn = ecs.create_cluster(clusterName="c2")["cluster"]["clusterArn"]
    with pytest.raises(ecs.exceptions.InvalidParameterException) as caught:
        ecs.tag_resource(resourceArn=arn, tags=[{"key": "team", "value": "a\x1b[31m"}])
    assert "tags[0].value" in caught.value.response["Error"]["Message"]


def test_service_responses_match_the_model(ecs) -> None:
    ecs.register_task_definition(**WEB)
    svc = ecs.create_service(serviceName="web", taskDefinition="web", desiredCount=2,
                             deploymentConfiguration={"maximumPercent": 150, "minimumHealthyPercent": 50,
                                                      "deploymentCircuitBreaker": {"enable": True,
                                                                                   "rollback": True}})["service"]
    assert (svc["desiredCount"], svc["runningCount"], len(svc["deployments"])) == (2, 0, 1)
    assert svc["deploymentConfiguration"]["maximumPercent"] == 150
    updated = ecs.update_service(service=svc["serviceArn"], desiredCount=0, placementConstraints=[])["service"]
    assert updated["desiredCount"] == 0
    assert ecs.describe_services(services=["web", "gone"])["failures"][0]["reason"] == "MISSING"
    assert ecs.list_services()["serviceArns"] == [svc["serviceArn"]]
    assert ecs.delete_service(service="web")["service"]["status"] == "DRAINING"


def test_a_daemon_service_through_boto3(ecs) -> None:
    ecs.register_task_definition(**WEB)
    for bad, field in (({"desiredCount": 0}, "desiredCount"),
                       ({"placementStrategy": [{"type": "binpack", "field": "memory"}]}, "placementStrategy")):
        with pytest.raises(ecs.exceptions.InvalidParameterException) as caught:
            ecs.create_service(serviceName="d", taskDefinition="web", schedulingStrategy="DAEMON", **bad)
        assert caught.value.response["Error"]["Message"].startswith(field)
    assert ecs.list_services()["serviceArns"] == []  # nothing half-made
    svc = ecs.create_service(serviceName="d", taskDefinition="web", schedulingStrategy="DAEMON")["service"]
    assert svc["schedulingStrategy"] == "DAEMON" and svc["desiredCount"] == 0 and not svc.get("placementStrategy")
    ecs.create_service(serviceName="r", taskDefinition="web", desiredCount=1)
    assert ecs.describe_services(services=["d"])["services"][0]["schedulingStrategy"] == "DAEMON"
    assert ecs.list_services(schedulingStrategy="DAEMON")["serviceArns"] == [svc["serviceArn"]]
    assert [a.rsplit("/", 1)[-1] for a in ecs.list_services(schedulingStrategy="REPLICA")["serviceArns"]] == ["r"]
    with pytest.raises(ecs.exceptions.InvalidParameterException) as caught:
        ecs.update_service(service="d", desiredCount=2)
    assert caught.value.response["Error"]["Message"].startswith("desiredCount")


def test_refused_requests(gateway) -> None:
    ctx, gw = gateway
    key = accesskeys.create(ctx, ak.CreateAccessKeyRequest(**ADMIN))
    with pytest.raises(ClientError) as caught:
        ecs_client(gw, key.access_key_id, "wrong").list_clusters()
    assert caught.value.response["Error"]["Code"] == "InvalidSignatureException"
    with pytest.raises(ClientError) as caught:
        ecs_client(gw, "AKSHZZZZZZZZZZZZZZZZ", "whatever").list_clusters()
    assert caught.value.response["Error"]["Code"] == "UnrecognizedClientException"
    accesskeys.delete(ctx, ak.DeleteAccessKeyRequest(access_key_id=key.access_key_id))
    with pytest.raises(ClientError) as caught:
        ecs_client(gw, key.access_key_id, key.secret_access_key).list_clusters()
    assert caught.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_access_keys_never_list_their_secrets(gateway) -> None:
    ctx, _ = gateway
    key = accesskeys.create(ctx, ak.CreateAccessKeyRequest(description="ci", **ADMIN))
    assert key.access_key_id.startswith("AKSH") and len(key.access_key_id) == 20 and len(key.secret_access_key) == 40
    listed = accesskeys.list_(ctx, ak.ListAccessKeysRequest()).access_keys
    assert [(k.access_key_id, k.secret_access_key, k.description, k.user, k.role) for k in listed] == [
        (key.access_key_id, "", "ci", "alice", "admin")]
    assert accesskeys.active(ctx, key.access_key_id).secret_access_key == key.secret_access_key
    with pytest.raises(ApiError):
        accesskeys.delete(ctx, ak.DeleteAccessKeyRequest(access_key_id="bogus"))


def test_checker_catches_shoal_only_fields() -> None:
    with pytest.raises(AssertionError, match="nodeId"):
        check_output("DescribeTasks", {"tasks": [{"taskArn": "a", "nodeId": "n"}], "failures": []})


def test_a_viewer_key_reads_but_cannot_write(gateway) -> None:
    ctx, gw = gateway
    key = accesskeys.create(ctx, ak.CreateAccessKeyRequest(user="vic", role="viewer"))
    viewer = ecs_client(gw, key.access_key_id, key.secret_access_key)
    assert viewer.list_clusters()["clusterArns"]
    assert viewer.describe_clusters(clusters=["default"])["clusters"][0]["clusterName"] == "default"
    writes = [lambda: viewer.create_cluster(clusterName="x"), lambda: viewer.delete_cluster(cluster="default"),
              lambda: viewer.register_task_definition(**WEB), lambda: viewer.run_task(taskDefinition="web"),
              lambda: viewer.start_task(taskDefinition="web", containerInstances=["n"]),
              lambda: viewer.tag_resource(resourceArn="arn:aws:ecs:local:000000000000:cluster/default",
                                          tags=[{"key": "a", "value": "b"}]),
              lambda: viewer.stop_service_deployment(
                  serviceDeploymentArn="arn:aws:ecs:local:000000000000:service-deployment/default/web/1"),
              lambda: viewer.continue_service_deployment(
                  serviceDeploymentArn="arn:aws:ecs:local:000000000000:service-deployment/default/web/1",
                  hookId="1-post_scale_up-0")]
    for write in writes:
        with pytest.raises(viewer.exceptions.AccessDeniedException) as caught:
            write()
        assert "shoal:viewer:vic" in caught.value.response["Error"]["Message"]
    assert ctx.store.get(keys.cluster("x")) is None
    # A service's deployment history is read as the service is.
    with pytest.raises(viewer.exceptions.ServiceNotFoundException):
        viewer.list_service_deployments(service="web")


def test_a_key_without_a_role_is_not_accepted(gateway) -> None:
    """Keys stored before keys carried a role would otherwise act as admin."""
    ctx, gw = gateway
    key = accesskeys.create(ctx, ak.CreateAccessKeyRequest(**ADMIN))
    legacy = ak.AccessKey()
    legacy.CopyFrom(key)
    legacy.ClearField("role")
    legacy.ClearField("user")
    stored = ctx.store.get(keys.accesskey(key.access_key_id))
    ctx.store.cas(stored.key, accesskeys._seal(legacy), stored.mod_revision)
    with pytest.raises(ClientError) as caught:
        ecs_client(gw, key.access_key_id, key.secret_access_key).list_clusters()
    assert caught.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_revoking_a_user_stops_the_keys_made_for_it_before_and_no_later_ones(gateway) -> None:
    """`shoal user revoke` is the way a user is shut out: a key made before it would otherwise
    keep that user's access, and after a role change (revoke, create) its old role."""
    ctx, gw = gateway
    before = accesskeys.create(ctx, ak.CreateAccessKeyRequest(**ADMIN))
    other = accesskeys.create(ctx, ak.CreateAccessKeyRequest(user="bob", role="admin"))
    cutoff = revocations.cutoff_after(time.time())
    tombstones = {"alice": cutoff}
    ctx.revoked_since = tombstones.get
    ctx.store.put(keys.revoked_user("alice"), revocations.record("alice", cutoff, "test"))
    with pytest.raises(ClientError) as caught:
        ecs_client(gw, before.access_key_id, before.secret_access_key).list_clusters()
    assert caught.value.response["Error"]["Code"] == "UnrecognizedClientException"
    assert accesskeys.active(ctx, before.access_key_id) is None
    assert ecs_client(gw, other.access_key_id, other.secret_access_key).list_clusters()["clusterArns"]
    # A key made after the revocation, even within its second, is dated at the tombstone and works.
    after = accesskeys.create(ctx, ak.CreateAccessKeyRequest(user="alice", role="viewer"))
    assert after.created_at >= cutoff
    assert ecs_client(gw, after.access_key_id, after.secret_access_key).list_clusters()["clusterArns"]


def test_flags_refuse_plaintext_unless_asked(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    add_flags(parser)
    ctx = ApiContext(MemoryStore())
    listen = f"127.0.0.1:{free_port()}"
    cases = {
        ("--ecs-listen", "nowhere", "--ecs-plaintext"): "--ecs-listen: 'nowhere' is not HOST:PORT",
        # An --insecure control plane has no CA to issue the certificate from.
        ("--ecs-listen", listen): "no cluster CA",
        ("--ecs-listen", listen, "--ecs-cert", "c.pem"): "--ecs-cert and --ecs-key go together",
        ("--ecs-listen", listen, "--ecs-cert", "c", "--ecs-key", "k", "--ecs-plaintext"): "contradict",
        ("--ecs-listen", listen, "--ecs-cert", "/nonexistent", "--ecs-key", "/nonexistent"): "cannot load",
        ("--ecs-listen", listen, "--ecs-workers", "0", "--ecs-plaintext"): "--ecs-workers",
    }
    for argv, said in cases.items():
        with pytest.raises(SystemExit, match=said):
            start(parser.parse_args(argv), ctx, None)
    assert start(parser.parse_args([]), ctx, None) is None
    # The operator's own certificate (here from a CA of its own) instead of the cluster CA's.
    authority = ca_mod.CertificateAuthority.create()
    key = ca_mod.new_key()
    (tmp_path / "own.crt").write_bytes(ca_mod.bundle_pem([authority.issue_server(key.public_key(), ["127.0.0.1"]),
                                                          authority.cert]))
    (tmp_path / "own.key").write_bytes(ca_mod.key_pem(key))
    (tmp_path / "own-ca.crt").write_bytes(ca_mod.cert_pem(authority.cert))
    own = start(parser.parse_args(["--ecs-listen", listen, "--ecs-cert", str(tmp_path / "own.crt"),
                                   "--ecs-key", str(tmp_path / "own.key")]), ctx, None)
    try:
        assert own is not None and own.url.startswith("https://")
        unsigned = requests.post(own.url, data="{}", verify=str(tmp_path / "own-ca.crt"), timeout=10)
        assert (unsigned.status_code, unsigned.json()["__type"]) == (403, "MissingAuthenticationTokenException")
    finally:
        own.close()
    gw = start(parser.parse_args(["--ecs-listen", listen, "--ecs-plaintext"]), ctx, None)
    try:
        assert gw is not None and gw.url.startswith("http://127.0.0.1:")
    finally:
        gw.close()


def test_start_returns_only_after_the_start_up_is_logged(caplog) -> None:
    # A line logged after start() returned lands outside the caller's output capture (a
    # test's setup phase, say) and is printed among the test run's dots.
    ctx = ApiContext(MemoryStore())
    for _ in range(5):  # the race it guards against lost about half the time
        caplog.clear()
        with caplog.at_level("INFO", logger="controlplane.ecs.server"):
            gw = EcsGateway("127.0.0.1", 0, ctx, None).start()
            said = [r.getMessage() for r in caplog.records]
        try:
            assert any(m.startswith("Running on http://") for m in said), said
        finally:
            gw.close()


def test_service_deployments_and_revisions_through_boto3(ecs) -> None:
    v1 = ecs.register_task_definition(**WEB)["taskDefinition"]["taskDefinitionArn"]
    v2 = ecs.register_task_definition(**{**WEB, "cpu": "256"})["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(serviceName="web", taskDefinition="web:1", desiredCount=1)
    ecs.update_service(service="web", taskDefinition="web:2")
    listed = ecs.list_service_deployments(service="web")["serviceDeployments"]
    # Newest first; no controller runs here, so the first never completed and was superseded.
    assert [d["status"] for d in listed] == ["IN_PROGRESS", "STOPPED"]
    assert ecs.list_service_deployments(service="web", status=["STOPPED"])["serviceDeployments"] == listed[1:]
    page = ecs.list_service_deployments(service="web", maxResults=1)
    assert page["serviceDeployments"] == listed[:1]
    assert ecs.list_service_deployments(service="web", nextToken=page["nextToken"])["serviceDeployments"] == \
        listed[1:]
    described = ecs.describe_service_deployments(
        serviceDeploymentArns=[listed[0]["serviceDeploymentArn"], listed[0]["serviceDeploymentArn"] + "7"])
    current = described["serviceDeployments"][0]
    assert described["failures"][0]["reason"] == "MISSING"
    assert current["targetServiceRevision"]["arn"] == listed[0]["targetServiceRevisionArn"]
    assert current["deploymentConfiguration"]["maximumPercent"] == 200
    revs = ecs.describe_service_revisions(serviceRevisionArns=[
        current["targetServiceRevision"]["arn"], current["sourceServiceRevisions"][0]["arn"]])["serviceRevisions"]
    assert [v["taskDefinition"] for v in revs] == [v2, v1]
    # Nothing completed yet: there is no revision to roll back to, and nothing changes.
    with pytest.raises(ecs.exceptions.ConflictException) as caught:
        ecs.stop_service_deployment(serviceDeploymentArn=current["serviceDeploymentArn"], stopType="ROLLBACK")
    assert "serviceDeploymentArn" in caught.value.response["Error"]["Message"]
    with pytest.raises(ecs.exceptions.InvalidParameterException) as caught:
        ecs.stop_service_deployment(serviceDeploymentArn=current["serviceDeploymentArn"], stopType="ABORT")
    assert caught.value.response["Error"]["Message"].startswith("stopType")
    with pytest.raises(ecs.exceptions.ServiceDeploymentNotFoundException):
        ecs.stop_service_deployment(serviceDeploymentArn=current["serviceDeploymentArn"] + "0")
    with pytest.raises(ecs.exceptions.ServiceNotFoundException):
        ecs.list_service_deployments(service="nope")
    with pytest.raises(ecs.exceptions.InvalidParameterException) as caught:
        ecs.list_service_deployments(service="web", status=["DONE"])
    assert caught.value.response["Error"]["Message"].startswith("status")
    assert ecs.describe_services(services=["web"])["services"][0]["taskDefinition"] == v2
    assert {"ListServiceDeployments", "DescribeServiceDeployments", "DescribeServiceRevisions"} <= set(ecs.seen)
