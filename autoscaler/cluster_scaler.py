"""Cluster auto scaling through capacity providers, the way ECS managed scaling does it.

CapacityProviderReservation = M / N * 100, where N is the provider's nodes (starting or
running, as the provider itself reports them) and M the nodes needed: the provider's nodes
running at least one task, plus enough nodes for the cluster's unplaceable tasks
(PROVISIONING with a placement message). With N = 0 it is 100 if M = 0, else 200.

The provider aims at ``target_capacity``: desired nodes = ceil(M * 100 / target), clamped
to [min_size, max_size], moving by at least minimum_scaling_step_size and at most
maximum_scaling_step_size per cycle. Scale-out acts at once; scale-in only after the
reservation has stayed below target for ``scale_in_delay`` seconds, and only ever takes
nodes without tasks. With managed termination protection a node is first set DRAINING
(nothing new is placed there), and terminated and deregistered only once it holds no task;
a DRAINING node of the provider is taken as one being removed. Without it, empty nodes are
terminated at once.

Nodes are matched to container instances by name (the agent's --name = the container
instance's hostname). Each provider gets its own thread for create/terminate, so a slow
provider (vagrant up takes minutes) does not stall the loop.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from autoscaler import providers
from autoscaler.api import ControlPlane
from autoscaler.metrics import ACTIONS, RESERVATION
from autoscaler.providers import NodeProvider, ProviderContext, ProviderError, ProviderNode
from autoscaler.providers.profiles import BUILTIN, Profile, resolve
from shoal import logs
from shoal.errors import ApiError
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoal.v1 import scaling_pb2 as sc
from shoal.validation import ValidationError

log = logging.getLogger(__name__)

# A node the provider started whose agent never registered is given up on after this long.
REGISTER_GRACE = 300.0


@dataclass(frozen=True)
class Reservation:
    needed: int  # M
    running: int  # N
    percent: float
    busy: int
    unplaced: int
    extra: int


def unplaceable(tasks: list[r.Task], provider: str = "", own_only: bool = False) -> list[r.Task]:
    """Tasks waiting for capacity that ``provider`` may bring: those a capacity provider
    strategy gave to another provider can only run on that one's nodes. ``own_only`` (the
    cluster's Fargate provider): only the tasks given to it, so a pending EC2 task does not
    grow the Fargate nodes."""
    mine = (provider,) if own_only else ("", provider)
    return [t for t in tasks if t.last_status == "PROVISIONING" and not t.node_id and t.placement_message
            and t.desired_status == "RUNNING" and t.capacity_provider_name in mine]


def reservation(provider_nodes: list[ProviderNode], instances: list[r.ContainerInstance], tasks: list[r.Task],
                node_cpu: int, node_memory: int, provider: str = "", own_only: bool = False) -> Reservation:
    """Pure: M, N and the reservation percent. ``node_cpu``/``node_memory`` are the size of
    one new node (0 if unknown: then one node per cycle is asked for)."""
    names = {n.name for n in provider_nodes}
    mine = {i.id for i in instances if i.hostname in names and i.status != "INACTIVE"}
    busy = {t.node_id for t in tasks if t.node_id in mine and t.last_status != "STOPPED"}
    waiting = unplaceable(tasks, provider, own_only)
    extra = 0
    if waiting:
        cpu = sum(int(t.cpu or 0) for t in waiting)
        mem = sum(int(t.memory or 0) for t in waiting)
        extra = max(1, math.ceil(cpu / node_cpu) if node_cpu else 1, math.ceil(mem / node_memory) if node_memory else 1)
    m, n = len(busy) + extra, len(provider_nodes)
    percent = (100.0 if m == 0 else 200.0) if n == 0 else m / n * 100
    return Reservation(m, n, percent, len(busy), len(waiting), extra)


def desired_nodes(res: Reservation, cp: sc.CapacityProvider) -> int:
    """Pure: where the provider should be, before step limits."""
    target = cp.target_capacity or 100
    want = math.ceil(res.needed * 100 / target - 1e-9)
    return max(cp.min_size, min(cp.max_size, want))


def step(current: int, want: int, cp: sc.CapacityProvider) -> int:
    """Pure: the change to make this cycle, within the provider's step sizes and bounds."""
    lo_step = max(1, cp.minimum_scaling_step_size or 1)
    hi_step = max(lo_step, cp.maximum_scaling_step_size or 10_000)
    if want > current:
        return min(max(want - current, lo_step), hi_step, cp.max_size - current)
    if want < current:
        return -min(current - want, hi_step)
    return 0


