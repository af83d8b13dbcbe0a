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
ACCESSKEYS = PREFIX + "accesskeys/"
DEREGISTERED = PREFIX + "deregistered/"
REVOKED_USERS = PREFIX + "revoked-users/"
REPOSITORIES = PREFIX + "repositories/"
PREPULL = PREFIX + "prepull/"

ACCOUNT_SETTINGS = PREFIX + "account-settings/"


def account_setting(name: str) -> str:
    return f"{ACCOUNT_SETTINGS}{name}"


ROLES = PREFIX + "roles/"
TASKCREDENTIALS = PREFIX + "taskcredentials/"


def cluster(name: str) -> str:
    return f"{CLUSTERS}{name}"


def node(cluster_name: str, node_id: str) -> str:
    return f"{NODES}{cluster_name}/{node_id}"


def alive(node_id: str) -> str:
    """Bound to a lease that the replica holding the agent's stream keeps alive."""
    return f"{ALIVE}{node_id}"


def deregistered(node_id: str) -> str:
    """A deregistered node's tombstone: its id (and certificate) may not register again."""
    return f"{DEREGISTERED}{node_id}"


def revoked_user(name: str) -> str:
    """An operator's tombstone: its certificates issued before the time it holds are refused."""
    return f"{REVOKED_USERS}{name}"


def taskdef(family: str, revision: int) -> str:
    # Zero-padded so a prefix listing comes back in revision order.
    return f"{TASKDEFS}{family}/{revision:08d}"


def service(cluster_name: str, name: str) -> str:
    return f"{SERVICES}{cluster_name}/{name}"


def task(cluster_name: str, task_id: str) -> str:
    return f"{TASKS}{cluster_name}/{task_id}"


def assignment(node_id: str, task_id: str) -> str:
    return f"{ASSIGNMENTS}{node_id}/{task_id}"


def prepull(node_id: str, deployment_id: str) -> str:
    return f"{PREPULL}{node_id}/{deployment_id}"


def leader(component: str) -> str:
    return f"{LEADER}{component}"


def accesskey(access_key_id: str) -> str:
    return f"{ACCESSKEYS}{access_key_id}"


# Auto scaling: targets, policies and scheduled actions per service; activities per cluster
# (bounded by the API); capacity providers by name, as ECS names them account-wide.
SCALING = PREFIX + "scaling/"
SCALING_TARGETS = SCALING + "targets/"
SCALING_POLICIES = SCALING + "policies/"
SCALING_SCHEDULED = SCALING + "scheduled/"
SCALING_ACTIVITIES = SCALING + "activities/"
CAPACITY_PROVIDERS = SCALING + "capacity-providers/"


def scalable_target(cluster_name: str, service_name: str) -> str:
    return f"{SCALING_TARGETS}{cluster_name}/{service_name}"


def scaling_policy(cluster_name: str, service_name: str, policy: str) -> str:
    return f"{SCALING_POLICIES}{cluster_name}/{service_name}/{policy}"


def scheduled_action(cluster_name: str, service_name: str, action: str) -> str:
    return f"{SCALING_SCHEDULED}{cluster_name}/{service_name}/{action}"


def scaling_activity(cluster_name: str, started_ns: int, activity_id: str) -> str:
    # Zero-padded start time first so a prefix listing comes back oldest first.
    return f"{SCALING_ACTIVITIES}{cluster_name}/{started_ns:020d}-{activity_id}"


def capacity_provider(name: str) -> str:
    return f"{CAPACITY_PROVIDERS}{name}"


# Traffic: load balancers (their listeners and rules inside), target groups and
# service-discovery namespaces, each by name within its cluster.
LOADBALANCERS = PREFIX + "loadbalancers/"
TARGETGROUPS = PREFIX + "targetgroups/"
NAMESPACES = PREFIX + "namespaces/"
TARGETHEALTH = PREFIX + "targethealth/"


def load_balancer(cluster_name: str, name: str) -> str:
    return f"{LOADBALANCERS}{cluster_name}/{name}"


def target_group(cluster_name: str, name: str) -> str:
    return f"{TARGETGROUPS}{cluster_name}/{name}"


def proxy_checks(cluster_name: str, node_id: str = "") -> str:
    """A node proxy's check results for registered addresses; without ``node_id``, the
    cluster's prefix."""
    return f"{TARGETHEALTH}{cluster_name}/{node_id}"


def namespace(cluster_name: str, name: str) -> str:
    return f"{NAMESPACES}{cluster_name}/{name}"


def repository(name: str) -> str:
    """A cluster registry repository's record (its name may hold slashes)."""
    return f"{REPOSITORIES}{name}"


def role(name: str) -> str:
    return f"{ROLES}{name}"


def taskcredential(access_key_id: str) -> str:
    """A task's session key (sealed): its secret, session token, task, role and expiry."""
    return f"{TASKCREDENTIALS}{access_key_id}"


FILESYSTEMS = PREFIX + "filesystems/"


def filesystem(name: str) -> str:
    """A shared file system an operator registered (efsVolumeConfiguration.fileSystemId)."""
    return f"{FILESYSTEMS}{name}"


CONSOLE_SESSIONS = PREFIX + "console-sessions/"
CONSOLE_LINKS = PREFIX + "console-links/"


def console_session(user_key: str, token_hash: str) -> str:
    """A web console session (ConsoleGrant) of one user, under the hash of its token."""
    return f"{CONSOLE_SESSIONS}{user_key}/{token_hash}"


def console_link(user_key: str, token_hash: str) -> str:
    """A one-time console login link (ConsoleGrant) of one user, under the hash of its token."""
    return f"{CONSOLE_LINKS}{user_key}/{token_hash}"


EVENTS = PREFIX + "events/"


def event(created_ns: int, n: int) -> str:
    """One event of the feed's stored history (ClusterEvent); the keys sort by time."""
    return f"{EVENTS}{created_ns:020d}-{n:08d}"
