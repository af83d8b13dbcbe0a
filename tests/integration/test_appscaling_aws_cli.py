"""Application Auto Scaling on the wire against a whole local cluster: the real `aws
application-autoscaling` CLI registers a service as a scalable target, puts a target
tracking policy and reads it back; Shoal's own CLI (`shoal scaling policy list`) shows the
same policy; a scheduled action put with the aws CLI is fired by a real autoscaler process
and the service's desired count follows."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from autoscaler.providers import local as local_provider
from shoal.v1 import accesskeys_pb2 as ak
from shoal.v1 import accesskeys_pb2_grpc
from shoal.v1 import operator_pb2 as op
from shoalctl.local import statefiles
from shoalctl.local.containers import remove_node_containers
from tests.integration.test_autoscaling import AutoscalerProcess, register_taskdef, service, wait
from tests.integration.test_registry import shoal

pytestmark = pytest.mark.integration

RID = "service/default/web"
TARGET = ["--service-namespace", "ecs", "--resource-id", RID, "--scalable-dimension", "ecs:service:DesiredCount"]


def aws(url: str, ca: str, key: ak.AccessKey, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": key.access_key_id, "AWS_SECRET_ACCESS_KEY": key.secret_access_key,
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null",
           "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    env.pop("AWS_PROFILE", None)
    return subprocess.run(["aws", "application-autoscaling", *args, "--endpoint-url", url, "--ca-bundle", ca,
                           "--output", "json"], env=env, capture_output=True, text=True, timeout=120)


def ok(result: subprocess.CompletedProcess[str]) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else {}


def test_aws_cli_drives_shoal_service_auto_scaling(make_cluster, tmp_path: Path) -> None:
    cluster = make_cluster(agents=1, runtime="hollow", prometheus=True, autoscaler=False, ecs_port=0,
                           extra_controlplane_args=["--resync-interval", "0.5"])
    config = json.loads(statefiles.config_path(cluster.state_dir).read_text())
    url, ca = config["ecs"], config["ca"]
    key = accesskeys_pb2_grpc.AccessKeysStub(cluster.channel).CreateAccessKey(
        ak.CreateAccessKeyRequest(description="appscaling test"), timeout=10)
    register_taskdef(cluster, "web", ["sleep", "3600"])
    cluster.operator.CreateService(op.CreateServiceRequest(cluster="default", service_name="web",
                                                           task_definition="web", desired_count=1))

    ok(aws(url, ca, key, "register-scalable-target", *TARGET, "--min-capacity", "1", "--max-capacity", "5"))
    targets = ok(aws(url, ca, key, "describe-scalable-targets", "--service-namespace", "ecs",
                     "--resource-ids", RID))["ScalableTargets"]
    assert [(t["ResourceId"], t["MinCapacity"], t["MaxCapacity"]) for t in targets] == [(RID, 1, 5)]

    tracking = {"TargetValue": 60.0, "ScaleOutCooldown": 45, "ScaleInCooldown": 90,
                "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageMemoryUtilization"}}
    put = ok(aws(url, ca, key, "put-scaling-policy", *TARGET, "--policy-name", "mem",
                 "--policy-type", "TargetTrackingScaling",
                 "--target-tracking-scaling-policy-configuration", json.dumps(tracking)))
    assert put["PolicyARN"].endswith(f"resource/ecs/{RID}:policyName/mem")
    policies = ok(aws(url, ca, key, "describe-scaling-policies", "--service-namespace", "ecs",
                      "--resource-id", RID))["ScalingPolicies"]
    assert [(p["PolicyName"], p["PolicyType"], p["TargetTrackingScalingPolicyConfiguration"]) for p in policies] == [
        ("mem", "TargetTrackingScaling", {**tracking, "DisableScaleIn": False})]
    listed = shoal(cluster, "scaling", "policy", "list", "--service", "web", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    mine = json.loads(listed.stdout)
    assert [(p["policyName"], p["targetTracking"]["predefinedMetricType"], p["targetTracking"]["targetValue"])
            for p in mine] == [("mem", "ECSServiceAverageMemoryUtilization", 60.0)]

    refused = aws(url, ca, key, "register-scalable-target", "--service-namespace", "ecs", "--resource-id",
                  "table/orders", "--scalable-dimension", "dynamodb:table:ReadCapacityUnits",
                  "--min-capacity", "1", "--max-capacity", "2")
    assert refused.returncode != 0 and "ValidationException" in refused.stderr, refused.stderr
    assert "ScalableDimension" in refused.stderr and "Traceback" not in refused.stderr

    autos = [AutoscalerProcess(cluster, tmp_path, "autoscaler-1", [])]
    try:
        at = (datetime.now(UTC) + timedelta(seconds=10)).strftime("%Y-%m-%dT%H:%M:%S")
        ok(aws(url, ca, key, "put-scheduled-action", *TARGET, "--scheduled-action-name", "rush",
               "--schedule", f"at({at})", "--scalable-target-action", "MinCapacity=3,MaxCapacity=5"))
        wait(lambda: service(cluster, "web").desired_count == 3, 180,
             "the scheduled min 3 (put with the aws CLI) to raise the desired count", *autos)
        activities = wait(lambda: [a for a in ok(aws(url, ca, key, "describe-scaling-activities",
                                                     "--service-namespace", "ecs", "--resource-id", RID))[
            "ScalingActivities"] if "rush" in a["Cause"]], 60, "the scheduled action's activity", *autos)
        assert activities[0]["StatusCode"] == "Successful", activities
        actions = ok(aws(url, ca, key, "describe-scheduled-actions", "--service-namespace", "ecs"))["ScheduledActions"]
        assert [(a["ScheduledActionName"], a["ScalableTargetAction"]) for a in actions] == [
            ("rush", {"MinCapacity": 3, "MaxCapacity": 5})]
        ok(aws(url, ca, key, "delete-scheduled-action", *TARGET, "--scheduled-action-name", "rush"))
        ok(aws(url, ca, key, "delete-scaling-policy", *TARGET, "--policy-name", "mem"))
        ok(aws(url, ca, key, "deregister-scalable-target", *TARGET))
        assert ok(aws(url, ca, key, "describe-scalable-targets", "--service-namespace", "ecs"))[
            "ScalableTargets"] == []
    finally:
        for a in autos:
            a.stop()
        # Whatever nodes the autoscaler's local provider started (none are expected).
        ids = local_provider.node_ids(autos[0].state_dir)
        local_provider.stop_all(autos[0].state_dir)
        remove_node_containers(ids)
