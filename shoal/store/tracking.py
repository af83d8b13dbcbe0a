"""A store that remembers the revision of its own last write under some prefixes, so a
replica can tell whether its watch-fed cache already holds what it wrote itself (read your
writes, see ``controlplane.api.reads``). Every call goes to the wrapped store unchanged."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence

from shoal.store.base import KV, Compare, Delete, Listing, Put, Store, WatchCallback


class WriteTracking(Store):
    def __init__(self, inner: Store, prefixes: Iterable[str]) -> None:
        self.inner = inner
        self.prefixes = tuple(prefixes)
        self._lock = threading.Lock()
        self._last: dict[str, int] = dict.fromkeys(self.prefixes, 0)

    def last_write(self, prefix: str) -> int:
        """The revision of this store's last put under ``prefix`` (0: none yet). Deletes are
        not counted: the store does not say at which revision they landed."""
        with self._lock:
            return self._last[prefix]

    def _note(self, keys: Iterable[str], revision: int) -> int:
        hit = [p for p in self.prefixes if any(k.startswith(p) for k in keys)]
        if hit:
            with self._lock:
                for p in hit:
                    self._last[p] = max(self._last[p], revision)
        return revision

    def get(self, key: str) -> KV | None:
        return self.inner.get(key)

    def list(self, prefix: str) -> Listing:
        return self.inner.list(prefix)

    def put(self, key: str, value: bytes, lease: int = 0) -> int:
        return self._note([key], self.inner.put(key, value, lease))

    def create(self, key: str, value: bytes, lease: int = 0) -> int:
        return self._note([key], self.inner.create(key, value, lease))

    def cas(self, key: str, value: bytes, mod_revision: int, lease: int = 0) -> int:
        return self._note([key], self.inner.cas(key, value, mod_revision, lease))

    def delete(self, key: str, mod_revision: int | None = None) -> bool:
        return self.inner.delete(key, mod_revision)

    def txn(self, compares: Sequence[Compare], ops: Sequence[Put | Delete]) -> int:
        return self._note([op.key for op in ops if isinstance(op, Put)], self.inner.txn(compares, ops))

    def grant_lease(self, ttl: float) -> int:
        return self.inner.grant_lease(ttl)

    def refresh_lease(self, lease: int) -> bool:
        return self.inner.refresh_lease(lease)

    def revoke_lease(self, lease: int) -> None:
        self.inner.revoke_lease(lease)

    def watch(self, prefix: str, start_revision: int, callback: WatchCallback) -> Callable[[], None]:
        return self.inner.watch(prefix, start_revision, callback)

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> object:
        # What a particular store adds beyond the interface (EtcdStore's own helpers).
        return getattr(self.inner, name)
