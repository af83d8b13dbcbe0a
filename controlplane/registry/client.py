"""A client of the cluster registry's own HTTP API (Docker Registry HTTP API V2), for what
the control plane reads and writes there: a repository's tags, its manifests (digest,
size), their deletion, and putting a manifest back under a tag (immutable tags). It
authenticates with a token it signs itself (the replica's own identity, pull, push and delete
on the one repository) and trusts the registry's certificate
through the cluster CA."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field

import requests

from shoal.security import registry_issuer
from shoal.security.registry_issuer import Issuer

MANIFEST_TYPES = ", ".join((
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
))
TIMEOUT = 15.0


class RegistryUnavailable(Exception):
    """The registry did not answer, or answered what it should not; the message says what."""


@dataclass
class ImageInfo:
    digest: str
    media_type: str
    size_bytes: int
    tags: list[str] = field(default_factory=list)


class RegistryClient:
    def __init__(self, address: str, ca_pem: bytes, issuer: Issuer, service: str, identity: str,
                 plain: bool = False) -> None:
        # ``plain``: the registry on loopback behind Shoal's front speaks plain HTTP.
        self.base = f"{'http' if plain else 'https'}://{address}/v2"
        self.issuer = issuer
        self.service = service
        self.identity = identity
        # requests verifies against a file: the cluster CA bundle, written once and removed
        # when the replica exits.
        self._ca = tempfile.NamedTemporaryFile(prefix="shoal-registry-ca-", suffix=".pem")  # noqa: SIM115
        self._ca.write(ca_pem)
        self._ca.flush()

    def _get(self, repository: str, path: str, method: str = "GET", data: bytes | None = None,
             **headers: str) -> requests.Response:
        claims = registry_issuer.claims(self.identity, self.service, 60, access=[
            {"type": "repository", "name": repository, "actions": ["pull", "push", "delete"]}])
        headers["Authorization"] = f"Bearer {self.issuer.sign(claims)}"
        try:
            return requests.request(method, f"{self.base}/{repository}/{path}", headers=headers, data=data,
                                    verify=self._ca.name, timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise RegistryUnavailable(f"registry {self.base}: {exc}") from None

    def tags(self, repository: str) -> list[str]:
        resp = self._get(repository, "tags/list")
        if resp.status_code == 404:
            return []
        if resp.status_code != 200:
            raise RegistryUnavailable(f"registry: tags of {repository}: HTTP {resp.status_code} {resp.text[:200]}")
        return sorted(resp.json().get("tags") or [])

    def manifest(self, repository: str, reference: str) -> ImageInfo | None:
        resp = self._get(repository, f"manifests/{reference}", Accept=MANIFEST_TYPES)
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise RegistryUnavailable(f"registry: manifest {repository}:{reference}: HTTP {resp.status_code}")
        doc = resp.json()
        parts = [doc.get("config") or {}, *(doc.get("layers") or []), *(doc.get("manifests") or [])]
        return ImageInfo(digest=resp.headers.get("Docker-Content-Digest", ""),
                         media_type=doc.get("mediaType") or resp.headers.get("Content-Type", ""),
                         size_bytes=sum(int(p.get("size") or 0) for p in parts))

    def images(self, repository: str) -> list[ImageInfo]:
        """Every tagged manifest of ``repository``, one entry per digest with all its tags."""
        by_digest: dict[str, ImageInfo] = {}
        for tag in self.tags(repository):
            info = self.manifest(repository, tag)
            if info is None:  # deleted between the two calls
                continue
            by_digest.setdefault(info.digest, info).tags.append(tag)
        return list(by_digest.values())

    def put_tag(self, repository: str, tag: str, digest: str) -> bool:
        """Points ``tag`` at the manifest ``digest`` again (its exact bytes, so the digest is
        the same); False when the registry no longer has that manifest."""
        resp = self._get(repository, f"manifests/{digest}", Accept=MANIFEST_TYPES)
        if resp.status_code == 404:
            return False
        if resp.status_code != 200:
            raise RegistryUnavailable(f"registry: manifest {repository}@{digest}: HTTP {resp.status_code}")
        put = self._get(repository, f"manifests/{tag}", method="PUT", data=resp.content,
                        **{"Content-Type": resp.headers.get("Content-Type", "")})
        if put.status_code not in (200, 201):
            raise RegistryUnavailable(f"registry: tag {repository}:{tag}: HTTP {put.status_code} {put.text[:200]}")
        return True

    def delete(self, repository: str, digest: str) -> bool:
        """True when the registry deleted it, False when it was not there."""
        resp = self._get(repository, f"manifests/{digest}", method="DELETE")
        if resp.status_code in (200, 202):
            return True
        if resp.status_code == 404:
            return False
        raise RegistryUnavailable(f"registry: delete {repository}@{digest}: HTTP {resp.status_code} {resp.text[:200]}")