@dataclass
class _Managed:
    cp: sc.CapacityProvider
    provider: NodeProvider
    executor: ThreadPoolExecutor
    signature: bytes
    launching: dict[str, Future] = field(default_factory=dict)
    terminating: dict[str, Future] = field(default_factory=dict)
    first_seen: dict[str, float] = field(default_factory=dict)
    low_since: float | None = None


class ClusterScaler:
    def __init__(self, cp: ControlPlane, *, endpoint: str, state_dir: Path, scale_in_delay: float = 60.0,
                 clock: Callable[[], float] = time.monotonic, may_act: Callable[[], bool] = lambda: True,
                 provider_factory: Callable[[sc.CapacityProvider, ProviderContext], NodeProvider] | None = None,
                 register_grace: float = REGISTER_GRACE, profiles: Mapping[str, Profile] | None = None,
                 profiles_source: str = "built-in profiles only") -> None:
        self.cp = cp
        self.endpoint = endpoint
        self.state_dir = state_dir
        self.scale_in_delay = scale_in_delay
        self.clock = clock
        self.may_act = may_act
        self.register_grace = register_grace
        self.profiles = dict(profiles if profiles is not None else BUILTIN)
        self.profiles_source = profiles_source
        self.provider_factory = provider_factory or self._from_profile
        self.managed: dict[str, _Managed] = {}

    def _from_profile(self, c: sc.CapacityProvider, ctx: ProviderContext) -> NodeProvider:
        """The provider of the profile ``c`` names, from this host's profiles: the record
        written through the API chooses a profile and data settings, never what runs."""
        type_, config = resolve(self.profiles, c.node_provider.profile, dict(c.node_provider.config),
                                self.profiles_source)
        return providers.create(type_, config, ctx)

    def close(self) -> None:
        for m in self.managed.values():
            m.executor.shutdown(wait=True)
            m.provider.close()
        self.managed.clear()

    def run_once(self) -> str:
        cps = list(self.cp.scaling.DescribeCapacityProviders(sc.DescribeCapacityProvidersRequest()).capacity_providers)
        for name in set(self.managed) - {c.name for c in cps}:
            gone = self.managed.pop(name)
            gone.executor.shutdown(wait=False)
            gone.provider.close()
            RESERVATION.remove(name)
        said = []
        for c in sorted(cps, key=lambda c: c.name):
            try:
                said.append(f"{c.name}: {self._one(c)}")
            except ProviderError as exc:
                said.append(f"{c.name}: node provider failed ({exc}); holding")
            except ValidationError as exc:
                said.append(f"{c.name}: refused: {exc}")
                self._report_refusal(c, f"Node provider refused: {exc}")
        return "; ".join(said) if said else "no capacity providers"

    # ---- one capacity provider ----------------------------------------------------------

    def _managed(self, c: sc.CapacityProvider) -> _Managed:
        sig = c.node_provider.SerializeToString(deterministic=True)
        m = self.managed.get(c.name)
        if m is not None and m.signature == sig:
            m.cp = c
            return m
        if m is not None:
            m.executor.shutdown(wait=True)
            m.provider.close()
        ctx = ProviderContext(capacity_provider=c.name, cluster=c.cluster, endpoint=self.endpoint,
                              state_dir=self.state_dir / c.name)
        m = _Managed(c, self.provider_factory(c, ctx), ThreadPoolExecutor(2, thread_name_prefix=f"cp-{c.name}"), sig)
        self.managed[c.name] = m
        if c.update_status == "UPDATE_FAILED":  # say that the refusal (or failure) is over
            self._activity(c, f"Node provider profile {c.node_provider.profile!r} loaded", "", 0, 0, {})
        return m

    def _report_refusal(self, c: sc.CapacityProvider, reason: str) -> None:
        """Records why the capacity provider cannot run (once: the record's update status then
        holds it), so `shoal capacity-provider list` shows it."""
        if (c.update_status, c.update_status_reason) == ("UPDATE_FAILED", reason):
            return
        log.warning("capacity provider refused", extra=logs.kv(capacity_provider=c.name, reason=reason))
        self._activity(c, "Capacity provider refused", reason, 0, 0, {}, status="Failed", message=reason)

    def _one(self, c: sc.CapacityProvider) -> str:
        m = self._managed(c)
        notes = self._collect(m)
        now = self.clock()
        nodes = m.provider.non_terminated_nodes()
        names = {n.name for n in nodes}
        for n in nodes:
            m.first_seen.setdefault(n.id, now)
        for gone in set(m.first_seen) - {n.id for n in nodes}:
            del m.first_seen[gone]
        # Launches not yet listed by the provider still count as nodes (else we launch twice).
        pending = [name for name in m.launching if name not in names]
        all_nodes = nodes + [ProviderNode(id=f"launching:{p}", name=p, state="pending") for p in pending]
        instances = self.cp.nodes(c.cluster)
        tasks = self.cp.live_tasks(c.cluster)
        size_cpu, size_mem = self._node_size(c, instances, names)
        res = reservation(all_nodes, instances, tasks, size_cpu, size_mem, c.name, c.fargate)
        RESERVATION.labels(c.name).set(res.percent)
        want = desired_nodes(res, c)
        shown = (f"reservation {res.percent:.0f}% vs target {c.target_capacity}% (M={res.needed}: {res.busy} busy + "
                 f"{res.extra} for {res.unplaced} unplaceable tasks; N={res.running})")
        by_name = {i.hostname: i for i in instances if i.hostname in names and i.status != "INACTIVE"}
        live_on = {t.node_id for t in tasks if t.last_status != "STOPPED"}
        notes += self._finish_drained(m, nodes, by_name, live_on)
        delta = step(res.running, want, c)
        if delta > 0:
            m.low_since = None
            notes.append(self._scale_out(m, delta, res, shown, by_name))
        elif delta < 0 and res.percent < c.target_capacity:
            m.low_since = now if m.low_since is None else m.low_since
            held = now - m.low_since
            if held < self.scale_in_delay:
                notes.append(f"{shown}: below target for {held:.0f}s of {self.scale_in_delay:.0f}s before scale-in")
            else:
                notes.append(self._scale_in(m, -delta, res, shown, nodes, by_name, live_on, now))
        else:
            m.low_since = None
            notes.append(f"{shown}: steady at {res.running} nodes")
        return "; ".join(n for n in notes if n)

    def _node_size(self, c: sc.CapacityProvider, instances: list[r.ContainerInstance],
                   names: set[str]) -> tuple[int, int]:
        cfg = self.managed[c.name].provider.config
        cpu, mem = int(cfg.get("cpu_units") or 0), int(cfg.get("memory_mib") or 0)
        if cpu and mem:
            return cpu, mem
        pool = [i for i in instances if i.hostname in names] or list(instances)
        return (cpu or max((i.cpu_units for i in pool), default=0), mem or max((i.memory_mib for i in pool), default=0))

    def _collect(self, m: _Managed) -> list[str]:
        """Results of finished provider calls from earlier cycles."""
        notes = []
        for table, verb in ((m.launching, "launch"), (m.terminating, "termination")):
            for name, fut in list(table.items()):
                if not fut.done():
                    continue
                del table[name]
                exc = fut.exception()
                if exc is not None:
                    notes.append(f"{verb} of {name} failed: {exc}")
                    self._activity(m.cp, f"{verb.capitalize()} of node {name} failed", str(exc), 0, 0, {},
                                   "Failed", str(exc))
        return notes

    def _scale_out(self, m: _Managed, count: int, res: Reservation, shown: str,
                   by_name: dict[str, r.ContainerInstance]) -> str:
        if not self.may_act():
            return "not acting: leadership lost"
        done = []
        # A node on its way out is the cheapest new capacity: put it back to work first.
        for inst in [i for i in by_name.values() if i.status == "DRAINING"][:count]:
            try:
                self.cp.operator.UpdateContainerInstancesState(op.UpdateContainerInstancesStateRequest(
                    cluster=m.cp.cluster, container_instances=[inst.id], status="ACTIVE"))
                done.append(f"reactivated {inst.hostname}")
                count -= 1
            except ApiError as exc:
                done.append(f"could not reactivate {inst.hostname} ({exc})")
        names = []
        for _ in range(count):
            name = f"{m.cp.name}-{uuid.uuid4().hex[:6]}"
            m.launching[name] = m.executor.submit(m.provider.create_node, name)
            names.append(name)
        if names:
            done.append(f"launching {', '.join(names)}")
        what = ", ".join(done)
        self._activity(m.cp, f"Scaling out to {res.running + len(names)} nodes: {what}", shown, res.running,
                       res.running + len(names), _res_metrics(res))
        ACTIONS.labels("capacity_provider", "out", "Successful").inc()
        log.info("capacity provider scaling out", extra=logs.kv(capacity_provider=m.cp.name, what=what))
        return f"{shown}: {what}"

    def _scale_in(self, m: _Managed, count: int, res: Reservation, shown: str, nodes: list[ProviderNode],
                  by_name: dict[str, r.ContainerInstance], live_on: set[str], now: float) -> str:
        if not self.may_act():
            return "not acting: leadership lost"
        draining = [i for i in by_name.values() if i.status == "DRAINING"]
        count -= len(draining) + len(m.terminating)
        if count <= 0:
            return f"{shown}: {len(draining) + len(m.terminating)} nodes already on their way out"
        # Never-registered nodes past their grace first (broken), then idle ACTIVE nodes,
        # newest name last so the choice is stable from cycle to cycle.
        broken = [n for n in nodes if n.name not in by_name and n.name not in m.terminating
                  and now - m.first_seen.get(n.id, now) > self.register_grace]
        idle = [by_name[n.name] for n in nodes if n.name in by_name and by_name[n.name].status == "ACTIVE"
                and by_name[n.name].id not in live_on]
        done = []
        for n in broken[:count]:
            m.terminating[n.name] = m.executor.submit(m.provider.terminate_node, n.id)
            done.append(f"terminating {n.name} (never registered)")
            count -= 1
        for inst in sorted(idle, key=lambda i: i.hostname)[:count]:
            if m.cp.managed_termination_protection:
                try:
                    self.cp.operator.UpdateContainerInstancesState(op.UpdateContainerInstancesStateRequest(
                        cluster=m.cp.cluster, container_instances=[inst.id], status="DRAINING"))
                    done.append(f"draining {inst.hostname}")
                except ApiError as exc:
                    done.append(f"could not drain {inst.hostname} ({exc})")
            else:
                node = next(n for n in nodes if n.name == inst.hostname)
                m.terminating[node.name] = m.executor.submit(self._terminate, m, node, inst)
                done.append(f"terminating {inst.hostname}")
        if not done:
            return f"{shown}: no node is free of tasks to remove"
        what = ", ".join(done)
        self._activity(m.cp, f"Scaling in: {what}", shown, res.running, res.running - len(done), _res_metrics(res))
        ACTIONS.labels("capacity_provider", "in", "Successful").inc()
        log.info("capacity provider scaling in", extra=logs.kv(capacity_provider=m.cp.name, what=what))
        return f"{shown}: {what}"

    def _finish_drained(self, m: _Managed, nodes: list[ProviderNode], by_name: dict[str, r.ContainerInstance],
                        live_on: set[str]) -> list[str]:
        """DRAINING nodes of the provider that hold no task any more are terminated and
        deregistered; the ones still holding tasks wait (managed termination protection)."""
        notes = []
        for n in nodes:
            inst = by_name.get(n.name)
            if inst is None or inst.status != "DRAINING" or n.name in m.terminating:
                continue
            if inst.id in live_on:
                notes.append(f"{n.name} draining, tasks still on it")
                continue
            if not self.may_act():
                break
            m.terminating[n.name] = m.executor.submit(self._terminate, m, n, inst)
            notes.append(f"terminating drained node {n.name}")
        return notes

    def _terminate(self, m: _Managed, node: ProviderNode, inst: r.ContainerInstance) -> None:
        """Runs on the provider's thread: stop the machine, then forget the instance."""
        m.provider.terminate_node(node.id)
        try:
            self.cp.operator.DeregisterContainerInstance(op.DeregisterContainerInstanceRequest(
                cluster=m.cp.cluster, container_instance=inst.id))
        except ApiError as exc:
            raise ProviderError(f"terminated {node.name} but could not deregister it: {exc}") from exc
        self._activity(m.cp, f"Terminated node {node.name}", "it was drained and held no tasks", 0, 0, {})
        log.info("terminated node", extra=logs.kv(capacity_provider=m.cp.name, node=node.name, instance=inst.id))

    def _activity(self, c: sc.CapacityProvider, description: str, cause: str, before: int, after: int,
                  metrics: dict[str, float], status: str = "Successful", message: str = "") -> None:
        a = sc.ScalingActivity(cluster=c.cluster, resource_id=f"capacity-provider/{c.name}", description=description,
                               cause=cause, from_capacity=before, to_capacity=after, status_code=status,
                               status_message=message, start_time=time.time(), end_time=time.time())
        for k, v in metrics.items():
            a.metrics[k] = v
        try:
            self.cp.record(a)
        except ApiError as exc:
            log.warning("could not record a scaling activity", extra=logs.kv(capacity_provider=c.name, error=exc))


def _res_metrics(res: Reservation) -> dict[str, float]:
    return {"CapacityProviderReservation": res.percent, "M": res.needed, "N": res.running,
            "unplaceable_tasks": res.unplaced}
