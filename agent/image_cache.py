"""The node's image cache, like the ECS agent's automated image cleanup: images this agent
pulled for tasks are removed once no task on the node uses them, they were pulled at least
``min_age`` ago and no task used them for ``unused_for``; at most ``per_sweep`` per sweep,
least recently used first. Images the agent did not pull (put there by hand, or by anything
else sharing the Docker engine) are never touched."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from agent.runtime import ContainerRuntimeError, NotFound
from shoal.logs import kv
from shoal.v1 import resources_pb2 as r

log = logging.getLogger(__name__)


class ImageRemover(Protocol):
    def remove_image(self, image: str) -> None:
        """Removes the image by reference; NotFound when it is gone, ContainerRuntimeError when
        the engine refuses (a container still uses it)."""


@dataclass(frozen=True)
class CacheSettings:
    min_age: float = 3600.0
    unused_for: float = 3600.0
    per_sweep: int = 5


@dataclass
class _Entry:
    pulled_at: float
    used_at: float


def images_of(assignments: Iterable[r.TaskAssignment]) -> set[str]:
    """The images the node's assigned tasks name: kept, and counted as used now."""
    return {c.image for a in assignments for c in a.task_definition.container_definitions}


class ImageCache:
    def __init__(self, remover: ImageRemover, settings: CacheSettings) -> None:
        self.remover = remover
        self.settings = settings
        self._entries: dict[str, _Entry] = {}

    def pulled(self, image: str, now: float) -> None:
        self._entries[image] = _Entry(now, now)

    def used(self, images: set[str], now: float) -> None:
        """``images`` are in use now (the node's running or starting tasks)."""
        for image in images:
            if image in self._entries:
                self._entries[image].used_at = now

    def tracked(self) -> set[str]:
        return set(self._entries)

    def sweep(self, in_use: set[str], now: float) -> str:
        """Removes what may go; returns a sentence saying what it removed or could not."""
        self.used(in_use, now)
        s = self.settings
        due = sorted((e.used_at, image) for image, e in self._entries.items()
                     if image not in in_use and now - e.pulled_at >= s.min_age and now - e.used_at >= s.unused_for)
        removed, refused = [], []
        for _, image in due[:s.per_sweep]:
            try:
                self.remover.remove_image(image)
            except NotFound:
                pass  # removed by someone else: forget it all the same
            except ContainerRuntimeError as exc:
                # A stopped container may still hold it; the next sweep tries again.
                refused.append(f"{image} ({exc})")
                continue
            del self._entries[image]
            removed.append(image)
            log.info("unused image removed", extra=kv(image=image))
        said = [f"removed {len(removed)} unused image(s): {', '.join(removed)}"] if removed else []
        if refused:
            said.append(f"could not remove {'; '.join(refused)}")
        if len(due) > s.per_sweep:
            said.append(f"{len(due) - s.per_sweep} more left for the next sweep")
        return "; ".join(said)
