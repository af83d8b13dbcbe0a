"""The Traffic API (load balancers, listeners, rules, target groups, namespaces) and the ECS
service fields that attach services to them, on the in-memory store: what is stored, and
each bad input refused with a message naming the field."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest

from agent.proxy import config as proxy_config
from controlplane.api import loadbalancers, namespaces, targetgroups, taskdefs, traffic_state
from controlplane.api import traffic_checks as check
from controlplane.api.context import ApiContext
from controlplane.api.traffic import add_traffic_service
from controlplane.errors import ApiError
from controlplane.server import build_parser, own_ports
from shoal import keys
from shoal.arns import elb_name
from shoal.store.base import Delete
from shoal.store.memory import MemoryStore
from shoal.store.wrapper import StoreWrapper
from shoal.taskdef import policy
from shoal.taskdef.policy import HostPolicy
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoal.v1 import traffic_pb2 as t
from shoal.v1 import traffic_pb2_grpc
from tests.traffic_api import STATIC, api_context, fails, lb, service, tg


@pytest.fixture
def ctx() -> Iterator[ApiContext]:
    yield from api_context()



# ---- load balancers and listeners -------------------------------------------------------------

def test_a_listener_without_a_target_group_makes_the_default_one(ctx) -> None:
    made = lb(ctx)
    assert made.load_balancer_arn.startswith("arn:aws:elasticloadbalancing:local:000000000000:loadbalancer/app/web/")
    [listener] = made.listeners
    assert (listener.port, listener.protocol) == (8000, "HTTP")
    assert listener.listener_arn.startswith(made.load_balancer_arn.replace(":loadbalancer/", ":listener/") + "/")
    group = targetgroups.describe(ctx, t.DescribeTargetGroupsRequest(target_groups=["web"])).target_groups[0]
    assert group.target_group_arn == listener.default_target_group_arn == made.default_target_group_arn
    assert ":targetgroup/web/" in group.target_group_arn
    assert list(group.load_balancer_arns) == [made.load_balancer_arn]
    stored = ctx.state.load(keys.load_balancer("default", "web"), t.LoadBalancer).msg
    assert stored == made
    # A second listener reuses it.
    again = loadbalancers.create_listener(ctx, t.CreateListenerRequest(load_balancer=made.load_balancer_arn,
                                                                       port=8001)).load_balancer
    assert again.listeners[1].default_target_group_arn == group.target_group_arn
    assert len(targetgroups.describe(ctx, t.DescribeTargetGroupsRequest()).target_groups) == 1


def test_arns_name_their_load_balancer() -> None:
    assert elb_name("arn:aws:elasticloadbalancing:r:1:loadbalancer/app/web/ab") == "web"
    assert elb_name("arn:aws:elasticloadbalancing:r:1:listener/net/tcp1/ab/cd") == "tcp1"
    assert elb_name("arn:aws:elasticloadbalancing:r:1:listener-rule/app/web/ab/cd/ef") == "web"
    assert elb_name("arn:aws:elasticloadbalancing:r:1:targetgroup/api/ab") == "api"
    assert elb_name("arn:aws:elasticloadbalancing:r:1:targetgroup/api") == ""


def test_one_listener_per_port_in_a_cluster(ctx) -> None:
    lb(ctx, "web", 8000)
    loadbalancers.create(ctx, t.CreateLoadBalancerRequest(name="other"))
    fails(loadbalancers.create_listener, ctx, t.CreateListenerRequest(load_balancer="other", port=8000),
          "port: 8000 is already a listener port of load balancer 'web'", "DuplicateListener")
    fails(loadbalancers.create_listener, ctx, t.CreateListenerRequest(load_balancer="web", port=8000),
          "port: 8000", "DuplicateListener")
    # Nothing half-made: no listener and no default target group for "other".
    assert not ctx.state.load(keys.load_balancer("default", "other"), t.LoadBalancer).msg.listeners
    assert ctx.store.get(keys.target_group("default", "other")) is None


def test_a_listener_on_a_static_host_port_of_a_service_is_refused(ctx) -> None:
    service(ctx, "static", "static")
    loadbalancers.create(ctx, t.CreateLoadBalancerRequest(name="web"))
    fails(loadbalancers.create_listener, ctx, t.CreateListenerRequest(load_balancer="web", port=8088),
          "port: 8088 is the static hostPort of service 'static'")
    # And the other way round: a service whose definition holds a listener's port.
    loadbalancers.create_listener(ctx, t.CreateListenerRequest(load_balancer="web", port=8000))
    ctx.store.put(keys.taskdef("static", 2), ctx.state.taskdef("static", 1).msg.SerializeToString())
    with pytest.raises(ApiError) as err:
        doc = dict(STATIC, family="clash")
        doc["containerDefinitions"] = [dict(STATIC["containerDefinitions"][0],
                                            portMappings=[{"containerPort": 80, "hostPort": 8000}])]
        taskdefs.register(ctx, op.RegisterTaskDefinitionRequest(json=json.dumps(doc)))
        service(ctx, "clash", "clash")
    assert "static hostPort 8000, the listener port of load balancer 'web'" in err.value.message


def test_a_listener_inside_a_nodes_dynamic_range_is_refused(ctx) -> None:
    ctx.store.put(keys.node("default", "n1"), r.ContainerInstance(
        id="n1", status="ACTIVE", dynamic_port_low=32768, dynamic_port_high=60999).SerializeToString())
    loadbalancers.create(ctx, t.CreateLoadBalancerRequest(name="web"))
    fails(loadbalancers.create_listener, ctx, t.CreateListenerRequest(load_balancer="web", port=40000),
          "port: 40000 is inside node n1's dynamic host port range 32768-60999")


def test_a_listener_on_a_nodes_own_ports_is_refused(ctx) -> None:
    """A listener binds on every node's address: on the agent's or its proxy's metrics port, or
    the DNS responders' port, HAProxy would fail to bind (the node's routing stalls) or, with
    SO_REUSEPORT, take a share of that service's connections."""
    ctx.store.put(keys.node("default", "n1"), r.ContainerInstance(
        id="n1", status="ACTIVE", metrics_port=7410, proxy_metrics_port=7411).SerializeToString())
    loadbalancers.create(ctx, t.CreateLoadBalancerRequest(name="web"))
    fails(loadbalancers.create_listener, ctx, t.CreateListenerRequest(load_balancer="web", port=7410),
          "port: 7410 is node n1's agent metrics port", "InvalidConfigurationRequest")
    fails(loadbalancers.create_listener, ctx, t.CreateListenerRequest(load_balancer="web", port=7411),
          "port: 7411 is node n1's proxy metrics port", "InvalidConfigurationRequest")
    fails(loadbalancers.create_listener, ctx, t.CreateListenerRequest(load_balancer="web", port=53),
          "port: 53 is the nodes' DNS responders' port", "InvalidConfigurationRequest")
    assert not ctx.state.load(keys.load_balancer("default", "web"), t.LoadBalancer).msg.listeners


