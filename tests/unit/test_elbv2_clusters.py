"""ELBv2 on a cluster other than `default`: the endpoint path names the cluster
(`/clusters/<name>`), boto3's ``elbv2`` client signs it, and every action of that client
works on that cluster's load balancers and target groups alone — driven through the ECS
gateway against the control plane's own Traffic handlers on an in-memory store. A path
naming no cluster, or one that is not there, is refused naming the path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from controlplane.api import clusters
from controlplane.api.context import ApiContext
from controlplane.ecs.elbv2.traffic import InProcess
from controlplane.ecs.server import EcsGateway
from controlplane.server import build_parser, own_hosts
from shoal import keys
from shoal.store.memory import MemoryStore
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoal.v1 import traffic_pb2 as t
from tests.elbv2_model import validate_every_response
from tests.tls_gateway import tls_gateway
from tests.unit.test_elbv2_api import _key, client


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[tuple[ApiContext, EcsGateway]]:
    store = MemoryStore()
    ctx = ApiContext(store)
    ctx.ensure_default_cluster()
    clusters.create(ctx, op.CreateClusterRequest(cluster_name="prod"))
    try:
        with tls_gateway(ctx, tmp_path, traffic=InProcess(ctx)) as gw:
            yield ctx, gw
    finally:
        store.close()


def elbv2_at(ctx: ApiContext, gw: EcsGateway, path: str):
    key = _key(ctx)
    at = type("At", (), {"url": gw.url.rstrip("/") + path, "ca_path": gw.ca_path})()  # type: ignore[attr-defined]
    c = client(at, key.access_key_id, key.secret_access_key)
    c.seen = validate_every_response(c)
    return c


def walk(c, port: int) -> tuple[str, str]:
    lb = c.create_load_balancer(Name="web", Type="application")["LoadBalancers"][0]
    tg = c.create_target_group(Name="web-tg", Protocol="HTTP", Port=8080, VpcId="vpc-1")["TargetGroups"][0]
    c.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=port,
                      DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])
    return lb["LoadBalancerArn"], tg["TargetGroupArn"]


def test_each_cluster_has_its_own_endpoint_and_resources(gateway) -> None:
    ctx, gw = gateway
    default, prod = elbv2_at(ctx, gw, "/"), elbv2_at(ctx, gw, "/clusters/prod")
    # The same names and the same listener port in two clusters: one listener per port is per cluster.
    prod_lb, prod_tg = walk(prod, 8000)
    default_lb, _ = walk(default, 8000)
    assert [x["LoadBalancerArn"] for x in prod.describe_load_balancers()["LoadBalancers"]] == [prod_lb]
    assert [x["LoadBalancerArn"] for x in default.describe_load_balancers()["LoadBalancers"]] == [default_lb]
    assert [x["Port"] for x in prod.describe_listeners(LoadBalancerArn=prod_lb)["Listeners"]] == [8000]
    # The records live in their own cluster, as `shoal lb --cluster prod` reads them.
    got = InProcess(ctx).call("DescribeLoadBalancers", t.DescribeLoadBalancersRequest(cluster="prod"))
    assert [(lb.load_balancer_arn, lb.cluster) for lb in got.load_balancers] == [(prod_lb, "prod")]
    prod.modify_target_group_attributes(TargetGroupArn=prod_tg, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "7"}])
    tgs = InProcess(ctx).call("DescribeTargetGroups", t.DescribeTargetGroupsRequest(cluster="prod")).target_groups
    assert [(x.target_group_name, x.deregistration_delay_seconds) for x in tgs] == [("web-tg", 7)]
    prod.delete_load_balancer(LoadBalancerArn=prod_lb)
    assert prod.describe_load_balancers()["LoadBalancers"] == []
    assert len(default.describe_load_balancers()["LoadBalancers"]) == 1


@pytest.mark.parametrize("path", ["/clusters/nope", "/clusters/", "/elsewhere", "/clusters/a/b"])
def test_a_path_naming_no_cluster_is_refused_naming_the_path(gateway, path: str) -> None:
    ctx, gw = gateway
    with pytest.raises(ClientError) as exc:
        elbv2_at(ctx, gw, path).describe_load_balancers()
    err = exc.value.response["Error"]
    assert err["Code"] == "ValidationError" and "endpoint path" in err["Message"], err


def _refused(call, code: str, field: str) -> None:
    with pytest.raises(ClientError) as exc:
        call()
    err = exc.value.response["Error"]
    assert (err["Code"], field in err["Message"]) == (code, True), err


def test_modify_listener_changes_port_and_default_target_group(gateway) -> None:
    ctx, gw = gateway
    c = elbv2_at(ctx, gw, "/")
    lb_arn, tg_arn = walk(c, 8000)
    other = c.create_target_group(Name="other", Protocol="HTTP", Port=8080, VpcId="vpc-1")["TargetGroups"][0]
    (listener,) = c.describe_listeners(LoadBalancerArn=lb_arn)["Listeners"]
    arn = listener["ListenerArn"]

    changed = c.modify_listener(ListenerArn=arn, Port=8001, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": other["TargetGroupArn"]}])["Listeners"]
    assert [(x["ListenerArn"], x["Port"], x["DefaultActions"][0]["TargetGroupArn"]) for x in changed] == \
        [(arn, 8001, other["TargetGroupArn"])]
    (stored,) = c.describe_listeners(ListenerArns=[arn])["Listeners"]
    assert (stored["Port"], stored["DefaultActions"][0]["TargetGroupArn"]) == (8001, other["TargetGroupArn"])
    # The load balancer's own default (what `loadBalancerName` means) stays the first one.
    got = InProcess(ctx).call("DescribeLoadBalancers", t.DescribeLoadBalancersRequest(load_balancers=[lb_arn]))
    assert got.load_balancers[0].default_target_group_arn == tg_arn

    # A port another listener of the cluster holds, a TCP group on an HTTP listener, an
    # unknown listener, nothing to change, a field Shoal does not act on: refused by name,
    # nothing changed.
    lb2 = c.create_load_balancer(Name="api", Type="application")["LoadBalancers"][0]
    c.create_listener(LoadBalancerArn=lb2["LoadBalancerArn"], Protocol="HTTP", Port=9000,
                      DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_arn}])
    tcp = c.create_target_group(Name="tcp", Protocol="TCP", Port=5432, VpcId="vpc-1")["TargetGroups"][0]
    _refused(lambda: c.modify_listener(ListenerArn=arn, Port=9000), "DuplicateListener", "port")
    _refused(lambda: c.modify_listener(ListenerArn=arn, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": tcp["TargetGroupArn"]}]), "InvalidConfigurationRequest",
        "defaultTargetGroup")
    _refused(lambda: c.modify_listener(ListenerArn=arn, Protocol="TCP"), "InvalidConfigurationRequest", "protocol")
    _refused(lambda: c.modify_listener(ListenerArn=arn + "0", Port=8002), "ListenerNotFound", "listener")
    _refused(lambda: c.modify_listener(ListenerArn=arn), "ValidationError", "DefaultActions")
    _refused(lambda: c.modify_listener(ListenerArn=arn, Port=8003, SslPolicy="x"), "ValidationError", "SslPolicy")
    (stored,) = c.describe_listeners(ListenerArns=[arn])["Listeners"]
    assert (stored["Port"], stored["DefaultActions"][0]["TargetGroupArn"]) == (8001, other["TargetGroupArn"])


def test_register_and_deregister_ip_targets(gateway) -> None:
    """Addresses join a group (its port when none is given), show in DescribeTargetHealth,
    drain through the deregistration delay, and leave."""
    ctx, gw = gateway
    c = elbv2_at(ctx, gw, "/")
    _, tg_arn = walk(c, 8000)
    c.modify_target_group_attributes(TargetGroupArn=tg_arn, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "300"}])
    c.register_targets(TargetGroupArn=tg_arn, Targets=[{"Id": "10.9.0.5", "Port": 80}, {"Id": "10.9.0.6"}])
    # Registering again is no second target.
    c.register_targets(TargetGroupArn=tg_arn, Targets=[{"Id": "10.9.0.5", "Port": 80}])
    health = c.describe_target_health(TargetGroupArn=tg_arn)["TargetHealthDescriptions"]
    assert [(h["Target"]["Id"], h["Target"]["Port"], h["TargetHealth"]["State"]) for h in health] == \
        [("10.9.0.5", 80, "initial"), ("10.9.0.6", 8080, "initial")]
    c.deregister_targets(TargetGroupArn=tg_arn, Targets=[{"Id": "10.9.0.5", "Port": 80}])
    only = c.describe_target_health(TargetGroupArn=tg_arn, Targets=[{"Id": "10.9.0.5"}])
    assert [(h["Target"]["Id"], h["TargetHealth"]["State"], h["TargetHealth"]["Reason"])
            for h in only["TargetHealthDescriptions"]] == [("10.9.0.5", "draining", "Target.DeregistrationInProgress")]
    # With no delay, a deregistered address leaves at once; an unknown one is no error (ELBv2).
    c.modify_target_group_attributes(TargetGroupArn=tg_arn, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "0"}])
    c.deregister_targets(TargetGroupArn=tg_arn, Targets=[{"Id": "10.9.0.6"}, {"Id": "10.9.9.9"}])
    left = c.describe_target_health(TargetGroupArn=tg_arn)["TargetHealthDescriptions"]
    assert [h["Target"]["Id"] for h in left] == ["10.9.0.5"]


def test_register_targets_refuses_the_nodes_own_services(gateway) -> None:
    """The attacker's walk: an ELBv2 key registering etcd's or the control plane's port on
    loopback, a link-local metadata address, a node's own address, or a name. Each is
    refused by name and nothing is stored, also not the good target beside it."""
    ctx, gw = gateway
    c = elbv2_at(ctx, gw, "/")
    _, tg_arn = walk(c, 8000)
    node = r.ContainerInstance(id="node-a", cluster="default", address="192.0.2.10", status="ACTIVE")
    ctx.store.put(keys.node("default", "node-a"), node.SerializeToString())
    for target, code, field in (
            ({"Id": "127.0.0.1", "Port": 2379}, "InvalidTarget", "loopback"),
            ({"Id": "127.8.0.1", "Port": 7400}, "InvalidTarget", "loopback"),
            ({"Id": "::1", "Port": 2379}, "InvalidTarget", "loopback"),
            ({"Id": "::ffff:127.0.0.1", "Port": 2379}, "InvalidTarget", "loopback"),
            ({"Id": "169.254.169.254", "Port": 80}, "InvalidTarget", "link-local"),
            ({"Id": "0.0.0.0", "Port": 80}, "InvalidTarget", "Targets.member.2.Id"),
            ({"Id": "192.0.2.10", "Port": 22}, "InvalidTarget", "node's own address"),
            ({"Id": "i-0123456789", "Port": 80}, "ValidationError", "Targets.member.2.Id"),
            ({"Id": "10.0.0.5", "Port": 0}, "ValidationError", "Targets.member.2.Port"),
            ({"Id": "10.0.0.5", "AvailabilityZone": "us-east-1a"}, "ValidationError", "AvailabilityZone")):
        _refused(lambda target=target: c.register_targets(TargetGroupArn=tg_arn,
                                                          Targets=[{"Id": "10.0.0.7"}, target]), code, field)
    _refused(lambda: c.register_targets(TargetGroupArn=tg_arn.replace("/web-tg/", "/nope/"),
                                        Targets=[{"Id": "10.0.0.5"}]), "TargetGroupNotFound", "not found")
    _refused(lambda: c.register_targets(TargetGroupArn=tg_arn, Targets=[]), "ValidationError", "Targets")
    assert c.describe_target_health(TargetGroupArn=tg_arn)["TargetHealthDescriptions"] == []
    # The explicit control-plane flag lets a test or a one-host lab register loopback.
    ctx.allow_local_targets = True
    c.register_targets(TargetGroupArn=tg_arn, Targets=[{"Id": "127.0.0.1", "Port": 8081}])
    assert [h["Target"]["Id"] for h in c.describe_target_health(TargetGroupArn=tg_arn)["TargetHealthDescriptions"]] \
        == ["127.0.0.1"]


def test_register_targets_refuses_etcd_and_the_control_planes_own_hosts(gateway) -> None:
    """etcd on another host (10.1.0.2:2379) and the replica's listener are no targets either;
    the hosts come from the replica's own flags."""
    ctx, gw = gateway
    args = build_parser().parse_args(["--etcd", "http://10.1.0.2:2379,https://10.1.0.3:2379",
                                      "--listen", "10.1.0.4:7400", "--metrics-listen", "[fd00::7]:7401"])
    ctx.control_plane_hosts = own_hosts(args)
    assert ctx.control_plane_hosts == {"10.1.0.2", "10.1.0.3", "10.1.0.4", "fd00::7"}
    c = elbv2_at(ctx, gw, "/")
    _, tg_arn = walk(c, 8000)
    for host in ("10.1.0.2", "10.1.0.3", "10.1.0.4", "fd00:0::7"):
        _refused(lambda host=host: c.register_targets(TargetGroupArn=tg_arn, Targets=[{"Id": host, "Port": 2379}]),
                 "InvalidTarget", "etcd")
    assert c.describe_target_health(TargetGroupArn=tg_arn)["TargetHealthDescriptions"] == []


