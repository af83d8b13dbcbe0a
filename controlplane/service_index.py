"""The cache's tasks grouped by service, kept in step with every change the cache takes in
(under the cache's lock), so a service's tasks are read without scanning every task of the
cluster, and in key order without sorting them on every read: the order is kept per service
and rebuilt only when a task joins or leaves it (a rollout's thousands of status reports
change records, not membership)."""

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
        # Each service's task keys, sorted; dropped when a task joins or leaves the service.
        self._order: dict[ServiceKey, list[str]] = {}

    def replace(self, records: dict[str, Record]) -> None:
        """After a (re-)listing: every task afresh."""
        self._tasks.clear()
        self._order.clear()
        for key, rec in records.items():
            self.put(key, None, rec)

    def put(self, key: str, old: Record | None, new: Record | None) -> None:
        """The task at ``key`` went from ``old`` to ``new`` (None: absent)."""
        was = _service_of(key, old.msg) if old is not None else None
        now = _service_of(key, new.msg) if new is not None else None
        if was is not None and was != now:
            self._order.pop(was, None)
            held = self._tasks.get(was, {})
            held.pop(key, None)
            if not held:
                self._tasks.pop(was, None)
        if now is not None:
            held = self._tasks.setdefault(now, {})
            if key not in held:
                self._order.pop(now, None)
            held[key] = new

    def tasks(self, cluster: str, service: str) -> list[Record]:
        """The service's tasks in key order (the order ``State.tasks`` lists them in)."""
        svc = (cluster, service)
        held = self._tasks.get(svc)
        if not held:
            return []
        order = self._order.get(svc)
        if order is None:
            order = self._order[svc] = sorted(held)
        return [held[key] for key in order]
