"""HTTP lifecycle hooks with a real control plane, agent and containers: the control plane
started with `--hook-allow-host` for a loopback hook server refuses a hook URL to etcd's own
port; a blue/green deployment waits at POST_SCALE_UP until the leader has POSTed its state to
the hook, and goes on when the hook answers SUCCEEDED; a hook that does not answer within
`--hook-timeout` rolls the next deployment back."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import grpc
import pytest

from shoal.netutil import free_port
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoal.v1 import traffic_pb2 as t
from shoal.v1 import traffic_pb2_grpc
from shoalctl.local.agents import agent_loopback
from tests.fixtures.cluster import MakeCluster
from tests.fixtures.hook_server import Hook
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


def _td(api, version: str) -> None:
    api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps({
        "family": "site", "containerDefinitions": [{
            "name": "web", "image": "shoal/busybox:latest", "cpu": 16, "memory": 16, "stopTimeout": 1,
            "environment": [{"name": "VERSION", "value": version}],
            "command": ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www"],
            "portMappings": [{"containerPort": 8080}]}]})))


def _service(api) -> r.Service:
    return api.DescribeServices(op.DescribeServicesRequest(cluster="default", services=["site"])).services[0]


def _latest(api) -> r.ServiceDeployment:
    return max(_service(api).service_deployments, key=lambda e: e.created_at)


def test_http_hooks_refused_outside_the_allowlist_continue_on_success_and_roll_back_on_timeout(
        make_cluster: MakeCluster, busybox_image: str, hook: Hook) -> None:
    cluster = make_cluster(agents=1, extra_controlplane_args=[
        "--hook-allow-host", f"127.0.0.1:{hook.port}", "--hook-timeout", "2"])
    api = cluster.operator
    traffic = traffic_pb2_grpc.TrafficStub(cluster.channel)
    _td(api, "1")
    traffic.CreateTargetGroup(t.CreateTargetGroupRequest(
        cluster="default", name="site", protocol="HTTP", port=8080, deregistration_delay_seconds=1,
        health_check=t.HealthCheckConfig(path="/", interval_seconds=5, timeout_seconds=2, healthy_threshold=2,
                                         unhealthy_threshold=2)))
    traffic.CreateLoadBalancer(t.CreateLoadBalancerRequest(cluster="default", name="site"))
    traffic.CreateListener(t.CreateListenerRequest(cluster="default", load_balancer="site",
                                                   port=free_port(agent_loopback(1)), protocol="HTTP",
                                                   default_target_group="site"))

    def hooked(url: str) -> r.DeploymentConfiguration:
        return r.DeploymentConfiguration(strategy="BLUE_GREEN", lifecycle_hooks=[r.DeploymentLifecycleHook(
            target_type="HTTP", hook_target_arn=url, lifecycle_stages=["POST_SCALE_UP"])])

    lbs = [r.ServiceLoadBalancer(load_balancer_name="site", container_name="web", container_port=8080)]
    etcd = urlsplit(cluster.etcd_url.split(",")[0])
    with pytest.raises(grpc.RpcError) as refused:
        api.CreateService(op.CreateServiceRequest(
            cluster="default", service_name="site", task_definition="site", desired_count=2, load_balancers=lbs,
            deployment_configuration=hooked(f"http://{etcd.hostname}:{etcd.port}/v3/kv/put")))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"hookTargetArn: host {etcd.hostname}:{etcd.port} is not one" in refused.value.details()
    assert not api.ListServices(op.ListServicesRequest(cluster="default")).arns, "nothing created"

    api.CreateService(op.CreateServiceRequest(
        cluster="default", service_name="site", task_definition="site", desired_count=2, load_balancers=lbs,
        deployment_configuration=hooked(f"http://127.0.0.1:{hook.port}/hook")))
    wait_for(lambda: _latest(api).status == "SUCCESSFUL", 180, "the first deployment done")

    # A new revision: green comes up, the hook is called and answers SUCCEEDED, green takes over.
    _td(api, "2")
    api.UpdateService(op.UpdateServiceRequest(cluster="default", service="site", task_definition="site"))
    wait_for(lambda: _latest(api).status == "SUCCESSFUL" and _service(api).task_definition.endswith(":2"), 240,
             "the hooked deployment continued and done")
    assert [b["lifecycleStage"] for b in hook.bodies] == ["POST_SCALE_UP"]
    assert hook.bodies[0]["serviceDeploymentArn"] == _latest(api).service_deployment_arn
    assert _latest(api).lifecycle_hook_details[0].status == "SUCCEEDED"

    # The hook stops answering: past --hook-timeout the deployment rolls back to revision 2.
    hook.hold = True
    _td(api, "3")
    api.UpdateService(op.UpdateServiceRequest(cluster="default", service="site", task_definition="site"))
    wait_for(lambda: _latest(api).status == "ROLLBACK_SUCCESSFUL", 240, "the unanswered hook's deployment rolled back")
    assert len(hook.bodies) == 2
    assert _latest(api).lifecycle_hook_details[0].status == "FAILED"
    assert _service(api).task_definition.endswith(":2")
