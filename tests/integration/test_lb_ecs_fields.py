"""The issue's first symptom, on a real control plane and etcd through the real aws CLI:
`aws ecs create-service --load-balancers ...` is kept and `describe-services` returns it
(never `loadBalancers: null`); an unknown targetGroupArn is refused with
InvalidParameterException naming the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shoal.v1 import traffic_pb2 as t
from shoal.v1 import traffic_pb2_grpc
from tests.integration.test_ecs_gateway import WEB, Plane, aws, plane  # noqa: F401 (fixture)

pytestmark = pytest.mark.integration


def test_aws_cli_create_service_with_load_balancers(plane: Plane, tmp_path: Path) -> None:  # noqa: F811
    traffic = traffic_pb2_grpc.TrafficStub(plane.channel)
    traffic.CreateLoadBalancer(t.CreateLoadBalancerRequest(name="web"), timeout=10)
    lb = traffic.CreateListener(t.CreateListenerRequest(load_balancer="web", port=8000), timeout=10).load_balancer
    tg = lb.default_target_group_arn
    key = plane.access_key()
    (tmp_path / "web.json").write_text(json.dumps(WEB))
    done = aws(plane, key, "register-task-definition", "--cli-input-json", f"file://{tmp_path / 'web.json'}")
    assert done.returncode == 0, done.stderr

    made = aws(plane, key, "create-service", "--service-name", "web", "--task-definition", "web",
               "--desired-count", "0", "--health-check-grace-period-seconds", "15", "--load-balancers",
               f"targetGroupArn={tg},containerName=web,containerPort=8080")
    assert made.returncode == 0, made.stderr
    described = aws(plane, key, "describe-services", "--services", "web")
    assert described.returncode == 0, described.stderr
    svc = json.loads(described.stdout)["services"][0]
    assert svc["loadBalancers"] == [{"targetGroupArn": tg, "containerName": "web", "containerPort": 8080}]
    assert svc["healthCheckGracePeriodSeconds"] == 15

    wrong = tg.replace("/web/", "/nope/")
    refused = aws(plane, key, "create-service", "--service-name", "bad", "--task-definition", "web",
                  "--load-balancers", f"targetGroupArn={wrong},containerName=web,containerPort=8080")
    assert refused.returncode != 0
    assert "InvalidParameterException" in refused.stderr and "loadBalancers[0].targetGroupArn" in refused.stderr
    assert "TargetGroupNotFound" in refused.stderr
    health = traffic.DescribeTargetHealth(t.TargetGroupRef(target_group=tg), timeout=10)
    assert list(health.targets) == []  # desired 0: no task, no target
