"""The routing table of one cluster, built from what the API desires (load balancers,
target groups, namespaces, the services' ``loadBalancers``, ``serviceRegistries`` and
``serviceConnectConfiguration``) and what the agents observe (tasks, their host ports and
target health, node connectivity). Pure: equal inputs give a byte-equal table, so every
replica builds the same one and a replica sends it only when it changed."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from controlplane import placement_input, traffic_shift
from controlplane.routing.targets import attachments, proxy_check
from controlplane.scheduler import CQLError, parse
from shoal.v1 import resources_pb2 as r
from shoal.v1 import traffic_pb2 as t

# HAProxy's proxy names: the node proxies refuse a whole table holding a longer one.
MAX_PROXY_NAME = 100


def discovery_backend(service: str, port: int) -> str:
    """``sd-<service>-<port>``; a service name too long for that (they run to 255) is cut
    and told apart by its hash after a '.', which no service name holds."""
    name = f"sd-{service}-{port}"
    if len(name) <= MAX_PROXY_NAME:
        return name
    return f"sd-{service[:70]}.{hashlib.sha256(service.encode()).hexdigest()[:16]}-{port}"


@dataclass
class _Backend:
    mode: str
    delay: int
    servers: dict[str, t.RouteServer] = field(default_factory=dict)
    check: t.HealthCheckConfig | None = None


def build_routing_table(
    cluster: str,
    services: Iterable[r.Service],
    tasks: Iterable[r.Task],
    nodes: Iterable[r.ContainerInstance],
    load_balancers: Iterable[t.LoadBalancer],
    target_groups: Iterable[t.TargetGroup],
    namespaces: Iterable[t.Namespace],
    revision: int,
    *,
    taskdefs: Mapping[str, r.TaskDefinition] | None = None,
    now: float,
) -> t.RoutingTable:
    """The table every node of ``cluster`` converges on. ``taskdefs`` (by ARN) resolve
    Service Connect's port names; ``now`` decides which stopping targets still drain."""
    services = {s.service_name: s for s in services if s.cluster == cluster}
    tasks = [task for task in tasks if task.cluster == cluster]
    node_by_id = {n.id: n for n in nodes if n.cluster == cluster}
    groups = {g.target_group_arn: g for g in target_groups if g.cluster == cluster}
    spaces = {n.name for n in namespaces if n.cluster == cluster}
    taskdefs = taskdefs or {}

    backends: dict[str, _Backend] = {
        g.id: _Backend("http" if g.protocol.upper() == "HTTP" else "tcp", g.deregistration_delay_seconds)
        for g in groups.values()
    }
    for g in groups.values():
        _add_registered(backends[g.id], g, now)
    frontends: dict[str, t.RouteFrontend] = {}
    dns: dict[tuple[str, bool, str, int], t.DnsRecord] = {}
    lbs = [lb for lb in load_balancers if lb.cluster == cluster]

    for lb in lbs:
        listening = _listening(lb, node_by_id, tasks)
        if listening == []:
            continue
        for listener in lb.listeners:
            fe = t.RouteFrontend(name=f"lb-{lb.id}-{listener.port}", port=listener.port,
                                 mode="http" if listener.protocol.upper() == "HTTP" else "tcp",
                                 proxy_protocol=listener.proxy_protocol, node_ids=listening or ())
            for rule in sorted(listener.rules, key=lambda x: (x.priority, x.rule_arn)):
                group = groups.get(rule.target_group_arn)
                if group is not None:
                    fe.rules.add(priority=rule.priority, host_patterns=rule.host_patterns,
                                 path_patterns=rule.path_patterns, backend=group.id)
            default = groups.get(listener.default_target_group_arn)
            fe.default_backend = default.id if default is not None else ""
            frontends[fe.name] = fe

    default_group = {lb.load_balancer_name: lb.default_target_group_arn for lb in lbs}
    # While a deployment shifts traffic, each revision's servers together take its share.
    shares = {name: traffic_shift.shares(svc) for name, svc in services.items()}
    shifted: dict[str, dict[str, tuple[str, float]]] = {}
    for task in tasks:
        if not task.service_name:
            continue
        svc = services.get(task.service_name)
        node = node_by_id.get(task.node_id)
        if svc is None or node is None:
            continue
        state = _serving(task, node, now)
        if state is None:
            continue
        for attach in attachments(task, svc):
            group = groups.get(attach.target_group_arn or default_group.get(attach.load_balancer_name, ""))
            if group is None:
                continue
            port = attach.container_port or group.port
            host_port = _host_port(task, attach.container_name, port)
            if host_port:
                active = state and _target_state(task, group.target_group_arn) == "healthy"
                backends[group.id].servers[f"{task.id}-{port}"] = t.RouteServer(
                    name=f"{task.id}-{port}", address=node.address, port=host_port, active=active)
                if shares[svc.service_name] and active:
                    shifted.setdefault(group.id, {})[f"{task.id}-{port}"] = (
                        task.deployment_id, shares[svc.service_name].get(task.deployment_id, 0.0))
        for name, port in _discovered_ports(svc, taskdefs.get(task.task_definition_arn), spaces):
            host_port = _host_port(task, name, port)
            if host_port:
                backend = backends.setdefault(discovery_backend(svc.service_name, port), _Backend("tcp", 0))
                backend.servers[f"{task.id}-{port}"] = t.RouteServer(
                    name=f"{task.id}-{port}", address=node.address, port=host_port,
                    active=state and _discovery_healthy(task))

    for svc in sorted(services.values(), key=lambda s: s.service_name):
        td = _any_taskdef(svc, taskdefs)
        for reg in svc.service_registries:
            if reg.namespace not in spaces:
                continue
            port = reg.container_port or reg.port
            backend = discovery_backend(svc.service_name, port)
            backends.setdefault(backend, _Backend("tcp", 0))
            name = f"{svc.service_name}.{reg.namespace}"
            dns[(name, False, backend, port)] = t.DnsRecord(name=name, via_proxy=False, backend=backend, port=port,
                                                            port_name=_port_name(td, port))
        sc = svc.service_connect_configuration
        if not sc.enabled or sc.namespace not in spaces:
            continue
        for entry in sc.services:
            port = _named_port(td, entry.port_name)
            if not port:
                continue
            backend = discovery_backend(svc.service_name, port)
            backends.setdefault(backend, _Backend("tcp", 0))
            backends[backend].mode = "http"
            discovery = entry.discovery_name or entry.port_name
            for alias in entry.client_aliases:
                names = sorted({f"{discovery}.{sc.namespace}"} | ({alias.dns_name} if alias.dns_name else set()))
                fe = frontends.setdefault(f"sc-{alias.port}", t.RouteFrontend(
                    name=f"sc-{alias.port}", port=alias.port, mode="http", internal=True))
                fe.rules.add(priority=len(fe.rules) + 1, host_patterns=names, backend=backend)
                for n in names:
                    dns[(n, True, backend, alias.port)] = t.DnsRecord(name=n, via_proxy=True, backend=backend,
                                                                      port=alias.port, port_name=entry.port_name)

    for backend, by_server in shifted.items():
        for name, weight in traffic_shift.weights(by_server).items():
            backends[backend].servers[name].weight = weight

    table = t.RoutingTable(cluster=cluster, revision=revision)
    table.frontends.extend(frontends[k] for k in sorted(frontends))
    for name in sorted(backends):
        b = backends[name]
        added = table.backends.add(name=name, mode=b.mode, deregistration_delay_seconds=b.delay,
                                   servers=[b.servers[k] for k in sorted(b.servers)])
        if b.check is not None:
            added.health_check.CopyFrom(b.check)
    # A name Service Connect answers (through the node's proxy, SRV still naming the tasks) is
    # not also answered directly: one name, one kind of A record.
    proxied = {k[0] for k in dns if k[1]}
    table.dns.extend(dns[k] for k in sorted(dns) if k[1] or k[0] not in proxied)
    return table


