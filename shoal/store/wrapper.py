"""A store in front of another: ``StoreWrapper`` passes every call to ``inner`` unchanged and
shows each write to two hooks, ``before_write`` (may refuse it by raising, nothing written)
and ``after_write`` (sees the revision it landed at). The control plane's one-writer check
(controlplane/writers.py) and its read-your-writes tracking (``shoal.store.tracking``) are
the two hooks; the delegation is written once, here."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from shoal.store.base import KV, Compare, Delete, Listing, Put, Store, WatchCallback


class StoreWrapper(Store):
    def __init__(self, inner: Store) -> None:
        self.inner = inner

    def before_write(self, ops: Sequence[Put | Delete]) -> None:
        """Called with what a put, create, cas, delete or txn is about to write."""

    def after_write(self, ops: Sequence[Put | Delete], revision: int) -> None:
        """Called once the write of ``ops`` landed at ``revision`` (not for a delete: the
        store does not say at which revision it landed)."""

    def _write(self, ops: Sequence[Put | Delete], write: Callable[[], int]) -> int:
        self.before_write(ops)
        revision = write()
        self.after_write(ops, revision)
        return revision

    def get(self, key: str) -> KV | None:
        return self.inner.get(key)

    def list(self, prefix: str) -> Listing:
        return self.inner.list(prefix)

    def put(self, key: str, value: bytes, lease: int = 0) -> int:
        return self._write((Put(key, value, lease),), lambda: self.inner.put(key, value, lease))

    def create(self, key: str, value: bytes, lease: int = 0) -> int:
        return self._write((Put(key, value, lease),), lambda: self.inner.create(key, value, lease))

    def cas(self, key: str, value: bytes, mod_revision: int, lease: int = 0) -> int:
        return self._write((Put(key, value, lease),), lambda: self.inner.cas(key, value, mod_revision, lease))

    def delete(self, key: str, mod_revision: int | None = None) -> bool:
        self.before_write((Delete(key),))
        return self.inner.delete(key, mod_revision)

    def txn(self, compares: Sequence[Compare], ops: Sequence[Put | Delete]) -> int:
        return self._write(ops, lambda: self.inner.txn(compares, ops))

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
