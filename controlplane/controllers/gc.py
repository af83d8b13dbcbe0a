"""Forgets stopped tasks once they are older than the retention period (ECS keeps a
stopped task visible for about an hour)."""

from __future__ import annotations

import time

from controlplane.controllers.view import View, Writer
from controlplane.store.base import Compare, Conflict


class TaskGC:
    def __init__(self, writer: Writer, retention: float) -> None:
        self.writer = writer
        self.retention = retention

    def reconcile(self, view: View) -> str:
        cutoff = time.time() - self.retention
        removed = 0
        for rec in view.tasks.values():
            task = rec.msg
            if task.last_status == "STOPPED" and task.stopped_at and task.stopped_at < cutoff:
                try:
                    self.writer.commit([Compare(rec.key, rec.mod_revision)], [], [rec.key])
                except Conflict:
                    continue
                removed += 1
        return f"forgot {removed} tasks stopped over {self.retention:.0f}s ago" if removed else ""
