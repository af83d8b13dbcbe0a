"""The cluster-wide event feed (`shoal events`, the Events API) and the web console's doors,
against a real control plane and docker agents: logged-out requests refused, a one-time
link good once, a viewer (by access key or by link) refused an action forged past the
page, CSRF and cross-origin refusals, an admin's action done."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

import grpc
import pytest

from shoal import keys
from shoal.v1 import accesskeys_pb2 as ak
from shoal.v1 import accesskeys_pb2_grpc, events_pb2_grpc
from shoal.v1 import events_pb2 as ev
from shoal.v1 import operator_pb2 as op
from tests.cli import shoal
from tests.headless import connect
from tests.integration.test_logs_events import Streaming
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

SLEEPER = {
    "family": "sleeper",
    "containerDefinitions": [{"name": "app", "image": "shoal/busybox:latest", "memory": 16, "cpu": 16,
                              "stopTimeout": 1, "command": ["sleep", "3600"]}],
}


@pytest.fixture
def streaming():
    procs: list[Streaming] = []
    yield procs
    for s in procs:
        if s.proc.poll() is None:
            s.proc.terminate()
            s.proc.wait(10)


@pytest.fixture
def console_cluster(make_cluster, busybox_image):
    cluster = make_cluster(agents=2, zones=["a", "b"], console_port=0)
    api = cluster.operator
    api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(SLEEPER)))
    return cluster


class Browserless:
    """Speaks to the console as a browser would, holding one cookie; over HTTPS checked
    against the cluster's CA file ``ca``."""

    def __init__(self, base: str, ca: Path | None) -> None:
        self.base = urllib.parse.urlsplit(base)
        self.ca = ca
        self.cookie = ""
        self.csrf = ""

    def request(self, method: str, path: str, body: object = None, headers: dict[str, str] | None = None
                ) -> tuple[int, dict[str, str], bytes]:
        conn = connect(self.base, self.ca, timeout=10)
        sent = {"Content-Type": "application/json", **({"Cookie": self.cookie} if self.cookie else {}),
                **(headers or {})}
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers=sent)
        resp = conn.getresponse()
        got = resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        conn.close()
        if "set-cookie" in got[1]:
            self.cookie = got[1]["set-cookie"].split(";")[0]
        return got

    def get_json(self, path: str) -> tuple[int, object]:
        status, _, body = self.request("GET", path)
        return status, json.loads(body)

    def act(self, name: str, body: dict, csrf: str | None = None, origin: str | None = None) -> tuple[int, dict]:
        headers = {"X-CSRF-Token": self.csrf if csrf is None else csrf}
        if origin:
            headers["Origin"] = origin
        status, _, data = self.request("POST", f"/api/actions/{name}", body, headers)
        return status, json.loads(data)

    def me(self) -> dict:
        status, me = self.get_json("/api/me")
        assert status == 200, me
        self.csrf = me["csrf"]
        return me


def ca(cluster) -> Path | None:
    """The cluster CA file its consoles' certificates chain to (None: an --insecure cluster)."""
    return cluster.pki_dir / "ca.crt" if cluster.secure else None


