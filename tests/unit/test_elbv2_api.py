"""The ECS gateway's ELBv2 Query protocol in-process, driven by boto3's ``elbv2`` client,
twice: against a fake Traffic servicer reached over gRPC (tests/fake_traffic.py: the
protocol layer alone, errors read from gRPC statuses), and against the control plane's own
Traffic handlers on an in-memory store, called in process as the gateway calls them in a
replica. Every action, every response checked against botocore's model, ELBv2's error
codes for bad input (the message naming the field), nothing refused reaching the Traffic
service, and the signing and authorization doors. With etcd, agents and services:
tests/integration/test_elbv2_gateway.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controlplane.api import accesskeys
from controlplane.api.context import ApiContext
from controlplane.ecs.elbv2 import query
from controlplane.ecs.elbv2.actions import ACTIONS
from controlplane.ecs.elbv2.errors import TrafficError, from_traffic
from controlplane.ecs.elbv2.traffic import InProcess
from controlplane.ecs.errors import EcsError
from controlplane.ecs.server import EcsGateway
from shoal.store.memory import MemoryStore
from shoal.taskdef.policy import HostPolicy
from shoal.v1 import accesskeys_pb2 as ak
from shoal.v1 import resources_pb2 as r
from shoal.v1 import traffic_pb2 as t
from tests.elbv2_model import check_error, response_problems, validate_every_response
from tests.fake_traffic import FakeTraffic, serve_fake
from tests.tls_gateway import tls_gateway

ADMIN = {"user": "alice", "role": "admin"}


@pytest.fixture(params=["fake-over-grpc", "handlers-in-process"])
def gateway(request, tmp_path: Path) -> Iterator[tuple[ApiContext, EcsGateway, FakeTraffic | None]]:
    """The gateway with the fake Traffic servicer over a gRPC channel (and the fake, to
    look into), or with the control plane's Traffic handlers (and None)."""
    store = MemoryStore()
    ctx = ApiContext(store)
    ctx.ensure_default_cluster()
    use_fake = request.param == "fake-over-grpc"
    try:
        with (serve_fake() as (fake, stub),
              tls_gateway(ctx, tmp_path, traffic=stub if use_fake else InProcess(ctx)) as gw):
            yield ctx, gw, fake if use_fake else None
    finally:
        store.close()


def client(gw: EcsGateway, key: str, secret: str, service: str = "elbv2"):
    return boto3.client(service, endpoint_url=gw.url, region_name="us-east-1",
                        verify=gw.ca_path,  # type: ignore[attr-defined]
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        # The SDK's own checks off: bad input must be caught by the gateway. Standard
                        # retries: an identical write in one second (a second DeleteLoadBalancer) is
                        # refused as a replay and retried, signed anew.
                        config=Config(retries={"max_attempts": 6, "mode": "standard"}, parameter_validation=False))


def _key(ctx: ApiContext, **who: str) -> ak.CreateAccessKeyResponse:
    return accesskeys.create(ctx, ak.CreateAccessKeyRequest(description="unit", **(who or ADMIN)))


@pytest.fixture
def elbv2(gateway):
    ctx, gw, fake = gateway
    key = _key(ctx)
    c = client(gw, key.access_key_id, key.secret_access_key)
    c.seen = validate_every_response(c)
    c.fake = fake
    return c


def _code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


def _setup(elbv2) -> tuple[str, str, str]:
    lb = elbv2.create_load_balancer(Name="web", Type="application", Scheme="internet-facing",
                                    Tags=[{"Key": "team", "Value": "a"}])["LoadBalancers"][0]
    tg = elbv2.create_target_group(Name="web-tg", Protocol="HTTP", Port=8080, VpcId="vpc-123", TargetType="ip",
                                   HealthCheckPath="/health", HealthCheckIntervalSeconds=10, HealthyThresholdCount=2,
                                   Matcher={"HttpCode": "200-299"})["TargetGroups"][0]
    listener = elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=8000,
                                     DefaultActions=[{"Type": "forward",
                                                      "TargetGroupArn": tg["TargetGroupArn"]}])["Listeners"][0]
    return lb["LoadBalancerArn"], tg["TargetGroupArn"], listener["ListenerArn"]


