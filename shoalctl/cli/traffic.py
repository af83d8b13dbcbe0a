"""`shoal lb|tg|namespace ...`: load balancers with their listeners and rules, target groups
and their targets' health, and service-discovery namespaces, over the Traffic API."""

from __future__ import annotations

import argparse

from shoal.arns import elb_name
from shoal.v1 import traffic_pb2 as t
from shoal.v1 import traffic_pb2_grpc
from shoalctl.cli import client
from shoalctl.cli.client import Client, add_verb
from shoalctl.cli.errors import CliError
from shoalctl.cli.output import ago, print_json, table


def connect(a) -> Client:
    return client.connect(a, traffic_pb2_grpc.TrafficStub)


def _short(arn: str) -> str:
    return elb_name(arn) or "-"


# ---- load balancers ---------------------------------------------------------------------------

def parse_listener(text: str) -> tuple[int, str]:
    """PORT[:http|tcp] -> (port, "HTTP"|"TCP"|"" when not said)."""
    port_text, _, protocol = text.partition(":")
    try:
        port = int(port_text)
    except ValueError:
        raise CliError(f"--listener: expected PORT[:http|tcp], got {text!r}") from None
    if not 1 <= port <= 65535:
        raise CliError(f"--listener: port must be from 1 to 65535, got {port}")
    if protocol.lower() not in ("", "http", "tcp"):
        raise CliError(f"--listener: the protocol is http or tcp, got {protocol!r}")
    return port, protocol.upper()


def _lb_type(a, listeners: list[tuple[int, str]]) -> str:
    """--type, or what the listeners say: all tcp makes a network load balancer."""
    if a.type:
        return a.type
    return "network" if listeners and all(p == "TCP" for _, p in listeners) else "application"


def lb_create(a) -> None:
    listeners = [parse_listener(x) for x in a.listener]
    lb_type = _lb_type(a, listeners)
    wanted = "HTTP" if lb_type == "application" else "TCP"
    for port, protocol in listeners:
        if protocol and protocol != wanted:
            raise CliError(f"--listener: {port}:{protocol.lower()} on an {lb_type} load balancer, whose listeners "
                           f"are {wanted.lower()} (--type network for tcp)")
    if a.proxy_protocol and lb_type != "network":
        raise CliError("--proxy-protocol: only for tcp listeners (a network load balancer)")
    c = connect(a)
    lb = c.CreateLoadBalancer(t.CreateLoadBalancerRequest(cluster=a.cluster, name=a.name, type=lb_type,
                                                          node_expression=a.nodes or "")).load_balancer
    try:
        for port, _ in listeners:
            lb = c.CreateListener(t.CreateListenerRequest(cluster=a.cluster, load_balancer=lb.load_balancer_arn,
                                                          port=port, protocol=wanted,
                                                          proxy_protocol=a.proxy_protocol)).load_balancer
    except CliError:
        # All or nothing: a listener the cluster refused takes the new load balancer with it.
        c.DeleteLoadBalancer(t.LoadBalancerRef(cluster=a.cluster, load_balancer=lb.load_balancer_arn))
        raise
    if a.output == "json":
        print_json(lb)
        return
    print(lb.load_balancer_arn)
    _listeners(lb)


def _listeners(lb: t.LoadBalancer) -> None:
    table(["PORT", "PROTOCOL", "DEFAULT TARGET GROUP", "RULES", "PROXY PROTOCOL"],
          [[x.port, x.protocol, _short(x.default_target_group_arn), len(x.rules), "yes" if x.proxy_protocol else "-"]
           for x in lb.listeners])


def _describe_lbs(a, refs: list[str]) -> list[t.LoadBalancer]:
    resp = connect(a).DescribeLoadBalancers(t.DescribeLoadBalancersRequest(cluster=a.cluster, load_balancers=refs))
    if resp.failures:
        raise CliError(f"load balancer {', '.join(f.arn for f in resp.failures)} not found in cluster {a.cluster}")
    return list(resp.load_balancers)


def lb_list(a) -> None:
    lbs = _describe_lbs(a, [])
    if a.output == "json":
        print_json(lbs)
        return
    table(["NAME", "TYPE", "LISTENERS", "NODES", "DEFAULT TARGET GROUP", "AGE"],
          [[x.load_balancer_name, x.type, ",".join(f"{y.port}/{y.protocol.lower()}" for y in x.listeners) or "-",
            x.node_expression or "all", _short(x.default_target_group_arn),
            ago(x.created_at)] for x in lbs])


def lb_describe(a) -> None:
    lb = _describe_lbs(a, [a.name])[0]
    if a.output == "json":
        print_json(lb)
        return
    print(f"{lb.load_balancer_name}  {lb.type}  {lb.state}  nodes={lb.node_expression or 'all'}")
    print(lb.load_balancer_arn)
    print("\nLISTENERS")
    _listeners(lb)
    rules = [(x.port, rule) for x in lb.listeners for rule in x.rules]
    if rules:
        print("\nRULES")
        table(["PORT", "PRIORITY", "HOSTS", "PATHS", "TARGET GROUP", "ARN"],
              [[port, rule.priority, ",".join(rule.host_patterns) or "*", ",".join(rule.path_patterns) or "*",
                _short(rule.target_group_arn), rule.rule_arn] for port, rule in rules])


