"""What the console's pages are built from: the replica's cache over the in-memory store,
read into the overview (with its alerts), the service, node and task views."""

from __future__ import annotations

from controlplane.cache import Cache
from controlplane.console.views import Views, alerts
from controlplane.feed import EventFeed
from shoal import keys
from shoal.store.memory import MemoryStore
from shoal.v1 import resources_pb2 as r
from shoal.v1 import scaling_pb2 as sc
from shoal.v1 import traffic_pb2 as tr


def node(node_id: str, zone: str, status: str = "ACTIVE") -> r.ContainerInstance:
    n = r.ContainerInstance(id=node_id, hostname=f"agent-{node_id}", cluster="default", status=status,
                            cpu_units=1000, memory_mib=1000)
    n.attributes.add(name="ecs.availability-zone", value=zone)
    return n


def test_alerts_name_lost_nodes_failing_deployments_and_why_tasks_wait() -> None:
    svc = r.Service(service_name="web", cluster="default", status="ACTIVE")
    svc.deployments.add(id="d1", status="PRIMARY", rollout_state="FAILED", failed_tasks=3,
                        rollout_state_reason="circuit breaker tripped")
    waiting = [r.Task(id=f"t{i}", cluster="default", group="service:web", desired_status="RUNNING",
                      placement_message="no container instance met all of its requirements. 2 refused by memory")
               for i in range(2)]
    got = alerts([node("n1", "a"), node("n2", "b")], {"n1"}, [svc], waiting)
    assert [a["level"] for a in got] == ["error", "error", "warning"]
    assert "node agent-n2 (n2) is lost" in got[0]["what"]
    assert "deployment d1 FAILED, 3 tasks failed. circuit breaker tripped" in got[1]["what"]
    assert got[2]["what"] == ("2 task(s) of service:web cannot be placed: no container instance met all of its "
                              "requirements. 2 refused by memory")
    assert alerts([node("n1", "a")], {"n1"}, [], []) == []


def test_views_read_the_cache() -> None:
    store = MemoryStore()
    store.put(keys.node("default", "n1"), node("n1", "a").SerializeToString())
    store.put(keys.node("default", "n2"), node("n2", "b", "DRAINING").SerializeToString())
    store.put(keys.alive("n1"), b"")
    svc = r.Service(service_name="web", cluster="default", status="ACTIVE", desired_count=2, running_count=1,
                    task_definition="arn:aws:ecs:local:0:task-definition/web:3")
    svc.events.add(id="e1", created_at=5.0, message="(service web) has started 2 tasks.")
    store.put(keys.service("default", "web"), svc.SerializeToString())
    running = r.Task(id="t1", cluster="default", service_name="web", group="service:web", node_id="n1",
                     last_status="RUNNING", desired_status="RUNNING", cpu="100", memory="200", created_at=2.0)
    running.containers.add(name="app", last_status="RUNNING").network_bindings.add(container_port=80, host_port=20001)
    pending = r.Task(id="t2", cluster="default", service_name="web", group="service:web", last_status="PROVISIONING",
                     desired_status="RUNNING", created_at=3.0)
    for t in (running, pending):
        store.put(keys.task("default", t.id), t.SerializeToString())
    feed = EventFeed()
    cache = Cache(store, on_change=lambda: None)
    cache.add_listener(feed.observe)
    cache.start()
    try:
        views = Views(cache, feed, lambda: "replica-1")
        o = views.overview()
        assert o["leader"] == "replica-1" and o["services"] == 1
        assert o["nodes"] == {"total": 2, "connected": 1, "draining": 1}
        assert o["tasks"] == {"running": 1, "pending": 1}
        assert [e["message"] for e in o["events"]] == ["(service web) has started 2 tasks."]
        s = views.service("default", "web")
        assert (s["running"], s["desired"], s["taskDefinition"]) == (1, 2, "web:3")
        assert {t["id"]: t["nodeName"] for t in s["tasks"]} == {"t1": "agent-n1", "t2": ""}
        n1 = views.node("default", "n1")
        assert n1["cpu"] == {"registered": 1000, "reserved": 100} and n1["memory"]["reserved"] == 200
        assert n1["attributes"] == {"ecs.availability-zone": "a"} and [t["id"] for t in n1["tasks"]] == ["t1"]
        assert n1["taskGroups"] == ["web"]
        assert [(n["name"], n["zone"], n["connected"]) for n in views.nodes()] == [
            ("agent-n1", "a", True), ("agent-n2", "b", False)]
        t1 = views.task("default", "t1")
        assert t1["containers"][0]["ports"] == [{"containerPort": 80, "hostPort": 20001, "protocol": "tcp"}]
        assert t1["containers"][0]["exitCode"] is None
        assert [t["id"] for t in views.tasks()] == ["t2", "t1"], "newest first"
        assert views.service("default", "nope") is None and views.task("default", "nope") is None
    finally:
        cache.close()


