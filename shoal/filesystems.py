"""Shared file systems (ECS's EFS volumes): what an operator may register, what a task
definition's ``efsVolumeConfiguration`` may say, and the one place that turns a registered
file system and a root directory into what the agent mounts.

Every mount option comes from the operator's record (``shoal fs create``); a task definition
only picks a registered file system and a directory inside it. The control plane checks
both at registration; the agent checks them again (``policy.check``) on each assignment,
so a record that reached etcd another way still stops at the node."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Sequence

from shoal.v1 import resources_pb2 as r
from shoal.validation import ValidationError, quote

# A file system's name: what fileSystemId says (ECS's own ids look like fs-0123abcd).
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
# An NFS server: a host name or an IPv4 address (what the local driver's addr= takes).
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,252})")
# One mount option: a word, or word=value, neither holding a comma, space or quote.
_OPTION = re.compile(r"[A-Za-z0-9_]+(=[A-Za-z0-9_.:/@+-]{1,200})?")
# Options Shoal writes itself, or that would point the mount somewhere else.
_RESERVED_OPTIONS = frozenset({"addr", "clientaddr"})
MAX_OPTIONS = 32


def check_name(name: str, field: str) -> str:
    if not NAME.fullmatch(name or ""):
        raise ValidationError(field, f"must be 1-128 letters, digits, '.', '_' or '-' (starting with a letter or "
                                     f"digit), got {quote((name or '')[:80])}")
    return name


def _normal_absolute(path: str, field: str) -> str:
    if not path.startswith("/") or "\x00" in path or ".." in path.split("/"):
        raise ValidationError(field, f"must be an absolute path without '..', got {quote(path[:200])}")
    return "/" + posixpath.normpath(path).lstrip("/")


def root_directory(path: str, field: str) -> str:
    """A task's rootDirectory: absolute, no '..' (so it stays inside its file system), normalised;
    empty is "/"."""
    return _normal_absolute(path or "/", field)


def parse_nfs(text: str, field: str) -> tuple[str, str]:
    """(host, export) for "HOST:/export"."""
    host, sep, export = text.partition(":")
    if not sep or not _HOST.fullmatch(host) or not export:
        raise ValidationError(field, f"must be HOST:/export (e.g. 10.0.0.5:/srv/share), got {quote(text[:200])}")
    return host, _normal_absolute(export, field)


def check_options(options: Sequence[str], field: str) -> list[str]:
    if len(options) > MAX_OPTIONS:
        raise ValidationError(field, f"at most {MAX_OPTIONS} mount options")
    for option in options:
        if not _OPTION.fullmatch(option):
            raise ValidationError(field, f"{quote(option[:80])} is not one mount option (word or word=value, "
                                         "no commas or spaces)")
        if option.partition("=")[0] in _RESERVED_OPTIONS:
            raise ValidationError(field, f"{quote(option[:80])}: Shoal writes the server address itself")
    return list(options)


def check_bind_dir(path: str, field: str) -> str:
    """A bind file system's directory, normalised (policy.check_file_system also holds it to
    the host-volume policy's never-mountable paths)."""
    return _normal_absolute(path, field)


def check_record(fs: r.FileSystem, field: str) -> None:
    """A stored file system is one an operator could have registered: NFS or bind, not both."""
    if bool(fs.nfs_host) == bool(fs.bind_dir):
        raise ValidationError(field, f"file system {quote(fs.name)} must be an NFS export or a bind directory")
    if fs.nfs_host:
        parse_nfs(f"{fs.nfs_host}:{fs.nfs_export}", field)
        check_options(fs.nfs_options, field)
    else:
        check_bind_dir(fs.bind_dir, field)


def nfs_driver_opts(fs: r.FileSystem, root: str) -> dict[str, str]:
    """The local driver's options for an NFS file system at ``root`` inside its export."""
    device = posixpath.normpath(posixpath.join(fs.nfs_export, root.lstrip("/")))
    return {"type": "nfs", "o": ",".join([f"addr={fs.nfs_host}", *fs.nfs_options]), "device": f":{device}"}


def bind_source(fs: r.FileSystem, root: str, field: str, resolve: Callable[[str], str] | None = None) -> str:
    """The host path a bind file system at ``root`` mounts; refused when it (or, with
    ``resolve``, where its symlinks lead) is outside the registered directory."""
    path = posixpath.normpath(posixpath.join(fs.bind_dir, root.lstrip("/")))
    checks = [(path, fs.bind_dir)]
    if resolve is not None:
        checks.append((resolve(path), resolve(fs.bind_dir)))
    for where, inside in checks:
        if where != inside and not where.startswith(inside.rstrip("/") + "/"):
            raise ValidationError(field, f"{quote(root)} leads to {quote(where)}, outside file system "
                                         f"{quote(fs.name)} ({fs.bind_dir})")
    return path
