"""Who writes each kind of record, enforced where the write lands.

``WRITERS`` is the table of docs/architecture.md ("written by"): per key prefix, the one
module of each party (API, leader, gateway, election) allowed to write it. ``WriterCheck``
wraps the replica's store; every put, create, compare-and-set, delete and transaction op
names the module that made it — the first caller outside the store and its pass-throughs —
and a write from any other module is refused with ``StrayWrite``, a bug, before it reaches
etcd. Prefixes not in the table (secrets, access keys, auto scaling, the CA) are not checked.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from controlplane.state import State
from shoal import keys
from shoal.store.base import Delete, Put, Store
from shoal.store.update import update
from shoal.store.wrapper import StoreWrapper

# The leader writes through one object, controllers/view.py's Writer, which fences every
# transaction with its leadership: naming that module names "the leader, fenced".
LEADER = "controlplane.controllers.view"

WRITERS: dict[str, frozenset[str]] = {
    keys.CLUSTERS: frozenset({"controlplane.api.clusters", "controlplane.api.context", "controlplane.api.tags"}),
    keys.NODES: frozenset({"controlplane.api.agent_registration", "controlplane.api.nodes", "controlplane.api.tags",
                           "controlplane.api.attributes", LEADER}),
    keys.ALIVE: frozenset({"controlplane.api.agent_liveness"}),
    keys.TASKDEFS: frozenset({"controlplane.api.taskdefs", "controlplane.api.tags"}),
    keys.SERVICES: frozenset({"controlplane.api.services", "controlplane.api.service_deployments",
                              "controlplane.api.scaling", "controlplane.api.tags", "controlplane.api.task_sets",
                              LEADER}),
    keys.TASKS: frozenset({"controlplane.api.tasks", "controlplane.api.tags", "controlplane.api.task_reports",
                           LEADER}),
    keys.ASSIGNMENTS: frozenset({LEADER}),
    keys.PREPULL: frozenset({LEADER}),
    keys.LEADER: frozenset({"shoal.election"}),
    keys.DEREGISTERED: frozenset({"controlplane.api.nodes"}),
    keys.REVOKED_USERS: frozenset({"controlplane.api.security"}),
    keys.LOADBALANCERS: frozenset({"controlplane.api.loadbalancers"}),
    # A listener without a target group makes its load balancer's default one, in its own
    # transaction; registered addresses (RegisterTargets) are kept in their group's record.
    keys.TARGETGROUPS: frozenset({"controlplane.api.targetgroups", "controlplane.api.loadbalancers",
                                  "controlplane.api.registered_targets"}),
    keys.NAMESPACES: frozenset({"controlplane.api.namespaces"}),
    # What each node's proxy observed of the registered addresses it checks.
    keys.TARGETHEALTH: frozenset({"controlplane.api.proxy_checks"}),
    keys.REPOSITORIES: frozenset({"controlplane.api.repositories", "controlplane.registry.events"}),
    keys.ACCOUNT_SETTINGS: frozenset({"controlplane.api.account_settings"}),
    keys.ROLES: frozenset({"controlplane.api.roles"}),
    # A registration naming a file system rewrites it unchanged, so a racing delete conflicts.
    keys.FILESYSTEMS: frozenset({"controlplane.api.filesystems", "controlplane.api.taskdefs"}),
    # Minted for a node on its request (and swept there once expired).
    keys.TASKCREDENTIALS: frozenset({"controlplane.api.task_credentials"}),
    # Whichever replica a browser logs in at or `shoal console` reaches.
    keys.CONSOLE_SESSIONS: frozenset({"controlplane.console.sessions"}),
    keys.CONSOLE_LINKS: frozenset({"controlplane.console.sessions"}),
    # The leader, fenced by its leadership in each transaction, as controllers/view.py is.
    keys.EVENTS: frozenset({"controlplane.event_log"}),
}

# Modules a write passes through on its way to the store: the writer is whoever called them.
# Named from the objects, so they hold wherever the store package lives.
_PASS_THROUGH = frozenset({__name__, State.__module__, update.__module__})
_STORE_PACKAGE = Store.__module__.rpartition(".")[0] + "."


class StrayWrite(RuntimeError):
    """A module wrote a kind of record that is not its to write (a bug, not a store error)."""


def writer_of(depth: int = 2) -> str:
    """The module that made the write in progress: the first frame, from ``depth`` up,
    outside the store and its pass-throughs."""
    frame = sys._getframe(depth)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module not in _PASS_THROUGH and not module.startswith(_STORE_PACKAGE):
            return module
        frame = frame.f_back
    return ""


def check(key: str, module: str, prefix_delete: bool = False) -> None:
    """Raises ``StrayWrite`` unless ``module`` may write ``key`` (with ``prefix_delete``,
    every key under it)."""
    for prefix, allowed in WRITERS.items():
        if (key.startswith(prefix) or (prefix_delete and prefix.startswith(key))) and module not in allowed:
            raise StrayWrite(f"{module or 'unknown module'} wrote {key}; only {', '.join(sorted(allowed))} "
                             "may write this kind of record (controlplane/writers.py)")


class WriterCheck(StoreWrapper):
    """``inner`` with every write checked against ``WRITERS``; reads pass straight through."""

    def before_write(self, ops: Sequence[Put | Delete]) -> None:
        module = writer_of()
        for op in ops:
            check(op.key, module, isinstance(op, Delete) and op.prefix)
