"""Roles and task role credentials in-process on an in-memory store: the roles API refuses
bad documents naming the field, a task's credentials are minted only for its own node, stop
working when the task stops or they expire, and the ECS gateway (driven by boto3 with the
session key and token) allows what the role allows and refuses the rest in IAM's words."""

from __future__ import annotations

import gc
import json
import sys
import time

import boto3
import grpc
import pytest
from botocore.exceptions import ClientError
from grpc import _common as grpc_common

from controlplane.api import execution_roles, roles, task_credentials
from controlplane.api.context import ApiContext
from controlplane.errors import ApiError
from controlplane.known_actions import known_actions
from controlplane.server import main as controlplane_main
from shoal import keys
from shoal.security.ca import Identity
from shoal.store.memory import MemoryStore
from shoal.v1 import resources_pb2 as r
from shoal.v1 import roles_pb2 as ro
from tests.unit.test_ecs_api import ecs_client, gateway  # noqa: F401  (the gateway fixture)

READER = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["ecs:List*", "ecs:Describe*"], "Resource": "*"},
    {"Effect": "Deny", "Action": "ecs:ListTasks", "Resource": "arn:aws:ecs:*:*:cluster/default"},
]})
NODE = Identity("node", "n1")


def put_task(ctx: ApiContext, task_id: str = "t1", node: str = "n1", role: str = "reader",
             desired: str = "RUNNING") -> None:
    task = r.Task(id=task_id, cluster="default", node_id=node, desired_status=desired, last_status="RUNNING")
    ctx.store.put(keys.task("default", task_id), task.SerializeToString())
    td = r.TaskDefinition(family="app", revision=1, task_role_arn=roles.role_arn(ctx, role) if role else "")
    assignment = r.TaskAssignment(task=task, task_definition=td)
    ctx.store.put(keys.assignment(node, task_id), assignment.SerializeToString())


def make_role(ctx: ApiContext, name: str = "reader", doc: str = READER) -> ro.Role:
    return roles.create(ctx, ro.CreateRoleRequest(name=name, policy_document=doc), known_actions())


@pytest.fixture
def ctx() -> ApiContext:
    c = ApiContext(MemoryStore())
    c.ensure_default_cluster()
    return c


def test_roles_are_created_read_by_name_or_arn_listed_and_deleted(ctx: ApiContext) -> None:
    role = make_role(ctx)
    assert role.arn == "arn:aws:iam::000000000000:role/reader"
    assert roles.require(ctx, role.arn).policy_document == READER
    assert roles.require(ctx, "reader").name == "reader"
    assert [x.name for x in roles.list_(ctx).roles] == ["reader"]
    with pytest.raises(ApiError) as dup:
        make_role(ctx)
    assert dup.value.code == grpc.StatusCode.ALREADY_EXISTS
    roles.delete(ctx, "reader")
    assert roles.list_(ctx).roles == []
    with pytest.raises(ApiError) as gone:
        roles.require(ctx, "reader")
    assert gone.value.code == grpc.StatusCode.NOT_FOUND


def test_a_bad_policy_or_name_is_refused_naming_the_field_and_nothing_is_stored(ctx: ApiContext) -> None:
    bad = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecs:Nope",
                                                              "Resource": "*"}]})
    with pytest.raises(ApiError) as err:
        make_role(ctx, doc=bad)
    assert err.value.ecs_type == "MalformedPolicyDocument"
    assert "Statement[0].Action[0]" in err.value.message
    with pytest.raises(ApiError, match="roleName"):
        make_role(ctx, name="no spaces")
    assert roles.list_(ctx).roles == []


def test_credentials_are_minted_only_for_the_node_the_task_is_assigned_to(ctx: ApiContext) -> None:
    make_role(ctx)
    put_task(ctx)
    creds = task_credentials.mint(ctx, NODE, "default", "t1", 60)
    assert creds.access_key_id.startswith("ASSH") and creds.role_arn.endswith("role/reader")
    assert creds.expiration > time.time() + 50
    live = task_credentials.active(ctx, creds.access_key_id)
    assert live is not None and live.task_id == "t1" and live.session_token == creds.session_token
    with pytest.raises(ApiError) as other:
        task_credentials.mint(ctx, Identity("node", "n2"), "default", "t1", 60)
    assert other.value.code == grpc.StatusCode.PERMISSION_DENIED


def test_a_task_without_a_role_or_a_role_that_is_gone_gets_nothing(ctx: ApiContext) -> None:
    put_task(ctx, "t1", role="")
    with pytest.raises(ApiError, match="names no taskRoleArn"):
        task_credentials.mint(ctx, NODE, "default", "t1", 60)
    put_task(ctx, "t2", role="missing")
    with pytest.raises(ApiError) as err:
        task_credentials.mint(ctx, NODE, "default", "t2", 60)
    assert err.value.code == grpc.StatusCode.NOT_FOUND


def test_credentials_die_with_their_task_and_at_their_expiry_and_are_swept(ctx: ApiContext) -> None:
    make_role(ctx)
    put_task(ctx)
    creds = task_credentials.mint(ctx, NODE, "default", "t1", 60)
    assert task_credentials.active(ctx, creds.access_key_id, now=creds.expiration + 1) is None
    assert task_credentials.sweep(ctx, creds.expiration + 1) == 1
    assert task_credentials.active(ctx, creds.access_key_id) is None
    creds = task_credentials.mint(ctx, NODE, "default", "t1", 60)
    put_task(ctx, desired="STOPPED")
    assert task_credentials.active(ctx, creds.access_key_id) is None
    with pytest.raises(ApiError, match="being stopped"):
        task_credentials.mint(ctx, NODE, "default", "t1", 60)


