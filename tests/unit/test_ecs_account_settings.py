"""Account settings through the ECS gateway (boto3, responses checked against botocore's
model): containerInsights stored account-wide and given to new clusters that name none; the
long ARN formats read enabled and cannot be disabled; other names and other principals are
refused; a viewer may list, not put."""

from __future__ import annotations

from controlplane.api import accesskeys
from shoal.v1 import accesskeys_pb2 as ak
from tests.aws_clients import refused
from tests.unit.test_ecs_api import ecs, ecs_client, gateway  # noqa: F401 (fixtures)

ROOT = "arn:aws:iam::000000000000:root"


def test_container_insights_default_goes_to_new_clusters(ecs) -> None:  # noqa: F811
    listed = {s["name"]: s["value"] for s in ecs.list_account_settings(effectiveSettings=True)["settings"]}
    assert listed == {"containerInsights": "enabled", "serviceLongArnFormat": "enabled",
                      "taskLongArnFormat": "enabled", "containerInstanceLongArnFormat": "enabled"}
    out = ecs.put_account_setting_default(name="containerInsights", value="disabled")["setting"]
    assert out == {"name": "containerInsights", "value": "disabled", "principalArn": ROOT, "type": "user"}
    assert ecs.list_account_settings(name="containerInsights")["settings"][0]["value"] == "disabled"
    made = ecs.create_cluster(clusterName="quiet")["cluster"]
    assert made["settings"] == [{"name": "containerInsights", "value": "disabled"}]
    # A cluster's own setting wins.
    loud = ecs.create_cluster(clusterName="loud", settings=[{"name": "containerInsights", "value": "enabled"}])
    assert loud["cluster"]["settings"] == [{"name": "containerInsights", "value": "enabled"}]
    ecs.put_account_setting(name="containerInsights", value="enabled", principalArn=ROOT)
    assert ecs.create_cluster(clusterName="next")["cluster"]["settings"] == [
        {"name": "containerInsights", "value": "enabled"}]
    was = ecs.delete_account_setting(name="containerInsights")["setting"]
    assert was["value"] == "enabled"
    assert ecs.create_cluster(clusterName="plain")["cluster"]["settings"] == []
    assert ecs.list_account_settings(value="disabled")["settings"] == []


def test_what_shoal_does_not_act_on_is_refused(ecs) -> None:  # noqa: F811
    assert "can only be enabled" in refused(ecs.put_account_setting, name="taskLongArnFormat", value="disabled")
    assert ecs.put_account_setting(name="taskLongArnFormat", value="enabled")["setting"]["value"] == "enabled"
    assert "always enabled on Shoal" in refused(ecs.delete_account_setting, name="serviceLongArnFormat")
    assert refused(ecs.put_account_setting, name="awsvpcTrunking", value="enabled").startswith(
        "name: 'awsvpcTrunking' is not an account setting Shoal acts on")
    assert "enhanced is not supported" in refused(ecs.put_account_setting_default, name="containerInsights",
                                                  value="enhanced")
    assert refused(ecs.put_account_setting, name="containerInsights", value="disabled",
                   principalArn="arn:aws:iam::000000000000:user/bob").startswith("principalArn: Shoal's account")
    assert ecs.list_account_settings(name="containerInsights")["settings"][0]["value"] == "enabled"


def test_a_viewer_may_list_but_not_put(gateway) -> None:  # noqa: F811
    ctx, gw = gateway
    key = accesskeys.create(ctx, ak.CreateAccessKeyRequest(description="v", user="val", role="viewer"))
    viewer = ecs_client(gw, key.access_key_id, key.secret_access_key)
    assert viewer.list_account_settings()["settings"]
    refused(viewer.put_account_setting_default, "AccessDeniedException", name="containerInsights", value="disabled")
