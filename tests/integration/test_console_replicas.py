"""The web console on a cluster of several control-plane replicas: every replica serves it
on its own port, `shoal console` against any replica makes a link to that replica's
console, and the link logs in there."""

from __future__ import annotations

import urllib.parse

import pytest

from tests.integration.test_console import Browserless, link_for

pytestmark = pytest.mark.integration


@pytest.fixture
def two_replicas(make_cluster):
    return make_cluster(agents=0, replicas=2, console_port=0)


def test_every_replica_serves_the_console(two_replicas) -> None:
    cluster = two_replicas
    urls = cluster.console_urls
    assert len(urls) == 2 and urls[0] != urls[1], urls
    for url in urls:
        assert Browserless(url).request("GET", "/")[0] == 200, url
    for i, endpoint in enumerate(cluster.endpoints):
        link = link_for(cluster, {"SHOAL_ENDPOINT": endpoint})
        assert link.startswith(urls[i] + "/login?token="), (i, link)
        browser = Browserless(urls[i])
        assert browser.request("GET", "/login?" + urllib.parse.urlsplit(link).query)[0] == 303
        assert browser.me()["role"] == "admin"
