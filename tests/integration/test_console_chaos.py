"""The console's chaos page, driven in Debian's Chromium against a real control plane and a
hollow fleet: an admin starts a fault from the page (after a confirm), sees the run measured
live and reported converged with its time, and the run in the event feed; the doors of the
chaos API: a viewer refused, no run without its confirm, a host-only fault refused with
where to run it, a second run refused while one measures."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from shoal.v1 import accesskeys_pb2 as ak
from shoal.v1 import accesskeys_pb2_grpc
from shoal.v1 import operator_pb2 as op
from tests.integration.test_console import Browserless
from tests.integration.test_console_browser import accept_confirm, browser, shot  # noqa: F401 (a fixture)
from tests.integration.test_console_pages import click, text, typed
from tests.integration.test_console_topology import pick
from tests.waiting import wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("chromedriver") is None or shutil.which("chromium") is None,
                       reason="needs chromium and chromium-driver (scripts/bootstrap.sh)"),
]

from selenium.webdriver.common.by import By  # noqa: E402

TASKDEF = {"family": "hollow-web", "containerDefinitions": [
    {"name": "web", "image": "shoal/busybox:latest", "cpu": 64, "memory": 64, "command": ["sleep", "3600"]}]}


def running(api, service: str) -> int:
    return api.DescribeServices(op.DescribeServicesRequest(cluster="default", services=[service])).services[0] \
        .running_count


def test_chaos_from_the_console_converges_with_its_time(hollow_plane, browser) -> None:  # noqa: F811
    plane = hollow_plane
    plane.start(6)
    plane.api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(TASKDEF)))
    plane.api.CreateService(op.CreateServiceRequest(cluster="default", service_name="web",
                                                    task_definition="hollow-web", desired_count=6))
    wait_for(lambda: running(plane.api, "web") == 6, 60, "web's 6 tasks RUNNING")
    before = set(plane.api.ListTasks(op.ListTasksRequest(cluster="default", service_name="web",
                                                         desired_status="RUNNING")).arns)

    b = browser
    b.get(plane.link())
    wait_for(lambda: "(admin)" in text(b, "#whoami"), 20, "the admin logged in")
    b.get(b.current_url.split("#")[0] + "#/chaos")
    wait_for(lambda: b.find_elements(By.ID, "chaos-run"), 20, "the chaos page with its Run button")
    wait_for(lambda: "shoal chaos" in (note := text(b, "#chaos-host-only")) and "kill-agent" in note, 10,
             "the page saying which faults need the host")
    # The live page redraws under the driver's feet: act on what it shows now.
    wait_for(lambda: pick(b, "chaos-action", "stop-service-tasks"), 10, "the action picked")
    wait_for(lambda: pick(b, "chaos-service", "web"), 10, "the service picked")
    wait_for(lambda: typed(b, "chaos-count", "2"), 10, "the count typed")
    wait_for(lambda: click(b, "chaos-run"), 10, "Run clicked")
    assert accept_confirm(b), "a chaos run asks for confirmation"

    # Measured live: the run shows converged with its time, without a reload.
    b.execute_script("window.sameLoad = 'yes'")
    wait_for(lambda: b.find_elements(By.CSS_SELECTOR, 'tr.chaos-run[data-state="converged"]'), 90,
             "the run reported converged")
    took = wait_for(lambda: text(b, 'tr.chaos-run[data-state="converged"] .converged-after'), 10, "the time")
    assert re.fullmatch(r"\d+\.\ds", took), took
    assert 0 < float(took[:-1]) < 90
    wait_for(lambda: "stopped 2 of 6 RUNNING tasks of service web" in text(b, "tr.chaos-run"), 10, "what it did")
    assert b.execute_script("return window.sameLoad") == "yes"
    shot(b, "chaos")
    # Really converged: 6 RUNNING again, two of them new.
    after = set(plane.api.ListTasks(op.ListTasksRequest(cluster="default", service_name="web",
                                                        desired_status="RUNNING")).arns)
    assert running(plane.api, "web") == 6 and len(after - before) == 2, (before, after)

    # The run, start and outcome, in the event feed (kind chaos).
    b.get(b.current_url.split("#")[0] + "#/events")
    wait_for(lambda: b.find_elements(By.ID, "filter-kind"), 10, "the events page")
    wait_for(lambda: typed(b, "filter-kind", "chaos"), 10, "the kind filter typed")
    b.execute_script("document.activeElement.blur()")
    # The outcome is in the unfiltered feed too: wait for the filter's own redraw, every row chaos.
    wait_for(lambda: b.execute_script(
        "const kinds = Array.from(document.querySelectorAll('#page table tbody tr'), (r) => r.cells[1].textContent);"
        "return kinds.length > 0 && kinds.every((k) => k === 'chaos')"), 20, "the feed filtered to chaos events")
    wait_for(lambda: "converged after" in text(b, "#page table"), 20, "the outcome in the feed")
    feed = text(b, "#page table")
    assert "chaos stop-service-tasks by admin" in feed and f"converged after {took}" in feed, feed
    assert "task " not in feed.replace("tasks of", ""), "only chaos events under the filter"

    # A drain from the page, too: the node's tasks move and the run converges.
    b.get(b.current_url.split("#")[0] + "#/chaos")
    wait_for(lambda: b.find_elements(By.ID, "chaos-run"), 20, "the Run button again")
    wait_for(lambda: pick(b, "chaos-action", "drain-node"), 10, "the drain picked")
    wait_for(lambda: b.find_elements(By.ID, "chaos-node"), 10, "the node picker")
    node = b.execute_script("return document.getElementById('chaos-node').value")
    wait_for(lambda: click(b, "chaos-run"), 10, "Run clicked")
    assert accept_confirm(b)
    wait_for(lambda: len(b.find_elements(By.CSS_SELECTOR, 'tr.chaos-run[data-state="converged"]')) == 2, 90,
             "the drain run converged")
    drained = plane.api.DescribeContainerInstances(op.DescribeContainerInstancesRequest(
        cluster="default", container_instances=[node])).container_instances[0]
    assert drained.status == "DRAINING" and drained.running_tasks_count == 0


def test_chaos_doors(hollow_plane) -> None:
    plane = hollow_plane
    plane.start(3)
    plane.api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(TASKDEF)))
    plane.api.CreateService(op.CreateServiceRequest(cluster="default", service_name="web",
                                                    task_definition="hollow-web", desired_count=3))
    wait_for(lambda: running(plane.api, "web") == 3, 60, "web's 3 tasks RUNNING")
    base = plane.link().split("/login")[0]
    admin = Browserless(base, plane.ca)
    status, _, _ = admin.request("GET", "/login?token=" + plane.link().split("token=")[1])
    assert status == 303
    admin.me()

    def chaos(client: Browserless, body: dict) -> tuple[int, dict]:
        status, _, data = client.request("POST", "/api/chaos", body, {"X-CSRF-Token": client.csrf})
        return status, json.loads(data)

    stop = {"action": "stop-random-tasks", "cluster": "default", "count": 1}
    status, out = chaos(admin, stop)
    assert status == 400 and out["error"].startswith("confirm:"), out
    status, out = chaos(admin, {**stop, "confirm": "stop-service-tasks"})
    assert status == 400 and out["error"].startswith("confirm:"), out
    status, out = chaos(admin, {"action": "kill-agent", "cluster": "default", "confirm": "kill-agent"})
    assert status == 400 and "shoal chaos" in out["error"], out
    status, out = chaos(admin, {**stop, "count": 0, "confirm": "stop-random-tasks"})
    assert status == 400 and out["error"].startswith("count:"), out
    status, out = chaos(admin, {"action": "drain-node", "cluster": "default", "node": "nope", "confirm": "drain-node"})
    assert status == 404 and out["error"].startswith("node:"), out
    status, out = admin.request("POST", "/api/chaos", {**stop, "confirm": "stop-random-tasks"})[0], None
    assert status == 403, "no run without the session's CSRF token"
    # Nothing was done by the refusals.
    assert running(plane.api, "web") == 3
    assert admin.get_json("/api/chaos")[1]["runs"] == []

    # A viewer is refused whatever it sends.
    key = accesskeys_pb2_grpc.AccessKeysStub(plane.channel).CreateAccessKey(
        ak.CreateAccessKeyRequest(user="vera", role="viewer"), timeout=10)
    viewer = Browserless(base, plane.ca)
    status, _, _ = viewer.request("POST", "/api/login", {"accessKeyId": key.access_key_id,
                                                         "secretAccessKey": key.secret_access_key})
    assert status == 200
    viewer.me()
    status, out = chaos(viewer, {**stop, "confirm": "stop-random-tasks"})
    assert status == 403 and "viewer" in out["error"], out
    assert viewer.get_json("/api/chaos")[0] == 200, "a viewer may watch the runs"

    # One run at a time.
    status, out = chaos(admin, {**stop, "confirm": "stop-random-tasks"})
    assert status == 200 and out["state"] == "running", out
    status, second = chaos(admin, {**stop, "confirm": "stop-random-tasks"})
    if status != 200:  # the first may already have converged on a fast box
        assert status == 409 and "still measuring" in second["error"], second
    wait_for(lambda: all(r["state"] == "converged" for r in admin.get_json("/api/chaos")[1]["runs"]), 60,
             "the runs converged")