def test_service_view_shows_its_scaling_and_targets_only() -> None:
    store = MemoryStore()
    store.put(keys.node("default", "n1"), node("n1", "a").SerializeToString())
    arn = "arn:aws:elasticloadbalancing:local:0:targetgroup/web-tg/abc"
    store.put(keys.target_group("default", "web-tg"),
              tr.TargetGroup(target_group_arn=arn, target_group_name="web-tg").SerializeToString())
    svc = r.Service(service_name="web", cluster="default", status="ACTIVE")
    svc.load_balancers.add(target_group_arn=arn, container_name="app", container_port=80)
    store.put(keys.service("default", "web"), svc.SerializeToString())
    store.put(keys.service("default", "api"), r.Service(service_name="api", cluster="default",
                                                        status="ACTIVE").SerializeToString())
    healthy = r.Task(id="t1", cluster="default", service_name="web", node_id="n1", last_status="RUNNING",
                     desired_status="RUNNING")
    healthy.containers.add(name="app").network_bindings.add(container_port=80, host_port=20001)
    healthy.target_health.add(target_group_arn=arn, state="healthy")
    new = r.Task(id="t2", cluster="default", service_name="web", node_id="n1", last_status="PENDING",
                 desired_status="RUNNING")
    unplaced = r.Task(id="t3", cluster="default", service_name="web", desired_status="RUNNING")
    for t in (healthy, new, unplaced):
        store.put(keys.task("default", t.id), t.SerializeToString())
    store.put(keys.scalable_target("default", "web"),
              sc.ScalableTarget(min_capacity=1, max_capacity=4).SerializeToString())
    step = sc.ScalingPolicy(policy_name="step", policy_type="StepScaling", step_scaling=sc.StepScalingConfiguration(
        adjustment_type="ChangeInCapacity", alarm=sc.Alarm(promql="q", comparison="GreaterThanThreshold",
                                                           threshold=3)))
    store.put(keys.scaling_policy("default", "web", "step"), step.SerializeToString())
    store.put(keys.scaling_policy("default", "api", "other"), sc.ScalingPolicy(policy_name="other").SerializeToString())
    for i, service in enumerate(["web", "api", "web"]):
        store.put(keys.scaling_activity("default", i + 1, f"a{i}"),
                  sc.ScalingActivity(activity_id=f"a{i}", service=service, start_time=i + 1).SerializeToString())
    cache = Cache(store, on_change=lambda: None)
    cache.start()
    try:
        s = Views(cache, EventFeed(), lambda: "").service("default", "web")
        assert s is not None
        assert s["scalableTarget"] == {"min": 1, "max": 4}
        assert [(p["name"], p["what"]) for p in s["scalingPolicies"]] == [
            ("step", "ChangeInCapacity when q GreaterThanThreshold 3")]
        assert [a["id"] for a in s["scalingActivities"]] == ["a2", "a0"]
        assert [(x["targetGroup"], x["task"], x["nodeName"], x["port"], x["state"]) for x in s["targets"]] == [
            ("web-tg", "t1", "agent-n1", 20001, "healthy"), ("web-tg", "t2", "agent-n1", 0, "initial")]
        api = Views(cache, EventFeed(), lambda: "").service("default", "api")
        assert api is not None and api["targets"] == [] and api["scalableTarget"] is None
        assert [a["id"] for a in api["scalingActivities"]] == ["a1"]
    finally:
        cache.close()
