"""Getting a task's images onto the node: each image not present is pulled, with registry
credentials asked of the control plane only then (kept in memory for that pull alone), and
noted in the node image cache (image_cache.py), which a sweep once per resync interval trims
of what no assigned task uses."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

import shoal.logs
from agent.image_cache import CacheSettings, ImageCache, images_of
from agent.runtime import ContainerRuntimeError, PullError, Runtime
from shoal.v1 import resources_pb2 as r

log = logging.getLogger(__name__)

# Asks the control plane for the credentials a task's pulls need: {image: Docker AuthConfig}.
PullAuth = Callable[[r.Task], dict[str, dict[str, str]]]


class ImagePullFailed(Exception):
    """"pull image IMAGE: why" — what ECS reports as CannotPullContainerError."""


class ImagePuller:
    def __init__(self, runtime: Runtime, cache: CacheSettings | None, sweep_interval: float) -> None:
        self.runtime = runtime
        # None: every image stays on the node (no --image-cleanup).
        self.cache = ImageCache(runtime, cache) if cache else None  # type: ignore[arg-type]
        self.sweep_interval = sweep_interval
        self._swept = 0.0

    def ensure(self, task: r.Task, images: Iterable[str], resolve_auth: PullAuth | None) -> None:
        """Pulls each of ``images`` the node lacks; raises ImagePullFailed naming the one
        that could not be had."""
        credentials: dict[str, dict[str, str]] | None = None
        for image in images:
            try:
                if self.runtime.image_present(image):
                    continue
                if credentials is None:
                    credentials = _credentials(task, resolve_auth)
                log.info("pulling image", extra=shoal.logs.kv(task=task.id, image=image,
                                                              credentials=image in credentials))
                self.runtime.pull(image, credentials.get(image))
            except ContainerRuntimeError as exc:
                raise ImagePullFailed(f"pull image {image}: {exc}") from exc
            if self.cache is not None:
                self.cache.pulled(image, time.time())

    def sweep_due(self, now: float) -> bool:
        return self.cache is not None and now - self._swept >= self.sweep_interval

    def sweep(self, assigned: Iterable[r.TaskAssignment], now: float) -> str:
        """Removes the cached images none of the ``assigned`` tasks names that may go;
        returns what it did ("" for nothing)."""
        if self.cache is None:
            return ""
        self._swept = now
        return self.cache.sweep(images_of(assigned), now)


def _credentials(task: r.Task, resolve_auth: PullAuth | None) -> dict[str, dict[str, str]]:
    if resolve_auth is None:
        return {}
    try:
        return resolve_auth(task)
    except Exception as exc:  # whatever went wrong asking, the pull cannot be authorized
        raise PullError(f"unable to get pull credentials from the control plane: {exc}") from exc
