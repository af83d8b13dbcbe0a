"""FARGATE on Shoal. Fargate is capacity that appears for the task; Shoal's equivalent is a
capacity provider whose node provider brings nodes up for pending tasks. An operator marks
one capacity provider of a cluster as its Fargate provider (`shoal capacity-provider create
... --fargate`); then `launchType: FARGATE`, and a capacity provider strategy naming FARGATE
or FARGATE_SPOT (once PutClusterCapacityProviders has added them to the cluster), run on
that provider's nodes only, and a FARGATE task that fits nowhere waits PENDING until the
autoscaler brings one up. Without such a provider FARGATE is refused, saying how to mark one.

Fargate's rules that still mean something here are kept: task-level cpu and memory are
required and must be one of Fargate's sizes; host and none network modes are refused
(awsvpc runs as bridge on Shoal, see shoal/taskdef/task.py)."""

from __future__ import annotations

from collections.abc import Sequence

from controlplane.errors import invalid
from controlplane.state import State
from shoal import keys
from shoal.v1 import resources_pb2 as r
from shoal.v1 import scaling_pb2 as sc

# ECS's own capacity provider names for Fargate; both are served by the one Fargate provider.
NAMES = ("FARGATE", "FARGATE_SPOT")
LAUNCH_TYPE = "FARGATE"
HOW = ("mark one of the cluster's capacity providers as its Fargate provider "
       "(shoal capacity-provider create NAME --cluster CLUSTER --fargate ...)")

# Fargate's task sizes: cpu units -> the memory MiB it allows (AWS's table for Linux tasks).
SIZES: dict[int, range] = {
    256: range(512, 2049, 512),
    512: range(1024, 4097, 1024),
    1024: range(2048, 8193, 1024),
    2048: range(4096, 16385, 1024),
    4096: range(8192, 30721, 1024),
    8192: range(16384, 61441, 4096),
    16384: range(32768, 122881, 8192),
}


def provider(state: State, cluster: str) -> str:
    """The name of the cluster's Fargate capacity provider, '' if it has none."""
    for rec in state.load_all(keys.CAPACITY_PROVIDERS, sc.CapacityProvider):
        cp = rec.msg
        if cp.fargate and cp.cluster == cluster and cp.status == "ACTIVE":
            return cp.name
    return ""


def refused(field: str, what: str, cluster: str) -> str:
    return f"{field}: {what} needs a capacity provider to run on and cluster {cluster!r} has none: {HOW}"


def check_size(td: r.TaskDefinition, field: str = "taskDefinition") -> None:
    """Fargate's task-level requirements, each refusal naming the task definition's field."""
    if td.network_mode in ("host", "none"):
        raise invalid(f"{field}.networkMode: {td.network_mode} is not supported by FARGATE; use awsvpc")
    if not td.cpu:
        raise invalid(f"{field}.cpu: required at task level for FARGATE (one of "
                      f"{', '.join(str(c) for c in SIZES)})")
    if not td.memory:
        raise invalid(f"{field}.memory: required at task level for FARGATE")
    cpu, memory = int(td.cpu), int(td.memory)
    if cpu not in SIZES:
        raise invalid(f"{field}.cpu: {cpu} is not a Fargate task size; use one of {', '.join(str(c) for c in SIZES)}")
    allowed = SIZES[cpu]
    if memory not in allowed:
        raise invalid(f"{field}.memory: {memory} MiB is not valid with cpu {cpu} on FARGATE; use "
                      f"{allowed.start}-{allowed.stop - 1} MiB in steps of {allowed.step}")


def mapped(items: Sequence[r.CapacityProviderStrategyItem], shoal_provider: str,
           field: str) -> list[r.CapacityProviderStrategyItem]:
    """A checked strategy with FARGATE and FARGATE_SPOT replaced by the Shoal provider that
    serves them (both together become one item: weights and bases added). ECS refuses a
    strategy mixing Fargate with other providers; so does Shoal."""
    fargate = [item for item in items if item.capacity_provider in NAMES]
    if not fargate:
        return list(items)
    if len(fargate) != len(items):
        raise invalid(f"{field}: a capacity provider strategy cannot mix FARGATE or FARGATE_SPOT "
                      "with other capacity providers")
    return [r.CapacityProviderStrategyItem(capacity_provider=shoal_provider,
                                           weight=sum(item.weight for item in fargate),
                                           base=sum(item.base for item in fargate))]


def resolve(state: State, cluster: r.Cluster, td: r.TaskDefinition, launch_type: str,
            strategy: list[r.CapacityProviderStrategyItem],
            field: str = "capacityProviderStrategy") -> tuple[str, list[r.CapacityProviderStrategyItem]]:
    """(launch type, strategy) of a RunTask or CreateService whose launch type and strategy
    have been checked: a FARGATE one goes to the cluster's Fargate provider, everything else
    is returned as given."""
    wants = launch_type == LAUNCH_TYPE or any(item.capacity_provider in NAMES for item in strategy)
    if not wants:
        return launch_type, strategy
    name = provider(state, cluster.cluster_name)
    if not name:
        what = "FARGATE" if launch_type else "a FARGATE capacity provider strategy"
        raise invalid(refused("launchType" if launch_type else field, what, cluster.cluster_name))
    if launch_type:
        strategy = [r.CapacityProviderStrategyItem(capacity_provider=name, weight=1)]
    else:
        strategy = mapped(strategy, name, field)
    if td.requires_compatibilities and LAUNCH_TYPE not in td.requires_compatibilities:
        raise invalid(f"{'launchType' if launch_type else field}: FARGATE is not among the task definition's "
                      f"requiresCompatibilities ({', '.join(td.requires_compatibilities)})")
    check_size(td)
    return LAUNCH_TYPE, strategy


def served(state: State, cluster: r.Cluster, strategy: list[r.CapacityProviderStrategyItem],
           field: str = "capacityProviderStrategy") -> list[r.CapacityProviderStrategyItem]:
    """UpdateService's checked strategy with FARGATE and FARGATE_SPOT given to the Fargate
    provider (the service's task definition was checked when it was created)."""
    if not any(item.capacity_provider in NAMES for item in strategy):
        return strategy
    name = provider(state, cluster.cluster_name)
    if not name:
        raise invalid(refused(field, "a FARGATE capacity provider strategy", cluster.cluster_name))
    return mapped(strategy, name, field)
