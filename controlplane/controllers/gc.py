"""Forgets stopped tasks and deleted (INACTIVE) services once they are older than the
retention period (ECS keeps them visible for about an hour)."""

from __future__ import annotations

import time

from controlplane.controllers.view import View, Writer
from shoal.store.base import Compare, Conflict


class TaskGC:
    def __init__(self, writer: Writer, retention: float) -> None:
        self.writer = writer
        self.retention = retention

    def reconcile(self, view: View) -> str:
        cutoff = time.time() - self.retention
        removed = 0
        # Copies: each delete is applied to the view at once.
        for rec in list(view.tasks.values()):
            task = rec.msg
            if task.last_status == "STOPPED" and task.stopped_at and task.stopped_at < cutoff:
                try:
                    self.writer.commit([Compare(rec.key, rec.mod_revision)], [], [rec.key])
                except Conflict:
                    continue
                removed += 1
        forgotten = 0
        for rec in view.services:
            svc = rec.msg
            deleted_at = svc.events[0].created_at if svc.events else 0
            if svc.status == "INACTIVE" and deleted_at < cutoff:
                try:
                    self.writer.commit([Compare(rec.key, rec.mod_revision)], [], [rec.key])
                except Conflict:
                    continue
                forgotten += 1
        said = []
        if removed:
            said.append(f"forgot {removed} tasks stopped over {self.retention:.0f}s ago")
        if forgotten:
            said.append(f"forgot {forgotten} services deleted over {self.retention:.0f}s ago")
        return "; ".join(said)