def lb_delete(a) -> None:
    lb = connect(a).DeleteLoadBalancer(t.LoadBalancerRef(cluster=a.cluster, load_balancer=a.name)).load_balancer
    print(f"deleted load balancer {lb.load_balancer_name} (its target groups stay: `shoal tg delete`)")


def _listener_on(a, lb_name: str, port: int) -> str:
    lb = _describe_lbs(a, [lb_name])[0]
    for x in lb.listeners:
        if x.port == port:
            return x.listener_arn
    ports = ", ".join(str(x.port) for x in lb.listeners) or "none"
    raise CliError(f"PORT: load balancer {lb_name} has no listener on {port} (it listens on {ports})")


def rule_add(a) -> None:
    req = t.CreateRuleRequest(cluster=a.cluster, listener_arn=_listener_on(a, a.lb, a.port), priority=a.priority,
                              host_patterns=a.host, path_patterns=a.path, target_group=a.target_group)
    lb = connect(a).CreateRule(req).load_balancer
    if a.output == "json":
        print_json(lb)
        return
    for x in lb.listeners:
        for rule in x.rules:
            if x.port == a.port and rule.priority == a.priority:
                print(rule.rule_arn)


def rule_delete(a) -> None:
    connect(a).DeleteRule(t.RuleRef(cluster=a.cluster, rule_arn=a.rule))
    print(f"deleted rule {a.rule}")


# ---- target groups ----------------------------------------------------------------------------

def tg_create(a) -> None:
    hc = t.HealthCheckConfig(path=a.health_path or "", matcher=a.matcher or "", interval_seconds=a.interval or 0,
                             timeout_seconds=a.timeout or 0, healthy_threshold=a.healthy_threshold or 0,
                             unhealthy_threshold=a.unhealthy_threshold or 0)
    req = t.CreateTargetGroupRequest(cluster=a.cluster, name=a.name, protocol=a.protocol.upper(), port=a.port,
                                     health_check=hc)
    if a.deregistration_delay is not None:
        req.deregistration_delay_seconds = a.deregistration_delay
    tg = connect(a).CreateTargetGroup(req).target_group
    print_json(tg) if a.output == "json" else print(tg.target_group_arn)


def _describe_tgs(a, refs: list[str]) -> list[t.TargetGroup]:
    resp = connect(a).DescribeTargetGroups(t.DescribeTargetGroupsRequest(cluster=a.cluster, target_groups=refs))
    if resp.failures:
        raise CliError(f"target group {', '.join(f.arn for f in resp.failures)} not found in cluster {a.cluster}")
    return list(resp.target_groups)


def _check(tg: t.TargetGroup) -> str:
    hc = tg.health_check
    what = f"HTTP {hc.path} {hc.matcher}" if hc.protocol == "HTTP" else "TCP"
    return (f"{what} every {hc.interval_seconds}s (timeout {hc.timeout_seconds}s, "
            f"healthy {hc.healthy_threshold}, unhealthy {hc.unhealthy_threshold})")


def tg_list(a) -> None:
    tgs = _describe_tgs(a, [])
    if a.output == "json":
        print_json(tgs)
        return
    table(["NAME", "PROTOCOL", "PORT", "LOAD BALANCERS", "HEALTH CHECK", "DEREGISTRATION DELAY"],
          [[x.target_group_name, x.protocol, x.port, ",".join(_short(y) for y in x.load_balancer_arns) or "-",
            _check(x), f"{x.deregistration_delay_seconds}s"] for x in tgs])


def tg_describe(a) -> None:
    tg = _describe_tgs(a, [a.name])[0]
    if a.output == "json":
        print_json(tg)
        return
    print(f"{tg.target_group_name}  {tg.protocol}:{tg.port}  deregistration delay {tg.deregistration_delay_seconds}s")
    print(tg.target_group_arn)
    print(f"health check: {_check(tg)}")
    print("load balancers: " + (", ".join(_short(y) for y in tg.load_balancer_arns) or "-"))


def tg_delete(a) -> None:
    tg = connect(a).DeleteTargetGroup(t.TargetGroupRef(cluster=a.cluster, target_group=a.name)).target_group
    print(f"deleted target group {tg.target_group_name}")


def tg_health(a) -> None:
    targets = connect(a).DescribeTargetHealth(t.TargetGroupRef(cluster=a.cluster, target_group=a.name)).targets
    if a.output == "json":
        print_json(list(targets))
        return
    table(["TASK", "NODE", "ADDRESS", "PORT", "STATE", "REASON"],
          [[x.task_id[:12], x.node_id[:12], x.address or "-", x.port or "-", x.health.state, x.health.reason or "-"]
           for x in targets])


# ---- namespaces -------------------------------------------------------------------------------

