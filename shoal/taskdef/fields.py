"""The vocabulary of an ECS task definition as Shoal reads it: the limits, the fields Shoal
acts on, keeps without acting on, or assigns itself, and how a field's path is written in
an error or a warning."""

from __future__ import annotations

import difflib
import re

from shoal.validation import quote

DOCUMENT = "taskDefinition"
MAX_CONTAINERS = 10
MAX_CPU_UNITS = 10 * 1024 * 1024
MAX_MEMORY_MIB = 10 * 1024 * 1024
# Docker refuses a memory limit under 6 MiB; catching it here beats a task that never starts.
MIN_CONTAINER_MEMORY_MIB = 6
MAX_VOLUMES = 100
MAX_PLACEMENT_CONSTRAINTS = 10
MAX_TAGS = 50
# A hostile document can hold thousands of unknown keys; the warnings are stored with it.
MAX_WARNINGS = 100
INT32_MAX = 2**31 - 1


def words(text: str) -> frozenset[str]:
    return frozenset(text.split())


NETWORK_MODES = ("bridge", "host", "none")
COMPATIBILITIES = ("EC2", "FARGATE", "EXTERNAL", "MANAGED_INSTANCES")
DEPENDENCY_CONDITIONS = ("START", "COMPLETE", "SUCCESS", "HEALTHY")
HEALTHCHECK_KINDS = ("CMD", "CMD-SHELL", "NONE")
# The ulimit names ECS accepts, which are Linux's RLIMIT_* resources.
ULIMIT_NAMES = words(
    """
    core cpu data fsize locks memlock msgqueue nice nofile nproc rss rtprio rttime sigpending stack
    """
)
CAPABILITIES = words(
    """
    ALL AUDIT_CONTROL AUDIT_READ AUDIT_WRITE BLOCK_SUSPEND BPF CHECKPOINT_RESTORE CHOWN DAC_OVERRIDE
    DAC_READ_SEARCH FOWNER FSETID IPC_LOCK IPC_OWNER KILL LEASE LINUX_IMMUTABLE MAC_ADMIN
    MAC_OVERRIDE MKNOD NET_ADMIN NET_BIND_SERVICE NET_BROADCAST NET_RAW PERFMON SETFCAP SETGID
    SETPCAP SETUID SYS_ADMIN SYS_BOOT SYS_CHROOT SYS_MODULE SYS_NICE SYS_PACCT SYS_PTRACE SYS_RAWIO
    SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG SYSLOG WAKE_ALARM
    """
)

TASK_FIELDS = words(
    """
    family containerDefinitions cpu memory networkMode volumes placementConstraints
    requiresCompatibilities executionRoleArn taskRoleArn tags
    """
)
TASK_UNSUPPORTED = words(
    """
    pidMode ipcMode proxyConfiguration inferenceAccelerators ephemeralStorage runtimePlatform
    enableFaultInjection
    """
)
# What describe-task-definition returns on top of what was registered.
TASK_OUTPUT_ONLY = words(
    """
    taskDefinitionArn revision status requiresAttributes compatibilities registeredAt registeredBy
    deregisteredAt deleteRequestedAt
    """
)
CONTAINER_FIELDS = words(
    """
    name image cpu memory memoryReservation portMappings essential command entryPoint environment
    workingDirectory healthCheck stopTimeout dependsOn mountPoints volumesFrom secrets privileged
    user dockerLabels ulimits linuxParameters restartPolicy hostname readonlyRootFilesystem startTimeout
    repositoryCredentials
    """
)
CONTAINER_UNSUPPORTED = words(
    """
    logConfiguration firelensConfiguration links dnsServers dnsSearchDomains
    extraHosts dockerSecurityOptions interactive pseudoTerminal systemControls resourceRequirements
    disableNetworking environmentFiles credentialSpecs versionConsistency
    """
)
WHY_NOT = {
    "requiresCompatibilities": "tasks run on the cluster's own nodes",
    "logConfiguration": "containers log through Docker's default driver on their node",
    "links": "containers of a task reach each other through published ports",
    "dnsServers": "containers use their node's DNS responder when its agent runs with --dns",
    "dnsSearchDomains": "containers search their service's namespaces when their agent runs with --dns",
}


# A role a task definition names: IAM's role ARN (with an optional path) or a bare role name.
ROLE_ARN = re.compile(r"(arn:aws[a-z-]*:iam::[0-9]{12}:role/([A-Za-z0-9+=,.@_-]+/)*)?[A-Za-z0-9+=,.@_-]{1,64}")


def join(base: str, key: str) -> str:
    return f"{base}.{key}" if base else key


def key_path(base: str, key: str) -> str:
    """A map entry's path; odd keys are quoted so a hostile key cannot forge a path."""
    if re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", key):
        return f"{base}.{key}"
    return f"{base}[{quote(key)}]"


def _squash(name: str) -> str:
    return name.replace("_", "").replace("-", "").lower()


def suggest(key: str, candidates: frozenset[str]) -> str | None:
    if len(key) > 64:
        return None
    for candidate in candidates:
        if _squash(candidate) == _squash(key):
            return candidate
    close = difflib.get_close_matches(key, sorted(candidates), n=1, cutoff=0.75)
    return close[0] if close else None