def test_the_gateway_judges_a_task_key_by_its_role(gateway) -> None:  # noqa: F811
    ctx, gw = gateway
    make_role(ctx)
    put_task(ctx)
    creds = task_credentials.mint(ctx, NODE, "default", "t1", 60)
    client = boto3.client("ecs", endpoint_url=gw.url, region_name="us-east-1", verify=gw.ca_path,
                          aws_access_key_id=creds.access_key_id, aws_secret_access_key=creds.secret_access_key,
                          aws_session_token=creds.session_token)
    assert client.list_services(cluster="default")["serviceArns"] == []
    assert client.describe_clusters(clusters=["default"])["clusters"][0]["clusterName"] == "default"
    for call in (lambda: client.create_cluster(clusterName="x"),
                 lambda: client.list_tasks(cluster="default")):  # the explicit Deny
        with pytest.raises(ClientError) as denied:
            call()
        assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
        assert "assumed-role/reader/t1 is not authorized to perform: ecs:" in denied.value.response["Error"]["Message"]
    # Without its session token the key is unknown; once the task stops, so is the key.
    bare = ecs_client(gw, creds.access_key_id, creds.secret_access_key)
    with pytest.raises(ClientError) as err:
        bare.list_services(cluster="default")
    assert err.value.response["Error"]["Code"] == "UnrecognizedClientException"
    roles.delete(ctx, "reader")
    with pytest.raises(ClientError) as err:
        client.list_services(cluster="default")
    assert "its role no longer exists" in err.value.response["Error"]["Message"]
    make_role(ctx)
    put_task(ctx, desired="STOPPED")
    with pytest.raises(ClientError) as err:
        client.list_services(cluster="default")
    assert err.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_an_execution_role_bounds_the_secrets_and_pulls_the_agent_asks_for(ctx: ApiContext) -> None:
    make_role(ctx, "exec", json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "shoal:GetSecret", "Resource": "arn:aws:shoal:*:*:secret:app/*"},
        {"Effect": "Allow", "Action": "ecr:BatchGetImage", "Resource": "arn:aws:ecr:*:*:repository/team/*"},
    ]}))
    td = r.TaskDefinition(family="app", revision=3, execution_role_arn=roles.role_arn(ctx, "exec"))
    c = td.container_definitions.add(name="app", image="busybox")
    c.secrets.add(name="DB", value_from="app/db")
    execution_roles.check_secrets(ctx, td)
    execution_roles.check(ctx, td, execution_roles.PULL, execution_roles.repository_arn(ctx, "team/web"), "image")
    c.secrets.add(name="ADMIN", value_from="ops/root")
    with pytest.raises(ApiError) as err:
        execution_roles.check_secrets(ctx, td)
    assert err.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert err.value.message.startswith("containerDefinitions[0].secrets[1].valueFrom: execution role 'exec' "
                                        "does not allow shoal:GetSecret on arn:aws:shoal:local:000000000000:secret:"
                                        "ops/root")
    with pytest.raises(ApiError, match=r"^image: .*ecr:BatchGetImage"):
        execution_roles.check(ctx, td, execution_roles.PULL, execution_roles.repository_arn(ctx, "other/x"), "image")
    # No execution role: nothing bounded. A role that does not exist: everything refused, saying so.
    execution_roles.check_secrets(ctx, r.TaskDefinition(container_definitions=td.container_definitions))
    gone = r.TaskDefinition(execution_role_arn="ecsTaskExecutionRole", container_definitions=td.container_definitions)
    with pytest.raises(ApiError, match="^executionRoleArn: no role 'ecsTaskExecutionRole'"):
        execution_roles.check_secrets(ctx, gone)


def test_the_elbv2_endpoint_judges_a_task_key_by_its_role_too(gateway) -> None:  # noqa: F811
    ctx, gw = gateway
    make_role(ctx, "lb-reader", json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "elasticloadbalancing:Describe*", "Resource": "*"}]}))
    put_task(ctx, role="lb-reader")
    creds = task_credentials.mint(ctx, NODE, "default", "t1", 60)
    elb = boto3.client("elbv2", endpoint_url=gw.url, region_name="us-east-1", verify=gw.ca_path,
                       aws_access_key_id=creds.access_key_id, aws_secret_access_key=creds.secret_access_key,
                       aws_session_token=creds.session_token)
    assert elb.describe_load_balancers()["LoadBalancers"] == []
    with pytest.raises(ClientError) as denied:
        elb.create_load_balancer(Name="web", Type="network")
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    assert "elasticloadbalancing:CreateLoadBalancer" in denied.value.response["Error"]["Message"]


@pytest.mark.usefixtures("root_logging_kept")
@pytest.mark.parametrize("ttl", ["1", "43201"])
def test_a_credentials_lifetime_out_of_range_stops_the_control_plane_at_start(ttl: str) -> None:
    # main() tunes the whole process (switch interval, collector, gRPC's idle wait); refused
    # arguments must leave this test session's interpreter as it was.
    before = (sys.getswitchinterval(), gc.get_threshold(), grpc_common.MAXIMUM_WAIT_TIMEOUT)
    with pytest.raises(SystemExit, match="--task-credentials-ttl must be 2-43200 seconds"):
        controlplane_main(["--task-credentials-ttl", ttl])
    assert (sys.getswitchinterval(), gc.get_threshold(), grpc_common.MAXIMUM_WAIT_TIMEOUT) == before