def ns_create(a) -> None:
    ns = connect(a).CreateNamespace(t.CreateNamespaceRequest(cluster=a.cluster, name=a.name)).namespace
    print_json(ns) if a.output == "json" else print(ns.arn)


def ns_list(a) -> None:
    found = list(connect(a).ListNamespaces(t.ListNamespacesRequest(cluster=a.cluster)).namespaces)
    if a.output == "json":
        print_json(found)
        return
    table(["NAME", "ARN", "AGE"], [[x.name, x.arn, ago(x.created_at)] for x in found])


def ns_delete(a) -> None:
    ns = connect(a).DeleteNamespace(t.NamespaceRef(cluster=a.cluster, name=a.name)).namespace
    print(f"deleted namespace {ns.name}")


# ---- wiring -----------------------------------------------------------------------------------

def _whole(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    return value


def register(sub) -> None:
    lb = sub.add_parser("lb", help="load balancers").add_subparsers(dest="verb", metavar="VERB", required=True)
    p = add_verb(lb, "create", lb_create, "create a load balancer with its listeners", cluster=True, output=True)
    p.add_argument("name")
    p.add_argument("--listener", action="append", default=[], metavar="PORT[:http|tcp]",
                   help="a port every node listens on (repeatable)")
    p.add_argument("--type", choices=("application", "network"),
                   help="application (http) or network (tcp); default: from the listeners")
    p.add_argument("--nodes", metavar="CQL", help="only nodes matching this expression listen (default: all)")
    p.add_argument("--proxy-protocol", action="store_true",
                   help="tcp listeners send the client's address with the PROXY protocol (v2)")
    add_verb(lb, "list", lb_list, "list load balancers", cluster=True, output=True)
    for verb, func, helptext in (("describe", lb_describe, "show a load balancer, its listeners and rules"),
                                 ("delete", lb_delete, "delete a load balancer and its listeners")):
        p = add_verb(lb, verb, func, helptext, cluster=True, output=verb == "describe")
        p.add_argument("name", help="name or ARN")
    rule = lb.add_parser("rule", help="listener rules").add_subparsers(dest="rule_verb", metavar="VERB",
                                                                         required=True)
    p = add_verb(rule, "add", rule_add, "send requests matching host/path patterns to a target group",
                 cluster=True, output=True)
    p.add_argument("lb", metavar="LB")
    p.add_argument("port", metavar="PORT", type=int, help="the listener's port")
    p.add_argument("--host", action="append", default=[], metavar="PAT", help="host pattern (* and ?; repeatable)")
    p.add_argument("--path", action="append", default=[], metavar="PAT", help="path pattern (/...; repeatable)")
    p.add_argument("--target-group", required=True, metavar="TG")
    p.add_argument("--priority", type=int, required=True, metavar="N", help="1..50000, lower first")
    p = add_verb(rule, "delete", rule_delete, "delete a rule", cluster=True)
    p.add_argument("rule", metavar="RULE_ARN")

    tg = sub.add_parser("tg", help="target groups").add_subparsers(dest="verb", metavar="VERB", required=True)
    p = add_verb(tg, "create", tg_create, "create a target group", cluster=True, output=True)
    p.add_argument("name")
    p.add_argument("--port", type=int, required=True, help="the container port targets receive traffic on")
    p.add_argument("--protocol", default="http", choices=("http", "tcp"))
    p.add_argument("--health-path", metavar="PATH", help="HTTP health check path (default /)")
    p.add_argument("--matcher", metavar="CODES", help="healthy HTTP codes: 200, 200,204 or 200-399 (default 200)")
    for flag, what in (("--interval", "seconds between checks, 5..300 (default 30)"),
                       ("--timeout", "seconds a check may take, 2..120 (default 5 for HTTP, 10 for TCP)"),
                       ("--healthy-threshold", "passes in a row to be healthy, 2..10 (default 5)"),
                       ("--unhealthy-threshold", "failures in a row to be unhealthy, 2..10 (default 2)"),
                       ("--deregistration-delay", "seconds a stopping target keeps in-flight requests, 0..3600 "
                                                  "(default 300)")):
        p.add_argument(flag, type=_whole, help=what)
    add_verb(tg, "list", tg_list, "list target groups", cluster=True, output=True)
    for verb, func, helptext in (("describe", tg_describe, "show a target group"),
                                 ("delete", tg_delete, "delete a target group no listener, rule or service uses"),
                                 ("health", tg_health, "each target's health (DescribeTargetHealth)")):
        p = add_verb(tg, verb, func, helptext, cluster=True, output=verb != "delete")
        p.add_argument("name", help="name or ARN")

    ns = sub.add_parser("namespace", help="service-discovery namespaces").add_subparsers(
        dest="verb", metavar="VERB", required=True)
    p = add_verb(ns, "create", ns_create, "create a namespace: services in it answer as SERVICE.NAME",
                 cluster=True, output=True)
    p.add_argument("name")
    add_verb(ns, "list", ns_list, "list namespaces", cluster=True, output=True)
    p = add_verb(ns, "delete", ns_delete, "delete a namespace no service uses", cluster=True)
    p.add_argument("name")