def test_a_listener_on_the_control_planes_ports_is_refused() -> None:
    """On a node that hosts a replica, a listener on the replica's gRPC port would bind beside it
    (gRPC sets SO_REUSEPORT) and take its connections."""
    store = MemoryStore()
    c = ApiContext(store, control_plane_ports={7400: "--listen", 2379: "--etcd"})
    c.ensure_default_cluster()
    loadbalancers.create(c, t.CreateLoadBalancerRequest(name="web"))
    for port, flag in ((7400, "--listen"), (2379, "--etcd")):
        fails(loadbalancers.create_listener, c, t.CreateListenerRequest(load_balancer="web", port=port),
              f"port: {port} is the control plane's port ({flag})", "InvalidConfigurationRequest")
    loadbalancers.create_listener(c, t.CreateListenerRequest(load_balancer="web", port=8000))
    store.close()


def test_a_listener_below_1024_needs_the_privileged_listener_ports_flag(ctx) -> None:
    """A listener binds on every node's address: on 22, 25 or 80 every node's proxy would
    answer for its host's own services, so the cluster must say it wants that."""
    loadbalancers.create(ctx, t.CreateLoadBalancerRequest(name="web"))
    for port in (80, 443, 1023):
        err = fails(loadbalancers.create_listener, ctx, t.CreateListenerRequest(load_balancer="web", port=port),
                    f"port: {port} is below 1024", "InvalidConfigurationRequest")
        assert "--allow-privileged-listener-ports" in err.message and err.code == grpc.StatusCode.INVALID_ARGUMENT
    made = loadbalancers.create_listener(ctx, t.CreateListenerRequest(load_balancer="web", port=1024)).load_balancer
    arn = made.listeners[0].listener_arn
    err = fails(loadbalancers.modify_listener, ctx, t.ModifyListenerRequest(listener_arn=arn, port=80),
                "port: 80 is below 1024", "InvalidConfigurationRequest")
    assert "--allow-privileged-listener-ports" in err.message
    assert [x.port for x in ctx.state.load(keys.load_balancer("default", "web"), t.LoadBalancer).msg.listeners] == [
        1024]

    ctx.policy = HostPolicy(privileged_listener_ports=True)
    loadbalancers.modify_listener(ctx, t.ModifyListenerRequest(listener_arn=arn, port=80))
    loadbalancers.create_listener(ctx, t.CreateListenerRequest(load_balancer="web", port=443))
    assert sorted(x.port for x in ctx.state.load(keys.load_balancer("default", "web"), t.LoadBalancer).msg.listeners) \
        == [80, 443]
    # The flag opens privileged ports, not the DNS responders' one.
    fails(loadbalancers.create_listener, ctx, t.CreateListenerRequest(load_balancer="web", port=53),
          "port: 53 is the nodes' DNS responders' port", "InvalidConfigurationRequest")


