"""The cache's tasks grouped by service, kept in step with every change the cache takes in
(under the cache's lock), so a service's tasks are read without scanning every task of the
cluster."""

from __future__ import annotations

from controlplane.state import Record
from shoal import keys
from shoal.v1 import resources_pb2 as r

ServiceKey = tuple[str, str]  # (cluster name, service name)


def _service_of(key: str, task: r.Task) -> ServiceKey | None:
    if not task.service_name:
        return None
    return key[len(keys.TASKS):].split("/", 1)[0], task.service_name


class ServiceIndex:
    """Not thread-safe on its own: the cache holds its lock around every call."""

    def __init__(self) -> None:
        self._tasks: dict[ServiceKey, dict[str, Record]] = {}

    def replace(self, records: dict[str, Record]) -> None:
        """After a (re-)listing: every task afresh."""
        self._tasks.clear()
        for key, rec in records.items():
            self.put(key, None, rec)

    def put(self, key: str, old: Record | None, new: Record | None) -> None:
        """The task at ``key`` went from ``old`` to ``new`` (None: absent)."""
        if old is not None and (svc := _service_of(key, old.msg)) is not None:
            self._tasks.get(svc, {}).pop(key, None)
            if not self._tasks.get(svc):
                self._tasks.pop(svc, None)
        if new is not None and (svc := _service_of(key, new.msg)) is not None:
            self._tasks.setdefault(svc, {})[key] = new

    def tasks(self, cluster: str, service: str) -> list[Record]:
        return list(self._tasks.get((cluster, service), {}).values())
