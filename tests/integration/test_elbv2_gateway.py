"""ELBv2's Query protocol on the ECS gateway of a real control plane process on a real
etcd, over HTTPS with a certificate from the cluster CA, driven by boto3's ``elbv2`` client
and the aws CLI with an access key Shoal issued; scripted agents report the tasks RUNNING.
The walk a user's script makes (load balancer, target group, listener, rule; describe;
deregistration delay; an ECS service attached with ``loadBalancers``; its tasks as the
target group's targets; deletes), bad input answered with ELBv2's codes naming the field,
and a viewer's key. Every response is checked against botocore's elbv2 model."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from shoal.netutil import free_port
from shoal.v1 import accesskeys_pb2 as ak
from tests.ecs_model import validate_every_response as validate_ecs
from tests.elbv2_model import validate_every_response
from tests.integration.test_ecs_gateway import WEB, Plane, aws
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def cp(tmp_path: Path) -> Iterator[Plane]:
    """etcd and a control plane with the gateway on (tests/integration/test_ecs_gateway.py)."""
    p = Plane(tmp_path)
    try:
        yield p
    finally:
        p.stop()


def elbv2_client(plane: Plane, key: ak.AccessKey):
    c = boto3.client("elbv2", endpoint_url=plane.ecs_url, region_name="us-east-1", verify=plane.ca,
                     aws_access_key_id=key.access_key_id, aws_secret_access_key=key.secret_access_key,
                     config=Config(retries={"max_attempts": 6, "mode": "standard"}))
    c.seen = validate_every_response(c)
    return c


def aws_elbv2(plane: Plane, key: ak.AccessKey, *args: str, path: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": key.access_key_id, "AWS_SECRET_ACCESS_KEY": key.secret_access_key,
           "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    env.pop("AWS_PROFILE", None)
    return subprocess.run(["aws", "elbv2", "--endpoint-url", plane.ecs_url.rstrip("/") + path, "--region", "us-east-1",
                           "--ca-bundle", plane.ca, *args], env=env, capture_output=True, text=True, timeout=120)


def refused(call, code: str, field: str) -> None:
    with pytest.raises(ClientError) as exc:
        call()
    err = exc.value.response["Error"]
    assert (err["Code"], field in err["Message"]) == (code, True), err


def test_a_users_elbv2_script_and_an_ecs_service_behind_it(cp: Plane) -> None:
    plane = cp
    for i, zone in enumerate("ab"):
        plane.add_agent(f"host-{i}", zone)
    key = plane.access_key()
    elbv2 = elbv2_client(plane, key)
    ecs = plane.client(key.access_key_id, key.secret_access_key)
    validate_ecs(ecs)
    port = free_port()

    lb = elbv2.create_load_balancer(Name="web", Type="application")["LoadBalancers"][0]
    assert lb["LoadBalancerArn"].startswith("arn:aws:elasticloadbalancing:us-east-1:")
    tg = elbv2.create_target_group(Name="web-tg", Protocol="HTTP", Port=8080, VpcId="vpc-0", TargetType="ip",
                                   HealthCheckPath="/", HealthCheckIntervalSeconds=10, HealthyThresholdCount=2,
                                   UnhealthyThresholdCount=2, Matcher={"HttpCode": "200-399"})["TargetGroups"][0]
    tg_arn = tg["TargetGroupArn"]
    listener = elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=port,
                                     DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_arn}])["Listeners"][0]
    rule = elbv2.create_rule(ListenerArn=listener["ListenerArn"], Priority=10,
                             Conditions=[{"Field": "host-header", "Values": ["api.example.com"]},
                                         {"Field": "path-pattern", "Values": ["/v1/*"]}],
                             Actions=[{"Type": "forward", "TargetGroupArn": tg_arn}])["Rules"][0]

    assert [x["LoadBalancerName"] for x in elbv2.describe_load_balancers()["LoadBalancers"]] == ["web"]
    assert [x["Port"] for x in elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]] == \
        [port]
    rules = elbv2.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
    assert [(x["RuleArn"], x["Priority"]) for x in rules][0] == (rule["RuleArn"], "10")
    assert rules[-1]["IsDefault"] and rules[-1]["Actions"][0]["TargetGroupArn"] == tg_arn
    described = elbv2.describe_target_groups(LoadBalancerArn=lb["LoadBalancerArn"])["TargetGroups"]
    assert [(x["TargetGroupName"], x["Matcher"]["HttpCode"], x["HealthCheckIntervalSeconds"]) for x in described] \
        == [("web-tg", "200-399", 10)]
    elbv2.modify_target_group_attributes(TargetGroupArn=tg_arn, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "5"}])
    assert elbv2.describe_target_group_attributes(TargetGroupArn=tg_arn)["Attributes"] == \
        [{"Key": "deregistration_delay.timeout_seconds", "Value": "5"}]

    # An ECS service attached to the target group: its tasks are the targets.
    ecs.register_task_definition(**WEB)
    attached = [{"targetGroupArn": tg_arn, "containerName": "web", "containerPort": 8080}]
    ecs.create_service(serviceName="web", taskDefinition="web", desiredCount=2, loadBalancers=attached)
    assert ecs.describe_services(services=["web"])["services"][0]["loadBalancers"] == attached
    ecs.get_waiter("services_stable").wait(services=["web"], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    task_arns = ecs.list_tasks(serviceName="web", desiredStatus="RUNNING")["taskArns"]
    tasks = ecs.describe_tasks(tasks=task_arns)["tasks"]
    want = sorted((x["taskArn"].rsplit("/", 1)[-1], x["containers"][0]["networkBindings"][0]["hostPort"])
                  for x in tasks)

    def targets() -> list:
        found = elbv2.describe_target_health(TargetGroupArn=tg_arn)["TargetHealthDescriptions"]
        got = sorted((x["Target"]["Id"], x["Target"].get("Port")) for x in found)
        return found if got == want else []

    health = wait_for(targets, 30, "the service's two tasks as the target group's targets")
    assert len(want) == 2 and {x["TargetHealth"]["State"] for x in health} <= {"initial", "healthy", "unhealthy"}

    # Bad input: ELBv2's codes, each message naming the field.
    forward = [{"Type": "forward", "TargetGroupArn": tg_arn}]
    refused(lambda: elbv2.create_load_balancer(Name="web"), "DuplicateLoadBalancerName", "Name (name)")
    refused(lambda: elbv2.create_target_group(Name="slow", Protocol="HTTP", Port=80, HealthCheckIntervalSeconds=5,
                                              HealthCheckTimeoutSeconds=5), "ValidationError",
            "HealthCheckTimeoutSeconds")
    refused(lambda: elbv2.create_target_group(Name="web-tg", Protocol="HTTP", Port=80), "DuplicateTargetGroupName",
            "web-tg")
    refused(lambda: elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=port,
                                          DefaultActions=forward), "DuplicateListener", "port")
    refused(lambda: elbv2.create_rule(ListenerArn=listener["ListenerArn"], Priority=10, Actions=forward,
                                      Conditions=[{"Field": "path-pattern", "Values": ["/x"]}]), "PriorityInUse",
            "priority")
    refused(lambda: elbv2.create_rule(ListenerArn=listener["ListenerArn"], Priority=11, Actions=forward,
                                      Conditions=[{"Field": "path-pattern", "Values": ["no-slash"]}]),
            "ValidationError", "Conditions (pathPatterns[0])")
    refused(lambda: elbv2.create_target_group(Name="tls", Protocol="HTTPS", Port=443), "UnsupportedProtocol",
            "Protocol")
    refused(lambda: elbv2.create_load_balancer(Name="x", Subnets=["subnet-1"]), "ValidationError", "Subnets")
    refused(lambda: elbv2.describe_target_groups(Names=["nope"]), "TargetGroupNotFound", "nope")
    refused(lambda: elbv2.describe_load_balancers(Names=["nope"]), "LoadBalancerNotFound", "nope")
    refused(lambda: elbv2.delete_listener(ListenerArn=listener["ListenerArn"] + "0"), "ListenerNotFound",
            "listenerArn")
    refused(lambda: elbv2.modify_target_group_attributes(TargetGroupArn=tg_arn, Attributes=[
        {"Key": "stickiness.enabled", "Value": "true"}]), "ValidationError", "stickiness.enabled")
    refused(lambda: elbv2.delete_target_group(TargetGroupArn=tg_arn), "ResourceInUse", "service 'web'")
    with pytest.raises(ClientError) as exc:
        ecs.create_service(serviceName="bad", taskDefinition="web", loadBalancers=[
            {"targetGroupArn": tg_arn.replace("web-tg", "nope"), "containerName": "web", "containerPort": 8080}])
    assert "loadBalancers" in exc.value.response["Error"]["Message"]

    # Deletes, in the order a script tears down.
    ecs.delete_service(service="web", force=True)
    elbv2.delete_rule(RuleArn=rule["RuleArn"])
    elbv2.delete_listener(ListenerArn=listener["ListenerArn"])
    wait_for(lambda: ecs.describe_services(services=["web"])["services"][0]["status"] == "INACTIVE", 60,
             "service web INACTIVE")
    elbv2.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
    elbv2.delete_target_group(TargetGroupArn=tg_arn)
    assert elbv2.describe_load_balancers()["LoadBalancers"] == []
    assert elbv2.describe_target_groups()["TargetGroups"] == []
    assert {"CreateLoadBalancer", "CreateTargetGroup", "CreateListener", "CreateRule", "DescribeLoadBalancers",
            "DescribeListeners", "DescribeRules", "DescribeTargetGroups", "ModifyTargetGroupAttributes",
            "DescribeTargetGroupAttributes", "DescribeTargetHealth", "DeleteRule", "DeleteListener",
            "DeleteTargetGroup", "DeleteLoadBalancer"} <= set(elbv2.seen)


def test_the_aws_cli_and_a_viewers_key(cp: Plane) -> None:
    plane = cp
    admin = plane.access_key()
    # The README's example, as written there.
    made = aws_elbv2(plane, admin, "create-load-balancer", "--name", "db", "--type", "network")
    assert made.returncode == 0, made.stderr
    arn = json.loads(made.stdout)["LoadBalancers"][0]["LoadBalancerArn"]
    group = aws_elbv2(plane, admin, "create-target-group", "--name", "db", "--protocol", "TCP", "--port", "5432",
                      "--vpc-id", "vpc-0")
    assert group.returncode == 0, group.stderr
    tg_arn = json.loads(group.stdout)["TargetGroups"][0]["TargetGroupArn"]
    listener = aws_elbv2(plane, admin, "create-listener", "--load-balancer-arn", arn, "--protocol", "TCP",
                         "--port", str(free_port()), "--default-actions", f"Type=forward,TargetGroupArn={tg_arn}")
    assert listener.returncode == 0, listener.stderr
    # The ECS half of the walk with the CLI too: a service attached by --load-balancers.
    (plane.base / "web.json").write_text(json.dumps(WEB))
    assert aws(plane, admin, "register-task-definition", "--cli-input-json",
               f"file://{plane.base / 'web.json'}").returncode == 0
    made = aws(plane, admin, "create-service", "--service-name", "db", "--task-definition", "web",
               "--desired-count", "0", "--load-balancers",
               f"targetGroupArn={tg_arn},containerName=web,containerPort=8080")
    assert made.returncode == 0, made.stderr
    svc = json.loads(aws(plane, admin, "describe-services", "--services", "db").stdout)["services"][0]
    assert svc["loadBalancers"] == [{"targetGroupArn": tg_arn, "containerName": "web", "containerPort": 8080}]
    listed = aws_elbv2(plane, admin, "describe-load-balancers", "--names", "db")
    assert listed.returncode == 0 and json.loads(listed.stdout)["LoadBalancers"][0]["LoadBalancerArn"] == arn
    bad = aws_elbv2(plane, admin, "create-load-balancer", "--name", "db2", "--subnets", "subnet-1")
    assert bad.returncode != 0 and "ValidationError" in bad.stderr and "Subnets" in bad.stderr

    viewer = plane.access_key(user="vic", role="viewer")
    seen = aws_elbv2(plane, viewer, "describe-target-groups")
    assert seen.returncode == 0 and json.loads(seen.stdout)["TargetGroups"][0]["TargetGroupName"] == "db"
    denied = aws_elbv2(plane, viewer, "delete-load-balancer", "--load-balancer-arn", arn)
    assert denied.returncode != 0 and "AccessDenied" in denied.stderr
    assert elbv2_client(plane, viewer).describe_load_balancers(Names=["db"])["LoadBalancers"]


def test_the_aws_cli_on_another_clusters_endpoint(cp: Plane) -> None:
    """`--endpoint-url …/clusters/prod`: the aws CLI keeps and signs the path, and the load
    balancer it makes is prod's, not default's."""
    plane = cp
    admin = plane.access_key()
    ecs = plane.client(admin.access_key_id, admin.secret_access_key)
    ecs.create_cluster(clusterName="prod")
    made = aws_elbv2(plane, admin, "create-load-balancer", "--name", "edge", path="/clusters/prod")
    assert made.returncode == 0, made.stderr
    in_prod = aws_elbv2(plane, admin, "describe-load-balancers", path="/clusters/prod")
    in_default = aws_elbv2(plane, admin, "describe-load-balancers")
    assert [x["LoadBalancerName"] for x in json.loads(in_prod.stdout)["LoadBalancers"]] == ["edge"]
    assert json.loads(in_default.stdout)["LoadBalancers"] == []
    missing = aws_elbv2(plane, admin, "describe-load-balancers", path="/clusters/nope")
    assert missing.returncode != 0 and "ValidationError" in missing.stderr and "endpoint path" in missing.stderr