def test_the_control_planes_flag_sets_the_privileged_listener_ports_policy() -> None:
    assert not policy.from_args(build_parser().parse_args([])).privileged_listener_ports
    assert policy.from_args(build_parser().parse_args(["--allow-privileged-listener-ports"])).privileged_listener_ports


def test_own_ports_names_every_listener_of_the_replica() -> None:
    args = build_parser().parse_args([
        "--etcd", "https://10.0.0.9:2379,http://10.0.0.8:12379", "--listen", "0.0.0.0:7400",
        "--metrics-listen", "0.0.0.0:7401", "--console-listen", ":7490", "--ecs-listen", "0.0.0.0:7480",
        "--registry-front-listen", "0.0.0.0:5000"])
    assert own_ports(args) == {2379: "--etcd", 12379: "--etcd", 7400: "--listen", 7401: "--metrics-listen",
                               7490: "--console-listen", 7480: "--ecs-listen", 5000: "--registry-front-listen"}


def test_listeners_sharing_a_target_group_agree_on_the_proxy_protocol(ctx) -> None:
    """A node proxy refuses a whole routing table where one backend is sent the PROXY protocol
    by one frontend and not by another: every load balancer of the cluster stopped routing."""
    tg(ctx, "db", 5432, protocol="TCP")
    tg(ctx, "db2", 5432, protocol="TCP")
    for name in ("n1", "n2"):
        loadbalancers.create(ctx, t.CreateLoadBalancerRequest(name=name, type="network"))
    loadbalancers.create_listener(ctx, t.CreateListenerRequest(load_balancer="n1", port=6000, protocol="TCP",
                                                               default_target_group="db", proxy_protocol=True))
    fails(loadbalancers.create_listener, ctx, t.CreateListenerRequest(load_balancer="n2", port=6001, protocol="TCP",
                                                                      default_target_group="db"),
          "proxyProtocol: target group 'db' is the default of the listener on port 6000 of load balancer 'n1', "
          "which sends the PROXY protocol", "InvalidConfigurationRequest")
    made = loadbalancers.create_listener(ctx, t.CreateListenerRequest(
        load_balancer="n2", port=6001, protocol="TCP", default_target_group="db2")).load_balancer
    fails(loadbalancers.modify_listener, ctx, t.ModifyListenerRequest(listener_arn=made.listeners[0].listener_arn,
                                                                      default_target_group="db"),
          "defaultTargetGroup: target group 'db' is the default", "InvalidConfigurationRequest")
    loadbalancers.create_listener(ctx, t.CreateListenerRequest(load_balancer="n2", port=6002, protocol="TCP",
                                                               default_target_group="db", proxy_protocol=True))



    loadbalancers.create(ctx, t.CreateLoadBalancerRequest(name="alb"))
    loadbalancers.create(ctx, t.CreateLoadBalancerRequest(name="nlb", type="network"))
    fails(loadbalancers.create_listener, ctx, t.CreateListenerRequest(load_balancer="alb", port=1, protocol="TCP"),
          "protocol: a application load balancer's listeners are HTTP")
    fails(loadbalancers.create_listener, ctx, t.CreateListenerRequest(load_balancer="nlb", port=1, protocol="HTTP"),
          "protocol: a network load balancer's listeners are TCP")
    fails(loadbalancers.create_listener, ctx, t.CreateListenerRequest(load_balancer="alb", port=1, protocol="UDP"),
          "protocol: must be HTTP or TCP")
    fails(loadbalancers.create_listener, ctx, t.CreateListenerRequest(load_balancer="alb", port=1,
                                                                      proxy_protocol=True),
          "proxyProtocol: only TCP listeners")
    nlb = loadbalancers.create_listener(ctx, t.CreateListenerRequest(load_balancer="nlb", port=5432,
                                                                     proxy_protocol=True)).load_balancer
    assert (nlb.listeners[0].protocol, nlb.listeners[0].proxy_protocol) == ("TCP", True)
    assert ":loadbalancer/net/nlb/" in nlb.load_balancer_arn
    assert targetgroups.describe(ctx, t.DescribeTargetGroupsRequest(target_groups=["nlb"])).target_groups[0] \
        .health_check.protocol == "TCP"
    tg(ctx, "http-group")
    fails(loadbalancers.create_listener, ctx, t.CreateListenerRequest(load_balancer="nlb", port=5433,
                                                                      default_target_group="http-group"),
          "defaultTargetGroup: target group 'http-group' is HTTP")
    fails(loadbalancers.create, ctx, t.CreateLoadBalancerRequest(name="x", type="gateway"),
          "type: must be application or network")


