"""IDs as a user types them: the tables print 12 characters of a task or node id, so any
unique prefix of an id is taken (as docker takes container ids), a node by its hostname
(agent-1) too; a prefix that matches several says which. ARNs and whole ids pass through
untouched, so the server's own "not found" stays the answer for them."""

from __future__ import annotations

from typing import Any

from shoal.paging import batches, every_page
from shoal.v1 import operator_pb2 as op
from shoalctl.cli.errors import CliError

# Ids are 32 hex characters; anything shorter is a prefix to look up.
ID_LENGTH = 32
SHOWN = 5


def _whole(ref: str) -> bool:
    return "/" in ref or ":" in ref or len(ref) >= ID_LENGTH


def pick(kind: str, ref: str, cluster: str, labels: dict[str, str]) -> str:
    """The one id in ``labels`` (id -> how to show it) that ``ref`` names: the id itself, a
    label equal to it, or the only id it prefixes; CliError otherwise."""
    if ref in labels:
        return ref
    named = [i for i, label in labels.items() if label == ref]
    found = named or sorted(i for i in labels if i.startswith(ref))
    if len(found) == 1:
        return found[0]
    if not found:
        raise CliError(f"{kind}: {ref!r} not found: no {kind} in cluster {cluster} has an id starting with it")
    listed = ", ".join(f"{i[:12]} ({labels[i]})" if labels[i] != i else i[:12] for i in found[:SHOWN])
    more = f" and {len(found) - SHOWN} more" if len(found) > SHOWN else ""
    raise CliError(f"{kind}: {ref!r} is ambiguous in cluster {cluster}: it matches {listed}{more}; "
                   "give more characters")


def task_id(c: Any, cluster: str, ref: str) -> str:
    if _whole(ref):
        return ref
    arns = every_page(c.ListTasks, op.ListTasksRequest(cluster=cluster))
    ids = {a.rpartition("/")[2] for a in arns}
    return pick("task", ref, cluster, {i: i for i in ids})


def node_names(c: Any, cluster: str) -> dict[str, str]:
    """Node id -> hostname (or the id) of every node of ``cluster``."""
    arns = every_page(c.ListContainerInstances, op.ListContainerInstancesRequest(cluster=cluster))
    out: dict[str, str] = {}
    for batch in batches(arns, 100):
        for n in c.DescribeContainerInstances(op.DescribeContainerInstancesRequest(
                cluster=cluster, container_instances=batch)).container_instances:
            out[n.id] = n.hostname or n.id
    return out


def node_id(c: Any, cluster: str, ref: str) -> str:
    if _whole(ref):
        return ref
    return pick("node", ref, cluster, node_names(c, cluster))
