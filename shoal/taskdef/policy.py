"""What a task definition may reach on its node: the host-access policy, its `--allow-*`
flags (one parser for the control plane, the agent and `shoal up`), and the one check of a
TaskDefinition message against it. The control plane runs the check at registration; every
agent runs it again on each assignment, so a definition that reached etcd another way still
stops at the node. The policy also says whether load-balancer listeners may take the node's
privileged ports, which the control plane's traffic API and each node's proxy judge.

Every door is closed by default. Each field Shoal acts on that can reach the host is listed
in GUARDED (a unit test fails when the message grows a field nobody classified); fields
Shoal keeps without acting on (pidMode, devices, systemControls, dockerSecurityOptions, ...)
have no field in the message, so no task ever gets them."""

from __future__ import annotations

import argparse
import posixpath
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import NoReturn

from shoal import filesystems
from shoal.taskdef.fields import join, words
from shoal.v1 import resources_pb2 as r
from shoal.validation import ValidationError, quote

# Never mountable, whatever the prefixes allow: the node's root and configuration, kernel
# interfaces, devices, Docker's and containerd's sockets and data (every other container's
# files and volumes), and Shoal's own state (node keys, the PKI). A path under one of these,
# or one that contains one (/var holds /var/lib/shoal), is refused.
FORBIDDEN_PATHS = (
    "/",
    "/etc",
    "/proc",
    "/sys",
    "/dev",
    "/boot",
    "/root",
    "/var/lib/shoal",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/run/docker.sock",
    "/var/run/docker.sock",
    "/run/containerd",
    "/var/run/containerd",
)
# Volume names Shoal gives its own task-scoped volumes (agent/volumes.py): a user's volume
# named like one would be another task's data.
RESERVED_VOLUME_PREFIX = "shoal-"
# The local driver's options that make a tmpfs and nothing else.
_TMPFS_OPTIONS = frozenset({"size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "noexec", "nosuid", "nodev"})
# Resource limits whose raising lets a container hold the node's CPU or memory (realtime
# scheduling, locked memory, negative nice); the others only bound the container itself.
HOST_ULIMITS = frozenset({"memlock", "rtprio", "rttime", "nice"})
# Ports below this are the host's system services' (ssh, smtp, http...): only root binds them,
# so a load-balancer listener there is every node's proxy answering for the host.
FIRST_UNPRIVILEGED_PORT = 1024

# The fields of the messages an agent acts on that can open a door to the host (check()
# guards each), and those that cannot. A unit test fails when a message grows a field that
# is in neither, so a new field is classified where the rules are.
DOORS = {
    "TaskDefinition": words("network_mode volumes"),
    "Volume": words("name host docker_volume_configuration efs_volume_configuration"),
    "ContainerDefinition": words("privileged linux_parameters ulimits"),
    "LinuxParameters": words("capabilities"),
}
HARMLESS = {
    "TaskDefinition": words(
        """
        task_definition_arn family revision container_definitions cpu memory placement_constraints status
        registered_at deregistered_at requires_compatibilities execution_role_arn task_role_arn warnings
        source_json tags daemon_task_definition
        """
    ),
    "Volume": frozenset(),
    # mount_points name only this task's volumes (agent/volumes.py skips others); check()
    # holds volumes_from to this task's containers.
    "ContainerDefinition": words(
        """
        name image cpu memory memory_reservation port_mappings essential command entry_point environment
        working_directory health_check stop_timeout depends_on mount_points volumes_from secrets user
        docker_labels restart_policy hostname readonly_root_filesystem start_timeout
        """
    ),
    "LinuxParameters": words("init_process_enabled"),
}


@dataclass(frozen=True)
class HostPolicy:
    """What this cluster (control plane) or node (agent) lets a task reach. Empty: nothing."""

    privileged: bool = False
    host_network: bool = False
    capabilities: bool = False
    ulimits: bool = False
    # Host paths a volume may bind (each with what is under it); empty: no host volumes.
    host_volume_prefixes: tuple[str, ...] = ()
    # Volume drivers beside Docker's local one.
    volume_drivers: frozenset[str] = frozenset()
    # Names of the shared Docker volumes an operator declared for tasks to share.
    shared_volumes: frozenset[str] = frozenset()
    # More paths never to mount (an agent adds its own state dir).
    forbidden: tuple[str, ...] = field(default=())
    # Load-balancer listeners on ports below FIRST_UNPRIVILEGED_PORT (the node proxy binds
    # them on every node's address).
    privileged_listener_ports: bool = False


def _normal(path: str) -> str | None:
    """The path with . and repeated slashes folded, or None for a path that climbs (..) or
    is not absolute: at the string level such a path cannot be judged by its prefix."""
    if not path.startswith("/") or "\x00" in path or ".." in path.split("/"):
        return None
    return "/" + posixpath.normpath(path).lstrip("/")


def _under(path: str, root: str) -> bool:
    return root == "/" or path == root or path.startswith(root + "/")


def host_path_refusal(path: str, prefixes: Iterable[str], forbidden: Iterable[str] = ()) -> str | None:
    """Why ``path`` may not be bound from the host, or None when it may."""
    norm = _normal(path)
    if norm is None:
        return f"{quote(path)} must be an absolute path without '..'"
    for bad in (*FORBIDDEN_PATHS, *forbidden):
        # Under a forbidden path, or holding one (/var holds /var/lib/shoal); only "/" itself
        # is refused for "/", or nothing could ever be mounted.
        if norm == bad or (bad != "/" and (_under(norm, bad) or _under(bad, norm))):
            return f"{quote(path)} is never mountable (it is or holds {bad})"
    prefixes = tuple(prefixes)
    if not any(_under(norm, p) for p in prefixes):
        return f"{quote(path)} is outside the allowed host paths ({', '.join(prefixes)})"
    return None


# --- the check -------------------------------------------------------------------------------


def check(
    td: r.TaskDefinition, policy: HostPolicy, base: str = "", resolve: Callable[[str], str] | None = None,
    *, resolved: bool = True,
) -> None:
    """Raises ValidationError naming the first field that reaches further than ``policy``
    allows, and the flag that would allow it. ``resolve`` (the agent's os.path.realpath)
    also judges each host path by where its symlinks lead on this node. ``resolved`` False:
    a document being registered, whose file systems the control plane has yet to copy in."""
    if td.network_mode == "host" and not policy.host_network:
        raise ValidationError(join(base, "networkMode"), "host networking needs --allow-host-network")
    for i, vol in enumerate(td.volumes):
        _check_volume(vol, join(base, f"volumes[{i}]"), policy, resolve, resolved)
    names = {c.name for c in td.container_definitions}
    for i, cdef in enumerate(td.container_definitions):
        _check_container(cdef, join(base, f"containerDefinitions[{i}]"), policy, names)


def _check_container(cdef: r.ContainerDefinition, where: str, policy: HostPolicy, names: set[str]) -> None:
    # Registration checks these too; the agent needs them as well, since it names a source
    # container after the task ("shoal-<task>-<name>") and a definition written into etcd
    # could otherwise point volumesFrom at a container of another task.
    for j, vf in enumerate(cdef.volumes_from):
        if vf.source_container not in names or vf.source_container == cdef.name:
            raise ValidationError(
                f"{where}.volumesFrom[{j}].sourceContainer", f"{quote(vf.source_container)} is not another "
                "container of this task"
            )
    if cdef.privileged and not policy.privileged:
        raise ValidationError(f"{where}.privileged", "privileged containers need --allow-privileged")
    if cdef.linux_parameters.capabilities.add and not policy.capabilities:
        raise ValidationError(
            f"{where}.linuxParameters.capabilities.add", "adding kernel capabilities needs --allow-capabilities"
        )
    for j, limit in enumerate(cdef.ulimits):
        if limit.name in HOST_ULIMITS and not policy.ulimits:
            raise ValidationError(
                f"{where}.ulimits[{j}].name",
                f"the {limit.name} limit reaches the node's scheduler or memory; it needs --allow-ulimits",
            )


def _check_volume(vol: r.Volume, where: str, policy: HostPolicy, resolve: Callable[[str], str] | None,
                  resolved: bool = True) -> None:
    if vol.name.lower().startswith(RESERVED_VOLUME_PREFIX):
        raise ValidationError(
            f"{where}.name", f"names starting with {RESERVED_VOLUME_PREFIX!r} are Shoal's own task volumes"
        )
    if vol.host.source_path:
        _check_host_path(vol.host.source_path, f"{where}.host.sourcePath", "host volumes", policy, resolve)
    if vol.HasField("efs_volume_configuration"):
        check_efs(vol.efs_volume_configuration, f"{where}.efsVolumeConfiguration", policy.forbidden, resolve,
                  resolved)
    if not vol.HasField("docker_volume_configuration"):
        return
    conf = vol.docker_volume_configuration
    cf = f"{where}.dockerVolumeConfiguration"
    if conf.scope == "shared" and vol.name not in policy.shared_volumes:
        raise ValidationError(
            f"{cf}.scope",
            f"shared volume {quote(vol.name)} needs --allow-shared-volumes {vol.name} "
            "(an operator declares which volumes tasks share)",
        )
    for key in conf.labels:
        if key.startswith("shoal."):
            raise ValidationError(f"{cf}.labels", f"label {quote(key)}: labels starting with 'shoal.' are Shoal's")
    driver = conf.driver or "local"
    if driver != "local":
        if driver not in policy.volume_drivers:
            raise ValidationError(
                f"{cf}.driver", f"volume driver {quote(driver)} needs --allow-volume-drivers {driver}"
            )
        return  # an operator trusts an allowed plugin with its own options
    opts = dict(conf.driver_opts)
    if not opts or _is_plain_tmpfs(opts):
        return
    what = "a local volume mounted from the node (bind, a device, a network filesystem)"
    if not policy.host_volume_prefixes:
        raise ValidationError(f"{cf}.driverOpts", f"{what} needs --allow-host-volumes PREFIX")
    device = opts.get("device", "")
    if _binds(opts) or device.startswith("/"):
        _check_host_path(device, f"{cf}.driverOpts.device", what, policy, resolve)


def check_file_system(fs: r.FileSystem, field: str, forbidden: Iterable[str] = ()) -> None:
    """A registered file system's record; a bind one's directory is never a path the host-volume
    policy forbids (the Docker socket, Shoal's state, ...), whoever registered it."""
    filesystems.check_record(fs, field)
    if fs.bind_dir:
        why = host_path_refusal(fs.bind_dir, (fs.bind_dir,), forbidden)
        if why:
            raise ValidationError(field, why)


def check_efs(conf: r.EfsVolumeConfiguration, where: str, forbidden: Iterable[str] = (),
              resolve: Callable[[str], str] | None = None, resolved: bool = True) -> None:
    """An efsVolumeConfiguration: its rootDirectory stays inside its file system, and the
    file system the control plane copied in (``resolved`` False: not yet, at registration) is
    one an operator could have registered. Only what Shoal wrote is ever mounted
    (agent/volumes.py)."""
    root = filesystems.root_directory(conf.root_directory, f"{where}.rootDirectory")
    if conf.transit_encryption not in ("", "DISABLED"):
        raise ValidationError(f"{where}.transitEncryption", "Shoal does not encrypt NFS traffic; only DISABLED")
    if not conf.HasField("file_system"):
        if resolved:
            raise ValidationError(f"{where}.fileSystemId", f"{quote(conf.file_system_id)} was never resolved to a "
                                                           "registered file system")
        return
    fs = conf.file_system
    if fs.name != conf.file_system_id:
        raise ValidationError(f"{where}.fileSystemId", f"{quote(conf.file_system_id)} does not name the file "
                                                       "system resolved for it")
    check_file_system(fs, f"{where}.fileSystemId", forbidden)
    if fs.bind_dir:
        filesystems.bind_source(fs, root, f"{where}.rootDirectory", resolve)


def _binds(opts: dict[str, str]) -> bool:
    mount_options = {o.strip().split("=", 1)[0] for o in opts.get("o", "").split(",")}
    return opts.get("type", "") in ("none", "bind", "") or bool(mount_options & {"bind", "rbind"})


def _is_plain_tmpfs(opts: dict[str, str]) -> bool:
    mount_options = {o.strip().split("=", 1)[0] for o in opts.get("o", "").split(",") if o.strip()}
    return (
        opts.get("type") == "tmpfs"
        and opts.get("device", "tmpfs") == "tmpfs"
        and set(opts) <= {"type", "device", "o"}
        and mount_options <= _TMPFS_OPTIONS
    )


def _check_host_path(
    path: str, where: str, what: str, policy: HostPolicy, resolve: Callable[[str], str] | None
) -> None:
    if not policy.host_volume_prefixes:
        raise ValidationError(where, f"{what} need --allow-host-volumes PREFIX")
    why = host_path_refusal(path, policy.host_volume_prefixes, policy.forbidden)
    if why is None and resolve is not None:
        real = resolve(path)
        if real != path:
            why = host_path_refusal(real, policy.host_volume_prefixes, policy.forbidden)
            why = why and f"it leads to {quote(real)}: {why}"
    if why:
        raise ValidationError(where, why)


# --- the flags -------------------------------------------------------------------------------


def _names(text: str) -> frozenset[str]:
    names = frozenset(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise argparse.ArgumentTypeError("expected NAME[,NAME...]")
    for n in names:
        if n.lower().startswith(RESERVED_VOLUME_PREFIX):
            raise argparse.ArgumentTypeError(f"{n!r}: names starting with {RESERVED_VOLUME_PREFIX!r} are Shoal's")
    return names


def _prefixes(text: str) -> tuple[str, ...]:
    out = []
    for raw in text.split(","):
        raw = raw.strip()
        if not raw:
            continue
        norm = _normal(raw)
        if norm is None:
            raise argparse.ArgumentTypeError(f"{raw!r}: expected an absolute path without '..'")
        why = host_path_refusal(norm, (norm,))
        if why:
            raise argparse.ArgumentTypeError(why)
        out.append(norm)
    if not out:
        raise argparse.ArgumentTypeError("expected PATH[,PATH...], e.g. /srv,/data")
    return tuple(out)


def add_flags(p: argparse.ArgumentParser) -> None:
    """The --allow-* flags, the same for `shoal controlplane` and `shoal agent`."""
    g = p.add_argument_group("what tasks and load balancers may reach on the node (all closed by default)")
    g.add_argument("--allow-privileged", action="store_true", help="privileged containers")
    g.add_argument("--allow-host-network", action="store_true", help="networkMode host")
    g.add_argument("--allow-capabilities", action="store_true", help="linuxParameters.capabilities.add")
    g.add_argument("--allow-ulimits", action="store_true", help=f"ulimits {', '.join(sorted(HOST_ULIMITS))}")
    g.add_argument(
        "--allow-host-volumes",
        type=_prefixes,
        default=(),
        metavar="PATH[,PATH]",
        help="bind mounts (host.sourcePath, local driverOpts) of paths under these; "
        f"never {', '.join(FORBIDDEN_PATHS[:5])}, the Docker socket or Shoal's state",
    )
    g.add_argument(
        "--allow-volume-drivers",
        type=_names,
        default=frozenset(),
        metavar="DRIVER[,DRIVER]",
        help="Docker volume drivers beside local",
    )
    g.add_argument(
        "--allow-shared-volumes",
        type=_names,
        default=frozenset(),
        metavar="NAME[,NAME]",
        help="Docker volumes tasks may share (dockerVolumeConfiguration scope shared)",
    )
    g.add_argument(
        "--allow-privileged-listener-ports",
        action="store_true",
        help=f"load-balancer listeners on ports below {FIRST_UNPRIVILEGED_PORT} (80, 443...), which the node proxy "
        "binds on every node's address",
    )


def from_args(args: argparse.Namespace, forbidden: tuple[str, ...] = ()) -> HostPolicy:
    return HostPolicy(
        privileged=args.allow_privileged,
        host_network=args.allow_host_network,
        capabilities=args.allow_capabilities,
        ulimits=args.allow_ulimits,
        host_volume_prefixes=args.allow_host_volumes,
        volume_drivers=args.allow_volume_drivers,
        shared_volumes=args.allow_shared_volumes,
        forbidden=forbidden,
        privileged_listener_ports=args.allow_privileged_listener_ports,
    )


def to_argv(policy: HostPolicy) -> list[str]:
    """The flags that give ``policy`` (the inverse of add_flags + from_args)."""
    argv = [
        flag
        for flag, on in (
            ("--allow-privileged", policy.privileged),
            ("--allow-host-network", policy.host_network),
            ("--allow-capabilities", policy.capabilities),
            ("--allow-ulimits", policy.ulimits),
            ("--allow-privileged-listener-ports", policy.privileged_listener_ports),
        )
        if on
    ]
    for flag, values in (
        ("--allow-host-volumes", policy.host_volume_prefixes),
        ("--allow-volume-drivers", sorted(policy.volume_drivers)),
        ("--allow-shared-volumes", sorted(policy.shared_volumes)),
    ):
        if values:
            argv += [flag, ",".join(values)]
    return argv


class _Refusing(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ValueError(message)


def parse_flags(argv: Sequence[str], where: str) -> HostPolicy:
    """The policy the --allow-* flags in ``argv`` give, for a setting that holds only those
    (a node provider profile's ``allow``); anything else raises ValidationError at ``where``."""
    p = _Refusing(add_help=False, allow_abbrev=False, exit_on_error=False)
    add_flags(p)
    try:
        known, rest = p.parse_known_args(list(argv))
    except (ValueError, argparse.ArgumentError) as exc:
        raise ValidationError(where, str(exc)) from None
    if rest:
        raise ValidationError(where, f"{quote(rest[0])}: only the --allow-* flags may be given here")
    return from_args(known)


def policy_argv(argv: list[str]) -> list[str]:
    """The --allow-* flags within a control plane's argv, for its cluster's agents."""
    p = argparse.ArgumentParser(add_help=False)
    add_flags(p)
    known, _ = p.parse_known_args(argv)
    return to_argv(from_args(known))
