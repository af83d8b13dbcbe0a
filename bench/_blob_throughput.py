"""Blob push and pull throughput against one registry address, over the Docker Registry HTTP
API V2 as `docker push`/`docker pull` use it: a push is POST (start an upload), PATCH with a
chunked body, PUT ?digest= (commit); a pull is GET of the blob. Used by bench/images.py to
put the registry's front beside the registry process behind it."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator

import requests

PIECE = 1024 * 1024  # what the client hands the connection at a time


class Session:
    """A bearer token for push and pull on one repository, taken the way docker takes it:
    the realm the registry names in its 401, with the login credential as basic auth."""

    def __init__(self, url: str, ca_file: str, repository: str, username: str, password: str) -> None:
        self.base = f"{url}/v2"
        self.ca = ca_file
        self.repository = repository
        challenge = requests.get(f"{self.base}/", verify=ca_file, timeout=30).headers.get("WWW-Authenticate", "")
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        if "realm" not in params:
            raise SystemExit(f"bench: {url} did not ask for a token: {challenge!r}")
        answer = requests.get(params["realm"], params={"service": params.get("service", ""),
                                                       "scope": f"repository:{repository}:push,pull"},
                              auth=(username, password), verify=ca_file, timeout=30)
        if answer.status_code != 200:
            raise SystemExit(f"bench: token for {repository}: HTTP {answer.status_code} {answer.text[:200]}")
        self.headers = {"Authorization": f"Bearer {answer.json()['token']}"}
        self.http = requests.Session()

    def push(self, blob: bytes) -> tuple[str, float]:
        """Uploads ``blob``; returns its digest and the seconds the upload took."""
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        started = time.perf_counter()
        start = self.http.post(f"{self.base}/{self.repository}/blobs/uploads/", headers=self.headers,
                               verify=self.ca, timeout=300)
        _expect(start, 202, "start an upload")
        sent = self.http.patch(_absolute(self.base, start.headers["Location"]), data=_pieces(blob),
                               headers={**self.headers, "Content-Type": "application/octet-stream"},
                               verify=self.ca, timeout=300)
        _expect(sent, 202, "upload a blob")
        done = self.http.put(_absolute(self.base, sent.headers["Location"]), params={"digest": digest},
                             headers=self.headers, verify=self.ca, timeout=300)
        _expect(done, 201, "commit a blob")
        return digest, time.perf_counter() - started

    def pull(self, digest: str, size: int) -> float:
        """Downloads blob ``digest`` (``size`` bytes); returns the seconds it took."""
        started = time.perf_counter()
        with self.http.get(f"{self.base}/{self.repository}/blobs/{digest}", headers=self.headers, verify=self.ca,
                           timeout=300, stream=True) as answer:
            _expect(answer, 200, "pull a blob")
            got = sum(len(piece) for piece in answer.iter_content(PIECE))
        if got != size:
            raise SystemExit(f"bench: pulled {got} bytes of {digest}, expected {size}")
        return time.perf_counter() - started


def _pieces(blob: bytes) -> Iterator[bytes]:
    view = memoryview(blob)
    for at in range(0, len(blob), PIECE):
        yield bytes(view[at:at + PIECE])


def _absolute(base: str, location: str) -> str:
    return location if location.startswith("http") else base.removesuffix("/v2") + location


def _expect(answer: requests.Response, status: int, what: str) -> None:
    if answer.status_code != status:
        raise SystemExit(f"bench: {what}: HTTP {answer.status_code} {answer.text[:200]}")