def link_for(cluster, env: dict[str, str] | None = None) -> str:
    out = shoal(cluster, "console", "--print-url", env=env)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_event_feed_lists_filters_and_follows(console_cluster, streaming) -> None:
    cluster = console_cluster
    made = shoal(cluster, "service", "create", "web", "--taskdef", "sleeper", "--desired", "1")
    assert made.returncode == 0, made.stderr

    def has(*args: str, text: str) -> bool:
        return text in shoal(cluster, "events", *args).stdout

    wait_for(lambda: has("--service", "web", text="has reached a steady state"), 90, "web's steady state")
    out = shoal(cluster, "events", "--service", "web").stdout.splitlines()
    kinds = {line.split()[2] for line in out}
    assert {"service", "task"} <= kinds and kinds <= {"service", "task", "deployment"}, out
    assert any(" -> RUNNING on " in line for line in out), out
    nodes = shoal(cluster, "events", "--kind", "node").stdout.splitlines()
    assert all(line.split()[2] == "node" for line in nodes), nodes
    assert sum("registered (ACTIVE)" in line for line in nodes) == 2, nodes
    assert sum("agent connected" in line for line in nodes) == 2, nodes
    node_id = sorted(cluster.node_ids())[0]
    just_one = shoal(cluster, "events", "--node", node_id, "-o", "json").stdout.splitlines()
    assert just_one and all(json.loads(line)["node"] == node_id for line in just_one)
    bad = shoal(cluster, "events", "--kind", "bogus")
    assert bad.returncode != 0 and "--kind: 'bogus'" in bad.stderr
    # The API names the field too.
    with pytest.raises(grpc.RpcError) as err:
        events_pb2_grpc.EventsStub(cluster.channel).ListEvents(ev.ListEventsRequest(kinds=["bogus"]), timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "kinds:" in err.value.details()

    follow = Streaming(cluster, "events", "--follow", "--kind", "node,deployment")
    streaming.append(follow)
    wait_for(lambda: any("registered" in line for line in follow.drain()), 30, "the held node events")
    cluster.operator.UpdateContainerInstancesState(op.UpdateContainerInstancesStateRequest(
        cluster="default", container_instances=[node_id], status="DRAINING"))
    wait_for(lambda: any("ACTIVE -> DRAINING" in line for line in follow.drain()), 30, "the drain, followed")
    assert not any(" task " in line.split("  ")[1] for line in follow.drain()), "only the kinds asked for"


def test_follow_moves_to_the_next_replica(make_cluster, streaming) -> None:
    cluster = make_cluster(agents=2, zones=["a", "b"], replicas=2)
    follow = Streaming(cluster, "events", "--follow", "--kind", "node", "--endpoint", cluster.endpoint_list)
    streaming.append(follow)
    wait_for(lambda: sum("agent connected" in line for line in follow.drain()) >= 2, 30, "the held node events")
    cluster.kill_replica(1)
    node_id = sorted(cluster.node_ids())[0]
    api = cluster.failover_operator(endpoints=cluster.endpoints[1:])
    api.UpdateContainerInstancesState(op.UpdateContainerInstancesStateRequest(
        cluster="default", container_instances=[node_id], status="DRAINING"))
    wait_for(lambda: any("ACTIVE -> DRAINING" in line for line in follow.drain()), 60,
             "the drain, followed through the second replica")
    printed = [line for line in follow.drain() if "ACTIVE -> DRAINING" in line]
    assert len(printed) == 1, printed


def test_console_doors(console_cluster, tmp_path: Path) -> None:
    cluster = console_cluster
    api = cluster.operator
    api.CreateService(op.CreateServiceRequest(cluster="default", service_name="web", task_definition="sleeper",
                                              desired_count=1))
    link = link_for(cluster)
    base = link.split("/login")[0]
    login_path = "/login?" + urllib.parse.urlsplit(link).query
    anon = Browserless(base, ca(cluster))
    # Logged out: the page loads (it shows the login form), the API does not answer.
    assert anon.request("GET", "/")[0] == 200
    for path in ("/api/overview", "/api/services", "/api/events", "/api/stream", "/api/me"):
        assert anon.request("GET", path)[0] == 401, path
    assert anon.act("scale", {"cluster": "default", "service": "web", "desiredCount": 5}, csrf="x")[0] == 401
    # Every answer forbids inline and foreign scripts.
    csp = anon.request("GET", "/")[1]["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp

    # The one-time link logs in once, as the admin who made it.
    admin = Browserless(base, ca(cluster))
    status, headers, _ = admin.request("GET", login_path)
    assert status == 303 and headers["location"] == "/"
    cookie = headers["set-cookie"]
    assert base.startswith("https://"), "a control plane with TLS serves its console over HTTPS"
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "; Secure" in cookie
    assert admin.me()["role"] == "admin"
    again = Browserless(base, ca(cluster))
    status, _, body = again.request("GET", login_path)
    assert status == 403 and b"used or expired" in body and not again.cookie

    # Actions need the session's CSRF token and the same origin.
    scale = {"cluster": "default", "service": "web", "desiredCount": 2}
    assert admin.act("scale", scale, csrf="")[0] == 403
    assert admin.act("scale", scale, csrf="forged")[0] == 403
    assert admin.act("scale", scale, origin="http://evil.example")[0] == 403
    assert _desired(api) == 1, "no refused action changed anything"
    status, body = admin.act("scale", {**scale, "desiredCount": "2"})
    assert status == 400 and body["error"].startswith("desiredCount:")
    status, body = admin.act("scale", scale)
    assert status == 200 and body == {"service": "web", "desired": 2}
    assert _desired(api) == 2
    status, body = admin.act("no-such", {})
    assert status == 404 and "action:" in body["error"]

    # A viewer by access key: reads, and is refused an action forged past the page.
    keys = accesskeys_pb2_grpc.AccessKeysStub(cluster.channel)
    key = keys.CreateAccessKey(ak.CreateAccessKeyRequest(user="vera", role="viewer"), timeout=10)
    viewer = Browserless(base, ca(cluster))
    status, _, _ = viewer.request("POST", "/api/login", {"accessKeyId": key.access_key_id,
                                                         "secretAccessKey": key.secret_access_key + "x"})
    assert status == 401 and not viewer.cookie
    status, _, _ = viewer.request("POST", "/api/login", {"accessKeyId": key.access_key_id,
                                                         "secretAccessKey": key.secret_access_key})
    assert status == 200
    me = viewer.me()
    assert me["role"] == "viewer" and me["canAct"] is False
    assert viewer.get_json("/api/services")[1][0]["name"] == "web"
    status, body = viewer.act("scale", {**scale, "desiredCount": 9})
    assert status == 403 and "viewer" in body["error"]
    assert viewer.act("drain", {"cluster": "default", "node": sorted(cluster.node_ids())[0]})[0] == 403
    assert _desired(api) == 2

    # A viewer's own link makes a viewer's session, not an admin's.
    made = shoal(cluster, "user", "create", "vic", "--role", "viewer", "--out", str(tmp_path / "vic"))
    assert made.returncode == 0, made.stderr
    d = tmp_path / "vic"
    vic = Browserless(base, ca(cluster))
    vlink = urllib.parse.urlsplit(link_for(cluster, {"SHOAL_CA": str(d / "ca.crt"), "SHOAL_CERT": str(d / "vic.crt"),
                                                     "SHOAL_KEY": str(d / "vic.key")}))
    assert vic.request("GET", f"{vlink.path}?{vlink.query}")[0] == 303
    assert vic.me()["role"] == "viewer"
    assert vic.act("redeploy", {"cluster": "default", "service": "web"})[0] == 403

    # Logging out ends the session on the server, not only in the browser.
    stale = admin.cookie
    assert admin.request("POST", "/api/logout", {}, {"X-CSRF-Token": admin.csrf})[0] == 200
    admin.cookie = stale
    assert admin.request("GET", "/api/overview")[0] == 401


def test_rollback_from_the_console(console_cluster) -> None:
    cluster = console_cluster
    api = cluster.operator
    api.CreateService(op.CreateServiceRequest(cluster="default", service_name="web", task_definition="sleeper",
                                              desired_count=1))
    admin = Browserless(link_for(cluster).split("/login")[0], ca(cluster))
    link = urllib.parse.urlsplit(link_for(cluster))
    assert admin.request("GET", f"/login?{link.query}")[0] == 303
    admin.me()
    status, body = admin.act("rollback", {"cluster": "default", "service": "web"})
    assert status == 409 and "no earlier deployment" in body["error"]

    def service():
        return api.DescribeServices(op.DescribeServicesRequest(cluster="default", services=["web"])).services[0]

    wait_for(lambda: service().running_count == 1, 60, "web running")
    # A revision whose image is nowhere: its deployment cannot finish, the old one keeps running.
    broken = {**SLEEPER, "containerDefinitions": [{**SLEEPER["containerDefinitions"][0],
                                                   "image": "shoal/nowhere:latest"}]}
    api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(broken)))
    api.UpdateService(op.UpdateServiceRequest(cluster="default", service="web", task_definition="sleeper:2"))
    assert [d.status for d in service().deployments] == ["PRIMARY", "ACTIVE"]
    status, body = admin.act("rollback", {"cluster": "default", "service": "web"})
    assert status == 200 and body == {"service": "web", "taskDefinition": "sleeper:1"}, body
    # The rollback is a new primary deployment of the earlier revision (how it then proceeds,
    # the launch throttle after the broken revision's failures included, is the deployment
    # tests' business).
    svc = service()
    assert svc.task_definition.endswith("sleeper:1")
    assert svc.deployments[0].status == "PRIMARY" and svc.deployments[0].task_definition.endswith("sleeper:1")
    assert any("sleeper:2" in d.task_definition and d.status == "ACTIVE" for d in svc.deployments)