@pytest.mark.parametrize("name", ["", "-web", "web-", "a" * 33, "we_b", "internal-web", "wéb"])
def test_load_balancer_and_target_group_names(ctx, name) -> None:
    fails(loadbalancers.create, ctx, t.CreateLoadBalancerRequest(name=name), "name:")
    fails(targetgroups.create, ctx, t.CreateTargetGroupRequest(name=name, port=80), "name:")


def test_duplicates_and_lookups(ctx) -> None:
    made = lb(ctx)
    fails(loadbalancers.create, ctx, t.CreateLoadBalancerRequest(name="web"), "name: a load balancer named 'web'",
          "DuplicateLoadBalancerName")
    fails(targetgroups.create, ctx, t.CreateTargetGroupRequest(name="web", port=80),
          "name: a target group named 'web'", "DuplicateTargetGroupName")
    fails(loadbalancers.create, ctx, t.CreateLoadBalancerRequest(name="x", node_expression="attribute:zone =="),
          "nodeExpression:")
    fails(loadbalancers.create, ctx, t.CreateLoadBalancerRequest(name="x", tags=[r.Tag(key="", value="v")]),
          "tags[0].key: must be 1 to 128")
    fails(targetgroups.create, ctx, t.CreateTargetGroupRequest(name="x", port=1, tags=[r.Tag(key="a")] * 2),
          "tags[1].key: 'a' is given twice", "DuplicateTagKeys")
    fails(loadbalancers.create, ctx, t.CreateLoadBalancerRequest(name="x", tags=[r.Tag(key="k\x00", value="v")]),
          "tags[0].key: 'k\\x00' holds a control character")
    fails(targetgroups.create, ctx, t.CreateTargetGroupRequest(name="x", port=1, tags=[r.Tag(key="k", value="\n")]),
          "tags[0].value: '\\n' holds a control character")
    stale = made.load_balancer_arn[:-4] + "0000"
    resp = loadbalancers.describe(ctx, t.DescribeLoadBalancersRequest(load_balancers=["web", stale, "nope"]))
    assert [x.load_balancer_name for x in resp.load_balancers] == ["web"]
    assert [f.arn for f in resp.failures] == [stale, "nope"]
    fails(loadbalancers.delete_listener, ctx, t.ListenerRef(listener_arn=made.listeners[0].listener_arn + "0"),
          "listenerArn: listener", "ListenerNotFound")
    loadbalancers.delete_listener(ctx, t.ListenerRef(listener_arn=made.listeners[0].listener_arn))
    loadbalancers.delete(ctx, t.LoadBalancerRef(load_balancer="web"))
    assert loadbalancers.describe(ctx, t.DescribeLoadBalancersRequest()).load_balancers == []
    # Its target group stays, as in ELBv2.
    assert targetgroups.describe(ctx, t.DescribeTargetGroupsRequest(target_groups=["web"])).target_groups


# ---- rules ------------------------------------------------------------------------------------

def rule(listener_arn: str, **kw) -> t.CreateRuleRequest:
    base = dict(listener_arn=listener_arn, priority=10, host_patterns=["api.example.com"], path_patterns=["/v1/*"],
                target_group="api")
    base.update(kw)
    return t.CreateRuleRequest(**base)


