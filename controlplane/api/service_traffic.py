"""The ECS service fields that attach a service to traffic: ``loadBalancers``,
``serviceRegistries`` and ``serviceConnectConfiguration``, checked against the service's
task definition and the cluster's target groups and namespaces, and returned normalised
(each load balancer entry with its target group's ARN, each registry and Service Connect
configuration with its namespace's name), so what reads them (the routing table) need not
resolve anything. Errors are ECS's InvalidParameterException naming the field."""

from __future__ import annotations

import re
from collections.abc import Sequence

from controlplane.api import loadbalancers
from controlplane.api.context import ApiContext
from controlplane.api.traffic_checks import DNS_PORT
from controlplane.api.traffic_state import find_namespace, find_target_group, live_services, load_balancers
from controlplane.errors import ApiError, invalid
from shoal.v1 import resources_pb2 as r

# ECS's quotas: load balancers (target groups) per service, service registries per service.
MAX_LOAD_BALANCERS = 5
MAX_REGISTRIES = 1
_DNS_NAME = re.compile(r"(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*")


def _container(td: r.TaskDefinition, name: str, field: str) -> r.ContainerDefinition:
    for c in td.container_definitions:
        if c.name == name:
            return c
    names = ", ".join(repr(c.name) for c in td.container_definitions)
    raise invalid(f"{field}: task definition {td.family}:{td.revision} has no container {name[:64]!r} "
                  f"(it has {names})")


def _mapping(td: r.TaskDefinition, container: r.ContainerDefinition, port: int, field: str) -> r.PortMapping:
    for pm in container.port_mappings:
        if pm.container_port == port:
            if pm.protocol.lower() == "udp":
                raise invalid(f"{field}: port {port} of container {container.name!r} is UDP; load balancers and "
                              "discovery carry TCP")
            return pm
    mapped = ", ".join(str(pm.container_port) for pm in container.port_mappings) or "none"
    raise invalid(f"{field}: container {container.name!r} of task definition {td.family}:{td.revision} maps no "
                  f"containerPort {port} (it maps {mapped}); add it to the container's portMappings")


def load_balancer_entries(ctx: ApiContext, cluster: str, entries: Sequence[r.ServiceLoadBalancer],
                          td: r.TaskDefinition) -> list[r.ServiceLoadBalancer]:
    if len(entries) > MAX_LOAD_BALANCERS:
        raise invalid(f"loadBalancers: at most {MAX_LOAD_BALANCERS} per service, got {len(entries)}")
    out: list[r.ServiceLoadBalancer] = []
    for i, given in enumerate(entries):
        field = f"loadBalancers[{i}]"
        x = r.ServiceLoadBalancer()
        x.CopyFrom(given)
        if x.load_balancer_name and not x.target_group_arn:
            try:
                x.target_group_arn = loadbalancers.attached_group(ctx, cluster, x.load_balancer_name,
                                                                  f"{field}.loadBalancerName")
            except ApiError as exc:
                raise invalid(exc.message) from None
        elif not x.target_group_arn:
            raise invalid(f"{field}.targetGroupArn: required (or loadBalancerName, meaning that load balancer's "
                          "default target group)")
        try:
            tg = find_target_group(ctx, cluster, x.target_group_arn, f"{field}.targetGroupArn").msg
        except ApiError as exc:
            # ECS's answer for a target group that does not exist, with ELBv2's wording.
            raise invalid(f"{exc.message} (TargetGroupNotFound: one or more target groups not found)") from None
        # With both given (as a stored entry has them), the target group is what counts.
        x.target_group_arn = tg.target_group_arn
        if not x.container_name:
            raise invalid(f"{field}.containerName: required (the container that receives the traffic)")
        if not x.container_port:
            raise invalid(f"{field}.containerPort: required (a containerPort of {x.container_name!r}'s "
                          "portMappings)")
        _mapping(td, _container(td, x.container_name, f"{field}.containerName"), x.container_port,
                 f"{field}.containerPort")
        if any((o.target_group_arn, o.container_name, o.container_port) ==
               (x.target_group_arn, x.container_name, x.container_port) for o in out):
            raise invalid(f"{field}: attaches the same target group, container and port twice")
        out.append(x)
    return out


