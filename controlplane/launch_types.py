"""ECS launch types on Shoal. Every Shoal node is a container instance the user runs (an
ECS Anywhere host as much as an EC2 one), so EC2 and EXTERNAL both mean "place on the
cluster's container instances" and are kept exactly as sent, for describe and the list
filters. FARGATE needs capacity that appears for the task: it runs on the cluster's Fargate
capacity provider, and is refused where the cluster has none (controlplane/fargate.py)."""

from __future__ import annotations

from collections.abc import Sequence

from controlplane.errors import invalid

SERVED = ("EC2", "EXTERNAL", "FARGATE")
# The launch types ECS knows (botocore's LaunchType enum) that Shoal does not serve.
REFUSED = {
    "MANAGED_INSTANCES": "Shoal has no managed instances; use EC2 or EXTERNAL",
}
DEFAULT = "EC2"


def check(launch_type: str, requires: Sequence[str] = (), field: str = "launchType") -> str:
    """The launch type to store for a request's ``launch_type`` (empty means EC2, as ECS
    defaults it without a capacity provider strategy). A launch type the task definition's
    requiresCompatibilities leaves out is refused only when the user asked for it."""
    if not launch_type:
        return DEFAULT
    if launch_type in REFUSED:
        raise invalid(f"{field}: {launch_type} is not supported: {REFUSED[launch_type]}")
    if launch_type not in SERVED:
        raise invalid(f"{field}: {launch_type[:64]!r} is not a launch type; use EC2, EXTERNAL or FARGATE")
    if requires and launch_type not in requires:
        raise invalid(f"{field}: {launch_type} is not among the task definition's requiresCompatibilities "
                      f"({', '.join(requires)})")
    return launch_type


def check_filter(launch_type: str, field: str = "launchType") -> str:
    """A list filter: any launch type ECS knows filters (MANAGED_INSTANCES simply matches
    nothing); anything else is refused."""
    if launch_type and launch_type not in SERVED and launch_type not in REFUSED:
        raise invalid(f"{field}: {launch_type[:64]!r} is not a launch type; use EC2, EXTERNAL or FARGATE")
    return launch_type