def test_rules_are_kept_in_priority_order(ctx) -> None:
    arn = lb(ctx).listeners[0].listener_arn
    tg(ctx)
    loadbalancers.create_rule(ctx, rule(arn, priority=20))
    made = loadbalancers.create_rule(ctx, rule(arn, priority=5, host_patterns=["*.example.?om"], path_patterns=[]))
    rules = made.load_balancer.listeners[0].rules
    assert [x.priority for x in rules] == [5, 20]
    assert ":listener-rule/app/web/" in rules[0].rule_arn
    fails(targetgroups.delete, ctx, t.TargetGroupRef(target_group="api"), "in use by load balancer 'web'",
          "ResourceInUse")
    loadbalancers.delete_rule(ctx, t.RuleRef(rule_arn=rules[0].rule_arn))
    loadbalancers.delete_rule(ctx, t.RuleRef(rule_arn=rules[1].rule_arn))
    fails(loadbalancers.delete_rule, ctx, t.RuleRef(rule_arn=rules[1].rule_arn), "ruleArn:", "RuleNotFound")
    targetgroups.delete(ctx, t.TargetGroupRef(target_group="api"))


@pytest.mark.parametrize("kw,match", [
    (dict(priority=0), "priority: must be between 1 and 50000"),
    (dict(priority=50001), "priority: must be between 1 and 50000"),
    (dict(host_patterns=["bad_host.com"]), "hostPatterns[0]: 'bad_host.com' is not a host pattern"),
    (dict(host_patterns=["a" * 129]), "hostPatterns[0]: must be 1 to 128"),
    (dict(path_patterns=["v1/*"]), "pathPatterns[0]: 'v1/*' is not a path pattern: it starts with '/'"),
    (dict(path_patterns=["/a b"]), "pathPatterns[0]:"),
    # The proxies quote patterns in single quotes: one there stopped every node's routing.
    (dict(path_patterns=["/it's"]), "pathPatterns[0]: \"/it's\" is not a path pattern"),
    (dict(path_patterns=[f"/{i}" for i in range(6)]), "pathPatterns: at most 5 patterns"),
    (dict(host_patterns=[], path_patterns=[]), "conditions: give at least one"),
    (dict(target_group="nope"), "targetGroup: target group 'nope' not found"),
])
def test_bad_rules(ctx, kw, match) -> None:
    arn = lb(ctx).listeners[0].listener_arn
    tg(ctx)
    fails(loadbalancers.create_rule, ctx, rule(arn, **kw), match)


def test_duplicate_priority_and_tcp_listeners_refuse_rules(ctx) -> None:
    arn = lb(ctx).listeners[0].listener_arn
    tg(ctx)
    loadbalancers.create_rule(ctx, rule(arn))
    fails(loadbalancers.create_rule, ctx, rule(arn), "priority: 10 is already taken", "PriorityInUse")
    nlb = lb(ctx, "nlb", 5432, lb_type="network").listeners[0].listener_arn
    fails(loadbalancers.create_rule, ctx, rule(nlb), "listenerArn: rules on host and path are for HTTP")
    fails(loadbalancers.create_rule, ctx, rule("web"), "listenerArn: required, as an ARN")


# ---- target groups ----------------------------------------------------------------------------

def test_every_pattern_and_health_path_the_api_takes_the_proxies_can_carry() -> None:
    """The proxy refuses a whole routing table it cannot render, so a value the API takes and
    the renderer does not stops routing on every node: the API's characters must be a subset."""
    for code in range(32, 127):
        ch = chr(code)
        try:
            check.patterns([f"/a{ch}"], "pathPatterns", host=False)
        except ApiError:
            pass
        else:
            proxy_config._path_regex(f"/a{ch}", "path")
        try:
            check.patterns([f"a{ch}.example.com"], "hostPatterns", host=True)
        except ApiError:
            pass
        else:
            proxy_config._host_regex(f"a{ch}.example.com", "host")
        try:
            hc = check.health_check(t.HealthCheckConfig(path=f"/a{ch}"), "HTTP")
        except ApiError:
            continue
        proxy_config._health_check(hc, "http", "health_check")


def test_target_group_defaults_and_modify(ctx) -> None:
    made = tg(ctx)
    hc = made.health_check
    assert (hc.protocol, hc.path, hc.matcher, hc.interval_seconds, hc.timeout_seconds, hc.healthy_threshold,
            hc.unhealthy_threshold, made.deregistration_delay_seconds) == ("HTTP", "/", "200", 30, 5, 5, 2, 300)
    out = targetgroups.modify(ctx, t.ModifyTargetGroupRequest(
        target_group=made.target_group_arn, health_check=t.HealthCheckConfig(path="/health", interval_seconds=10),
        deregistration_delay_seconds=0)).target_group
    assert (out.health_check.path, out.health_check.interval_seconds, out.health_check.timeout_seconds,
            out.deregistration_delay_seconds) == ("/health", 10, 5, 0)
    fails(targetgroups.modify, ctx, t.ModifyTargetGroupRequest(
        target_group="api", health_check=t.HealthCheckConfig(interval_seconds=5)),
        "healthCheck.timeoutSeconds: must be less than intervalSeconds (5), got 5")
    assert ctx.state.load(keys.target_group("default", "api"), t.TargetGroup).msg.health_check.interval_seconds == 10


