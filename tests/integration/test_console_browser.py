"""The web console driven in Debian's Chromium (headless, through Selenium and Chromium's own
chromedriver) against a real control plane and docker agents: log in by a one-time link
(refused the second time), see a service appear live after `shoal service create` (no
reload), scale it from its page and watch its tasks come up, drain a node, see the event
feed update, follow and search a task's logs; a stop reason and a log line holding HTML
render as text; logged out, the API refuses; a viewer sees no action buttons, is refused
the logs without the grant and a forged action; a read that hangs holds up no navigation and
is given up after 10 s.

With CONSOLE_SCREENSHOTS=DIR (no SHOAL_ prefix: the test session clears those) the same
code saves the main pages' screenshots there (docs/console/ holds the ones the README
shows)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from shoal.v1 import accesskeys_pb2 as ak
from shoal.v1 import accesskeys_pb2_grpc
from shoal.v1 import operator_pb2 as op
from tests.integration.test_console import SLEEPER, link_for, shoal
from tests.waiting import wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("chromedriver") is None or shutil.which("chromium") is None,
                       reason="needs chromium and chromium-driver (scripts/bootstrap.sh)"),
]

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import (  # noqa: E402
    NoAlertPresentException,
    NoSuchElementException,
    StaleElementReferenceException,
)
from selenium.webdriver.common.by import By  # noqa: E402

from tests.headless import chromium  # noqa: E402

SCREENSHOTS = os.environ.get("CONSOLE_SCREENSHOTS")
HOSTILE = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'
PRINTER = {
    "family": "printer",
    "containerDefinitions": [{
        "name": "talk", "image": "shoal/busybox:latest", "memory": 16, "cpu": 16, "stopTimeout": 1,
        "command": ["sh", "-c", "i=0; while true; do echo \"line $i <script>window.pwned=3</script><b>bold</b>\"; "
                                "i=$((i+1)); sleep 0.3; done"],
    }],
}


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    driver = chromium(tmp_path, "1400,1000", str(tmp_path / "chromedriver.log"), page_logs=True)
    try:
        yield driver
    finally:
        driver.quit()
        # quit() ends chromium and the driver; make sure of the driver process we started.
        proc = driver.service.process
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(10)


def page_state(driver) -> str:
    """What the page shows, where its renders stand, what it logged and which of its requests
    never finished: the tail of a failed wait's message, so a CI failure says what happened."""
    parts = []
    try:
        state = driver.execute_script(
            "return {hash: location.hash, h1: (document.querySelector('#page h1') || {}).textContent || null,"
            " page: document.getElementById('page').textContent.slice(0, 300),"
            " active: document.activeElement && document.activeElement.tagName + '#' + document.activeElement.id,"
            " render: typeof generation === 'undefined' ? null : {generation, rendering, again}};")
        parts.append(f"page: {state!r}")
    except Exception as exc:  # noqa: BLE001 (a diagnosis must not hide the failure it explains)
        parts.append(f"page: unreadable ({exc})")
    try:
        parts.append("console: " + "; ".join(f"{e['level']} {e['message']}" for e in driver.get_log("browser")[-20:]))
        sent: dict[str, str] = {}
        answered: set[str] = set()
        for entry in driver.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            params = msg.get("params", {})
            if msg["method"] == "Network.requestWillBeSent":
                sent[params["requestId"]] = f"{params['request']['method']} {params['request']['url']}"
            elif msg["method"] == "Network.responseReceived":
                answered.add(params["requestId"])
            elif msg["method"] in ("Network.loadingFinished", "Network.loadingFailed"):
                sent.pop(params["requestId"], None)
        # Open event streams stay unfinished by design; they are listed too (they hold connections).
        parts.append("unfinished requests: " + "; ".join(
            f"{what} ({'headers in' if rid in answered else 'no answer'})" for rid, what in list(sent.items())[-20:]))
    except Exception as exc:  # noqa: BLE001
        parts.append(f"logs: unreadable ({exc})")
    return "\n".join(parts)


def wait_page(driver, condition, timeout: float, what: str):
    """wait_for on the page, its failure telling the page's state (page_state)."""
    try:
        return wait_for(condition, timeout, what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{page_state(driver)}") from None


def text(driver, css: str) -> str:
    found = driver.find_elements(By.CSS_SELECTOR, css)
    return found[0].text if found else ""


def accept_confirm(driver) -> bool:
    try:
        driver.switch_to.alert.accept()
        return True
    except NoAlertPresentException:
        return False


def typed(driver, element_id: str, value: str) -> bool:
    """Types ``value`` into a field; False if the live page redrew it meanwhile."""
    try:
        field = driver.find_element(By.ID, element_id)
        field.clear()
        field.send_keys(value)
        return field.get_attribute("value") == value
    except (StaleElementReferenceException, NoSuchElementException):
        return False


def clicked(driver, element_id: str) -> bool:
    """Clicks the element; False if the live page redrew it between finding and clicking."""
    try:
        driver.find_element(By.ID, element_id).click()
        return True
    except (StaleElementReferenceException, NoSuchElementException):
        return False


def shot(driver, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(SCREENSHOTS) / f"{name}.png"))


