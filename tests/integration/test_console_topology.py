"""The topology page at scale, in Debian's Chromium against a real control plane and a
hollow fleet: nodes grouped by zone with their totals, one small tile each (not a row each:
a zone's list appears only once a search or filter narrows it), search and a status filter
that find one node among many, and a drained node found by the filter, live.

It measures and prints what a page at this size costs: the time from opening the page to
every tile drawn, the size of the nodes read the page makes on each change notice, and the
bytes the change stream itself carries. CONSOLE_TOPOLOGY_NODES sets the fleet's size
(default 180, for CI: zones of 60, over the 50 a zone lists; the README's figures are at 1,000)."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from shoal.v1 import operator_pb2 as op
from tests.integration.test_console_browser import browser, shot  # noqa: F401 (a fixture)
from tests.integration.test_console_pages import text
from tests.waiting import wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("chromedriver") is None or shutil.which("chromium") is None,
                       reason="needs chromium and chromium-driver (scripts/bootstrap.sh)"),
]

from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

from tests.headless import OPEN_AND_TIME  # noqa: E402

NODES = int(os.environ.get("CONSOLE_TOPOLOGY_NODES", "180"))
TASKS = 2 * NODES
TASKDEF = {"family": "hollow-web", "containerDefinitions": [
    {"name": "web", "image": "shoal/busybox:latest", "cpu": 256, "memory": 256, "command": ["sleep", "3600"]}]}

# Follows the change stream for arguments[0] ms: [notices, bytes of their data].
STREAM = """
const [ms, done] = [arguments[0], arguments[arguments.length - 1]];
const es = new EventSource('/api/stream');
let notices = 0, bytes = 0;
es.addEventListener('change', (e) => { notices += 1; bytes += e.data.length; });
setTimeout(() => { es.close(); done([notices, bytes]); }, ms);
"""


def pick(b, select_id: str, value: str) -> bool:
    try:
        Select(b.find_element(By.ID, select_id)).select_by_value(value)
        return True
    except StaleElementReferenceException:
        return False


def test_topology_page_at_scale(hollow_plane, browser) -> None:  # noqa: F811
    plane = hollow_plane
    plane.start(NODES)
    plane.api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(TASKDEF)))
    plane.api.CreateService(op.CreateServiceRequest(cluster="default", service_name="web",
                                                    task_definition="hollow-web", desired_count=TASKS))
    wait_for(lambda: plane.api.DescribeServices(op.DescribeServicesRequest(
        cluster="default", services=["web"])).services[0].running_count == TASKS, 60 + TASKS / 20,
        f"{TASKS} tasks RUNNING")

    b = browser
    b.get(plane.link())
    wait_for(lambda: "(admin)" in text(b, "#whoami"), 20, "the admin logged in")
    times = [b.execute_async_script(OPEN_AND_TIME, NODES) for _ in range(5)]
    # Read in one go by the page's script: the live page may redraw between two driver calls.
    zones = b.execute_script("return [...document.querySelectorAll('details.zone')]"
                             ".map((d) => [d.dataset.zone, d.open])")
    assert sorted(z for z, _ in zones) == ["a", "b", "c"]
    # Big zones start folded, list no rows, and still say their totals.
    per_zone = NODES // 3
    if per_zone > 50:
        assert not any(is_open for _, is_open in zones)
        assert not b.find_elements(By.CSS_SELECTOR, "tr[data-node]")
    wait_for(lambda: text(b, "#node-count") == f"{NODES} of {NODES} nodes in 3 zones", 10, "the count")

    def zone_tasks() -> int:
        summaries = [text(b, f'details[data-zone="{z}"] summary') for z in "abc"]
        return sum(int(x.rsplit(" ", 2)[-2]) for x in summaries) if all(summaries) else -1

    wait_for(lambda: zone_tasks() == TASKS, 10, f"the zones' summaries adding up to {TASKS} tasks")

    # Search finds one node among them all: its zone opens with one row.
    nodes = plane.api.DescribeContainerInstances(op.DescribeContainerInstancesRequest(
        cluster="default", container_instances=plane.node_arns()[:1])).container_instances
    wanted = nodes[0]
    b.find_element(By.ID, "node-search").send_keys(wanted.hostname)
    wait_for(lambda: len(b.find_elements(By.CSS_SELECTOR, "tr[data-node]")) == 1, 10, "one row for the search")
    assert b.find_elements(By.CSS_SELECTOR, f'tr[data-node="{wanted.id}"]')
    wait_for(lambda: text(b, "#node-count").startswith("1 of "), 10, "the count of one")
    b.find_element(By.ID, "node-search").clear()
    b.find_element(By.ID, "node-search").send_keys(" ")
    b.execute_script("document.activeElement.blur()")

    # A drained node, found live by the status filter.
    plane.api.UpdateContainerInstancesState(op.UpdateContainerInstancesStateRequest(
        cluster="default", container_instances=[wanted.id], status="DRAINING"))
    # The live page redraws under the driver's feet: pick the option in the page's current select.
    wait_for(lambda: pick(b, "node-status-filter", "DRAINING"), 10, "the DRAINING filter picked")
    wait_for(lambda: b.find_elements(By.CSS_SELECTOR, f'tr[data-node="{wanted.id}"][data-status="DRAINING"]'), 20,
             "the drained node under the DRAINING filter")
    assert len(b.find_elements(By.CSS_SELECTOR, "tr[data-node]")) == 1
    assert b.find_elements(By.CSS_SELECTOR, f'a.tile.draining[data-tile="{wanted.id}"]')
    # The picture: every zone open, no filter.
    wait_for(lambda: pick(b, "node-status-filter", ""), 10, "the filter cleared")
    wait_for(lambda: text(b, "#node-count").startswith(f"{NODES} of "), 10, "every node shown again")
    b.execute_script("document.querySelectorAll('details.zone').forEach((d) => { d.open = true; });")
    shot(b, "topology")

    nodes_bytes = b.execute_async_script("const done = arguments[arguments.length - 1]; "
                                         "fetch('/api/nodes').then(r => r.text()).then(t => done(t.length));")
    notices, stream_bytes = b.execute_async_script(STREAM, 10_000)
    times.sort()
    print(f"\ntopology at {NODES} nodes, {TASKS} tasks: open to every tile drawn, 5 times: "
          f"median {times[2]:.0f} ms, max {times[-1]:.0f} ms; /api/nodes {nodes_bytes / 1024:.0f} KiB; "
          f"change stream over 10 s: {notices} notices, {stream_bytes} bytes of data")
    assert times[2] < 10_000
