"""The front's decision on a manifest pushed under a tag of a repository with immutable tags, and
the front serving, before a registry that decodes paths as distribution does."""

from __future__ import annotations

import http.client
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import pytest

from controlplane.ecs.config import context_from_pem
from controlplane.registry.front import refusal, serve
from controlplane.registry.logins import Logins
from shoal.security import ca as ca_mod
from shoal.security import registry_issuer
from shoal.v1 import accesskeys_pb2 as ak


def test_a_tag_that_names_another_manifest_is_refused() -> None:
    why = refusal("team/app", "v1", "sha256:aaa", "sha256:bbb")
    assert why is not None and "ImageTagAlreadyExistsException" in why and "'v1'" in why and "sha256:aaa" in why


def test_a_new_tag_or_the_same_manifest_again_goes_through() -> None:
    assert refusal("team/app", "v1", "", "sha256:bbb") is None
    assert refusal("team/app", "v1", "sha256:bbb", "sha256:bbb") is None


class _Registry(BaseHTTPRequestHandler):
    """distribution's routing as far as the door goes: it judges the path percent-decoded,
    as Go's router does, and records each manifest it takes."""

    protocol_version = "HTTP/1.1"
    taken: list[tuple[str, bytes]] = []

    def do_HEAD(self) -> None:  # noqa: N802 (http.server's naming)
        held = unquote(self.path) == "/v2/app/manifests/v1"
        self.send_response(200 if held else 404)
        if held:
            self.send_header("Docker-Content-Digest", "sha256:" + "a" * 64)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802
        self.taken.append((unquote(self.path), b""))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_PUT(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.taken.append((unquote(self.path), body))
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, fmt: str, *args) -> None:
        pass


SERVICE = "shoal-registry"
ISSUER = registry_issuer.create(ca_mod.CertificateAuthority.create())
KEY = "AKSH" + "B" * 16
# The access keys as the store holds them now.
KEYS: dict[str, ak.AccessKey] = {}


@pytest.fixture
def front(tmp_path: Path) -> Iterator[tuple[int, ssl.SSLContext]]:
    _Registry.taken = []
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _Registry)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    authority = ca_mod.CertificateAuthority.create()
    key = ca_mod.new_key()
    leaf = authority.issue_server(key.public_key(), ["127.0.0.1"])
    tls = context_from_pem(ca_mod.bundle_pem([leaf, authority.cert]), ca_mod.key_pem(key))
    held = {"v1": "sha256:" + "a" * 64}
    KEYS.clear()
    KEYS[KEY] = ak.AccessKey(access_key_id=KEY, user="ann", role="admin", status="Active")
    logins = Logins(KEYS.get, cache_seconds=0)
    server = serve("127.0.0.1", 0, tls, f"127.0.0.1:{upstream.server_address[1]}",
                   lambda name: held if name == "app" else None,
                   lambda authorization: logins.bearer_refusal(ISSUER, SERVICE, authorization))
    client = ssl.create_default_context(cadata=ca_mod.cert_pem(authority.cert).decode())
    try:
        yield server.server_address[1], client
    finally:
        server.shutdown()
        server.server_close()
        upstream.shutdown()
        upstream.server_close()


def _put(port: int, client: ssl.SSLContext, path: str) -> tuple[int, str]:
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=client, timeout=30)
    try:
        conn.request("PUT", path, body=b'{"schemaVersion": 2}',
                     headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
        answer = conn.getresponse()
        return answer.status, answer.read().decode()
    finally:
        conn.close()


@pytest.mark.parametrize("path", ["/v2/app/manifests/v1", "/v2/ap%70/manifests/v1", "/v2/app/manifests/v%31",
                                  "/v2/app/manifests%2Fv1"])
def test_an_immutable_tag_cannot_be_moved_through_a_percent_encoded_path(front, path) -> None:
    """The front judged the raw path, the registry the decoded one: 'ap%70' named no
    repository with immutable tags to the front, and 'app' to the registry."""
    port, client = front
    status, body = _put(port, client, path)
    assert status == 400, (status, body)
    assert _Registry.taken == []


def test_a_new_tag_of_an_immutable_repository_goes_through(front) -> None:
    port, client = front
    assert _put(port, client, "/v2/app/manifests/v2")[0] == 201
    assert [path for path, _ in _Registry.taken] == ["/v2/app/manifests/v2"]


def _request(port: int, client: ssl.SSLContext, method: str, path: str, token: str) -> tuple[int, str]:
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=client, timeout=30)
    try:
        conn.request(method, path, body=b'{"schemaVersion": 2}' if method == "PUT" else None,
                     headers={"Authorization": f"Bearer {token}"})
        answer = conn.getresponse()
        return answer.status, answer.read().decode()
    finally:
        conn.close()


def test_a_token_from_a_deleted_access_key_is_refused_on_every_request(front) -> None:
    """A registry token lives 5 minutes: the key it came from, deleted, stops it at the
    front at once, for reads and writes alike; tokens that name no key go to the registry."""
    port, client = front
    access = [{"type": "repository", "name": "team/app", "actions": ["pull", "push"]}]
    token = ISSUER.sign(registry_issuer.claims("shoal:admin:ann", SERVICE, 300, key=KEY, access=access))
    assert _request(port, client, "GET", "/v2/team/app/tags/list", token)[0] == 200
    assert _request(port, client, "PUT", "/v2/team/app/manifests/v2", token)[0] == 201
    del KEYS[KEY]
    for method, path in (("GET", "/v2/team/app/tags/list"), ("PUT", "/v2/team/app/manifests/v3"),
                         ("HEAD", "/v2/team/app/manifests/v2"), ("POST", "/v2/team/app/blobs/uploads/")):
        status, body = _request(port, client, method, path, token)
        assert status == 401, (method, status, body)
        assert method == "HEAD" or f"access key {KEY} was deleted or made inactive" in body, body
    assert [p for p, _ in _Registry.taken] == ["/v2/team/app/tags/list", "/v2/team/app/manifests/v2"]
    node = ISSUER.sign(registry_issuer.claims("shoal:node:n1", SERVICE, 300, access=access))
    assert _request(port, client, "GET", "/v2/team/app/tags/list", node)[0] == 200
