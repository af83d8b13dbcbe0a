"""The cache's tasks grouped by service, kept in step with every change the cache takes in
(under the cache's lock), so a service's tasks and its running/pending counts are read
without scanning every task of the cluster. Counts follow ListTasks' filters: RUNNING is
desired RUNNING and last RUNNING; PENDING is desired RUNNING and not yet (or no longer)
RUNNING."""

from __future__ import annotations

from collections import Counter

from controlplane.state import Record
from shoal import keys
from shoal.v1 import resources_pb2 as r

ServiceKey = tuple[str, str]  # (cluster name, service name)


def _state(task: r.Task) -> str:
    if task.desired_status != "RUNNING":
        return ""
    return "RUNNING" if task.last_status == "RUNNING" else "PENDING"


def _service_of(key: str, task: r.Task) -> ServiceKey | None:
    if not task.service_name:
        return None
    return key[len(keys.TASKS):].split("/", 1)[0], task.service_name


class ServiceIndex:
    """Not thread-safe on its own: the cache holds its lock around every call."""

    def __init__(self) -> None:
        self._tasks: dict[ServiceKey, dict[str, Record]] = {}
        self._counts: dict[ServiceKey, Counter[str]] = {}

    def replace(self, records: dict[str, Record]) -> None:
        """After a (re-)listing: every task afresh."""
        self._tasks.clear()
        self._counts.clear()
        for key, rec in records.items():
            self.put(key, None, rec)

    def put(self, key: str, old: Record | None, new: Record | None) -> None:
        """The task at ``key`` went from ``old`` to ``new`` (None: absent)."""
        if old is not None and (svc := _service_of(key, old.msg)) is not None:
            self._tasks.get(svc, {}).pop(key, None)
            self._counts.setdefault(svc, Counter())[_state(old.msg)] -= 1
            if not self._tasks.get(svc):
                self._tasks.pop(svc, None)
                self._counts.pop(svc, None)
        if new is not None and (svc := _service_of(key, new.msg)) is not None:
            self._tasks.setdefault(svc, {})[key] = new
            self._counts.setdefault(svc, Counter())[_state(new.msg)] += 1

    def tasks(self, cluster: str, service: str) -> list[Record]:
        return list(self._tasks.get((cluster, service), {}).values())

    def counts(self, cluster: str, service: str) -> tuple[int, int]:
        """(running, pending) tasks of the service."""
        c = self._counts.get((cluster, service), Counter())
        return c["RUNNING"], c["PENDING"]
