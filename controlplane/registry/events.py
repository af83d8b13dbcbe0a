"""The registry's push notifications (distribution's ``notifications.endpoints``, posted to
the token endpoint's ``/events``): each manifest push records its time in the repository's
record (``pushed_at``, by digest), which is how `shoal repo images` knows push times — the
registry's own API does not say when a manifest arrived."""

from __future__ import annotations

import datetime
import logging

from controlplane.state import decode
from shoal import keys
from shoal.store.base import KV, Store
from shoal.store.update import update
from shoal.v1 import registry_pb2 as rg

log = logging.getLogger(__name__)

MANIFEST_TYPES = frozenset({
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
})


class EventError(ValueError):
    """A notification body that is not what distribution sends; says what is wrong."""


def pushes(body: object) -> list[tuple[str, str, float]]:
    """(repository, digest, pushed at) of every manifest push in a notification envelope."""
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        raise EventError("events: want {\"events\": [...]}")
    out = []
    for i, event in enumerate(body["events"]):
        if not isinstance(event, dict) or event.get("action") != "push":
            continue
        target = event.get("target") or {}
        if target.get("mediaType") not in MANIFEST_TYPES:
            continue
        repository, digest = target.get("repository"), target.get("digest")
        if not isinstance(repository, str) or not isinstance(digest, str) or not digest.startswith("sha256:"):
            raise EventError(f"events[{i}].target: want repository and a sha256 digest")
        try:
            when = datetime.datetime.fromisoformat(str(event.get("timestamp"))).timestamp()
        except ValueError:
            raise EventError(f"events[{i}].timestamp: not an RFC 3339 time") from None
        out.append((repository, digest, when))
    return out


def record_pushes(store: Store, body: object) -> str:
    """Records the pushes in ``body``; returns a sentence saying how many (pushes to a
    repository with no record — deleted since — are skipped)."""
    recorded = 0
    for repository, digest, when in pushes(body):
        changed = [False]

        def mutate(kv: KV | None, digest: str = digest, when: float = when,
                   changed: list[bool] = changed) -> bytes | None:
            changed[0] = False
            if kv is None:
                return None
            repo = decode(rg.Repository, kv.value)
            if repo.pushed_at.get(digest, 0) >= when:
                return None
            repo.pushed_at[digest] = when
            changed[0] = True
            return repo.SerializeToString()

        update(store, keys.repository(repository), mutate)
        recorded += changed[0]
    return f"recorded {recorded} image push(es)" if recorded else ""