def test_console_in_a_real_browser(make_cluster, busybox_image, browser) -> None:
    cluster = make_cluster(agents=3, zones=["a", "b", "c"], console_port=0)
    api = cluster.operator
    api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(SLEEPER)))
    b = browser

    # Log in by the one-time link; the page is then the overview. The link works once.
    link = link_for(cluster)
    b.get(link)
    wait_page(b, lambda: "(admin)" in text(b, "#whoami"), 20, "the admin logged in")
    home = b.current_url
    b.get(link)
    assert "unknown, used or expired" in b.find_element(By.TAG_NAME, "body").text
    b.get(home)
    wait_page(b, lambda: text(b, "#count-nodes") == "3/3", 20, "three connected nodes on the overview")
    b.get(b.current_url.split("#")[0] + "#/services")
    # A mark only this page load carries: a reload would lose it.
    b.execute_script("window.sameLoad = 'yes'")
    made = shoal(cluster, "service", "create", "web", "--taskdef", "sleeper", "--desired", "1")
    assert made.returncode == 0, made.stderr
    wait_page(b, lambda: text(b, 'tr[data-service="web"] .running') == "1", 60, "web appearing live with 1 running")
    assert b.execute_script("return window.sameLoad") == "yes", "the service appeared without a reload"
    shot(b, "services")

    # Scale it to 5 from its page and watch the tasks come up (5 sleepers of 16 CPU units and
    # 16 MiB fit any one node: the drain below has room for them on the other two).
    b.find_element(By.CSS_SELECTOR, 'tr[data-service="web"] a').click()
    wait_page(b, lambda: b.find_elements(By.ID, "scale-count"), 10, "the service page")
    # The live page may redraw the form while the driver types (the page holds its redraws
    # only once the field has the focus): type into the form it shows now.
    wait_page(b, lambda: typed(b, "scale-count", "5"), 10, "the count typed")
    wait_page(b, lambda: clicked(b, "scale-btn"), 10, "a click on #scale-btn")
    assert accept_confirm(b), "scaling asks for confirmation"
    wait_page(b, lambda: len(b.find_elements(By.CSS_SELECTOR, 'tr.task[data-status="RUNNING"]')) == 5, 90,
              "five running tasks on the page")
    assert b.execute_script("return window.sameLoad") == "yes"
    resp = api.DescribeServices(op.DescribeServicesRequest(cluster="default", services=["web"]))
    assert resp.services[0].desired_count == 5
    shot(b, "service")

    # Drain a node from its page; the node's status and the event feed follow.
    node_id = sorted(cluster.node_ids())[0]
    b.get(b.current_url.split("#")[0] + f"#/nodes/default/{node_id}")
    wait_page(b, lambda: b.find_elements(By.ID, "drain-btn"), 10, "the drain button")
    wait_page(b, lambda: clicked(b, "drain-btn"), 10, "a click on #drain-btn")
    assert accept_confirm(b)
    wait_page(b, lambda: " DRAINING " in text(b, "#node-status"), 20, "the node shown DRAINING")
    b.get(b.current_url.split("#")[0] + "#/nodes")
    wait_page(b, lambda: b.find_elements(By.CSS_SELECTOR, f'tr[data-node="{node_id}"][data-status="DRAINING"]'), 10,
             "the node list showing the drain")
    shot(b, "nodes")
    b.get(b.current_url.split("#")[0] + "#/events")
    wait_page(b, lambda: "ACTIVE -> DRAINING" in text(b, "#page table"), 20, "the drain in the event feed")
    shot(b, "events")

    # A stop reason holding markup is shown as text and runs nothing.
    # One the drain is not stopping already (a stopped task keeps its first reason).
    running = api.ListTasks(op.ListTasksRequest(cluster="default", service_name="web", desired_status="RUNNING")).arns
    described = api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=list(running))).tasks
    task = next(t.task_arn for t in described if t.node_id != node_id)
    api.StopTask(op.StopTaskRequest(cluster="default", task=task, reason=HOSTILE))
    task_id = task.rpartition("/")[2]
    b.get(b.current_url.split("#")[0] + f"#/tasks/default/{task_id}")
    wait_page(b, lambda: HOSTILE in text(b, "#page"), 30, "the reason, verbatim, on the task page")
    assert not b.find_elements(By.CSS_SELECTOR, "#page img, #page script")
    assert b.execute_script("return window.pwned") is None

    # A task's output, followed live; markup in it is text.
    api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(PRINTER)))
    printer = api.RunTask(op.RunTaskRequest(cluster="default", task_definition="printer")).tasks[0].id
    b.get(b.current_url.split("#")[0] + f"#/tasks/default/{printer}")
    wait_page(b, lambda: "RUNNING (desired RUNNING)" in text(b, "#page"), 60, "the printer running")
    wait_page(b, lambda: clicked(b, "logs-btn"), 10, "a click on #logs-btn")
    wait_page(b, lambda: "line 3 <script>window.pwned=3</script><b>bold</b>" in text(b, "#logs"), 30, "the output")
    seen = text(b, "#logs").count("\n")
    wait_page(b, lambda: text(b, "#logs").count("\n") >= seen + 3, 30, "new lines arriving (follow)")
    assert not b.find_elements(By.CSS_SELECTOR, "#logs b, #logs script")
    assert b.execute_script("return window.pwned") is None
    search = b.find_element(By.ID, "log-search")
    search.send_keys("line 2 ")
    wait_page(b, lambda: text(b, "#logs").startswith("line 2 ") and text(b, "#logs").count("\n") == 0, 10,
             "the search keeping the one matching line")
    shot(b, "task")
    b.get(b.current_url.split("#")[0] + "#/")
    wait_page(b, lambda: text(b, "#count-running") != "", 10, "the overview")
    shot(b, "overview")

    # A viewer, logged in with an access key through the form, sees no action buttons.
    key = accesskeys_pb2_grpc.AccessKeysStub(cluster.channel).CreateAccessKey(
        ak.CreateAccessKeyRequest(user="vera", role="viewer"), timeout=10)
    wait_page(b, lambda: clicked(b, "logout"), 10, "a click on #logout")
    wait_page(b, lambda: b.find_element(By.ID, "login-key").is_displayed(), 10, "the login form")
    # Logged out, the page's own requests are refused.
    assert b.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        " fetch('/api/overview').then(r => r.text().then(() => done(r.status)));") == 401
    b.find_element(By.ID, "login-key").send_keys(key.access_key_id)
    b.find_element(By.ID, "login-secret").send_keys(key.secret_access_key)
    wait_page(b, lambda: clicked(b, "login-btn"), 10, "a click on #login-btn")
    wait_page(b, lambda: "vera (viewer)" in text(b, "#whoami"), 10, "the viewer logged in")
    b.get(b.current_url.split("#")[0] + "#/services/default/web")
    wait_page(b, lambda: "Service web" in text(b, "#page h1"), 10, "the service page as a viewer")
    assert not b.find_elements(By.CSS_SELECTOR, "button.action, #scale-count")
    # A viewer without the logs grant is not shown a task's output.
    b.get(b.current_url.split("#")[0] + f"#/tasks/default/{printer}")
    wait_page(b, lambda: b.find_elements(By.ID, "logs-btn"), 10, "the task page as a viewer")
    wait_page(b, lambda: clicked(b, "logs-btn"), 10, "a click on #logs-btn")
    wait_page(b, lambda: "no logs" in text(b, "#logs-status"), 10, "the logs refused")
    assert text(b, "#logs") == ""
    # The page's own script, forced to act, is refused by the server.
    status = b.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch('/api/me').then(r => r.json()).then(me => fetch('/api/actions/scale', {method: 'POST',
            headers: {'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf},
            body: JSON.stringify({cluster: 'default', service: 'web', desiredCount: 0})})).then(r => done(r.status));
    """)
    assert status == 403
    assert api.DescribeServices(op.DescribeServicesRequest(cluster="default", services=["web"])) \
        .services[0].desired_count == 5


    # A read that never answers holds up no navigation, and is given up with a word on the page.
    b.execute_script("""
        const real = window.fetch;
        window.fetch = (url, opts) => String(url) === '/api/services' ? new Promise((_, reject) => {
            if (opts && opts.signal) opts.signal.addEventListener('abort',
                () => reject(new DOMException('gave up', 'AbortError')));
        }) : real(url, opts);
        location.hash = '#/services';
    """)
    b.get(b.current_url.split("#")[0] + "#/nodes")
    wait_page(b, lambda: text(b, "#page h1") == "Nodes", 5, "the next page drawn while a read hangs")
    b.get(b.current_url.split("#")[0] + "#/services")
    wait_page(b, lambda: "/api/services: no answer in 10 s" in text(b, "#page .error"), 20, "the hung read given up")
