"""Cluster settings through the ECS gateway (boto3, responses checked against botocore's
model): containerInsights on CreateCluster, UpdateCluster and UpdateClusterSettings, stored
and shown by DescribeClusters, and acted on — a disabled cluster's series leave the control
plane's /metrics; what Shoal has no counterpart for is refused by name, nothing changed."""

from __future__ import annotations

import pytest

from controlplane.cache import Cache
from controlplane.cluster_metrics import ClusterCollector
from tests.unit.test_ecs_api import WEB, ecs, gateway  # noqa: F401 (fixtures)


def series_clusters(ctx) -> set[str]:
    cache = Cache(ctx.store, on_change=lambda: None)
    cache.start()
    try:
        families = list(ClusterCollector(cache, lambda: True).collect())
    finally:
        cache.close()
    return {s.labels["cluster"] for f in families for s in f.samples}


def settings_of(ecs, name: str) -> list[dict]:  # noqa: F811
    return ecs.describe_clusters(clusters=[name])["clusters"][0]["settings"]


def test_container_insights_is_stored_shown_and_turns_the_clusters_series_off(gateway, ecs) -> None:  # noqa: F811
    ctx, _ = gateway
    made = ecs.create_cluster(clusterName="edge", settings=[{"name": "containerInsights", "value": "enabled"}])
    assert made["cluster"]["settings"] == [{"name": "containerInsights", "value": "enabled"}]
    ecs.register_task_definition(**WEB)
    for cluster in ("default", "edge"):
        ecs.create_service(cluster=cluster, serviceName="s", taskDefinition="web", desiredCount=1)
    assert series_clusters(ctx) == {"default", "edge"}

    out = ecs.update_cluster_settings(cluster="edge", settings=[{"name": "containerInsights", "value": "disabled"}])
    assert out["cluster"]["settings"] == [{"name": "containerInsights", "value": "disabled"}]
    assert settings_of(ecs, "edge") == [{"name": "containerInsights", "value": "disabled"}]
    assert series_clusters(ctx) == {"default"}

    ecs.update_cluster(cluster="edge", settings=[{"name": "containerInsights", "value": "enabled"}])
    assert series_clusters(ctx) == {"default", "edge"}
    # No settings given: nothing changes.
    assert ecs.update_cluster(cluster="edge")["cluster"]["settings"] == [
        {"name": "containerInsights", "value": "enabled"}]


@pytest.mark.parametrize(("call", "kwargs", "words"), [
    ("update_cluster_settings", {"settings": [{"name": "containerInsights", "value": "enhanced"}]},
     "settings[0].value: enhanced is not supported by Shoal"),
    ("update_cluster_settings", {"settings": [{"name": "containerInsights", "value": "on"}]},
     "settings[0].value: must be enabled or disabled"),
    ("update_cluster_settings", {"settings": []}, "settings: required"),
    ("update_cluster", {"configuration": {"executeCommandConfiguration": {"logging": "NONE"}}},
     "configuration: ECS Exec and managed storage are not supported by Shoal"),
    ("update_cluster", {"serviceConnectDefaults": {"namespace": "ns"}}, "serviceConnectDefaults: Shoal has no"),
])
def test_what_shoal_has_no_counterpart_for_is_refused(ecs, call, kwargs, words) -> None:  # noqa: F811
    ecs.create_cluster(clusterName="edge", settings=[{"name": "containerInsights", "value": "enabled"}])
    with pytest.raises(ecs.exceptions.InvalidParameterException) as caught:
        getattr(ecs, call)(cluster="edge", **kwargs)
    assert caught.value.response["Error"]["Message"].startswith(words)
    assert settings_of(ecs, "edge") == [{"name": "containerInsights", "value": "enabled"}]


def test_create_cluster_refuses_settings_and_members_it_would_drop(ecs) -> None:  # noqa: F811
    with pytest.raises(ecs.exceptions.InvalidParameterException, match=r": settings\[0\].value: enhanced"):
        ecs.create_cluster(clusterName="x", settings=[{"name": "containerInsights", "value": "enhanced"}])
    with pytest.raises(ecs.exceptions.InvalidParameterException, match=": capacityProviders: use PutCluster"):
        ecs.create_cluster(clusterName="x", capacityProviders=["cp"])
    assert ecs.describe_clusters(clusters=["x"])["failures"] == [{"arn": "x", "reason": "MISSING"}]
    with pytest.raises(ecs.exceptions.ClusterNotFoundException):
        ecs.update_cluster_settings(cluster="nope", settings=[{"name": "containerInsights", "value": "enabled"}])