def _add_registered(backend: _Backend, group: t.TargetGroup, now: float) -> None:
    """The addresses registered in ``group`` (RegisterTargets): checked by the proxy itself,
    draining until their deregistration delay ends."""
    for x in group.registered_targets:
        if x.deregister_until and x.deregister_until <= now:
            continue
        name = f"ip-{x.id.replace(':', '.')}-{x.port}"
        backend.servers[name] = t.RouteServer(name=name, address=x.id, port=x.port,
                                              active=not x.deregister_until, proxy_checked=True)
        backend.check = proxy_check(group)


def _listening(lb: t.LoadBalancer, nodes: Mapping[str, r.ContainerInstance], tasks: list[r.Task]
               ) -> list[str] | None:
    """The ids of the nodes ``lb``'s node expression picks (sorted), or None for every node."""
    if not lb.node_expression:
        return None
    try:
        expr = parse(lb.node_expression)
    except CQLError:
        return []  # the API refuses such an expression; a stored one listens nowhere, never everywhere
    connected = {n.id for n in nodes.values() if n.agent_connected}
    snap = placement_input.snapshot(nodes.values(), tasks, connected)
    return sorted(n.id for n in snap.nodes if expr.evaluate(n))


def _serving(task: r.Task, node: r.ContainerInstance, now: float) -> bool | None:
    """True: may take new requests; False: draining (kept, out of rotation); None: absent.
    A lost node's tasks leave at once: nobody can drain what no one can reach."""
    if task.last_status == "STOPPED" or not node.agent_connected or node.status == "INACTIVE":
        return None
    if task.desired_status == "STOPPED":
        return False if task.deregister_until > now else None
    return task.last_status == "RUNNING"


