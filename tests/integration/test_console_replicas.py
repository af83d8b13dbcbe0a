"""The web console on a cluster of several control-plane replicas: every replica serves it
on its own port, `shoal console` against any replica makes a link to that replica's
console; sessions and links are kept in etcd, so a session started at one replica is good
at the other, a link is good once wherever it is used, and logout or expiry ends a session
at every replica; one user's flood of links pushes out only that user's own. With TLS
(the default) the consoles speak HTTPS with certificates from the cluster CA; an
--insecure plane's speak plain HTTP."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

import pytest

from controlplane.console.sessions import MAX_LINKS_PER_USER
from tests.cli import viewer
from tests.integration.test_console import Browserless, ca, link_for
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def two_replicas(make_cluster):
    return make_cluster(agents=0, replicas=2, console_port=0)


def test_every_replica_serves_the_console(two_replicas) -> None:
    cluster = two_replicas
    urls = cluster.console_urls
    assert len(urls) == 2 and urls[0] != urls[1], urls
    for url in urls:
        assert Browserless(url, ca(cluster)).request("GET", "/")[0] == 200, url
    for i, endpoint in enumerate(cluster.endpoints):
        link = link_for(cluster, {"SHOAL_ENDPOINT": endpoint})
        assert link.startswith(urls[i] + "/login?token="), (i, link)
        browser = Browserless(urls[i], ca(cluster))
        assert browser.request("GET", "/login?" + urllib.parse.urlsplit(link).query)[0] == 303
        assert browser.me()["role"] == "admin"


def _logged_in(cluster, base: str, link: str) -> Browserless:
    browser = Browserless(base, ca(cluster))
    assert browser.request("GET", "/login?" + urllib.parse.urlsplit(link).query)[0] == 303
    return browser


def _at(base: str, holder: Browserless) -> Browserless:
    """The same browser (its cookie) pointed at another replica's console."""
    other = Browserless(base, holder.ca)
    other.cookie = holder.cookie
    return other


def test_sessions_and_links_hold_at_every_replica(two_replicas) -> None:
    cluster = two_replicas
    first, second = cluster.console_urls
    # Logged in at replica 1, known at replica 2: reads, and an action with its CSRF token.
    ada = _logged_in(cluster, first, link_for(cluster))
    csrf = ada.me()["csrf"]
    there = _at(second, ada)
    assert there.me() == {**ada.me(), "csrf": csrf}
    status, body = there.act("scale", {"cluster": "default", "service": "nowhere", "desiredCount": 1})
    assert status == 404 and "nowhere" in body["error"], "past the session and CSRF doors to the API's own answer"

    # A link made at replica 1 is used at replica 2, and refused the second time at replica 1.
    link = link_for(cluster, {"SHOAL_ENDPOINT": cluster.endpoints[0]})
    query = "/login?" + urllib.parse.urlsplit(link).query
    bob = Browserless(second, ca(cluster))
    assert bob.request("GET", query)[0] == 303 and bob.me()["role"] == "admin"
    late = Browserless(first, ca(cluster))
    status, _, text = late.request("GET", query)
    assert status == 403 and b"used or expired" in text and not late.cookie

    # Logging out at replica 2 ends the session at replica 1 too.
    assert there.request("POST", "/api/logout", {}, {"X-CSRF-Token": csrf})[0] == 200
    for base in (first, second):
        assert _at(base, ada).request("GET", "/api/overview")[0] == 401, base
    assert bob.request("GET", "/api/overview")[0] == 200, "only that session ended"


def test_an_expired_session_ends_at_every_replica(make_cluster) -> None:
    cluster = make_cluster(agents=0, replicas=2, console_port=0,
                           extra_controlplane_args=["--console-session-ttl", "3"])
    first, second = cluster.console_urls
    ada = _logged_in(cluster, second, link_for(cluster, {"SHOAL_ENDPOINT": cluster.endpoints[1]}))
    assert _at(first, ada).request("GET", "/api/me")[0] == 200
    wait_for(lambda: all(_at(base, ada).request("GET", "/api/me")[0] == 401 for base in (first, second)), 15,
             "the session's expiry at both replicas")


def test_a_link_flood_cannot_push_out_another_users_link(two_replicas, tmp_path: Path) -> None:
    cluster = two_replicas
    first, second = cluster.console_urls
    pending = link_for(cluster, {"SHOAL_ENDPOINT": cluster.endpoints[0]})
    mallory = {**viewer(cluster, "mallory", tmp_path), "SHOAL_ENDPOINT": cluster.endpoints[1]}
    flood = [link_for(cluster, mallory) for _ in range(MAX_LINKS_PER_USER + 2)]
    # The flooder's own oldest went; its newest work, as viewer's.
    assert Browserless(second, ca(cluster)).request("GET", "/login?" + urllib.parse.urlsplit(flood[0]).query)[0] == 403
    assert _logged_in(cluster, second, flood[-1]).me()["role"] == "viewer"
    ada = _logged_in(cluster, first, pending)
    assert ada.me()["role"] == "admin", "the admin's pending link outlived another user's flood"


def test_an_insecure_plane_serves_its_console_over_plain_http(make_cluster) -> None:
    cluster = make_cluster(agents=0, replicas=2, console_port=0, extra_controlplane_args=["--insecure"])
    assert all(url.startswith("http://") for url in cluster.console_urls), cluster.console_urls
    link = link_for(cluster, {"SHOAL_ENDPOINT": cluster.endpoints[1]})
    browser = Browserless(cluster.console_urls[1], None)
    status, headers, _ = browser.request("GET", "/login?" + urllib.parse.urlsplit(link).query)
    assert status == 303 and "Secure" not in headers["set-cookie"], "no Secure cookie the browser would not send back"
    assert _at(cluster.console_urls[0], browser).me()["user"].startswith("anonymous")
