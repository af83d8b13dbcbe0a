"""`shoal fs create|list|delete`: shared file systems an operator registers (an NFS export, or
a node directory for single-host labs); a task definition's
efsVolumeConfiguration.fileSystemId names one (admins write; viewers list)."""

from __future__ import annotations

from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoalctl.cli.client import add_verb, caller
from shoalctl.cli.output import ago, print_json, table

_call = caller()


def _where(fs: r.FileSystem) -> str:
    if fs.bind_dir:
        return f"bind {fs.bind_dir}"
    return f"nfs {fs.nfs_host}:{fs.nfs_export}" + (f" ({','.join(fs.nfs_options)})" if fs.nfs_options else "")


def _as_json(fs: r.FileSystem) -> dict:
    out: dict = {"fileSystemId": fs.name, "createdAt": fs.created_at, "createdBy": fs.created_by}
    if fs.bind_dir:
        out["bind"] = fs.bind_dir
    else:
        out["nfs"] = {"host": fs.nfs_host, "export": fs.nfs_export, "options": list(fs.nfs_options)}
    return out


def create(a) -> None:
    options = [o for text in a.options for o in text.split(",") if o]
    fs = _call(a, "CreateFileSystem", op.CreateFileSystemRequest(name=a.name, nfs=a.nfs or "",
                                                                 bind_dir=a.bind or "", nfs_options=options))
    if a.output == "json":
        print_json(_as_json(fs))
        return
    print(f"created file system {fs.name} ({_where(fs)}): name it in a task definition's volume as "
          f"\"efsVolumeConfiguration\": {{\"fileSystemId\": \"{fs.name}\"}}")


def list_(a) -> None:
    found = _call(a, "ListFileSystems", op.ListFileSystemsRequest()).file_systems
    if a.output == "json":
        print_json([_as_json(x) for x in found])
        return
    table(["NAME", "SOURCE", "AGE", "BY"], [[x.name, _where(x), ago(x.created_at), x.created_by] for x in found])


def delete(a) -> None:
    fs = _call(a, "DeleteFileSystem", op.DeleteFileSystemRequest(name=a.name))
    print(f"deleted file system {fs.name} (its files stay where they are)")


def register(sub) -> None:
    noun = sub.add_parser("fs", help="shared file systems tasks mount (efsVolumeConfiguration.fileSystemId)")
    verbs = noun.add_subparsers(dest="verb", metavar="VERB", required=True)
    p = add_verb(verbs, "create", create, "register an NFS export or a node directory", output=True)
    p.add_argument("name", metavar="NAME", help="what fileSystemId says")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--nfs", metavar="HOST:/EXPORT", help="an NFS server's export")
    source.add_argument("--bind", metavar="DIR", help="a directory of the node (single-host labs)")
    p.add_argument("--options", action="append", default=[], metavar="OPT[,OPT]",
                   help="NFS mount options, e.g. nfsvers=4.1,hard,timeo=600 (Shoal writes addr= itself)")
    add_verb(verbs, "list", list_, "list file systems", output=True)
    p = add_verb(verbs, "delete", delete, "delete a file system no task definition in use names")
    p.add_argument("name", metavar="NAME")