def _target_state(task: r.Task, group_arn: str) -> str:
    return next((h.state for h in task.target_health if h.target_group_arn == group_arn), "")


def _discovery_healthy(task: r.Task) -> bool:
    """Discovery answers with tasks whose container health and every target check pass."""
    return task.health_status != "UNHEALTHY" and all(h.state == "healthy" for h in task.target_health)


def _host_port(task: r.Task, container: str, port: int) -> int:
    for c in task.containers:
        if container and c.name != container:
            continue
        for b in c.network_bindings:
            if b.container_port == port and b.host_port:
                return b.host_port
    return 0


def _port_name(td: r.TaskDefinition | None, container_port: int) -> str:
    """The task definition's name for ``container_port`` (SRV's ``_<name>._tcp``), or ""."""
    for cd in td.container_definitions if td else ():
        for pm in cd.port_mappings:
            if pm.container_port == container_port and pm.name:
                return pm.name
    return ""


def _named_port(td: r.TaskDefinition | None, port_name: str) -> int:
    for c in td.container_definitions if td is not None else ():
        for pm in c.port_mappings:
            if pm.name == port_name:
                return pm.container_port
    return 0


def _any_taskdef(svc: r.Service, taskdefs: Mapping[str, r.TaskDefinition]) -> r.TaskDefinition | None:
    """The service's definition: the primary deployment's, else the service's own."""
    for d in svc.deployments:
        if d.status == "PRIMARY" and d.task_definition in taskdefs:
            return taskdefs[d.task_definition]
    return taskdefs.get(svc.task_definition)


def _discovered_ports(svc: r.Service, td: r.TaskDefinition | None, spaces: set[str]) -> list[tuple[str, int]]:
    """(container name, container port) of each discovery entry of ``svc`` a task serves."""
    out: list[tuple[str, int]] = []
    for reg in svc.service_registries:
        if reg.namespace in spaces:
            out.append((reg.container_name, reg.container_port or reg.port))
    sc = svc.service_connect_configuration
    if sc.enabled and sc.namespace in spaces:
        for entry in sc.services:
            port = _named_port(td, entry.port_name)
            if port:
                out.append(("", port))
    return out
