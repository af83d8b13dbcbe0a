"""Group commit: many writers' compare-and-set updates of different records, committed
together. A thousand agents each reporting a task were a thousand etcd round trips, each
with its own gRPC call and its own share of the interpreter; here they gather while the
previous transaction is in flight and go out as one.

- ``commit(store, updates)``: each update is still a compare-and-set on its own key; they
  are packed into transactions under etcd's limits (``shoal.store.batch``). A transaction
  that fails is retried one update at a time, so a record that changed under its writer
  loses only its own update, as it would have alone.
- ``Batcher``: what callers on many threads submit is handed to one flush function in
  batches: each batch is what arrived while the previous one was being flushed.
  ``submit`` returns once its batch is done, so a caller still knows its write landed.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from shoal.store import batch
from shoal.store.base import Compare, Conflict, Put, Store

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Update:
    """Write ``value`` at ``key`` if the key is still at ``mod_revision`` (0: absent)."""

    key: str
    value: bytes
    mod_revision: int


def _size(u: Update) -> batch.Size:
    return batch.Size(1, (u.key,), 2 * len(u.key) + len(u.value))


def commit(store: Store, updates: Sequence[Update]) -> list[int | None]:
    """Per update, the revision it landed at, or None if its compare failed. A
    ``StoreError`` other than a lost compare propagates (what landed before it stays)."""
    out: list[int | None] = [None] * len(updates)
    for indices in batch.chunks(updates, _size):
        if len(indices) > 1:
            try:
                revision = store.txn([Compare(updates[i].key, updates[i].mod_revision) for i in indices],
                                     [Put(updates[i].key, updates[i].value) for i in indices])
            except Conflict:
                pass  # some record moved on: find out which, one by one
            else:
                for i in indices:
                    out[i] = revision
                continue
        for i in indices:
            try:
                out[i] = store.cas(updates[i].key, updates[i].value, updates[i].mod_revision)
            except Conflict:
                continue
    return out


@dataclass
class _Slot(Generic[T, R]):
    item: T
    done: threading.Event = field(default_factory=threading.Event)
    result: R | None = None
    error: BaseException | None = None


class Batcher(Generic[T, R]):
    """Hands items submitted from any thread to ``flush`` in batches of at most
    ``max_items``, from one thread of its own (started on first use). ``flush`` gets the
    items in the order they were submitted and returns one result per item; if it raises,
    every submitter of that batch gets the exception."""

    def __init__(self, flush: Callable[[list[T]], list[R]], max_items: int = 512, name: str = "group-commit") -> None:
        self.flush = flush
        self.max_items = max_items
        self.name = name
        self._queue: queue.SimpleQueue[_Slot[T, R]] = queue.SimpleQueue()
        self._start = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, item: T) -> R:
        """Waits until ``item``'s batch has been flushed; returns its result."""
        slot = self.post(item)
        slot.done.wait()
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]

    def post(self, item: T) -> _Slot[T, R]:
        """Queues ``item`` for a batch without waiting (for an event loop, which must not
        block: ``flush`` then reports its own failures)."""
        if self._thread is None:
            with self._start:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                    self._thread.start()
        slot: _Slot[T, R] = _Slot(item)
        self._queue.put(slot)
        return slot

    def _run(self) -> None:
        while True:
            slots = [self._queue.get()]
            while len(slots) < self.max_items:
                try:
                    slots.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._flush(slots)

    def _flush(self, slots: list[_Slot[T, R]]) -> None:
        try:
            results = self.flush([s.item for s in slots])
            if len(results) != len(slots):
                raise RuntimeError(f"{self.name}: flush returned {len(results)} results for {len(slots)} items")
        except BaseException as exc:  # noqa: BLE001 (handed to every waiting submitter)
            # Logged too: a posted item has no submitter waiting to hear it.
            log.exception("%s: flushing %d items failed", self.name, len(slots))
            for s in slots:
                s.error = exc
                s.done.set()
            return
        for s, result in zip(slots, results, strict=True):
            s.result = result
            s.done.set()
