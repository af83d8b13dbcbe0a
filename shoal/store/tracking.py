"""A store that remembers the revision of its own last write under some prefixes, so a
replica can tell whether its watch-fed cache already holds what it wrote itself (read your
writes, see ``controlplane.api.reads``). Every call goes to the wrapped store unchanged."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

from shoal.store.base import Delete, Put, Store
from shoal.store.wrapper import StoreWrapper


class WriteTracking(StoreWrapper):
    def __init__(self, inner: Store, prefixes: Iterable[str]) -> None:
        super().__init__(inner)
        self.prefixes = tuple(prefixes)
        self._lock = threading.Lock()
        self._last: dict[str, int] = dict.fromkeys(self.prefixes, 0)

    def last_write(self, prefix: str) -> int:
        """The revision of this store's last put under ``prefix`` (0: none yet). Deletes are
        not counted: the store does not say at which revision they landed."""
        with self._lock:
            return self._last[prefix]

    def after_write(self, ops: Sequence[Put | Delete], revision: int) -> None:
        hit = [p for p in self.prefixes if any(isinstance(op, Put) and op.key.startswith(p) for op in ops)]
        if hit:
            with self._lock:
                for p in hit:
                    self._last[p] = max(self._last[p], revision)

    def __getattr__(self, name: str) -> object:
        # What a particular store adds beyond the interface (EtcdStore's own helpers).
        return getattr(self.inner, name)