def _port_names(td: r.TaskDefinition) -> dict[str, tuple[str, int]]:
    return {pm.name: (c.name, pm.container_port) for c in td.container_definitions for pm in c.port_mappings
            if pm.name}


def registries(ctx: ApiContext, cluster: str, entries: Sequence[r.ServiceRegistry],
               td: r.TaskDefinition) -> list[r.ServiceRegistry]:
    if len(entries) > MAX_REGISTRIES:
        raise invalid(f"serviceRegistries: at most {MAX_REGISTRIES} per service, got {len(entries)}")
    out = []
    for i, given in enumerate(entries):
        field = f"serviceRegistries[{i}]"
        x = r.ServiceRegistry()
        x.CopyFrom(given)
        ref = x.namespace or x.registry_arn
        if not ref:
            raise invalid(f"{field}.namespace: required (a namespace's name or ARN; `shoal namespace create`)")
        where = f"{field}.namespace" if x.namespace else f"{field}.registryArn"
        try:
            ns = find_namespace(ctx, cluster, ref, where).msg
        except ApiError as exc:
            raise invalid(f"{exc.message}; Shoal registers services in namespaces, by name or namespace ARN") \
                from None
        x.namespace, x.registry_arn = ns.name, ns.arn
        if x.port:
            raise invalid(f"{field}.port: for awsvpc network mode; Shoal's tasks use bridge mode, so give "
                          "containerName and containerPort")
        if not x.container_name:
            with_ports = [c for c in td.container_definitions if c.port_mappings]
            if len(with_ports) != 1:
                raise invalid(f"{field}.containerName: required when the task definition has "
                              f"{len(with_ports)} containers with port mappings")
            x.container_name = with_ports[0].name
        container = _container(td, x.container_name, f"{field}.containerName")
        if not x.container_port:
            if not container.port_mappings:
                raise invalid(f"{field}.containerPort: container {container.name!r} maps no port")
            x.container_port = container.port_mappings[0].container_port
        _mapping(td, container, x.container_port, f"{field}.containerPort")
        out.append(x)
    return out


def service_connect(ctx: ApiContext, cluster: str, given: r.ServiceConnectConfiguration,
                    td: r.TaskDefinition) -> r.ServiceConnectConfiguration:
    field = "serviceConnectConfiguration"
    sc = r.ServiceConnectConfiguration()
    sc.CopyFrom(given)
    if not sc.enabled:
        if sc.services or sc.namespace:
            raise invalid(f"{field}.enabled: must be true when a namespace or services are given")
        return sc
    if not sc.namespace:
        raise invalid(f"{field}.namespace: required (Shoal's clusters have no default namespace)")
    try:
        sc.namespace = find_namespace(ctx, cluster, sc.namespace, f"{field}.namespace").msg.name
    except ApiError as exc:
        raise invalid(exc.message) from None
    names = _port_names(td)
    for i, s in enumerate(sc.services):
        where = f"{field}.services[{i}]"
        if s.port_name not in names:
            shown = ", ".join(sorted(names)) or "none; give a portMapping a name"
            raise invalid(f"{where}.portName: {s.port_name[:64]!r} is not a named port mapping of task definition "
                          f"{td.family}:{td.revision} (named: {shown})")
        s.discovery_name = s.discovery_name or s.port_name
        if not _DNS_NAME.fullmatch(s.discovery_name) or "." in s.discovery_name:
            raise invalid(f"{where}.discoveryName: {s.discovery_name[:64]!r} is not a DNS label")
        for j, alias in enumerate(s.client_aliases):
            if not 1 <= alias.port <= 65535:
                raise invalid(f"{where}.clientAliases[{j}].port: must be a port from 1 to 65535, got {alias.port}")
            if alias.port == DNS_PORT:
                raise invalid(f"{where}.clientAliases[{j}].port: {alias.port} is the nodes' DNS responders' port, "
                              "on the address containers reach aliases at")
            alias.dns_name = alias.dns_name or f"{s.discovery_name}.{sc.namespace}"
            if not _DNS_NAME.fullmatch(alias.dns_name):
                raise invalid(f"{where}.clientAliases[{j}].dnsName: {alias.dns_name[:64]!r} is not a DNS name "
                              "(lower-case labels of letters, digits and hyphens)")
            # Every node's responder answers every alias to every container of the cluster, so
            # a name outside the namespace would shadow an upstream name or another namespace's.
            if alias.dns_name == "localhost":
                raise invalid(f"{where}.clientAliases[{j}].dnsName: 'localhost' is every host's own name")
            if "." in alias.dns_name and not alias.dns_name.endswith(f".{sc.namespace}"):
                raise invalid(f"{where}.clientAliases[{j}].dnsName: {alias.dns_name[:64]!r} is outside namespace "
                              f"{sc.namespace!r}: give one label ('web') or a name ending '.{sc.namespace}'")
    return sc