def test_the_walk_of_every_action(elbv2) -> None:
    lb_arn, tg_arn, listener_arn = _setup(elbv2)
    fake = elbv2.fake
    if fake is not None:
        created = dict(fake.calls)
        assert created["CreateTargetGroup"].health_check.path == "/health"
        assert created["CreateLoadBalancer"].tags == [r.Tag(key="team", value="a")]
        assert created["CreateListener"].default_target_group == tg_arn

    rule = elbv2.create_rule(ListenerArn=listener_arn, Priority=10,
                             Conditions=[{"Field": "host-header", "Values": ["api.example.com"]},
                                         {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/v1/*"]}}],
                             Actions=[{"Type": "forward", "ForwardConfig": {"TargetGroups": [
                                 {"TargetGroupArn": tg_arn}]}}])["Rules"][0]
    assert (rule["Priority"], rule["IsDefault"]) == ("10", False)
    assert [(c["Field"], c["Values"]) for c in rule["Conditions"]] == \
        [("host-header", ["api.example.com"]), ("path-pattern", ["/v1/*"])]

    lbs = elbv2.describe_load_balancers(Names=["web"])["LoadBalancers"]
    assert [(x["LoadBalancerArn"], x["Type"], x["State"]["Code"]) for x in lbs] == [(lb_arn, "application", "active")]
    listeners = elbv2.describe_listeners(LoadBalancerArn=lb_arn)["Listeners"]
    assert [(x["Port"], x["Protocol"], x["DefaultActions"][0]["TargetGroupArn"]) for x in listeners] == \
        [(8000, "HTTP", tg_arn)]
    assert elbv2.describe_listeners(ListenerArns=[listener_arn])["Listeners"][0]["ListenerArn"] == listener_arn
    rules = elbv2.describe_rules(ListenerArn=listener_arn)["Rules"]
    assert [(x["Priority"], x["IsDefault"]) for x in rules] == [("10", False), ("default", True)]
    assert elbv2.describe_rules(RuleArns=[rule["RuleArn"]])["Rules"][0]["Conditions"][0]["Values"] == \
        ["api.example.com"]
    for how in ({"Names": ["web-tg"]}, {"TargetGroupArns": [tg_arn]}, {"LoadBalancerArn": lb_arn}):
        groups = elbv2.describe_target_groups(**how)["TargetGroups"]
        assert [(g["TargetGroupArn"], g["HealthCheckPath"], g["Matcher"]["HttpCode"], g["LoadBalancerArns"],
                 g["HealthCheckIntervalSeconds"], g["HealthyThresholdCount"]) for g in groups] == \
            [(tg_arn, "/health", "200-299", [lb_arn], 10, 2)], how

    attrs = elbv2.modify_target_group_attributes(
        TargetGroupArn=tg_arn, Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "5"}])
    assert attrs["Attributes"] == [{"Key": "deregistration_delay.timeout_seconds", "Value": "5"}]
    assert elbv2.describe_target_group_attributes(TargetGroupArn=tg_arn)["Attributes"] == attrs["Attributes"]

    if fake is None:
        # No service is attached here: no targets (the integration test has them).
        assert elbv2.describe_target_health(TargetGroupArn=tg_arn)["TargetHealthDescriptions"] == []
    else:
        _fake_targets(elbv2, fake, tg_arn)
    elbv2.delete_rule(RuleArn=rule["RuleArn"])
    elbv2.delete_listener(ListenerArn=listener_arn)
    elbv2.delete_load_balancer(LoadBalancerArn=lb_arn)
    # ELBv2: deleting a load balancer already gone succeeds.
    elbv2.delete_load_balancer(LoadBalancerArn=lb_arn)
    elbv2.delete_target_group(TargetGroupArn=tg_arn)
    assert elbv2.describe_load_balancers()["LoadBalancers"] == []
    assert set(elbv2.seen) == {
        "CreateLoadBalancer", "CreateTargetGroup", "CreateListener", "CreateRule", "DescribeLoadBalancers",
        "DescribeListeners", "DescribeRules", "DescribeTargetGroups", "ModifyTargetGroupAttributes",
        "DescribeTargetGroupAttributes", "DescribeTargetHealth", "DeleteRule", "DeleteListener",
        "DeleteTargetGroup", "DeleteLoadBalancer"}


def _fake_targets(elbv2, fake: FakeTraffic, tg_arn: str) -> None:
    fake.targets[tg_arn] = [t.TargetHealthDescription(task_id="task1", node_id="n1", address="10.0.0.1", port=32768,
                                                      health=r.TargetHealth(state="healthy")),
                            t.TargetHealthDescription(task_id="task2", node_id="n2", address="10.0.0.2", port=32769,
                                                      health=r.TargetHealth(state="unhealthy",
                                                                            reason="Target.Timeout"))]
    health = elbv2.describe_target_health(TargetGroupArn=tg_arn)["TargetHealthDescriptions"]
    assert [(h["Target"]["Id"], h["Target"]["Port"], h["TargetHealth"]["State"]) for h in health] == \
        [("task1", 32768, "healthy"), ("task2", 32769, "unhealthy")]
    only_two = elbv2.describe_target_health(TargetGroupArn=tg_arn, Targets=[{"Id": "task2"}])
    assert [h["Target"]["Id"] for h in only_two["TargetHealthDescriptions"]] == ["task2"]


def test_network_load_balancer_and_tcp_target_group(elbv2) -> None:
    lb = elbv2.create_load_balancer(Name="db", Type="network")["LoadBalancers"][0]
    tg = elbv2.create_target_group(Name="db-tg", Protocol="TCP", Port=5432)["TargetGroups"][0]
    assert (tg["Protocol"], tg["HealthCheckProtocol"]) == ("TCP", "TCP") and "HealthCheckPath" not in tg
    listener = elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TCP", Port=5432,
                                     DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])
    assert listener["Listeners"][0]["Protocol"] == "TCP"
    assert lb["Type"] == "network"


def test_paging(elbv2) -> None:
    for i in range(5):
        elbv2.create_load_balancer(Name=f"lb{i}")
    first = elbv2.describe_load_balancers(PageSize=2)
    assert len(first["LoadBalancers"]) == 2 and first["NextMarker"]
    pages = elbv2.get_paginator("describe_load_balancers").paginate(PaginationConfig={"PageSize": 2})
    assert sorted(x["LoadBalancerName"] for p in pages for x in p["LoadBalancers"]) == [f"lb{i}" for i in range(5)]
    for marker in ("garbage", "\u00b2"):
        with pytest.raises(ClientError) as exc:
            elbv2.describe_load_balancers(Marker=marker)
        assert _code(exc)[0] == "ValidationError" and "Marker" in _code(exc)[1]


BAD = [
    # (call, kwargs, code, the field the message must name)
    ("create_load_balancer", {"Name": "x", "Subnets": ["subnet-1"]}, "ValidationError", "Subnets"),
    ("create_load_balancer", {"Name": "x", "SecurityGroups": ["sg-1"]}, "ValidationError", "SecurityGroups"),
    ("create_load_balancer", {"Name": "x", "Scheme": "internal"}, "ValidationError", "Scheme"),
    ("create_load_balancer", {"Name": "x", "Type": "gateway"}, "ValidationError", "Type"),
    ("create_load_balancer", {"Name": "bad name!"}, "ValidationError", "name"),
    ("create_target_group", {"Name": "x", "Protocol": "HTTPS", "Port": 443}, "UnsupportedProtocol", "Protocol"),
    ("create_target_group", {"Name": "x", "Protocol": "HTTP"}, "ValidationError", "Port"),
    ("create_target_group", {"Name": "x", "Protocol": "HTTP", "Port": 80, "TargetType": "lambda"},
     "ValidationError", "TargetType"),
    ("create_target_group", {"Name": "x", "Protocol": "HTTP", "Port": 80, "HealthCheckPort": "9000"},
     "ValidationError", "HealthCheckPort"),
    ("create_target_group", {"Name": "x", "Protocol": "HTTP", "Port": 80, "HealthCheckEnabled": False},
     "ValidationError", "HealthCheckEnabled"),
    ("create_target_group", {"Name": "x", "Protocol": "HTTP", "Port": 80, "HealthCheckIntervalSeconds": 1},
     "ValidationError", "HealthCheckIntervalSeconds"),
    ("create_target_group", {"Name": "x", "Protocol": "HTTP", "Port": 80, "Matcher": {"GrpcCode": "0"}},
     "ValidationError", "GrpcCode"),
    ("describe_target_groups", {"Names": ["nope"]}, "TargetGroupNotFound", "nope"),
    ("describe_load_balancers", {"Names": ["nope"]}, "LoadBalancerNotFound", "nope"),
    ("describe_load_balancers", {"Names": ["a"], "LoadBalancerArns": ["b"]}, "ValidationError", "Names"),
    ("delete_listener", {"ListenerArn": "arn:aws:elasticloadbalancing:local:0:listener/app/x/1/2"},
     "ListenerNotFound", "listener"),
    ("describe_listeners", {}, "ValidationError", "LoadBalancerArn"),
    ("delete_rule", {"RuleArn": "arn:aws:elasticloadbalancing:local:0:listener-rule/app/x/1/2/3"},
     "RuleNotFound", "rule"),
    ("describe_target_health", {"TargetGroupArn": "arn:nope"}, "TargetGroupNotFound", "arn:nope"),
    ("delete_target_group", {"TargetGroupArn": "arn:nope"}, "TargetGroupNotFound", "arn:nope"),
]


@pytest.mark.parametrize(("call", "kwargs", "code", "field"), BAD, ids=[f"{b[0]}-{b[2]}-{b[3]}" for b in BAD])
def test_bad_input_answers_elbv2_codes_naming_the_field(elbv2, call, kwargs, code, field) -> None:
    with pytest.raises(ClientError) as exc:
        getattr(elbv2, call)(**kwargs)
    got, message = _code(exc)
    assert got == code, message
    assert field in message


def test_conflicts_and_refusals_on_existing_resources(elbv2) -> None:
    lb_arn, tg_arn, listener_arn = _setup(elbv2)
    forward = [{"Type": "forward", "TargetGroupArn": tg_arn}]
    cases = [
        (lambda: elbv2.create_load_balancer(Name="web"), "DuplicateLoadBalancerName", "web"),
        (lambda: elbv2.create_target_group(Name="web-tg", Protocol="HTTP", Port=80), "DuplicateTargetGroupName",
         "web-tg"),
        (lambda: elbv2.create_listener(LoadBalancerArn=lb_arn, Protocol="HTTP", Port=8000, DefaultActions=forward),
         "DuplicateListener", "port"),
        (lambda: elbv2.create_listener(LoadBalancerArn=lb_arn, Protocol="HTTPS", Port=443, DefaultActions=forward),
         "UnsupportedProtocol", "Protocol"),
        (lambda: elbv2.create_listener(LoadBalancerArn=lb_arn, Port=9000,
                                       DefaultActions=[{"Type": "forward", "TargetGroupArn": "arn:nope"}]),
         "TargetGroupNotFound", "arn:nope"),
        (lambda: elbv2.create_listener(LoadBalancerArn="arn:nope", Port=9000, DefaultActions=forward),
         "LoadBalancerNotFound", "arn:nope"),
        (lambda: elbv2.create_listener(LoadBalancerArn=lb_arn, Port=9000, DefaultActions=[
            {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}]), "ValidationError",
         "DefaultActions"),
        (lambda: elbv2.create_listener(LoadBalancerArn=lb_arn, Port=9000, DefaultActions=forward,
                                       Tags=[{"Key": "a", "Value": "b"}]), "ValidationError", "Tags"),
        (lambda: elbv2.create_rule(ListenerArn=listener_arn, Priority=1, Actions=forward,
                                   Conditions=[{"Field": "http-header", "HttpHeaderConfig": {
                                       "HttpHeaderName": "X", "Values": ["y"]}}]), "ValidationError",
         "Conditions.member.1.Field"),
        (lambda: elbv2.create_rule(ListenerArn=listener_arn, Priority=1, Actions=forward,
                                   Conditions=[{"Field": "path-pattern", "Values": ["no-slash"]}]), "ValidationError",
         "pathPatterns"),
        (lambda: elbv2.modify_target_group_attributes(TargetGroupArn=tg_arn, Attributes=[
            {"Key": "stickiness.enabled", "Value": "true"}]), "ValidationError", "stickiness.enabled"),
        (lambda: elbv2.modify_target_group_attributes(TargetGroupArn=tg_arn, Attributes=[
            {"Key": "deregistration_delay.timeout_seconds", "Value": "99999"}]), "ValidationError",
         "Attributes.member.1.Value"),
        (lambda: elbv2.delete_target_group(TargetGroupArn=tg_arn), "ResourceInUse", "in use"),
        (lambda: elbv2.delete_rule(RuleArn=elbv2.describe_rules(ListenerArn=listener_arn)["Rules"][-1]["RuleArn"]),
         "OperationNotPermitted", "default rule"),
    ]
    elbv2.create_rule(ListenerArn=listener_arn, Priority=5, Actions=forward,
                      Conditions=[{"Field": "path-pattern", "Values": ["/a"]}])
    cases.append((lambda: elbv2.create_rule(ListenerArn=listener_arn, Priority=5, Actions=forward,
                                            Conditions=[{"Field": "path-pattern", "Values": ["/b"]}]),
                  "PriorityInUse", "priority"))
    for call, code, field in cases:
        with pytest.raises(ClientError) as exc:
            call()
        got, message = _code(exc)
        assert (got, field in message) == (code, True), message


def test_a_listener_below_1024_is_refused_unless_the_cluster_allows_it(gateway) -> None:
    ctx, gw, fake = gateway
    if fake is not None:
        pytest.skip("the control plane's policy, not the protocol layer, refuses it")
    key = _key(ctx)
    elbv2 = client(gw, key.access_key_id, key.secret_access_key)
    lb_arn, tg_arn, listener_arn = _setup(elbv2)
    forward = [{"Type": "forward", "TargetGroupArn": tg_arn}]
    for call in (lambda: elbv2.create_listener(LoadBalancerArn=lb_arn, Protocol="HTTP", Port=80,
                                               DefaultActions=forward),
                 lambda: elbv2.modify_listener(ListenerArn=listener_arn, Port=443)):
        with pytest.raises(ClientError) as exc:
            call()
        got, message = _code(exc)
        assert got == "InvalidConfigurationRequest" and "port" in message.split(":")[0].lower() and \
            "--allow-privileged-listener-ports" in message, message
    assert [x["Port"] for x in elbv2.describe_listeners(LoadBalancerArn=lb_arn)["Listeners"]] == [8000]
    ctx.policy = HostPolicy(privileged_listener_ports=True)
    elbv2.create_listener(LoadBalancerArn=lb_arn, Protocol="HTTP", Port=80, DefaultActions=forward)
    elbv2.modify_listener(ListenerArn=listener_arn, Port=443)
    assert sorted(x["Port"] for x in elbv2.describe_listeners(LoadBalancerArn=lb_arn)["Listeners"]) == [80, 443]


def test_refused_input_never_reaches_the_traffic_service(elbv2) -> None:
    for kwargs in ({"Name": "x", "Subnets": ["s"]}, {"Name": "x", "Scheme": "internal"}):
        with pytest.raises(ClientError):
            elbv2.create_load_balancer(**kwargs)
    with pytest.raises(ClientError):
        elbv2.create_target_group(Name="x", Protocol="HTTP", Port=80, HealthCheckPath="/ok", HealthCheckPort="81")
    assert elbv2.describe_load_balancers()["LoadBalancers"] == []
    assert elbv2.describe_target_groups()["TargetGroups"] == []
    if elbv2.fake is not None:
        assert elbv2.fake.calls == []


def _signed(gw: EcsGateway, key: ak.CreateAccessKeyResponse, body: str, service: str = "elasticloadbalancing",
            headers: dict[str, str] | None = None) -> requests.Response:
    request = AWSRequest("POST", gw.url + "/", data=body.encode(),
                         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                                  **(headers or {})})
    SigV4Auth(Credentials(key.access_key_id, key.secret_access_key), service, "us-east-1").add_auth(request)
    prepared = request.prepare()
    return requests.post(prepared.url, data=prepared.body, headers=dict(prepared.headers),
                         verify=gw.ca_path, timeout=10)  # type: ignore[attr-defined]


def test_signing_doors(gateway) -> None:
    ctx, gw, fake = gateway
    key = _key(ctx)
    body = "Action=DescribeLoadBalancers&Version=2015-12-01"
    assert _signed(gw, key, body).status_code == 200
    # A signature made for ECS does not open ELBv2 (and the answer is ELBv2's XML error).
    resp = _signed(gw, key, body, service="ecs")
    assert resp.status_code == 400 and check_error(resp.content)[0] == "SignatureDoesNotMatch"
    unsigned = requests.post(gw.url, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"},
                             verify=gw.ca_path, timeout=10)  # type: ignore[attr-defined]
    assert check_error(unsigned.content)[0] == "MissingAuthenticationToken"
    resp = _signed(gw, key, "Action=DeleteEverything&Version=2015-12-01")
    code, message = check_error(resp.content)
    assert (resp.status_code, code, "DeleteEverything" in message) == (400, "InvalidAction", True)
    resp = _signed(gw, key, "Action=DescribeLoadBalancers&Version=2012-06-01")
    assert check_error(resp.content)[0] == "ValidationError" and "Version" in check_error(resp.content)[1]
    # The same bytes with the same signature, sent twice: a read is answered both times, a
    # write only the first.
    def twice(data: bytes) -> list[requests.Response]:
        request = AWSRequest("POST", gw.url + "/", data=data,
                             headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        SigV4Auth(Credentials(key.access_key_id, key.secret_access_key), "elasticloadbalancing",
                  "us-east-1").add_auth(request)
        prepared = request.prepare()
        return [requests.post(prepared.url, data=prepared.body, headers=dict(prepared.headers),
                              verify=gw.ca_path, timeout=10) for _ in range(2)]  # type: ignore[attr-defined]

    assert [a.status_code for a in twice(b"Action=DescribeLoadBalancers&Version=2015-12-01&PageSize=7")] == [200, 200]
    created = twice(b"Action=CreateTargetGroup&Version=2015-12-01&Name=once&Protocol=HTTP&Port=80&VpcId=vpc-0")
    assert created[0].status_code == 200 and check_error(created[1].content)[0] == "Throttling"
    too_big = _signed(gw, key, body + "&Names.member.1=" + "a" * (2 * 1024 * 1024))
    assert too_big.status_code == 413 and check_error(too_big.content)[0] == "MalformedInput"


def test_the_ecs_path_is_unchanged_beside_elbv2(gateway) -> None:
    ctx, gw, _ = gateway
    key = _key(ctx)
    ecs = client(gw, key.access_key_id, key.secret_access_key, "ecs")
    assert ecs.list_clusters()["clusterArns"]
    with pytest.raises(ClientError) as exc:
        ecs.describe_services(cluster="nope", services=["x"])
    assert exc.value.response["Error"]["Code"] == "ClusterNotFoundException"


def test_a_viewer_key_describes_but_cannot_create(gateway) -> None:
    ctx, gw, fake = gateway
    viewer = _key(ctx, user="vic", role="viewer")
    c = client(gw, viewer.access_key_id, viewer.secret_access_key)
    with pytest.raises(ClientError) as exc:
        c.create_load_balancer(Name="web")
    code, message = _code(exc)
    assert code == "AccessDenied" and "CreateLoadBalancer" in message
    assert c.describe_load_balancers()["LoadBalancers"] == []


def test_query_parsing() -> None:
    action, params = query.parse(b"Action=CreateRule&Version=2015-12-01&ListenerArn=a&Priority=3"
                                 b"&Conditions.member.1.Field=path-pattern&Conditions.member.1.Values.member.1=%2Fx"
                                 b"&Conditions.member.1.Values.member.2=%2Fy&Actions.member.1.Type=forward")
    assert action == "CreateRule"
    assert params == {"ListenerArn": "a", "Priority": "3", "Actions": [{"Type": "forward"}],
                      "Conditions": [{"Field": "path-pattern", "Values": ["/x", "/y"]}]}
    for body, field in ((b"Action=X&Version=2015-12-01&Names.member.2=a", "Names.member"),
                        (b"Action=X&Version=2015-12-01&Names.member.0=a", "Names.member.0"),
                        (b"Action=X&Version=2015-12-01&A=1&A=2", "A"),
                        (b"Action=X&Version=2015-12-01&A=1&A.B=2", "A.B"),
                        (b"Version=2015-12-01", "Action"),
                        (b"Action=X&Version=2015-12-01&Names.member.x=a", "Names.member.x"),
                        ("Action=X&Version=2015-12-01&Names.member.\u00b2=a".encode(), "Names.member")):
        with pytest.raises(EcsError) as exc:
            query.parse(body)
        assert exc.value.ecs_type == "ValidationError" and field in exc.value.message, (body, exc.value.message)


def test_model_checker_catches_what_botocore_would_not_read() -> None:
    ns = 'xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"'
    bad = (f'<DescribeLoadBalancersResponse {ns}><DescribeLoadBalancersResult><LoadBalancers><member>'
           "<LoadBalancerName>a</LoadBalancerName><Type>classic</Type><Shoal>x</Shoal><CreatedTime>now</CreatedTime>"
           "</member><LoadBalancerArn>x</LoadBalancerArn></LoadBalancers></DescribeLoadBalancersResult>"
           "<ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></DescribeLoadBalancersResponse>").encode()
    problems = "\n".join(response_problems("DescribeLoadBalancers", bad))
    for expected in ("classic", "Shoal: not a member", "CreatedTime", "not <member>"):
        assert expected in problems, problems


_KEYS = st.sampled_from(["Name", "Type", "Port", "Protocol", "LoadBalancerArn", "TargetGroupArn", "ListenerArn",
                         "RuleArn", "Priority", "Names", "Conditions", "Actions", "DefaultActions", "Attributes",
                         "Matcher", "HealthCheckPath", "HealthCheckIntervalSeconds", "Tags", "Targets", "Field",
                         "Values", "Key", "Value", "ForwardConfig", "TargetGroups", "PageSize", "Marker", "Id",
                         "Subnets", "HttpCode", "member"])
_VALUES = st.recursive(
    st.one_of(st.text(max_size=20), st.sampled_from(["forward", "HTTP", "TCP", "0", "-1", "70000", "path-pattern",
                                                     "host-header", "deregistration_delay.timeout_seconds",
                                                     "arn:aws:elasticloadbalancing:local:0:listener/app/x/1/2"])),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_KEYS, inner, max_size=4)),
    max_leaves=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(action=st.sampled_from(sorted(ACTIONS)), params=st.dictionaries(_KEYS, _VALUES, max_size=6))
def test_any_parameters_are_answered_with_an_elbv2_error_never_a_crash(action, params) -> None:
    ctx = ApiContext(MemoryStore())
    ctx.ensure_default_cluster()
    try:
        ACTIONS[action].run(InProcess(ctx), params)
    except TrafficError as exc:
        assert from_traffic(exc, action).status == 400, exc
    except EcsError as exc:
        assert exc.status == 400 and exc.message, exc


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_body_parses_or_is_a_validation_error(body: bytes) -> None:
    try:
        query.parse(body)
    except EcsError as exc:
        assert exc.ecs_type == "ValidationError"