@pytest.mark.parametrize("kw,match", [
    (dict(health_check=t.HealthCheckConfig(interval_seconds=4)), "healthCheck.intervalSeconds: must be between 5"),
    (dict(health_check=t.HealthCheckConfig(interval_seconds=301)), "healthCheck.intervalSeconds"),
    (dict(health_check=t.HealthCheckConfig(timeout_seconds=1)), "healthCheck.timeoutSeconds: must be between 2"),
    (dict(health_check=t.HealthCheckConfig(healthy_threshold=11)), "healthCheck.healthyThreshold"),
    (dict(health_check=t.HealthCheckConfig(unhealthy_threshold=1)), "healthCheck.unhealthyThreshold"),
    (dict(health_check=t.HealthCheckConfig(matcher="600")), "healthCheck.matcher: '600' is not an HTTP code"),
    (dict(health_check=t.HealthCheckConfig(matcher="200-abc")), "healthCheck.matcher"),
    (dict(health_check=t.HealthCheckConfig(matcher="399-200")), "healthCheck.matcher: the range '399-200'"),
    (dict(health_check=t.HealthCheckConfig(path="health")), "healthCheck.path: must start with '/'"),
    (dict(health_check=t.HealthCheckConfig(path="/a b")), "healthCheck.path: must start with '/'"),
    (dict(health_check=t.HealthCheckConfig(path="/a#b")), "healthCheck.path"),
    (dict(health_check=t.HealthCheckConfig(path="/a'b")), "healthCheck.path"),
    (dict(health_check=t.HealthCheckConfig(protocol="TCP")), "healthCheck.protocol: an HTTP target group"),
    (dict(deregistration_delay_seconds=3601), "deregistrationDelaySeconds: must be between 0 and 3600"),
    (dict(deregistration_delay_seconds=-1), "deregistrationDelaySeconds"),
    (dict(protocol="HTTPS"), "protocol: must be HTTP or TCP"),
    (dict(port=0), "port: must be a port from 1 to 65535"),
])
def test_bad_target_groups(ctx, kw, match) -> None:
    base = dict(name="api", port=8080)
    base.update(kw)
    err = fails(targetgroups.create, ctx, t.CreateTargetGroupRequest(**base), match)
    assert err.code == grpc.StatusCode.INVALID_ARGUMENT
    assert ctx.store.get(keys.target_group("default", "api")) is None


def test_target_health_lists_the_attached_services_tasks(ctx) -> None:
    arn = lb(ctx).default_target_group_arn
    svc = service(ctx, load_balancers=[r.ServiceLoadBalancer(load_balancer_name="web", container_name="web",
                                                             container_port=8080)])
    assert svc.load_balancers[0].target_group_arn == arn
    ctx.store.put(keys.node("default", "n1"), r.ContainerInstance(id="n1", address="10.0.0.7").SerializeToString())

    def task(task_id, **kw):
        fields = dict(id=task_id, service_name="web", node_id="n1", last_status="RUNNING", desired_status="RUNNING")
        fields.update(kw)
        msg = r.Task(containers=[r.Container(name="web", network_bindings=[
            r.NetworkBinding(container_port=8080, host_port=32001 + len(task_id))])], **fields)
        ctx.store.put(keys.task("default", task_id), msg.SerializeToString())

    task("a")
    task("bb", target_health=[r.TargetHealth(target_group_arn=arn, state="healthy")])
    task("ccc", desired_status="STOPPED")
    task("dddd", last_status="STOPPED")
    task("eeeee", node_id="")
    targets = targetgroups.target_health(ctx, t.TargetGroupRef(target_group="web")).targets
    assert [(x.task_id, x.address, x.port, x.health.state) for x in targets] == [
        ("a", "10.0.0.7", 32002, "initial"), ("bb", "10.0.0.7", 32003, "healthy"),
        ("ccc", "10.0.0.7", 32004, "draining")]
    fails(targetgroups.delete, ctx, t.TargetGroupRef(target_group="web"), "in use by load balancer 'web', "
          "service 'web'", "ResourceInUse")


