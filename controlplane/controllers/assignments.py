"""Keeps every node's assignments in step with the task records that others wrote: the API
writes only a wish (desiredStatus STOPPED) and the gateway only what an agent observed, so
the leader is the one to act on both, and the only writer of assignments.

- A task desired STOPPED that its assignment still shows RUNNING: rewrite the assignment,
  and the node's agent stops it.
- A task desired STOPPED that never reached a node: STOPPED now (no agent will report it).
- A task its agent reported STOPPED (it exited, or was stopped): desired STOPPED too, as
  ECS shows it, and its assignment removed.
- An assignment whose task is gone (forgotten by TaskGC) or lives on another node: removed.
"""

from __future__ import annotations

import time

from controlplane.controllers.view import View, Writer, clone
from controlplane.state import Record
from controlplane.taskspec import is_live, mark_stopping
from shoal import keys
from shoal.store.base import Compare, Conflict
from shoal.v1 import resources_pb2 as r


class AssignmentController:
    def __init__(self, writer: Writer) -> None:
        self.writer = writer

    def reconcile(self, view: View) -> str:
        # Read here rather than in every controller's View: only this controller needs them.
        assignments: dict[tuple[str, str], Record[r.TaskAssignment]] = {}
        for held in self.writer.cache.records(keys.ASSIGNMENTS):
            node_id, task_id = held.key[len(keys.ASSIGNMENTS):].split("/", 1)
            assignments[(node_id, task_id)] = held
        told = stopped = settled = dropped = 0
        for rec in view.tasks.values():
            task = rec.msg
            try:
                if task.desired_status == "STOPPED" and is_live(task):
                    if not task.node_id:
                        done = clone(task)
                        mark_stopping(done, task.stopped_reason, task.stop_code)
                        self.writer.put_task(rec, done)
                        stopped += 1
                        continue
                    held = assignments.get((task.node_id, task.id))
                    if held is None or held.msg.task.desired_status != "STOPPED":
                        # The task is written with its assignment in step; a target keeps
                        # serving in-flight requests for its deregistration delay.
                        told_task = clone(task)
                        view.drain(told_task, time.time())
                        if told_task.deregister_until != task.deregister_until:
                            told_task.version += 1
                        self.writer.put_task(rec, told_task, view.taskdefs.get(task.task_definition_arn),
                                             view.targets_of(task))
                        told += 1
                elif not is_live(task) and task.node_id and (
                        task.desired_status != "STOPPED" or (task.node_id, task.id) in assignments):
                    done = clone(task)
                    if done.desired_status != "STOPPED":
                        done.desired_status = "STOPPED"
                        done.stopping_at = done.stopping_at or time.time()
                        done.version += 1
                    self.writer.put_task(rec, done)  # removes the assignment with it
                    settled += 1
            except Conflict:
                continue  # the task changed since the view was read; the next cycle looks again
        for (node_id, task_id), held in assignments.items():
            task_rec = view.tasks.get(task_id)
            if task_rec is None or task_rec.msg.node_id != node_id:
                # Watches of different prefixes arrive apart: compare on the task as well, so
                # an assignment seen before its task (placed by the previous leader) stays.
                task_key = keys.task(held.msg.task.cluster, task_id)
                task_compare = (Compare(task_key, 0, on_create=True) if task_rec is None
                                else Compare(task_key, task_rec.mod_revision))
                try:
                    self.writer.commit([Compare(held.key, held.mod_revision), task_compare], [], [held.key])
                except Conflict:
                    continue
                dropped += 1
        said = []
        if told:
            said.append(f"told nodes to stop {told} tasks")
        if stopped:
            said.append(f"stopped {stopped} tasks that never reached a node")
        if settled:
            said.append(f"recorded {settled} stopped tasks as desired STOPPED and unassigned them")
        if dropped:
            said.append(f"removed {dropped} assignments of forgotten or moved tasks")
        return "; ".join(said)

