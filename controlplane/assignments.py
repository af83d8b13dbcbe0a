"""Every replica's view of all task assignments, kept by one watch on the assignments
prefix and handed to the agent streams it holds: one watch per replica, not one per
agent, so a replica can carry thousands of agents. The nodes' pre-pull intents (a second
watch) ride in the same sets: an agent converges on both together."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from controlplane.state import decode
from shoal import keys
from shoal.store.base import Event, Store
from shoal.v1 import agent_pb2
from shoal.v1 import resources_pb2 as r

log = logging.getLogger(__name__)

Subscriber = Callable[[agent_pb2.Assignments], None]


class AssignmentFeed:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._by_node: dict[str, dict[str, r.TaskAssignment]] = {}
        self._prepull: dict[str, dict[str, r.PrePull]] = {}
        self._revision: dict[str, int] = {}
        self._base_revision = 0
        self._subscribers: dict[str, list[Subscriber]] = {}
        self._cancel: Callable[[], None] | None = None
        self._cancel_prepull: Callable[[], None] | None = None
        self._closed = False

    def start(self) -> None:
        self._resync()

    def close(self) -> None:
        self._closed = True
        for cancel in (self._cancel, self._cancel_prepull):
            if cancel:
                cancel()

    def _resync(self) -> None:
        for cancel in (self._cancel, self._cancel_prepull):
            if cancel:
                cancel()
        listing = self.store.list(keys.ASSIGNMENTS)
        prepulls = self.store.list(keys.PREPULL)
        by_node: dict[str, dict[str, r.TaskAssignment]] = {}
        for item in listing.kvs:
            node_id, task_id = item.key[len(keys.ASSIGNMENTS):].split("/", 1)
            by_node.setdefault(node_id, {})[task_id] = decode(r.TaskAssignment, item.value)
        prepull: dict[str, dict[str, r.PrePull]] = {}
        for item in prepulls.kvs:
            node_id, deployment_id = item.key[len(keys.PREPULL):].split("/", 1)
            prepull.setdefault(node_id, {})[deployment_id] = decode(r.PrePull, item.value)
        with self._lock:
            touched = set(self._by_node) | set(by_node) | set(self._prepull) | set(prepull)
            self._by_node = by_node
            self._prepull = prepull
            self._base_revision = max(listing.revision, prepulls.revision)
            self._revision = {}
        self._cancel = self.store.watch(keys.ASSIGNMENTS, listing.revision + 1,
                                        lambda evs: self._on_events(keys.ASSIGNMENTS, evs))
        self._cancel_prepull = self.store.watch(keys.PREPULL, prepulls.revision + 1,
                                                lambda evs: self._on_events(keys.PREPULL, evs))
        for node_id in touched:
            self._notify(node_id)

    def _on_events(self, prefix: str, events: list[Event]) -> None:
        if not events:
            if not self._closed:
                log.warning("assignment watch ended; re-listing", extra={"prefix": prefix})
                threading.Thread(target=self._resync_retrying, daemon=True).start()
            return
        held = self._by_node if prefix == keys.ASSIGNMENTS else self._prepull
        cls = r.TaskAssignment if prefix == keys.ASSIGNMENTS else r.PrePull
        touched: set[str] = set()
        with self._lock:
            for ev in events:
                node_id, name = ev.kv.key[len(prefix):].split("/", 1)
                records = held.setdefault(node_id, {})
                if ev.kind == "put":
                    records[name] = decode(cls, ev.kv.value)
                else:
                    records.pop(name, None)
                # Revisions are global: the newest event of either watch orders the set.
                self._revision[node_id] = max(self._revision.get(node_id, 0), ev.kv.mod_revision)
                touched.add(node_id)
        for node_id in touched:
            self._notify(node_id)

    def _resync_retrying(self) -> None:
        while not self._closed:
            try:
                self._resync()
                return
            except Exception as exc:
                log.warning("assignment re-list failed: %s", exc)
                time.sleep(1)

    def current(self, node_id: str) -> agent_pb2.Assignments:
        with self._lock:
            tasks = list(self._by_node.get(node_id, {}).values())
            prepull = list(self._prepull.get(node_id, {}).values())
            revision = self._revision.get(node_id, self._base_revision)
        return agent_pb2.Assignments(revision=revision, tasks=tasks, prepull=prepull)

    def _notify(self, node_id: str) -> None:
        subscribers = self._subscribers.get(node_id)
        if not subscribers:
            return
        snapshot = self.current(node_id)
        for sub in list(subscribers):
            sub(snapshot)

    def subscribe(self, node_id: str, subscriber: Subscriber) -> Callable[[], None]:
        """Calls ``subscriber`` now with the node's current set, then on every change."""
        self._subscribers.setdefault(node_id, []).append(subscriber)
        subscriber(self.current(node_id))

        def unsubscribe() -> None:
            subs = self._subscribers.get(node_id, [])
            if subscriber in subs:
                subs.remove(subscriber)

        return unsubscribe