def _claims(svc: r.Service) -> list[tuple[str, int, str]]:
    """The DNS names ``svc`` answers to, each with its port (0: every port, as a name that
    resolves to the tasks themselves) and the field that claims it. Every node's DNS
    responder serves every namespace, so names are compared across the cluster."""
    out = [(f"{svc.service_name}.{x.namespace}", 0, f"serviceRegistries[{i}]")
           for i, x in enumerate(svc.service_registries)]
    sc = svc.service_connect_configuration
    if sc.enabled:
        for i, s in enumerate(sc.services):
            where = f"serviceConnectConfiguration.services[{i}]"
            out.append((f"{s.discovery_name}.{sc.namespace}", 0, f"{where}.discoveryName"))
            out += [(alias.dns_name, alias.port, f"{where}.clientAliases[{j}].dnsName")
                    for j, alias in enumerate(s.client_aliases)]
    return out


def check_collisions(ctx: ApiContext, cluster: str, svc: r.Service) -> None:
    """A name ``svc`` answers to must not be another live service's (a client alias may
    share another's name on another port)."""
    mine = _claims(svc)
    if not mine:
        return
    for other in live_services(ctx, cluster):
        if other.msg.service_name == svc.service_name:
            continue
        for name, port, field in mine:
            for their_name, their_port, their_field in _claims(other.msg):
                if name == their_name and (not port or not their_port or port == their_port):
                    shown = f"{name}:{port}" if port and their_port else name
                    raise invalid(f"{field}: {shown!r} is already claimed by service {other.msg.service_name!r} "
                                  f"({their_field})")


def check_listener_ports(ctx: ApiContext, cluster: str, td: r.TaskDefinition) -> None:
    """A static hostPort a load balancer's listener already holds on every node could not bind."""
    ports = {listener.port: lb.msg.load_balancer_name for lb in load_balancers(ctx, cluster)
             for listener in lb.msg.listeners}
    for c in td.container_definitions:
        for pm in c.port_mappings:
            if pm.host_port in ports:
                raise invalid(f"taskDefinition: container {c.name!r} holds static hostPort {pm.host_port}, the "
                              f"listener port of load balancer {ports[pm.host_port]!r}")


def apply(ctx: ApiContext, cluster: str, svc: r.Service, td: r.TaskDefinition, *,
          load_balancers_: Sequence[r.ServiceLoadBalancer] | None = None,
          registries_: Sequence[r.ServiceRegistry] | None = None,
          connect: r.ServiceConnectConfiguration | None = None) -> None:
    """Sets ``svc``'s traffic fields, each given one replacing the stored one, and checks all
    of them (also those kept) against ``td``: a new task definition re-checks them."""
    lbs = load_balancer_entries(ctx, cluster, svc.load_balancers if load_balancers_ is None else load_balancers_, td)
    regs = registries(ctx, cluster, svc.service_registries if registries_ is None else registries_, td)
    sc = service_connect(ctx, cluster, svc.service_connect_configuration if connect is None else connect, td)
    check_listener_ports(ctx, cluster, td)
    del svc.load_balancers[:]
    svc.load_balancers.extend(lbs)
    del svc.service_registries[:]
    svc.service_registries.extend(regs)
    svc.service_connect_configuration.CopyFrom(sc)
    if not sc.enabled and not sc.services:
        svc.ClearField("service_connect_configuration")
    check_collisions(ctx, cluster, svc)