def test_register_targets_refuses_an_ipv6_zone(gateway) -> None:
    """ipaddress takes any text after '%' as an IPv6 zone: a newline there reached haproxy.cfg."""
    ctx, gw = gateway
    c = elbv2_at(ctx, gw, "/")
    _, tg_arn = walk(c, 8000)
    for target in ("fd00::5%eth0", "2001:db8::1%x\n    bind 0.0.0.0:22 #"):
        _refused(lambda target=target: c.register_targets(TargetGroupArn=tg_arn, Targets=[{"Id": target, "Port": 80}]),
                 "ValidationError", "Targets.member.1.Id")
    assert c.describe_target_health(TargetGroupArn=tg_arn)["TargetHealthDescriptions"] == []


def test_a_viewers_key_cannot_register_targets(gateway) -> None:
    ctx, gw = gateway
    _, tg_arn = walk(elbv2_at(ctx, gw, "/"), 8000)
    key = _key(ctx, user="vic", role="viewer")
    at = type("At", (), {"url": gw.url, "ca_path": gw.ca_path})()  # type: ignore[attr-defined]
    viewer = client(at, key.access_key_id, key.secret_access_key)
    for call in (viewer.register_targets, viewer.deregister_targets):
        _refused(lambda call=call: call(TargetGroupArn=tg_arn, Targets=[{"Id": "10.9.0.5", "Port": 80}]),
                 "AccessDenied", "RegisterTargets" if call == viewer.register_targets else "DeregisterTargets")
    assert viewer.describe_target_health(TargetGroupArn=tg_arn)["TargetHealthDescriptions"] == []
