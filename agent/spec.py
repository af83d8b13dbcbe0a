"""From a task assignment to the container specs the runtime creates: names, labels, resource
limits, ports, health checks, and a hash of each spec so drift is a comparison."""

from __future__ import annotations

import dataclasses
import hashlib
import json

from agent import volumes
from agent.runtime import (
    LABEL_CLUSTER,
    LABEL_CONTAINER,
    LABEL_ESSENTIAL,
    LABEL_NODE,
    LABEL_SERVICE,
    LABEL_SPEC_HASH,
    LABEL_TASK,
    ContainerSpec,
    HealthCheck,
    PortBinding,
    Ulimit,
)
from shoal.v1 import resources_pb2 as r

DEFAULT_STOP_TIMEOUT = 30


def container_name(task_id: str, name: str) -> str:
    return f"shoal-{task_id[:12]}-{name}"


def essential(cdef: r.ContainerDefinition) -> bool:
    return cdef.essential if cdef.HasField("essential") else True


def stop_timeout(cdef: r.ContainerDefinition, default: int = DEFAULT_STOP_TIMEOUT) -> int:
    return cdef.stop_timeout if cdef.HasField("stop_timeout") else default


def start_order(defs: list[r.ContainerDefinition]) -> list[r.ContainerDefinition]:
    """Containers ordered so each comes after those it dependsOn or takes volumesFrom
    (definition order otherwise); a cycle or unknown name falls back to definition order
    for the rest."""
    by_name = {d.name: d for d in defs}
    ordered: list[r.ContainerDefinition] = []
    placed: set[str] = set()
    remaining = list(defs)
    while remaining:
        ready = [d for d in remaining
                 if all(dep in placed or dep not in by_name for dep in _predecessors(d))]
        if not ready:
            ready = remaining[:1]
        for d in ready:
            ordered.append(d)
            placed.add(d.name)
            remaining.remove(d)
    return ordered


def _predecessors(d: r.ContainerDefinition) -> list[str]:
    return [dep.container_name for dep in d.depends_on] + [v.source_container for v in d.volumes_from]


@dataclasses.dataclass(frozen=True)
class ContainerDns:
    """Where a task's containers resolve names: the node's DNS responder, searching the
    namespaces of the task's service."""

    servers: tuple[str, ...]
    search: tuple[str, ...] = ()


def spec_hash(spec: ContainerSpec) -> str:
    fields = dataclasses.asdict(spec)
    fields["labels"] = {k: v for k, v in spec.labels.items() if k != LABEL_SPEC_HASH}
    # Node plumbing that follows the routing table, not the task: a change must not count as drift.
    fields.pop("dns")
    fields.pop("dns_search")
    blob = json.dumps(fields, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _capability(name: str) -> str:
    # ECS writes capabilities bare (SYS_ADMIN) or with the prefix; Docker takes either.
    return name.upper().removeprefix("CAP_")


def _healthcheck(hc: r.HealthCheck) -> HealthCheck | None:
    if not hc.command:
        return None
    test = tuple(hc.command)
    if test[0] not in ("CMD", "CMD-SHELL", "NONE"):
        # ECS requires the CMD/CMD-SHELL prefix; a bare command is most likely meant as a shell line.
        test = ("CMD-SHELL", " ".join(test))
    return HealthCheck(
        test=test,
        interval=hc.interval or 30,
        timeout=hc.timeout or 5,
        retries=hc.retries or 3,
        start_period=hc.start_period,
    )


def build(
    assignment: r.TaskAssignment,
    *,
    node_id: str,
    bind_ip: str = "0.0.0.0",
    default_stop_timeout: int = DEFAULT_STOP_TIMEOUT,
    dns: ContainerDns | None = None,
) -> list[tuple[r.ContainerDefinition, ContainerSpec]]:
    """One (definition, spec) per container, in start order. ``dns`` applies to containers
    with a network (not networkMode none)."""
    task = assignment.task
    td = assignment.task_definition
    network_mode = td.network_mode or "bridge"
    bindings: dict[str, list[r.NetworkBinding]] = {c.name: list(c.network_bindings) for c in task.containers}
    volume_sources, _ = volumes.sources(assignment, node_id)
    out = []
    for cdef in start_order(list(td.container_definitions)):
        ports: list[PortBinding] = []
        if network_mode == "bridge":
            allocated = {(b.container_port, (b.protocol or "tcp").lower()): b for b in bindings.get(cdef.name, [])}
            for pm in cdef.port_mappings:
                proto = (pm.protocol or "tcp").lower()
                b = allocated.get((pm.container_port, proto))
                host_port = b.host_port if b and b.host_port else pm.host_port
                ports.append(PortBinding(pm.container_port, proto, host_port, bind_ip))
        labels = dict(cdef.docker_labels)
        labels.update({
            LABEL_CLUSTER: task.cluster,
            LABEL_TASK: task.id,
            LABEL_CONTAINER: cdef.name,
            LABEL_NODE: node_id,
            LABEL_SERVICE: task.service_name,
            LABEL_ESSENTIAL: "true" if essential(cdef) else "false",
        })
        spec = ContainerSpec(
            name=container_name(task.id, cdef.name),
            image=cdef.image,
            labels=labels,
            command=tuple(cdef.command),
            entrypoint=tuple(cdef.entry_point),
            environment={kv.name: kv.value for kv in cdef.environment},
            working_dir=cdef.working_directory,
            user=cdef.user,
            hostname=cdef.hostname if network_mode != "host" else "",
            cpu_shares=max(2, cdef.cpu),
            memory_mib=cdef.memory if cdef.HasField("memory") and cdef.memory > 0 else None,
            memory_reservation_mib=(
                cdef.memory_reservation if cdef.HasField("memory_reservation") and cdef.memory_reservation > 0 else None
            ),
            network_mode=network_mode if network_mode in ("bridge", "host", "none") else "bridge",
            ports=tuple(ports),
            healthcheck=_healthcheck(cdef.health_check),
            stop_timeout=stop_timeout(cdef, default_stop_timeout),
            privileged=cdef.privileged,
            read_only=cdef.readonly_root_filesystem,
            mounts=volumes.mounts(cdef, volume_sources),
            volumes_from=tuple(f"{container_name(task.id, v.source_container)}:{'ro' if v.read_only else 'rw'}"
                               for v in cdef.volumes_from),
            ulimits=tuple(Ulimit(u.name, u.soft_limit, u.hard_limit) for u in cdef.ulimits),
            init=cdef.linux_parameters.init_process_enabled,
            cap_add=tuple(_capability(c) for c in cdef.linux_parameters.capabilities.add),
            cap_drop=tuple(_capability(c) for c in cdef.linux_parameters.capabilities.drop),
            dns=dns.servers if dns and network_mode != "none" else (),
            dns_search=dns.search if dns and dns.servers and network_mode != "none" else (),
        )
        spec.labels[LABEL_SPEC_HASH] = spec_hash(spec)
        out.append((cdef, spec))
    return out


def with_secrets(specs: list[tuple[r.ContainerDefinition, ContainerSpec]],
                 values: dict[str, dict[str, str]]) -> list[tuple[r.ContainerDefinition, ContainerSpec]]:
    """Adds each container's secret values to its environment. The spec hash label stays
    the one computed without them: a label must never carry (a hash of) a secret."""
    return [(cdef, dataclasses.replace(s, environment={**s.environment, **values.get(cdef.name, {})}))
            for cdef, s in specs]
