"""Rules across a task's containers: unique names, memory and cpu within the task's,
mount points and volumesFrom that name something real, and dependsOn without cycles or
waits that cannot end."""

from __future__ import annotations

from typing import Any

from shoal.taskdef.fields import join
from shoal.validation import ValidationError, quote


def check_containers(
    containers: list[dict[str, Any]], cf: str, volume_names: set[str], task: dict[str, Any], base: str
) -> None:
    index: dict[str, int] = {}
    for i, c in enumerate(containers):
        if c["name"] in index:
            raise ValidationError(
                f"{cf}[{i}].name", f"duplicate container name {quote(c['name'])} (also {cf}[{index[c['name']]}])"
            )
        index[c["name"]] = i
    task_memory_mib = int(task["memory"]) if "memory" in task else None
    reserved = 0
    for i, c in enumerate(containers):
        here = f"{cf}[{i}]"
        if task_memory_mib is None and "memory" not in c and "memoryReservation" not in c:
            raise ValidationError(
                f"{here}.memory",
                "required: give memory or memoryReservation (MiB) for each container, or a task-level memory",
            )
        for key in ("memory", "memoryReservation"):
            if task_memory_mib is not None and c.get(key, 0) > task_memory_mib:
                raise ValidationError(
                    f"{here}.{key}", f"{c[key]} MiB exceeds the task's memory ({task_memory_mib} MiB)"
                )
        reserved += c.get("memoryReservation", c.get("memory", 0))
        for j, mp in enumerate(c.get("mountPoints", [])):
            if mp["sourceVolume"] not in volume_names:
                raise ValidationError(
                    f"{here}.mountPoints[{j}].sourceVolume",
                    f"no volume named {quote(mp['sourceVolume'])} in volumes",
                )
        for j, vf in enumerate(c.get("volumesFrom", [])):
            source = vf["sourceContainer"]
            if source not in index or source == c["name"]:
                what = "itself" if source == c["name"] else f"no container named {quote(source)} in this task"
                raise ValidationError(f"{here}.volumesFrom[{j}].sourceContainer", f"refers to {what}")
        for j, dep in enumerate(c.get("dependsOn", [])):
            df = f"{here}.dependsOn[{j}]"
            target_name = dep["containerName"]
            if target_name == c["name"]:
                raise ValidationError(f"{df}.containerName", "a container cannot depend on itself")
            if target_name not in index:
                raise ValidationError(f"{df}.containerName", f"no container named {quote(target_name)} in this task")
            target = containers[index[target_name]]
            if dep["condition"] == "HEALTHY" and not _has_health_check(target):
                raise ValidationError(
                    f"{df}.condition", f"HEALTHY needs a healthCheck on container {quote(target_name)}"
                )
            if dep["condition"] in ("COMPLETE", "SUCCESS") and target["essential"]:
                raise ValidationError(
                    f"{df}.condition",
                    f"{dep['condition']} cannot wait on essential container {quote(target_name)}: "
                    "the task stops when it exits",
                )
    if task_memory_mib is not None and reserved > task_memory_mib:
        raise ValidationError(
            join(base, "memory"),
            f"the containers reserve {reserved} MiB in all, more than the task's {task_memory_mib} MiB",
        )
    if "cpu" in task:
        total_cpu = sum(c.get("cpu", 0) for c in containers)
        if total_cpu > int(task["cpu"]):
            raise ValidationError(
                join(base, "cpu"),
                f"the containers ask for {total_cpu} CPU units in all, more than the task's {task['cpu']}",
            )
    if not any(c["essential"] for c in containers):
        raise ValidationError(cf, "at least one container must be essential (essential defaults to true)")
    cycle = _dependency_cycle(containers)
    if cycle:
        raise ValidationError(f"{cf}[{index[cycle[0]]}].dependsOn", "dependency cycle: " + " -> ".join(cycle))


def _has_health_check(container: dict[str, Any]) -> bool:
    hc = container.get("healthCheck")
    return bool(hc) and hc["command"][0] != "NONE"


def _dependency_cycle(containers: list[dict[str, Any]]) -> list[str] | None:
    """The first cycle in dependsOn, as names from a container back to itself."""
    graph = {c["name"]: [d["containerName"] for d in c.get("dependsOn", [])] for c in containers}
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> list[str] | None:
        if name in trail:
            return trail[trail.index(name) :] + [name]
        if name in done:
            return None
        for nxt in graph.get(name, []):
            found = visit(nxt, trail + [name])
            if found:
                return found
        done.add(name)
        return None

    for c in containers:
        found = visit(c["name"], [])
        if found:
            return found
    return None
