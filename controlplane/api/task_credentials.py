"""Short-lived credentials for a task's role, ECS's task-role credentials: minted for the
node a running task is assigned to (and no one else), stored sealed under
``/shoal/v1/taskcredentials/<access key id>``, and looked up by the gateways on every
request they sign. A key stops working when it expires, when its task is stopped or gone,
or when its role is deleted; its node's agent asks for a fresh one well before expiry.

Key ids start "ASSH" (AWS's session keys start "ASIA"), so a session key is never mistaken
for an operator's long-term "AKSH" key."""

from __future__ import annotations

import base64
import re
import secrets
import time

import grpc

from controlplane.api import roles
from controlplane.api.context import ApiContext
from controlplane.errors import ApiError, not_found
from controlplane.state import decode
from shoal import keys
from shoal.security import sealing
from shoal.security.ca import Identity
from shoal.v1 import resources_pb2 as r
from shoal.v1 import roles_pb2 as ro

KEY_ID_PREFIX = "ASSH"
_KEY_ID = re.compile(r"ASSH[A-Z2-7]{16}")
DEFAULT_TTL = 3600.0
MIN_TTL = 2.0
MAX_TTL = 12 * 3600.0  # IAM's longest role session
_SEAL_CONTEXT = keys.TASKCREDENTIALS


def _sealer() -> sealing.Sealer:
    sealer = sealing.installed()
    if sealer is None:
        raise ApiError(grpc.StatusCode.FAILED_PRECONDITION, "task credentials cannot be issued: no master key "
                       "(start the control plane with --pki-dir)")
    return sealer


def mint(ctx: ApiContext, node: Identity | None, cluster: str, task_id: str, ttl: float) -> ro.TaskRoleCredentials:
    """Fresh credentials for ``task_id``'s role, for ``node`` (None: an --insecure control
    plane, which trusts whoever asks for a task's node). Refused unless the task is
    assigned to that node and still meant to run, and its definition names an existing role."""
    sealer = _sealer()
    rec = ctx.state.task(cluster or "default", task_id)
    if rec is None:
        raise not_found(f"taskId: no task {task_id[:64]!r} in cluster {cluster or 'default'!r}")
    task = rec.msg
    node_id = node.name if node is not None else task.node_id
    assignment = ctx.store.get(keys.assignment(node_id, task.id))
    if assignment is None:
        raise ApiError(grpc.StatusCode.PERMISSION_DENIED, f"taskId: task {task.id} is not assigned to node {node_id}")
    a = decode(r.TaskAssignment, assignment.value)
    if a.task.desired_status != "RUNNING":
        raise ApiError(grpc.StatusCode.FAILED_PRECONDITION, f"taskId: task {task.id} is being stopped")
    if not a.task_definition.task_role_arn:
        raise ApiError(grpc.StatusCode.FAILED_PRECONDITION,
                       f"taskId: the definition of task {task.id} names no taskRoleArn")
    role = roles.require(ctx, a.task_definition.task_role_arn)
    now = time.time()
    cred = ro.TaskCredential(
        access_key_id=KEY_ID_PREFIX + base64.b32encode(secrets.token_bytes(10)).decode(),
        secret_access_key=secrets.token_urlsafe(30), session_token=secrets.token_urlsafe(48),
        expiration=now + ttl, role_name=role.name, cluster=task.cluster, task_id=task.id,
        node_id=node_id, issued_at=now)
    k = keys.taskcredential(cred.access_key_id)
    ctx.store.create(k, sealer.seal(cred.SerializeToString(), _SEAL_CONTEXT))
    sweep(ctx, now)
    return ro.TaskRoleCredentials(access_key_id=cred.access_key_id, secret_access_key=cred.secret_access_key,
                                  session_token=cred.session_token, expiration=cred.expiration, role_arn=role.arn)


def _unseal(data: bytes) -> ro.TaskCredential:
    cred = ro.TaskCredential()
    cred.ParseFromString(_sealer().unseal(data, _SEAL_CONTEXT))
    return cred


def sweep(ctx: ApiContext, now: float) -> int:
    """Deletes expired credentials (each mint sweeps, so the records stay about one per
    running task with a role); returns how many."""
    gone = 0
    for kv in ctx.store.list(keys.TASKCREDENTIALS).kvs:
        if _unseal(kv.value).expiration < now:
            ctx.store.delete(kv.key, kv.mod_revision)
            gone += 1
    return gone


def active(ctx: ApiContext, access_key_id: str, now: float | None = None) -> ro.TaskCredential | None:
    """The credential of a live session key, or None: unknown, expired, or its task stopped
    (or stopping) or gone. Read from the store on every request."""
    if not _KEY_ID.fullmatch(access_key_id):
        return None
    kv = ctx.store.get(keys.taskcredential(access_key_id))
    if kv is None:
        return None
    cred = _unseal(kv.value)
    if cred.expiration <= (time.time() if now is None else now):
        return None
    rec = ctx.state.task(cred.cluster, cred.task_id)
    if rec is None or rec.msg.desired_status == "STOPPED" or rec.msg.last_status == "STOPPED":
        return None
    return cred
