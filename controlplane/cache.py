"""A replica's view of cluster state: listed once, then kept current by watches (an
informer, in Kubernetes' terms). The leader's controllers read it, and every replica serves
hot reads from it (``controlplane.api.reads``). The leader's own writes go through ``record`` so
the next cycle sees them even before the watch echoes them back, and an echo older than
what the cache holds is ignored. ``caught_up`` says whether the watch of a prefix has
delivered everything up to a revision."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from google.protobuf.message import Message

from controlplane.routing import sources
from controlplane.service_index import ServiceIndex
from controlplane.state import Record, decode
from shoal import keys
from shoal.store.base import Event, Store
from shoal.v1 import resources_pb2 as r
from shoal.v1 import scaling_pb2 as sc

log = logging.getLogger(__name__)

# A changed record: key, the message held before (None: new), the message now (None: deleted).
Change = tuple[str, Message | None, Message | None]

TYPES: dict[str, type[Message]] = {
    keys.NODES: r.ContainerInstance,
    keys.TASKS: r.Task,
    keys.ASSIGNMENTS: r.TaskAssignment,
    keys.SERVICES: r.Service,
    keys.TASKDEFS: r.TaskDefinition,
    keys.CLUSTERS: r.Cluster,
    keys.ALIVE: r.Cluster,  # only the key matters
    keys.PREPULL: r.PrePull,
    # Read by the console's service page (a change there redraws it).
    keys.SCALING_TARGETS: sc.ScalableTarget,
    keys.SCALING_POLICIES: sc.ScalingPolicy,
    keys.SCALING_ACTIVITIES: sc.ScalingActivity,
    # Read by the scheduler: a Fargate provider's nodes take FARGATE tasks only.
    keys.CAPACITY_PROVIDERS: sc.CapacityProvider,
    **sources.TYPES,
}


class Cache:
    def __init__(self, store: Store, on_change: Callable[[], None]) -> None:
        self.store = store
        self.on_change = on_change
        self._lock = threading.Lock()
        self._advanced = threading.Condition(self._lock)
        self._data: dict[str, dict[str, Record]] = {p: {} for p in TYPES}
        # Per prefix: the revision its listing was read at, or of the last event applied.
        self._applied: dict[str, int] = dict.fromkeys(TYPES, 0)
        # Revision of the last delete per key, so a late echo of an older put is ignored.
        self._tombstones: dict[str, int] = {}
        self._cancels: dict[str, Callable[[], None]] = {}
        self._closed = False
        # The tasks by service, changed with _data[TASKS] under the same lock.
        self._services = ServiceIndex()
        # Told of each write ``record_put``/``record_delete`` applies (the running cycle's
        # View, kept in step with the leader's writes): key, message (None: deleted), revision.
        self.on_own_write: Callable[[str, Message | None, int], None] | None = None
        # Told of every change the cache takes in, old and new record side by side (the
        # event feed, controlplane/feed.py): prefix, [(key, old, new)], whether a listing.
        self._listeners: list[Callable[[str, list[Change], bool], None]] = []

    def add_listener(self, listener: Callable[[str, list[Change], bool], None]) -> None:
        """Adds ``listener``, called after each batch of changes (outside the cache's lock)
        with the prefix, the changes as (key, old message or None, new message or None), and
        whether they come from a (re-)listing rather than the watch. Add before ``start``."""
        self._listeners.append(listener)

    def _tell(self, prefix: str, changes: list[Change], listing: bool) -> None:
        for listener in self._listeners:
            try:
                listener(prefix, changes, listing)
            except Exception:
                log.exception("cache listener failed")

    def start(self) -> None:
        for prefix in TYPES:
            self._sync(prefix)

    def close(self) -> None:
        self._closed = True
        for cancel in self._cancels.values():
            cancel()

    def _sync(self, prefix: str) -> None:
        listing = self.store.list(prefix)
        cls = TYPES[prefix]
        fresh = {kv.key: Record(_decode(prefix, cls, kv.value), kv.mod_revision, kv.key) for kv in listing.kvs}
        with self._lock:
            before = self._data[prefix]
            self._data[prefix] = fresh
            if prefix == keys.TASKS:
                self._services.replace(fresh)
            self._applied[prefix] = listing.revision
            self._advanced.notify_all()
        if self._listeners:
            changes = [(k, before[k].msg if k in before else None, rec.msg) for k, rec in fresh.items()
                       if k not in before or before[k].mod_revision != rec.mod_revision]
            changes += [(k, rec.msg, None) for k, rec in before.items() if k not in fresh]
            self._tell(prefix, changes, True)
        self._cancels[prefix] = self.store.watch(prefix, listing.revision + 1, lambda evs: self._on_events(prefix, evs))
        self.on_change()

    def _on_events(self, prefix: str, events: list[Event]) -> None:
        if not events:
            if not self._closed:
                log.warning("watch on %s ended; re-listing", prefix)
                threading.Thread(target=self._resync_retrying, args=(prefix,), daemon=True).start()
            return
        cls = TYPES[prefix]
        # Decoded before taking the lock, which every hot read needs too.
        decoded = [_decode(prefix, cls, ev.kv.value) if ev.kind == "put" else None for ev in events]
        changes: list[Change] = []
        with self._lock:
            data = self._data[prefix]
            for ev, msg in zip(events, decoded, strict=True):
                key, rev = ev.kv.key, ev.kv.mod_revision
                held = data.get(key)
                if held is not None and held.mod_revision >= rev:
                    continue
                if self._tombstones.get(key, 0) >= rev:
                    continue
                if msg is not None:
                    data[key] = Record(msg, rev, key)
                else:
                    data.pop(key, None)
                    self._tombstones[key] = rev
                if prefix == keys.TASKS:
                    self._services.put(key, held, data.get(key))
                if held is not None or msg is not None:
                    changes.append((key, held.msg if held is not None else None, msg))
            if len(self._tombstones) > 100_000:
                self._tombstones.clear()
            self._applied[prefix] = max(self._applied[prefix], events[-1].kv.mod_revision)
            self._advanced.notify_all()
        if changes and self._listeners:
            self._tell(prefix, changes, False)
        self.on_change()

    def _resync_retrying(self, prefix: str) -> None:
        while not self._closed:
            try:
                self._sync(prefix)
                return
            except Exception as exc:
                log.warning("re-list of %s failed: %s", prefix, exc)
                time.sleep(1)

    def record_put(self, key: str, msg: Message, revision: int) -> None:
        prefix = _prefix_of(key)
        if prefix is None:
            return
        with self._lock:
            held = self._data[prefix].get(key)
            taken = held is None or held.mod_revision < revision
            if taken:
                self._put_held(prefix, key, held, Record(msg, revision, key))
        if taken and self._listeners:
            self._tell(prefix, [(key, held.msg if held is not None else None, msg)], False)
        if self.on_own_write is not None:
            self.on_own_write(key, msg, revision)

    def note_put(self, key: str, msg: Message, revision: int) -> None:
        """Holds a write this replica made outside the leader's cycle (an agent's report)
        at once, so the next write of the record starts from it rather than from the copy
        the watch has not replaced yet. The running cycle's View is not told: it is a
        picture taken at the start of the cycle, as for any other write it did not make."""
        prefix = _prefix_of(key)
        if prefix is None:
            return
        with self._lock:
            held = self._data[prefix].get(key)
            taken = (held is None or held.mod_revision < revision) and self._tombstones.get(key, 0) < revision
            if taken:
                self._put_held(prefix, key, held, Record(msg, revision, key))
        # The watch's echo of this write will be skipped as already held: listeners (the event
        # feed) hear of the change now or never.
        if taken and self._listeners:
            self._tell(prefix, [(key, held.msg if held is not None else None, msg)], False)

    def record_delete(self, key: str, revision: int) -> None:
        prefix = _prefix_of(key)
        if prefix is None:
            return
        with self._lock:
            held = self._data[prefix].get(key)
            taken = held is not None and held.mod_revision < revision
            if taken:
                del self._data[prefix][key]
                if prefix == keys.TASKS:
                    self._services.put(key, held, None)
            self._tombstones[key] = max(self._tombstones.get(key, 0), revision)
        if taken and held is not None and self._listeners:
            self._tell(prefix, [(key, held.msg, None)], False)
        if self.on_own_write is not None:
            self.on_own_write(key, None, revision)

    def _put_held(self, prefix: str, key: str, held: Record | None, new: Record) -> None:
        """Under the lock."""
        self._data[prefix][key] = new
        if prefix == keys.TASKS:
            self._services.put(key, held, new)

    def service_tasks(self, cluster: str, service: str) -> list[Record]:
        """The tasks of one service (every desired status) in key order, without a scan of
        the cluster's or a sort."""
        with self._lock:
            return self._services.tasks(cluster, service)

    def records(self, prefix: str) -> list[Record]:
        with self._lock:
            return list(self._data[prefix].values())

    def record(self, key: str) -> Record | None:
        """The record held for ``key`` (within one of ``TYPES``), or None."""
        prefix = _prefix_of(key)
        if prefix is None:
            raise ValueError(f"{key!r} is under no cached prefix")
        with self._lock:
            return self._data[prefix].get(key)

    def records_under(self, key_prefix: str) -> list[Record]:
        """The records whose keys start with ``key_prefix`` (within one of ``TYPES``)."""
        prefix = _prefix_of(key_prefix)
        if prefix is None:
            raise ValueError(f"{key_prefix!r} is under no cached prefix")
        with self._lock:
            return [rec for key, rec in self._data[prefix].items() if key.startswith(key_prefix)]

    def caught_up(self, prefix: str, revision: int, timeout: float) -> bool:
        """Waits up to ``timeout`` seconds until the watch of ``prefix`` has delivered every
        change up to ``revision``; False if it has not by then."""
        with self._advanced:
            return self._advanced.wait_for(lambda: self._applied[prefix] >= revision, timeout)

    def revision(self) -> int:
        """The newest revision the watches have delivered (of any prefix)."""
        with self._lock:
            return max(self._applied.values())

    def keys_under(self, prefix: str) -> set[str]:
        with self._lock:
            return set(self._data[prefix])


def _prefix_of(key: str) -> str | None:
    for prefix in TYPES:
        if key.startswith(prefix):
            return prefix
    return None


def _decode(prefix: str, cls: type[Message], value: bytes) -> Message:
    return cls() if prefix == keys.ALIVE else decode(cls, value)