def _desired(api) -> int:
    resp = api.DescribeServices(op.DescribeServicesRequest(cluster="default", services=["web"]), timeout=10)
    return resp.services[0].desired_count


def test_no_console_no_link(make_cluster) -> None:
    cluster = make_cluster(agents=0)
    out = shoal(cluster, "console", "--print-url")
    assert out.returncode != 0 and "--console-listen" in out.stderr


def test_a_replica_started_later_shows_the_history_before_it(make_cluster) -> None:
    cluster = make_cluster(agents=1, zones=["a"], replicas=2, runtime="hollow")
    leader = cluster.leader()
    assert leader is not None
    later = 3 - leader
    cluster.cp.stop(later)
    node_id = sorted(cluster.node_ids())[0]
    api = cluster.failover_operator(endpoints=[cluster.endpoints[leader - 1]])
    api.UpdateContainerInstancesState(op.UpdateContainerInstancesStateRequest(
        cluster="default", container_instances=[node_id], status="DRAINING"))
    store = cluster.etcd_store()
    try:
        wait_for(lambda: any(b"ACTIVE -> DRAINING" in kv.value for kv in store.list(keys.EVENTS).kvs), 30,
                 "the drain in the stored history")
    finally:
        store.close()
    cluster.start_replica(later)
    seen = shoal(cluster, "events", "--kind", "node", "--endpoint", cluster.endpoints[later - 1])
    assert seen.returncode == 0, seen.stderr
    # Its own first listing already shows the node DRAINING, which tells it no event.
    assert "ACTIVE -> DRAINING" in seen.stdout, seen.stdout
