"""The registry's push notifications (distribution's ``notifications.endpoints``, posted to
the token endpoint's ``/events``): each manifest push records its time in the repository's
record (``pushed_at``, by digest), which is how `shoal repo images` knows push times — the
registry's own API does not say when a manifest arrived — and which manifest each tag names
(``tag_digest``). In a repository with immutable tags, Shoal's front (front.py) refuses a
push that would move a tag; one that reached the registry some other way (straight to a
registry run without the front) is undone here, the tag put back on the manifest it held."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass

from controlplane.state import decode
from shoal import keys
from shoal.logs import kv as kv_
from shoal.store.base import KV, Store
from shoal.store.update import update
from shoal.v1 import registry_pb2 as rg

log = logging.getLogger(__name__)

# (repository, tag, digest): points the tag at that manifest again; False when that
# manifest is gone.
Restore = Callable[[str, str, str], bool]

MANIFEST_TYPES = frozenset({
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
})


class EventError(ValueError):
    """A notification body that is not what distribution sends; says what is wrong."""


@dataclass(frozen=True)
class Push:
    repository: str
    digest: str
    when: float
    tag: str  # "" for a push by digest


def pushes(body: object) -> list[Push]:
    """Every manifest push in a notification envelope."""
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        raise EventError("events: want {\"events\": [...]}")
    out = []
    for i, event in enumerate(body["events"]):
        if not isinstance(event, dict) or event.get("action") != "push":
            continue
        target = event.get("target") or {}
        if target.get("mediaType") not in MANIFEST_TYPES:
            continue
        repository, digest, tag = target.get("repository"), target.get("digest"), target.get("tag") or ""
        if not isinstance(repository, str) or not isinstance(digest, str) or not digest.startswith("sha256:"):
            raise EventError(f"events[{i}].target: want repository and a sha256 digest")
        if not isinstance(tag, str):
            raise EventError(f"events[{i}].target.tag: want a string")
        try:
            when = datetime.datetime.fromisoformat(str(event.get("timestamp"))).timestamp()
        except ValueError:
            raise EventError(f"events[{i}].timestamp: not an RFC 3339 time") from None
        out.append(Push(repository, digest, when, tag))
    return out


def _apply(repo: rg.Repository, push: Push) -> tuple[bool, str]:
    """Records ``push`` in ``repo``: (changed, the digest to put back under the tag when the
    push moved an immutable tag, else "")."""
    changed = False
    if repo.pushed_at.get(push.digest, 0) < push.when:
        repo.pushed_at[push.digest] = push.when
        changed = True
    held = repo.tag_digest.get(push.tag, "")
    if not push.tag or held == push.digest:
        return changed, ""
    if repo.immutable_tags and held:
        return changed, held
    repo.tag_digest[push.tag] = push.digest
    return True, ""


def _retag(kv: KV | None, push: Push) -> bytes | None:
    if kv is None:
        return None
    repo = decode(rg.Repository, kv.value)
    repo.tag_digest[push.tag] = push.digest
    return repo.SerializeToString()


def record_pushes(store: Store, body: object, restore: Restore | None = None) -> str:
    """Records the pushes in ``body`` (pushes to a repository with no record — deleted
    since — are skipped) and, through ``restore``, puts back the manifest of every immutable
    tag a push moved; returns a sentence saying what it did."""
    recorded = 0
    undone: list[str] = []
    for push in pushes(body):
        outcome = [False, ""]

        def mutate(kv: KV | None, push: Push = push, outcome: list = outcome) -> bytes | None:
            outcome[:] = [False, ""]
            if kv is None:
                return None
            repo = decode(rg.Repository, kv.value)
            outcome[:] = _apply(repo, push)
            return repo.SerializeToString() if outcome[0] else None

        update(store, keys.repository(push.repository), mutate)
        recorded += bool(outcome[0])
        held = str(outcome[1])
        if held and restore is not None:
            # The registry itself cannot refuse a tag push: the moved tag is pointed back at
            # the manifest it held, and the pushed manifest is left untagged.
            if restore(push.repository, push.tag, held) is False:
                # That manifest was deleted (BatchDeleteImage, a lifecycle policy): the tag
                # is free again, as in ECR, and now names what was pushed.
                update(store, keys.repository(push.repository), lambda kv, push=push: _retag(kv, push))
                continue
            log.warning("immutable tag moved by a push: restored", extra=kv_(
                repository=push.repository, tag=push.tag, pushed=push.digest, restored=held))
            undone.append(f"{push.repository}:{push.tag}")
    parts = [f"recorded {recorded} image push(es)"] if recorded else []
    if undone:
        parts.append(f"restored immutable tag(s) {', '.join(undone)}")
    return "; ".join(parts)
