"""Where each kind of record lives in the store. Values are serialized protobuf messages
of shoal.v1 (binary); the ``v1`` in the prefix is the schema version."""

from __future__ import annotations

PREFIX = "/shoal/v1/"

CLUSTERS = PREFIX + "clusters/"
NODES = PREFIX + "nodes/"
ALIVE = PREFIX + "alive/"
TASKDEFS = PREFIX + "taskdefs/"
SERVICES = PREFIX + "services/"
TASKS = PREFIX + "tasks/"
ASSIGNMENTS = PREFIX + "assignments/"
LEADER = PREFIX + "leader/"


def cluster(name: str) -> str:
    return f"{CLUSTERS}{name}"


def node(cluster_name: str, node_id: str) -> str:
    return f"{NODES}{cluster_name}/{node_id}"


def alive(node_id: str) -> str:
    """Bound to a lease that the replica holding the agent's stream keeps alive."""
    return f"{ALIVE}{node_id}"


def taskdef(family: str, revision: int) -> str:
    # Zero-padded so a prefix listing comes back in revision order.
    return f"{TASKDEFS}{family}/{revision:08d}"


def service(cluster_name: str, name: str) -> str:
    return f"{SERVICES}{cluster_name}/{name}"


def task(cluster_name: str, task_id: str) -> str:
    return f"{TASKS}{cluster_name}/{task_id}"


def assignment(node_id: str, task_id: str) -> str:
    return f"{ASSIGNMENTS}{node_id}/{task_id}"


def leader(component: str) -> str:
    return f"{LEADER}{component}"