@pytest.mark.parametrize("kind", [traffic_state.LOAD_BALANCER, traffic_state.TARGET_GROUP, traffic_state.NAMESPACE])
def test_one_finder_takes_a_name_or_the_current_arn_of_each_kind(ctx, kind) -> None:
    def make() -> str:
        if kind is traffic_state.LOAD_BALANCER:
            return loadbalancers.create(ctx, t.CreateLoadBalancerRequest(name="web")).load_balancer.load_balancer_arn
        if kind is traffic_state.TARGET_GROUP:
            return tg(ctx, name="web").target_group_arn
        return namespaces.create(ctx, t.CreateNamespaceRequest(name="front")).namespace.arn

    def find(c, ref):
        return traffic_state.find(c, kind, "default", ref, "f")

    arn = make()
    name = "front" if kind is traffic_state.NAMESPACE else "web"
    assert kind.arn_of(traffic_state.find(ctx, kind, "default", name, "f").msg) == arn
    assert kind.arn_of(traffic_state.find(ctx, kind, "default", arn, "f").msg) == arn
    err = fails(find, ctx, "", "f: required", "ValidationError")
    assert err.code == grpc.StatusCode.INVALID_ARGUMENT
    fails(find, ctx, "nope", f"f: {kind.what} 'nope' not found", kind.not_found)
    # Deleted and made again under the same name: the old ARN finds nothing.
    ctx.store.delete(traffic_state.find(ctx, kind, "default", name, "f").key)
    assert make() != arn
    assert traffic_state.lookup(ctx, kind, "default", arn) is None
    fails(find, ctx, arn, "not found", kind.not_found)


# ---- namespaces -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["com", "org", "io", "dev", "app", "xn--p1ai"])
def test_a_namespace_named_like_a_public_top_level_domain_is_refused(ctx, name: str) -> None:
    """Every node's responder answers for a namespace with authority: `org` would answer
    NXDOMAIN for pypi.org in every container."""
    err = fails(namespaces.create, ctx, t.CreateNamespaceRequest(name=name),
                f"name: {name!r} is a public top-level domain", "ValidationError")
    assert err.code == grpc.StatusCode.INVALID_ARGUMENT and f"pypi.{name}" in err.message
    assert namespaces.list_(ctx, t.ListNamespacesRequest()).namespaces == []


def test_private_namespace_names_are_taken() -> None:
    for name in ("lab", "local", "internal", "corp", "svc", "prod-eu"):
        assert check.namespace_name(name) == name


def test_namespaces(ctx) -> None:
    ns = namespaces.create(ctx, t.CreateNamespaceRequest(name="lab")).namespace
    assert ns.arn.startswith("arn:aws:servicediscovery:local:000000000000:namespace/ns-")
    fails(namespaces.create, ctx, t.CreateNamespaceRequest(name="lab"), "name: a namespace named 'lab'",
          "NamespaceAlreadyExists")
    for bad in ("Lab", "-lab", "a.b", "a" * 64, ""):
        fails(namespaces.create, ctx, t.CreateNamespaceRequest(name=bad), "name:")
    service(ctx, service_registries=[r.ServiceRegistry(namespace=ns.arn)])
    fails(namespaces.delete, ctx, t.NamespaceRef(name="lab"), "used by service(s) web", "ResourceInUse")
    assert [x.name for x in namespaces.list_(ctx, t.ListNamespacesRequest()).namespaces] == ["lab"]


