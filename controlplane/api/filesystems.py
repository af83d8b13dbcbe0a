"""Shared file systems (`shoal fs`): an NFS export or a node directory an operator registers
under ``/shoal/v1/filesystems/<name>`` (admins only; create-only, delete on the read
revision). A task definition's ``efsVolumeConfiguration.fileSystemId`` names one; at
registration the record is copied into the definition, so what its tasks mount is what the
operator wrote (shoal/filesystems.py), and the file system cannot be deleted while a
definition that names it is ACTIVE or still runs."""

from __future__ import annotations

import logging
import time

from controlplane.api import taskdefs
from controlplane.api.context import ApiContext, already_exists
from controlplane.authz import current_identity
from controlplane.errors import conflict, invalid, not_found
from shoal import filesystems, keys
from shoal.logs import kv
from shoal.store.base import Conflict
from shoal.store.update import retrying
from shoal.taskdef import policy
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r

log = logging.getLogger(__name__)


def create(ctx: ApiContext, req: op.CreateFileSystemRequest) -> r.FileSystem:
    name = filesystems.check_name(req.name, "name")
    fs = r.FileSystem(name=name, created_at=time.time(), created_by=str(current_identity() or "anonymous"))
    if bool(req.nfs) == bool(req.bind_dir):
        raise invalid("nfs: give an NFS export (--nfs HOST:/export) or a directory (--bind DIR), one of them")
    if req.nfs:
        fs.nfs_host, fs.nfs_export = filesystems.parse_nfs(req.nfs, "nfs")
        fs.nfs_options.extend(filesystems.check_options(req.nfs_options, "options"))
    else:
        if req.nfs_options:
            raise invalid("options: mount options apply to NFS file systems only")
        fs.bind_dir = filesystems.check_bind_dir(req.bind_dir, "bind")
    policy.check_file_system(fs, "bind" if fs.bind_dir else "nfs", ctx.policy.forbidden)
    try:
        ctx.store.create(keys.filesystem(name), fs.SerializeToString())
    except Conflict:
        raise already_exists(f"name: file system {name!r} already exists") from None
    log.info("file system created", extra=kv(filesystem=name, nfs=req.nfs, bind=fs.bind_dir,
                                             by=current_identity()))
    return fs


def list_(ctx: ApiContext, req: op.ListFileSystemsRequest) -> op.ListFileSystemsResponse:
    resp = op.ListFileSystemsResponse()
    for item in ctx.store.list(keys.FILESYSTEMS).kvs:
        resp.file_systems.add().ParseFromString(item.value)
    return resp


def users(ctx: ApiContext, name: str) -> list[str]:
    """The task definitions naming file system ``name`` that are ACTIVE or still run."""
    running = taskdefs.in_use(ctx)
    out = []
    for rec in ctx.state.load_all(keys.TASKDEFS, r.TaskDefinition):
        td = rec.msg
        names = any(v.efs_volume_configuration.file_system_id == name for v in td.volumes)
        if names and (td.status == "ACTIVE" or td.task_definition_arn in running):
            out.append(f"{td.family}:{td.revision}")
    return out


def delete(ctx: ApiContext, req: op.DeleteFileSystemRequest) -> r.FileSystem:
    name = filesystems.check_name(req.name, "name")
    k = keys.filesystem(name)

    def once() -> r.FileSystem:
        item = ctx.store.get(k)
        if item is None:
            raise not_found(f"name: no file system {name!r}")
        using = users(ctx, name)
        if using:
            shown = ", ".join(using[:5]) + (f" and {len(using) - 5} more" if len(using) > 5 else "")
            raise conflict(f"name: file system {name!r} is named by task definition {shown}; deregister "
                           "them (and stop their tasks) first")
        # A registration naming it since the read rewrote it (controlplane/api/taskdefs.py):
        # Conflict, and the users are checked again.
        ctx.store.delete(k, item.mod_revision)
        fs = r.FileSystem()
        fs.ParseFromString(item.value)
        return fs

    try:
        fs = retrying(once, what=f"delete file system {name}")
    except Conflict:
        raise conflict(f"name: file system {name!r} kept changing while being deleted; try again") from None
    log.info("file system deleted", extra=kv(filesystem=name, by=current_identity()))
    return fs
