"""The node's half of pre-pull: the control plane names, with each assignment set, the
images of deployments whose tasks are likely to land here (controlplane/prepull.py); one
thread pulls each such image once, with short-lived credentials asked for that intent
alone, and reports how it went. A pulled image is the image cache's like any other the
agent pulled: kept for the cache's minimum age, and counted as used whenever an intent
names it."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from agent.image_cache import ImageCache
from agent.runtime import ContainerRuntimeError, Runtime
from shoal.logs import kv
from shoal.v1 import agent_pb2
from shoal.v1 import resources_pb2 as r

log = logging.getLogger(__name__)

# {image: Docker AuthConfig} for one intent's images (the control plane's answer).
Credentials = Callable[[r.PrePull], dict[str, dict[str, str]]]
Report = Callable[[agent_pb2.PrePullReport], None]


class PrePuller:
    def __init__(self, runtime: Runtime, credentials: Credentials | None, report: Report | None,
                 cache: ImageCache | None, node_id: str = "") -> None:
        self.runtime = runtime
        self.credentials = credentials
        self.report = report
        self.cache = cache
        self.node_id = node_id
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._queue: deque[tuple[r.PrePull, str]] = deque()
        # (deployment, image) pulled, failed or queued: each is tried once per intent.
        self._seen: set[tuple[str, str]] = set()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def apply(self, intents: Sequence[r.PrePull]) -> str:
        """Takes in the node's current intents (level-triggered: the whole set every time)."""
        queued = []
        with self._lock:
            if self.cache is not None:  # named by an intent: not unused
                self.cache.used({image for i in intents for image in i.images}, time.time())
            live = {(i.deployment_id, image) for i in intents for image in i.images}
            self._seen &= live  # a withdrawn intent may come back: then it is tried again
            for intent in intents:
                for image in intent.images:
                    if (intent.deployment_id, image) not in self._seen:
                        self._seen.add((intent.deployment_id, image))
                        self._queue.append((intent, image))
                        queued.append(image)
            if queued and self._thread is None and not self._stopped:
                self._thread = threading.Thread(target=self._run, name="prepull", daemon=True)
                self._thread.start()
            self._wake.notify_all()
        return f"pre-pull queued {', '.join(queued)}" if queued else ""

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._wake.notify_all()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._stopped:
                    self._wake.wait()
                if self._stopped:
                    return
                intent, image = self._queue.popleft()
            self.pull_one(intent, image)

    def pull_one(self, intent: r.PrePull, image: str) -> agent_pb2.PrePullReport:
        started = time.monotonic()
        report = agent_pb2.PrePullReport(deployment_id=intent.deployment_id, image=image, ok=True)
        try:
            if not self.runtime.image_present(image):
                auth = self.credentials(intent).get(image) if self.credentials is not None else None
                log.info("pre-pulling image", extra=kv(node=self.node_id, image=image,
                                                       deployment=intent.deployment_id, credentials=auth is not None))
                self.runtime.pull(image, auth)
                if self.cache is not None:
                    self.cache.pulled(image, time.time())
        except ContainerRuntimeError as exc:
            report.ok, report.error = False, f"CannotPullContainerError: pull image {image}: {exc}"
        except Exception as exc:  # asking for credentials failed: the pull cannot be authorized
            report.ok, report.error = False, f"unable to get pull credentials from the control plane: {exc}"
        report.seconds = time.monotonic() - started
        if not report.ok:
            log.warning(report.error, extra=kv(node=self.node_id, deployment=intent.deployment_id))
        if self.report is not None:
            try:
                self.report(report)
            except Exception:
                log.exception("pre-pull report failed")
        return report