def test_the_grpc_service_answers_with_statuses_naming_the_field(ctx) -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    add_traffic_service(ctx, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = traffic_pb2_grpc.TrafficStub(channel)
            stub.CreateLoadBalancer(t.CreateLoadBalancerRequest(name="web"), timeout=10)
            made = stub.CreateListener(t.CreateListenerRequest(load_balancer="web", port=8000), timeout=10)
            assert made.load_balancer.listeners[0].port == 8000
            with pytest.raises(grpc.RpcError) as err:
                stub.CreateListener(t.CreateListenerRequest(load_balancer="web", port=8000), timeout=10)
            assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
            assert err.value.details().startswith("port: 8000 is already a listener port")
            with pytest.raises(grpc.RpcError) as err:
                stub.CreateTargetGroup(t.CreateTargetGroupRequest(name="api", port=80, health_check=t.HealthCheckConfig(
                    interval_seconds=1)), timeout=10)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "healthCheck.intervalSeconds" in err.value.details()
            health = stub.DescribeTargetHealth(t.TargetGroupRef(target_group="web"), timeout=10)
            assert list(health.targets) == []
    finally:
        server.stop(None)


def test_a_listener_without_a_target_group_uses_the_load_balancers_default(ctx) -> None:
    tg(ctx, "api")
    loadbalancers.create(ctx, t.CreateLoadBalancerRequest(name="web"))
    first = loadbalancers.create_listener(ctx, t.CreateListenerRequest(load_balancer="web", port=8000,
                                                                       default_target_group="api")).load_balancer
    assert first.default_target_group_arn == first.listeners[0].default_target_group_arn
    second = loadbalancers.create_listener(ctx, t.CreateListenerRequest(load_balancer="web", port=8001)).load_balancer
    assert second.listeners[1].default_target_group_arn == first.default_target_group_arn
    assert ctx.store.get(keys.target_group("default", "web")) is None
    # The default is in use while its load balancer stands, even with no listener left.
    for listener in second.listeners:
        loadbalancers.delete_listener(ctx, t.ListenerRef(listener_arn=listener.listener_arn))
    fails(targetgroups.delete, ctx, t.TargetGroupRef(target_group="api"), "in use by load balancer 'web'")
    loadbalancers.delete(ctx, t.LoadBalancerRef(load_balancer="web"))
    targetgroups.delete(ctx, t.TargetGroupRef(target_group="api"))


class _MeetAtTxn(StoreWrapper):
    """Holds the first two transactions until both have arrived: two writers that both
    checked the same state before either wrote."""

    def __init__(self, inner) -> None:
        super().__init__(inner)
        self.barrier = threading.Barrier(2, timeout=10)
        self.held = 0

    def before_write(self, ops) -> None:
        if self.held < 2:
            self.held += 1
            self.barrier.wait()


def test_two_racing_listeners_cannot_take_one_port(ctx) -> None:
    for name in ("a", "b"):
        loadbalancers.create(ctx, t.CreateLoadBalancerRequest(name=name))
    racing = ApiContext(_MeetAtTxn(ctx.store))
    outcomes: dict[str, str] = {}

    def listen(name: str) -> None:
        try:
            loadbalancers.create_listener(racing, t.CreateListenerRequest(load_balancer=name, port=8000))
            outcomes[name] = "made"
        except ApiError as exc:
            outcomes[name] = exc.ecs_type

    threads = [threading.Thread(target=listen, args=(name,)) for name in ("a", "b")]
    for th in threads:
        th.start()
    for th in threads:
        th.join(20)
    assert racing.store.held == 2  # both passed the port check before either wrote
    assert sorted(outcomes.values()) == ["DuplicateListener", "made"]
    ports = [x.port for rec in loadbalancers.describe(ctx, t.DescribeLoadBalancersRequest()).load_balancers
             for x in rec.listeners]
    assert ports == [8000]


class _TouchBeforeDelete(StoreWrapper):
    """Rewrites a record just before it is deleted: a change between the caller's checks
    and its delete, as a concurrent update makes."""

    def before_write(self, ops) -> None:
        for o in ops:
            if isinstance(o, Delete) and (kv := self.inner.get(o.key)) is not None:
                self.inner.put(o.key, kv.value)


@pytest.mark.parametrize(("make", "delete", "field"), [
    (lambda c: namespaces.create(c, t.CreateNamespaceRequest(name="x")),
     lambda c: namespaces.delete(c, t.NamespaceRef(name="x")), "name"),
    (lambda c: targetgroups.create(c, t.CreateTargetGroupRequest(name="x", port=80)),
     lambda c: targetgroups.delete(c, t.TargetGroupRef(target_group="x")), "targetGroup"),
    (lambda c: loadbalancers.create(c, t.CreateLoadBalancerRequest(name="x")),
     lambda c: loadbalancers.delete(c, t.LoadBalancerRef(load_balancer="x")), "loadBalancer"),
])
def test_a_record_changed_while_being_deleted_stays_and_the_delete_is_refused(ctx, make, delete, field) -> None:
    made = make(ctx)
    racing = ApiContext(_TouchBeforeDelete(ctx.store))
    with pytest.raises(ApiError) as err:
        delete(racing)
    assert err.value.code == grpc.StatusCode.ABORTED and err.value.message.startswith(f"{field}: changed"), \
        err.value.message
    assert made.ListFields() and delete(ctx)  # still there: deleted now, with nothing racing it
