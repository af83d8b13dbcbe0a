"""The console's remaining actions, in Debian's Chromium against a real control plane and a
hollow fleet: force a new deployment of a service from its page, see a rollout that cannot
place its tasks raised on the overview, roll it back from the page, and activate a drained
node from its page — each after a confirm, each seen live."""

from __future__ import annotations

import json
import shutil

import pytest

from shoal.v1 import operator_pb2 as op
from tests.integration.test_console_browser import accept_confirm, browser, typed  # noqa: F401 (a fixture)
from tests.integration.test_console_browser import text as first_text
from tests.waiting import wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("chromedriver") is None or shutil.which("chromium") is None,
                       reason="needs chromium and chromium-driver (scripts/bootstrap.sh)"),
]

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402


def taskdef(memory: int) -> str:
    return json.dumps({"family": "hollow-web", "containerDefinitions": [
        {"name": "web", "image": "shoal/busybox:latest", "cpu": 64, "memory": memory, "command": ["sleep", "3600"]}]})


def service(api) -> op.DescribeServicesResponse:
    return api.DescribeServices(op.DescribeServicesRequest(cluster="default", services=["web"])).services[0]


def text(b, css: str) -> str:
    """The first match's text, or "" (also when the live page redrew it while being read)."""
    try:
        return first_text(b, css)
    except StaleElementReferenceException:
        return ""


def click(b, element_id: str) -> bool:
    try:
        b.find_element(By.ID, element_id).click()
        return True
    except (StaleElementReferenceException, NoSuchElementException):
        return False


def test_redeploy_rollback_and_activate_from_the_pages(hollow_plane, browser) -> None:  # noqa: F811
    plane = hollow_plane
    plane.start(3)
    api = plane.api
    api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=taskdef(64)))
    api.CreateService(op.CreateServiceRequest(cluster="default", service_name="web", task_definition="hollow-web:1",
                                              desired_count=3))
    wait_for(lambda: service(api).running_count == 3, 60, "web's 3 tasks RUNNING")
    b = browser
    b.get(plane.link())
    wait_for(lambda: "(admin)" in text(b, "#whoami"), 20, "the admin logged in")
    base = b.current_url.split("#")[0]

    # Force a new deployment: a second deployment appears on the page and completes.
    first = service(api).deployments[0].id
    b.get(base + "#/services/default/web")
    wait_for(lambda: b.find_elements(By.ID, "redeploy-btn"), 10, "the redeploy button")
    wait_for(lambda: click(b, "redeploy-btn"), 20, "redeploy clicked")
    assert accept_confirm(b), "a new deployment asks for confirmation"
    wait_for(lambda: (d := service(api).deployments) and d[0].id != first and d[0].rollout_state == "COMPLETED"
             and len(d) == 1, 60, "the new deployment completed")
    new = service(api).deployments[0].id
    wait_for(lambda: new in text(b, "#page") and first not in text(b, "table"), 20,
             "the page showing the new deployment alone")

    # A rollout whose tasks fit no node: raised on the overview, then rolled back from the page.
    api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=taskdef(100_000)))
    api.UpdateService(op.UpdateServiceRequest(cluster="default", service="web", task_definition="hollow-web:2"))
    b.get(base + "#/")
    wait_for(lambda: "cannot be placed" in text(b, "#page"), 60, "the unplaceable tasks on the overview")
    wait_for(lambda: "service:web" in text(b, ".alert.warning"), 10, "the alert naming the service")
    b.get(base + "#/services/default/web")
    wait_for(lambda: b.find_elements(By.ID, "rollback-btn"), 20, "the roll back button")
    wait_for(lambda: click(b, "rollback-btn"), 20, "roll back clicked")
    assert accept_confirm(b)
    wait_for(lambda: service(api).task_definition.endswith("hollow-web:1"), 20, "the service back on revision 1")
    wait_for(lambda: service(api).running_count == 3 and len(service(api).deployments) == 1, 60,
             "the rollback settled")
    wait_for(lambda: "hollow-web:1 · ACTIVE" in text(b, "#service-counts"), 20, "the page on revision 1")
    b.get(base + "#/")
    wait_for(lambda: "cannot be placed" not in text(b, "#page") and text(b, "#count-running") == "3", 30,
             "the overview clear again")

    # Drain a node, then activate it from its page.
    node = plane.node_arns()[0].rpartition("/")[2]
    api.UpdateContainerInstancesState(op.UpdateContainerInstancesStateRequest(
        cluster="default", container_instances=[node], status="DRAINING"))
    b.get(base + f"#/nodes/default/{node}")
    wait_for(lambda: b.find_elements(By.ID, "activate-btn"), 20, "the activate button on the drained node")
    # The drain's moving tasks redraw the page: click the button the page shows now.
    wait_for(lambda: click(b, "activate-btn"), 20, "the activate button clicked")
    assert accept_confirm(b), "activating asks for confirmation"
    wait_for(lambda: " ACTIVE " in text(b, "#node-status"), 20, "the node shown ACTIVE")
    assert api.DescribeContainerInstances(op.DescribeContainerInstancesRequest(
        cluster="default", container_instances=[node])).container_instances[0].status == "ACTIVE"
