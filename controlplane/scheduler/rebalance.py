"""``zone_move``: one step of availability-zone rebalancing (ECS's availabilityZoneRebalancing),
pure. A service is balanced when no usable zone holds two or more tasks more than another;
otherwise one task is started in the lightest zone and, once it is healthy, one is stopped
from the heaviest (never the other way round, so the service never drops below its count).
Ties go to the zone first by name, so equal inputs give equal moves."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

ZONE_ATTRIBUTE = "ecs.availability-zone"
# What the stop half of a move chooses by: the crowded zone first, then the crowded node.
STOP_BY = (("spread", f"attribute:{ZONE_ATTRIBUTE}"), ("spread", "instanceId"))


@dataclass(frozen=True)
class ZoneMove:
    start_in: str
    stop_from: str
    counts: dict[str, int]

    def __str__(self) -> str:
        spread = ", ".join(f"{z}: {n}" for z, n in sorted(self.counts.items()))
        return f"start a task in zone {self.start_in}, then stop one in zone {self.stop_from} ({spread})"


def zone_move(task_zones: Sequence[str], zones: Iterable[str]) -> ZoneMove | None:
    """The move that brings ``task_zones`` (the zone of each of the service's tasks) closer to
    balance over ``zones`` (the zones with a usable node), or None when it is balanced or
    there are fewer than two zones to balance over."""
    counts = dict.fromkeys(sorted(set(zones)), 0)
    if len(counts) < 2:
        return None
    for zone in task_zones:
        if zone in counts:
            counts[zone] += 1
    light = min(counts, key=lambda z: counts[z])
    heavy = max(counts, key=lambda z: counts[z])
    if counts[heavy] - counts[light] < 2:
        return None
    return ZoneMove(light, heavy, counts)
