"""The leader's lifecycle sweep: every interval, each repository with a lifecycle policy has
the images its policy expires deleted through the registry's API (their manifests; the
registry's garbage collection frees the blobs, see shoalctl/local/registry.py). Only the
leader sweeps, so two replicas never judge the same images at once. Each sweep returns a
sentence saying what it did."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from controlplane.registry import lifecycle
from controlplane.registry.client import RegistryClient, RegistryUnavailable
from controlplane.state import decode
from shoal import keys
from shoal.logs import kv
from shoal.store.base import Store
from shoal.v1 import registry_pb2 as rg
from shoal.worker import Worker

log = logging.getLogger(__name__)


def candidates(client: RegistryClient, repo: rg.Repository) -> list[lifecycle.Candidate]:
    """The repository's images: the tagged ones the registry lists, and the untagged ones
    the push notifications recorded that the registry still holds."""
    tagged = client.images(repo.name)
    out = [lifecycle.Candidate(i.digest, tuple(i.tags), repo.pushed_at.get(i.digest, 0)) for i in tagged]
    known = {i.digest for i in tagged}
    for digest, when in repo.pushed_at.items():
        if digest not in known and client.manifest(repo.name, digest) is not None:
            out.append(lifecycle.Candidate(digest, (), when))
    return out


def sweep(store: Store, client: RegistryClient, now: float) -> str:
    expired_total, failed = 0, []
    for item in store.list(keys.REPOSITORIES).kvs:
        repo = decode(rg.Repository, item.value)
        if not repo.lifecycle_policy:
            continue
        try:
            rules = lifecycle.parse(repo.lifecycle_policy)
            doomed = lifecycle.expired(rules, candidates(client, repo), now)
            for image in doomed:
                if client.delete(repo.name, image.digest):
                    expired_total += 1
                    log.info("image expired by lifecycle policy", extra=kv(
                        repository=repo.name, digest=image.digest, tags=",".join(image.tags)))
        except (lifecycle.PolicyError, RegistryUnavailable) as exc:
            failed.append(f"{repo.name} ({exc})")
    said = [f"lifecycle policies expired {expired_total} image(s)"] if expired_total else []
    if failed:
        said.append(f"lifecycle sweep failed for {'; '.join(failed)}")
    return "; ".join(said)


class LifecycleSweep:
    def __init__(self, store: Store, client: RegistryClient, is_leader: Callable[[], bool],
                 interval: float) -> None:
        self.store, self.client, self.is_leader, self.interval = store, client, is_leader, interval
        self._worker = Worker("registry-lifecycle", self._run, join_timeout=20)

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()

    def _run(self) -> None:
        while not self._worker.stopping.wait(self.interval):
            if not self.is_leader():
                continue
            try:
                sentence = sweep(self.store, self.client, time.time())
            except Exception:  # the store: the next interval tries again
                log.exception("lifecycle sweep failed")
                continue
            if sentence:
                log.info(sentence)
