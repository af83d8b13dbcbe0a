"""The ECS service fields that attach services to the Traffic API's records (load balancers,
target groups, service discovery and Service Connect), and RunTask's static host ports against
listeners, on the in-memory store: each bad input refused with a message naming the field."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from controlplane.api import namespaces, services, taskdefs, tasks
from controlplane.api.context import ApiContext
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoal.v1 import traffic_pb2 as t
from tests.traffic_api import WEB, api_context, fails, lb, service


@pytest.fixture
def ctx() -> Iterator[ApiContext]:
    yield from api_context()


# ---- the service fields -----------------------------------------------------------------------

@pytest.mark.parametrize("entry,match", [
    (dict(target_group_arn="arn:aws:elasticloadbalancing:local:000000000000:targetgroup/nope/1234",
          container_name="web", container_port=8080), "loadBalancers[0].targetGroupArn: target group"),
    (dict(load_balancer_name="nope", container_name="web", container_port=8080),
     "loadBalancers[0].loadBalancerName: load balancer 'nope' not found"),
    (dict(container_name="web", container_port=8080), "loadBalancers[0].targetGroupArn: required"),
    (dict(load_balancer_name="web", container_name="db", container_port=8080),
     "loadBalancers[0].containerName: task definition web:1 has no container 'db'"),
    (dict(load_balancer_name="web", container_name="web", container_port=81),
     "loadBalancers[0].containerPort: container 'web' of task definition web:1 maps no containerPort 81"),
    (dict(load_balancer_name="web", container_name="web"), "loadBalancers[0].containerPort: required"),
])
def test_bad_service_load_balancers(ctx, entry, match) -> None:
    lb(ctx)
    err = fails(services.create, ctx, op.CreateServiceRequest(
        service_name="web", task_definition="web", load_balancers=[r.ServiceLoadBalancer(**entry)]), match)
    assert err.ecs_type == "InvalidParameterException"
    assert ctx.state.service("default", "web") is None


def test_an_unknown_target_group_uses_elbv2s_wording(ctx) -> None:
    err = fails(services.create, ctx, op.CreateServiceRequest(
        service_name="web", task_definition="web", load_balancers=[r.ServiceLoadBalancer(
            target_group_arn="arn:aws:elasticloadbalancing:local:0:targetgroup/x/1", container_name="web",
            container_port=8080)]), "TargetGroupNotFound")
    assert err.ecs_type == "InvalidParameterException"


def test_update_service_rechecks_the_load_balancers_against_a_new_definition(ctx) -> None:
    lb(ctx)
    service(ctx, load_balancers=[r.ServiceLoadBalancer(load_balancer_name="web", container_name="web",
                                                       container_port=9090)])
    doc = dict(WEB)
    doc["containerDefinitions"] = [dict(WEB["containerDefinitions"][0], portMappings=[{"containerPort": 8080}])]
    taskdefs.register(ctx, op.RegisterTaskDefinitionRequest(json=json.dumps(doc)))
    fails(services.update, ctx, op.UpdateServiceRequest(service="web", task_definition="web:2"),
          "loadBalancers[0].containerPort: container 'web' of task definition web:2 maps no containerPort 9090")
    out = services.update(ctx, op.UpdateServiceRequest(
        service="web", task_definition="web:2", update_load_balancers=True,
        load_balancers=[r.ServiceLoadBalancer(load_balancer_name="web", container_name="web",
                                              container_port=8080)])).service
    assert (out.load_balancers[0].container_port, out.task_definition.endswith("web:2")) == (8080, True)
    # Detaching: an empty set given replaces it.
    out = services.update(ctx, op.UpdateServiceRequest(service="web", update_load_balancers=True)).service
    assert not out.load_balancers
    fails(services.update, ctx, op.UpdateServiceRequest(service="web", health_check_grace_period_seconds=-1),
          "healthCheckGracePeriodSeconds")


def test_service_registries_and_connect(ctx) -> None:
    namespaces.create(ctx, t.CreateNamespaceRequest(name="lab"))
    svc = service(ctx, service_registries=[r.ServiceRegistry(namespace="lab")],
                  service_connect_configuration=r.ServiceConnectConfiguration(
                      enabled=True, namespace="lab", services=[r.ServiceConnectService(
                          port_name="http", client_aliases=[r.ServiceConnectClientAlias(port=80, dns_name="web")])]))
    reg = svc.service_registries[0]
    assert (reg.namespace, reg.container_name, reg.container_port) == ("lab", "web", 8080)
    assert reg.registry_arn.startswith("arn:aws:servicediscovery:")
    sc = svc.service_connect_configuration
    assert (sc.namespace, sc.services[0].discovery_name, sc.services[0].client_aliases[0].dns_name) == (
        "lab", "http", "web")
    described = services.describe(ctx, op.DescribeServicesRequest(services=["web"])).services[0]
    assert described.service_registries == svc.service_registries
    assert described.service_connect_configuration == sc
    # Another service may not take the same alias, discovery name or registered name.
    clash = r.ServiceConnectConfiguration(enabled=True, namespace="lab", services=[r.ServiceConnectService(
        port_name="http", discovery_name="other", client_aliases=[r.ServiceConnectClientAlias(port=80,
                                                                                              dns_name="web")])])
    fails(services.create, ctx, op.CreateServiceRequest(service_name="other", task_definition="web",
                                                        service_connect_configuration=clash),
          "serviceConnectConfiguration.services[0].clientAliases[0].dnsName: 'web:80' is already claimed by "
          "service 'web' (serviceConnectConfiguration.services[0].clientAliases[0].dnsName)")
    # The same alias on another port is another name; a registry's name takes every port.
    clash.services[0].client_aliases[0].port = 81
    services.create(ctx, op.CreateServiceRequest(service_name="other", task_definition="web",
                                                 service_connect_configuration=clash))
    fails(services.create, ctx, op.CreateServiceRequest(
        service_name="third", task_definition="web", service_connect_configuration=r.ServiceConnectConfiguration(
            enabled=True, namespace="lab", services=[r.ServiceConnectService(
                port_name="http", discovery_name="third", client_aliases=[r.ServiceConnectClientAlias(
                    port=9000, dns_name="web.lab")])])),
        "clientAliases[0].dnsName: 'web.lab' is already claimed by service 'web' (serviceRegistries[0])")
    fails(services.create, ctx, op.CreateServiceRequest(
        service_name="other", task_definition="web", service_connect_configuration=r.ServiceConnectConfiguration(
            enabled=True, namespace="lab", services=[r.ServiceConnectService(port_name="http")])),
        "discoveryName: 'http.lab' is already claimed by service 'web'")


@pytest.mark.parametrize("kw,match", [
    (dict(service_registries=[r.ServiceRegistry(namespace="nope")]), "serviceRegistries[0].namespace: namespace"),
    (dict(service_registries=[r.ServiceRegistry()]), "serviceRegistries[0].namespace: required"),
    (dict(service_registries=[r.ServiceRegistry(namespace="lab", port=80)]), "serviceRegistries[0].port:"),
    (dict(service_registries=[r.ServiceRegistry(namespace="lab", container_port=1)]),
     "serviceRegistries[0].containerPort: container 'web'"),
    (dict(service_registries=[r.ServiceRegistry(namespace="lab")] * 2), "serviceRegistries: at most 1"),
    (dict(service_connect_configuration=r.ServiceConnectConfiguration(enabled=True)),
     "serviceConnectConfiguration.namespace: required"),
    (dict(service_connect_configuration=r.ServiceConnectConfiguration(namespace="lab")),
     "serviceConnectConfiguration.enabled: must be true"),
    (dict(service_connect_configuration=r.ServiceConnectConfiguration(
        enabled=True, namespace="lab", services=[r.ServiceConnectService(port_name="grpc")])),
     "serviceConnectConfiguration.services[0].portName: 'grpc' is not a named port mapping"),
    (dict(service_connect_configuration=r.ServiceConnectConfiguration(
        enabled=True, namespace="lab", services=[r.ServiceConnectService(
            port_name="http", client_aliases=[r.ServiceConnectClientAlias(port=80, dns_name="Bad_Name")])])),
     "clientAliases[0].dnsName: 'Bad_Name' is not a DNS name"),
    (dict(service_connect_configuration=r.ServiceConnectConfiguration(
        enabled=True, namespace="lab", services=[r.ServiceConnectService(
            port_name="http", client_aliases=[r.ServiceConnectClientAlias(port=0)])])),
     "clientAliases[0].port: must be a port"),
    # Every node's DNS responder answers every alias to every container: an alias outside its
    # namespace would shadow an upstream name (and make its parent, "org", answer NXDOMAIN) or
    # another namespace's names.
    (dict(service_connect_configuration=r.ServiceConnectConfiguration(
        enabled=True, namespace="lab", services=[r.ServiceConnectService(
            port_name="http", client_aliases=[r.ServiceConnectClientAlias(port=80, dns_name="pypi.org")])])),
     "clientAliases[0].dnsName: 'pypi.org' is outside namespace 'lab'"),
    (dict(service_connect_configuration=r.ServiceConnectConfiguration(
        enabled=True, namespace="lab", services=[r.ServiceConnectService(
            port_name="http", client_aliases=[r.ServiceConnectClientAlias(port=80, dns_name="db.prod")])])),
     "clientAliases[0].dnsName: 'db.prod' is outside namespace 'lab'"),
    (dict(service_connect_configuration=r.ServiceConnectConfiguration(
        enabled=True, namespace="lab", services=[r.ServiceConnectService(
            port_name="http", client_aliases=[r.ServiceConnectClientAlias(port=80, dns_name="localhost")])])),
     "clientAliases[0].dnsName: 'localhost' is every host's own name"),
    # Aliases bind on the address containers reach the node's DNS responder at.
    (dict(service_connect_configuration=r.ServiceConnectConfiguration(
        enabled=True, namespace="lab", services=[r.ServiceConnectService(
            port_name="http", client_aliases=[r.ServiceConnectClientAlias(port=53, dns_name="web")])])),
     "clientAliases[0].port: 53 is the nodes' DNS responders' port"),
])
def test_bad_discovery_fields(ctx, kw, match) -> None:
    namespaces.create(ctx, t.CreateNamespaceRequest(name="lab"))
    fails(services.create, ctx, op.CreateServiceRequest(service_name="web", task_definition="web", **kw), match)


def test_run_task_refuses_a_static_host_port_a_listener_holds(ctx) -> None:
    lb(ctx, "web", 8088)
    fails(tasks.run, ctx, op.RunTaskRequest(task_definition="static"),
          "taskDefinition: container 'app' holds static hostPort 8088, the listener port of load balancer 'web'")
