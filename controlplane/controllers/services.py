"""The service scheduler: keeps desiredCount tasks of each service running, replaces
tasks that stop, rolls deployments within minimumHealthyPercent / maximumPercent, moves
tasks off DRAINING nodes the same way, and trips the deployment circuit breaker."""

from __future__ import annotations

import math
import time
from collections import Counter

from controlplane import capacity_strategy, placement_input, traffic_shift
from controlplane.controllers import rebalance
from controlplane.controllers.daemons import DAEMON, reconcile_daemon
from controlplane.controllers.service_ops import FAILURE_CODES, launch_delay
from controlplane.controllers.task_sets import reconcile_task_sets
from controlplane.controllers.view import View, Writer, clone, task_write
from controlplane.deployment_history import track
from controlplane.deployments import breaker_threshold, new_deployment
from controlplane.events import add_event
from controlplane.scheduler import choose_to_stop
from controlplane.state import Record
from controlplane.task_sets import is_external
from controlplane.taskspec import is_live, is_protected, mark_stopping, new_task
from shoal.arns import ArnFormat
from shoal.store.base import Compare, Conflict
from shoal.v1 import resources_pb2 as r


class ServiceController:
    def __init__(self, writer: Writer, arns: ArnFormat) -> None:
        self.writer = writer
        self.arns = arns

    def reconcile(self, view: View) -> str:
        by_service = view.tasks_by_service()
        draining = {node_id for node_id, node in view.nodes.items() if node.msg.status == "DRAINING"}
        # Whether a task definition has an essential health check, asked once per cycle
        # rather than once per task (thousands of times a cycle during a rollout).
        self._checked: dict[str, bool] = {}
        said = []
        for rec in view.services:
            svc = rec.msg
            try:
                sentence = self._one(view, rec, by_service.get((svc.cluster, svc.service_name), []), draining)
            except Conflict:
                sentence = f"{svc.service_name}: lost a write race; will retry"
            if sentence:
                said.append(sentence)
        return "; ".join(said)

    # ---- one service -----------------------------------------------------------------------

    def _one(self, view: View, rec: Record[r.Service], tasks: list[Record[r.Task]], draining: set[str]) -> str:
        svc = clone(rec.msg)
        live = [t for t in tasks if t.msg.desired_status == "RUNNING" and is_live(t.msg)]
        if svc.replace_on_disconnect:
            # A lost node's tasks are replaced at once and left to the node controller, which
            # keeps the better copy if the node returns (controllers/reconnect.py).
            live = [t for t in live if not t.msg.disconnected_at]
        # The counts are of the tasks as the cycle found them, whatever it then stopped.
        live_then = [t.msg for t in live]
        healthy = {t.msg.id for t in live if self.healthy(view, t.msg)}
        if svc.status == "INACTIVE":
            return ""
        if svc.status == "DRAINING":
            return self._drain_deleted(view, rec, tasks, live)
        if svc.scheduling_strategy == DAEMON:
            return reconcile_daemon(self, view, rec, tasks)
        if is_external(svc):
            return reconcile_task_sets(self, view, rec, tasks)
        did: list[str] = []
        primary = next((d for d in svc.deployments if d.status == "PRIMARY"), None)
        if primary is None:
            primary = new_deployment(svc.task_definition, svc.desired_count, svc.capacity_provider_strategy)
            svc.deployments.insert(0, primary)
        td = view.taskdefs.get(svc.task_definition)
        desired = svc.desired_count
        dc = svc.deployment_configuration
        max_total = max(desired, desired * dc.maximum_percent // 100)
        shifting = traffic_shift.shifts(svc)
        if shifting:
            # Blue/green, canary and linear bring the new revision up in full beside the old.
            max_total = max(max_total, 2 * desired)
        min_healthy = math.ceil(desired * dc.minimum_healthy_percent / 100)

        def on_draining_node(t: r.Task) -> bool:
            return t.node_id in draining

        def current(t: r.Task) -> bool:
            # A task of the service's definition is still replaced when its deployment was
            # superseded: forceNewDeployment starts one with the same definition.
            superseded = {d.id for d in svc.deployments if d.status != "PRIMARY"}
            return (t.task_definition_arn == svc.task_definition and t.deployment_id not in superseded
                    and not on_draining_node(t))

        def split() -> tuple[list[Record[r.Task]], list[Record[r.Task]]]:
            """The live tasks of the current revision, and the others."""
            new = [t for t in live if current(t.msg)]
            new_ids = {t.msg.id for t in new}
            return new, [t for t in live if t.msg.id not in new_ids]

        def switched() -> tuple[r.Deployment, r.TaskDefinition | None, list[Record[r.Task]], list[Record[r.Task]]]:
            """After the service went back to an earlier revision: its primary deployment and
            task definition now, and the live tasks split again."""
            return (next(d for d in svc.deployments if d.status == "PRIMARY"), view.taskdefs.get(svc.task_definition),
                    *split())

        new, old = split()

        # Tasks that failed their health checks are replaced, as ECS does.
        unhealthy = self.stop_unhealthy(view, svc, new)
        if unhealthy:
            did.append(f"stopped {len(unhealthy)} unhealthy tasks")
            new = [t for t in new if t not in unhealthy]

        failed = sum(
            1 for t in tasks
            if t.msg.deployment_id == primary.id and t.msg.last_status == "STOPPED" and t.msg.stop_code in FAILURE_CODES
        )
        primary.failed_tasks = failed
        breaker = dc.deployment_circuit_breaker
        if breaker.enable and primary.rollout_state == "IN_PROGRESS" and failed >= breaker_threshold(desired):
            did.append(self._trip_breaker(svc, primary))
            # Recorded while the failed deployment is still listed: it may be done with
            # (no tasks left) by the end of this cycle.
            track(svc, time.time(), breaker_threshold(desired))
            primary, td, new, old = switched()
        halted = primary.rollout_state == "FAILED"
        if shifting and primary.rollout_state == "IN_PROGRESS":
            outcome = traffic_shift.advance(dc, primary, bool(old), sum(1 for t in new if t.msg.id in healthy),
                                            desired, time.time())
            if outcome.said:
                did.append(outcome.said)
                add_event(svc, f"(service {svc.service_name}) {outcome.said}.")
            if outcome.rollback:
                did.append(self._return_to_previous(svc, primary, outcome.rollback))
                track(svc, time.time(), breaker_threshold(desired))
                primary, td, new, old = switched()
                halted = primary.rollout_state == "FAILED"
        # A shifting deployment starts no task before its PRE_SCALE_UP hooks are continued,
        # and stops the old revision's only at CLEAN_UP (those on draining nodes go as ever).
        hold_start = shifting and primary.lifecycle_stage == "PRE_SCALE_UP"
        replaceable = old
        if shifting and (halted or primary.lifecycle_stage != traffic_shift.CLEAN_UP):
            replaceable = [t for t in old if on_draining_node(t.msg)]

        # Scale in: surplus tasks of the current revision, unplaced and pending ones first;
        # a protected task (UpdateTaskProtection) is never chosen, so the service may stay
        # above its desired count until protection ends.
        now = time.time()
        new, moving = rebalance.set_aside(view, svc, new)
        if len(new) > desired:
            surplus = len(new) - desired
            stoppable = [t for t in new if not is_protected(t.msg, now)]
            doomed = sorted(stoppable, key=lambda t: t.msg.last_status == "RUNNING")[:surplus]
            running = [t for t in doomed if t.msg.last_status == "RUNNING"]
            if running:
                snap = placement_input.snapshot([n.msg for n in view.nodes.values()],
                                                [t.msg for t in view.tasks.values()], view.alive)
                chosen = set(choose_to_stop(snap, [(t.msg.id, t.msg.node_id) for t in stoppable
                                                   if t.msg.last_status == "RUNNING"],
                                            len(running), [(s.type, s.field) for s in svc.placement_strategy]))
                doomed = [t for t in doomed if t.msg.last_status != "RUNNING"] + [
                    t for t in stoppable if t.msg.id in chosen]
            for t in doomed:
                self.stop_task(view, t, f"Scaling activity initiated by (deployment {primary.id})",
                               "ServiceSchedulerInitiated")
            if doomed:
                did.append(f"stopped {len(doomed)} tasks to scale in to {desired}")
            if len(doomed) < surplus:
                held = surplus - len(doomed)
                did.append(f"{held} surplus tasks are protected from scale-in")
                add_event(svc, f"(service {svc.service_name}) was unable to scale in to {desired} tasks: "
                               f"{held} of its tasks are protected from scale-in (task protection).")
            doomed_ids = {t.msg.id for t in doomed}
            new = [t for t in new if t.msg.id not in doomed_ids]
            live = [t for t in live if t.msg.id not in doomed_ids]

        # Start what is missing, within maximumPercent.
        missing = desired - len(new)
        room = max_total - len(live)
        start = min(missing, room)
        wait = launch_delay(tasks, primary.id, time.time()) if start > 0 else 0.0
        if wait > 0:
            did.append(f"holding {start} task launches for {wait:.0f}s: tasks keep failing to start")
            add_event(svc, f"(service {svc.service_name}) is unable to consistently start tasks successfully.")
            start = 0
        if start > 0 and td is not None and not halted and not hold_start:
            fresh = [new_task(
                svc.cluster, td, arns=self.arns, group=f"service:{svc.service_name}",
                started_by=primary.id, service_name=svc.service_name,
                constraints=svc.placement_constraints, strategies=svc.placement_strategy,
                deployment_id=primary.id, launch_type=svc.launch_type or "EC2",
            ) for _ in range(start)]
            self._give_providers(svc, fresh, [t.msg for t in new])
            created = self.writer.commit_many([task_write(None, task) for task in fresh])
            if None in created:
                # As when each was its own write: the service record waits for the next cycle.
                raise Conflict(f"{created.count(None)} of {start} new tasks were not created")
            did.append(f"started {start} tasks")
            add_event(svc, f"(service {svc.service_name}) has started {start} tasks.")

        # Stop replaced tasks (old revision, draining nodes) while keeping minimumHealthyPercent.
        spare = sum(1 for t in new + old if t.msg.id in healthy) - min_healthy
        stopped_old = 0
        # A deployment waits for an old task's protection to end; a draining node does not.
        waiting = [t for t in replaceable if not on_draining_node(t.msg) and is_protected(t.msg, now)]
        if waiting:
            did.append(f"{len(waiting)} replaced tasks wait for their scale-in protection to end")
            add_event(svc, f"(service {svc.service_name}) (deployment {primary.id}) is waiting for "
                           f"{len(waiting)} protected tasks of an older deployment (task protection).")
        for t in sorted((t for t in replaceable if t not in waiting), key=lambda t: t.msg.id in healthy):
            if t.msg.id in healthy:
                if spare <= 0:
                    break
                spare -= 1
            why = (f"Task stopped because its container instance {t.msg.node_id} is being drained"
                   if on_draining_node(t.msg) else f"Deployment {primary.id} replaced this task")
            self.stop_task(view, t, why, "ServiceSchedulerInitiated")
            stopped_old += 1
        if stopped_old:
            did.append(f"stopped {stopped_old} replaced tasks")
            add_event(svc, f"(service {svc.service_name}) has stopped {stopped_old} running tasks.")

        steady = (not did and not old and not halted and len(new) == desired and len(svc.deployments) == 1
                  and primary.rollout_state == "COMPLETED" and all(t.msg.id in healthy for t in new))
        moved = rebalance.step(self, view, svc, td, primary.id, new, moving, healthy, steady,
                               room=len(live) < max_total, now=now)
        if moved:
            did.append(moved)
        self.update_counts(svc, live_then, healthy, primary, old_left=len(old) - stopped_old)
        if svc.SerializeToString() != rec.msg.SerializeToString():
            self.writer.commit([Compare(rec.key, rec.mod_revision)], [(rec.key, svc)])
        return f"{svc.service_name}: " + ", ".join(did) if did else ""

    # ---- pieces ----------------------------------------------------------------------------

    @staticmethod
    def _give_providers(svc: r.Service, fresh: list[r.Task], current: list[r.Task]) -> None:
        """Each new task's capacity provider, by the service's strategy as ECS spreads it:
        bases filled first, then the weights, counting the deployment's live tasks."""
        if not svc.capacity_provider_strategy:
            return
        have = Counter(t.capacity_provider_name for t in current)
        names = capacity_strategy.assign(svc.capacity_provider_strategy, len(fresh), have)
        for task, name in zip(fresh, names, strict=True):
            task.capacity_provider_name = name

    def healthy(self, view: View, task: r.Task) -> bool:
        if task.last_status != "RUNNING" or task.desired_status != "RUNNING":
            return False
        if task.health_status == "UNHEALTHY":
            return False
        checked = self._checked.get(task.task_definition_arn)
        if checked is None:
            td = view.taskdefs.get(task.task_definition_arn)
            checked = self._checked[task.task_definition_arn] = td is not None and any(
                c.HasField("health_check") and c.health_check.command and (not c.HasField("essential") or c.essential)
                for c in td.container_definitions
            )
        if checked and task.health_status != "HEALTHY":
            return False
        # A target counts only once it takes traffic: a rollout stops no old target before
        # its replacement passes the target group's health check.
        states = {h.target_group_arn: h.state for h in task.target_health}
        return all(states.get(tg.target_group_arn) == "healthy" for tg in view.targets_of(task))

    def stop_unhealthy(self, view: View, svc: r.Service, tasks: list[Record[r.Task]]) -> list[Record[r.Task]]:
        """Stops those of ``tasks`` that failed their health checks, as ECS replaces them;
        returns them."""
        unhealthy = [t for t in tasks if self._failed_health(view, svc, t.msg)]
        for t in unhealthy:
            sick = [h.target_group_arn for h in t.msg.target_health if h.state == "unhealthy"]
            why = (f"Task failed ELB health checks in (target-group {sick[0]})" if sick
                   else "Task failed container health checks")
            self.stop_task(view, t, why, "ServiceSchedulerInitiated")
        return unhealthy

    def _failed_health(self, view: View, svc: r.Service, task: r.Task) -> bool:
        """Failed its container health check or, as a target, its target group's check;
        both are forgiven for healthCheckGracePeriodSeconds after the task started."""
        failed = task.health_status == "UNHEALTHY" or any(h.state == "unhealthy" for h in task.target_health)
        if task.last_status != "RUNNING" or not failed:
            return False
        return time.time() - task.started_at >= svc.health_check_grace_period_seconds

    def stop_task(self, view: View, rec: Record[r.Task], reason: str, code: str) -> None:
        task = clone(rec.msg)
        mark_stopping(task, reason, code)
        view.drain(task, time.time())
        self.writer.put_task(rec, task, view.taskdefs.get(task.task_definition_arn), view.targets_of(task))

    def _trip_breaker(self, svc: r.Service, primary: r.Deployment) -> str:
        add_event(svc, f"(service {svc.service_name}) (deployment {primary.id}) deployment failed: "
                       f"tasks failed to start.")
        why = f"ECS deployment circuit breaker: task failed to start {primary.failed_tasks} times."
        if not svc.deployment_configuration.deployment_circuit_breaker.rollback:
            self._fail(svc, primary, why)
            return f"circuit breaker tripped on deployment {primary.id}; no rollback"
        return "circuit breaker tripped; " + self._return_to_previous(svc, primary, why)

    @staticmethod
    def _fail(svc: r.Service, primary: r.Deployment, why: str) -> None:
        primary.rollout_state, primary.rollout_state_reason, primary.updated_at = "FAILED", why, time.time()
        if primary.HasField("traffic_percent"):
            primary.traffic_percent = 0.0  # what it took goes back to the revisions it was replacing

    def _return_to_previous(self, svc: r.Service, primary: r.Deployment, why: str) -> str:
        """Fails ``primary`` and makes the last completed deployment primary again, with
        all the traffic (a shifting deployment's rollback returns every request to blue)."""
        self._fail(svc, primary, why)
        target = next((d for d in svc.deployments if d.status == "ACTIVE" and d.rollout_state == "COMPLETED"), None)
        if target is None:
            return f"deployment {primary.id} failed; no completed deployment to roll back to"
        # The last completed deployment becomes primary again, so the tasks it still runs
        # count for it and the rollback completes once they are all healthy.
        primary.status = "ACTIVE"
        target.status = "PRIMARY"
        target.rollout_state = "IN_PROGRESS"
        target.rollout_state_reason = f"rolling back from deployment {primary.id}"
        target.desired_count = svc.desired_count
        target.updated_at = time.time()
        if primary.HasField("traffic_percent"):
            target.traffic_percent, target.lifecycle_stage = 100.0, traffic_shift.CLEAN_UP
        svc.deployments.remove(target)
        svc.deployments.insert(0, target)
        svc.task_definition = target.task_definition
        add_event(svc, f"(service {svc.service_name}) rolling back to deployment {target.id} "
                       f"({target.task_definition}).")
        return f"deployment {primary.id} failed; rolling back to {target.task_definition}"

    def update_counts(self, svc: r.Service, live: list[r.Task], healthy: set[str], primary: r.Deployment,
                      old_left: int) -> None:
        """Counts the service's live tasks as the cycle found them (``healthy``: the ids of
        those that count as healthy) into the service and its deployments."""
        svc.running_count = sum(1 for t in live if t.last_status == "RUNNING")
        svc.pending_count = len(live) - svc.running_count
        for d in svc.deployments:
            mine = [t for t in live if t.deployment_id == d.id or (not t.deployment_id and
                                                                      t.task_definition_arn == d.task_definition)]
            d.running_count = sum(1 for t in mine if t.last_status == "RUNNING")
            d.pending_count = len(mine) - d.running_count
            if d.status == "PRIMARY":
                d.desired_count = svc.desired_count
        healthy_new = sum(1 for t in live if t.deployment_id == primary.id and t.id in healthy)
        if (primary.rollout_state == "IN_PROGRESS" and healthy_new >= svc.desired_count and old_left == 0
                and primary.running_count == svc.desired_count):
            primary.rollout_state = "COMPLETED"
            primary.rollout_state_reason = "ECS deployment completed."
            primary.updated_at = time.time()
            add_event(svc, f"(service {svc.service_name}) (deployment {primary.id}) deployment completed.")
        # Deployments with nothing left running are done with, except the last completed one,
        # kept (ACTIVE, tasks 0) as the circuit breaker's rollback target.
        keep: list[r.Deployment] = []
        kept_completed = False
        for d in svc.deployments:
            if d.status == "PRIMARY" or d.running_count or d.pending_count:
                keep.append(d)
            elif d.rollout_state == "COMPLETED" and not kept_completed and primary.rollout_state != "COMPLETED":
                keep.append(d)
                kept_completed = True
        if len(keep) != len(svc.deployments):
            del svc.deployments[:]
            svc.deployments.extend(keep)
        steady = (primary.rollout_state == "COMPLETED" and svc.running_count == svc.desired_count
                  and svc.pending_count == 0 and len(svc.deployments) == 1)
        if steady:
            add_event(svc, f"(service {svc.service_name}) has reached a steady state.")
        # The daemon controller counts through here too: both keep the history current.
        track(svc, time.time(), breaker_threshold(svc.desired_count))

    def _drain_deleted(self, view: View, rec: Record[r.Service], tasks: list[Record[r.Task]],
                       live: list[Record[r.Task]]) -> str:
        svc = rec.msg
        for t in live:
            self.stop_task(view, t, "Service was deleted", "ServiceSchedulerInitiated")
        if live:
            return f"{svc.service_name}: stopping {len(live)} tasks of the deleted service"
        if any(is_live(t.msg) for t in tasks):
            return ""
        # ECS keeps a deleted service visible as INACTIVE for a while (waiters rely on it);
        # TaskGC forgets it after the retention period.
        done = clone(svc)
        done.status = "INACTIVE"
        done.running_count = done.pending_count = 0
        add_event(done, f"(service {svc.service_name}) was deleted.")
        self.writer.commit([Compare(rec.key, rec.mod_revision)], [(rec.key, done)])
        return f"{svc.service_name}: deleted (no tasks left)"
