"""Capacity provider strategies placed end to end: a real control plane (etcd, the leader's
controllers, the ECS gateway) and four agents over gRPC; PutAttributes makes two of them
`onprem` nodes and two `burst` nodes, then boto3 creates a service with a base/weight
strategy, waits for services-stable, and changes the strategy with UpdateService."""

from __future__ import annotations

from collections import Counter

from tests.ecs_model import validate_every_response
from tests.integration.test_ecs_gateway import FAST_WAITER, WEB, Plane, plane  # noqa: F401 (fixture)
from tests.waiting import wait_for


def providers_of_running(ecs, nodes: dict[str, str]) -> Counter[str]:
    arns = ecs.list_tasks(serviceName="web", desiredStatus="RUNNING")["taskArns"]
    tasks = ecs.describe_tasks(tasks=arns)["tasks"] if arns else []
    for t in tasks:
        # Each task runs on a node of the provider it was given.
        assert nodes[t["containerInstanceArn"]] == t["capacityProviderName"], t
    return Counter(t["capacityProviderName"] for t in tasks)


def test_a_service_is_spread_over_its_providers_nodes(plane: Plane) -> None:  # noqa: F811
    for i in range(4):
        plane.add_agent(f"host-{i}", "a")
    key = plane.access_key()
    ecs = plane.client(key.access_key_id, key.secret_access_key)
    seen = validate_every_response(ecs)
    arns = wait_for(lambda: (a := ecs.list_container_instances()["containerInstanceArns"]) and len(a) == 4 and a,
                    30, "four container instances")
    nodes = {arn: ("onprem" if i < 2 else "burst") for i, arn in enumerate(sorted(arns))}
    ecs.put_attributes(attributes=[{"name": "shoal.capacity-provider", "value": p, "targetId": arn}
                                   for arn, p in nodes.items()])
    for name in ("onprem", "burst"):
        ecs.create_capacity_provider(name=name, autoScalingGroupProvider={"autoScalingGroupArn": "local"})
    ecs.put_cluster_capacity_providers(cluster="default", capacityProviders=["onprem", "burst"],
                                       defaultCapacityProviderStrategy=[])
    ecs.register_task_definition(**WEB)
    ecs.create_service(serviceName="web", taskDefinition="web", desiredCount=5, capacityProviderStrategy=[
        {"capacityProvider": "onprem", "base": 2, "weight": 1}, {"capacityProvider": "burst", "weight": 2}])
    ecs.get_waiter("services_stable").wait(services=["web"], WaiterConfig=FAST_WAITER)
    # 2 for the base, the other 3 shared 1:2.
    assert providers_of_running(ecs, nodes) == {"onprem": 3, "burst": 2}

    ecs.update_service(service="web", capacityProviderStrategy=[{"capacityProvider": "burst", "weight": 1}])
    wait_for(lambda: providers_of_running(ecs, nodes) == {"burst": 5}, 60, "every task moved to burst nodes")
    ecs.get_waiter("services_stable").wait(services=["web"], WaiterConfig=FAST_WAITER)
    assert {"PutAttributes", "CreateService", "UpdateService", "DescribeTasks"} <= set(seen)
