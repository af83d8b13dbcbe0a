"""Access keys for the ECS gateway: create, list, delete, and the lookup the Signature V4
check makes on every request. Secrets pass through ``_seal``/``_unseal`` and nowhere else,
so encryption at rest can replace those two functions without touching the callers.

A key belongs to a user and carries a role (admin or viewer), as an operator certificate
does (``shoal:<role>:<user>``): the gateway authorizes each ECS action with that identity
through the same rules as the gRPC API (controlplane/ecs/access.py). Revoking the user
(`shoal user revoke`) stops every key made for it before, as it does its certificates."""

from __future__ import annotations

import base64
import re
import secrets
import time

import grpc

from controlplane import revocations
from controlplane.api.context import ApiContext
from controlplane.authz import current_identity
from controlplane.errors import ApiError, grpc_errors, invalid, not_found
from shoal import keys
from shoal.security import sealing
from shoal.security.ca import CertError, Identity, check_identity_name
from shoal.store.base import Conflict
from shoal.store.update import retrying
from shoal.v1 import accesskeys_pb2 as ak
from shoal.v1 import accesskeys_pb2_grpc

# AWS key ids are 20 upper-case characters with a 4-letter prefix saying what they are
# (AKIA, ASIA...); "AKSH" marks Shoal's, so one is never mistaken for a real AWS key.
KEY_ID_PREFIX = "AKSH"
_KEY_ID = re.compile(r"AKSH[A-Z2-7]{16}")
MAX_DESCRIPTION = 256
ACTIVE = "Active"
ROLES = ("admin", "viewer")


_SEAL_CONTEXT = keys.ACCESSKEYS


def _seal(key: ak.AccessKey) -> bytes:
    """The stored form of a key record (the one place a secret is written): sealed with the
    master key (shoal/security/sealing.py), which every control plane has, --insecure or not."""
    sealer = sealing.installed()
    if sealer is None:
        raise ApiError(grpc.StatusCode.FAILED_PRECONDITION, "access keys cannot be stored: no master key "
                       "(start the control plane with --pki-dir)")
    return sealer.seal(key.SerializeToString(), _SEAL_CONTEXT)


def _unseal(data: bytes) -> ak.AccessKey:
    """The inverse of ``_seal`` (records written before sealing existed still read)."""
    if data.startswith(sealing.MAGIC):
        sealer = sealing.installed()
        if sealer is None:
            raise ApiError(grpc.StatusCode.FAILED_PRECONDITION, "access keys are sealed: start with --pki-dir")
        data = sealer.unseal(data, _SEAL_CONTEXT)
    key = ak.AccessKey()
    key.ParseFromString(data)
    return key


def _new_key_id() -> str:
    return KEY_ID_PREFIX + base64.b32encode(secrets.token_bytes(10)).decode()


def _new_secret() -> str:
    # 40 characters, like AWS's secrets: 30 random bytes in URL-safe base64.
    return secrets.token_urlsafe(30)


def owner(req: ak.CreateAccessKeyRequest, caller: Identity | None) -> Identity:
    """Whose key ``req`` asks for: the caller's own (with the caller's role unless a role is
    given), or another user's, whose role must then be named: the control plane keeps no
    list of users, so it cannot look that role up."""
    if req.role and req.role not in ROLES:
        raise invalid(f"role: want admin or viewer, got {req.role[:20]!r}")
    if req.user:
        try:
            check_identity_name(req.user, "user")
        except CertError as exc:
            raise invalid(str(exc)) from None
    own = caller is not None and req.user in ("", caller.name)
    if own and caller is not None:
        if caller.role not in ROLES:
            raise invalid(f"user: {caller} is not an operator; name the key's user and role")
        if req.role == "admin" and caller.role != "admin":
            raise invalid(f"role: {caller} may not issue itself an admin key")
        return Identity(req.role or caller.role, caller.name)
    if not req.user:
        raise invalid("user: this control plane authenticates nobody (--insecure), so the key has no caller to "
                      "belong to: name its user and role")
    if not req.role:
        raise invalid(f"role: a key for another user ({req.user}) needs its role named: admin or viewer")
    return Identity(req.role, req.user)


def create(ctx: ApiContext, req: ak.CreateAccessKeyRequest) -> ak.AccessKey:
    who = owner(req, current_identity())
    if len(req.description) > MAX_DESCRIPTION:
        raise invalid(f"description: at most {MAX_DESCRIPTION} characters")
    if any(not ch.isprintable() for ch in req.description):
        raise invalid("description: must not hold control characters")

    def create_once() -> ak.AccessKey:
        key = ak.AccessKey(
            access_key_id=_new_key_id(),
            secret_access_key=_new_secret(),
            # Dated at or after the user's tombstone, as a certificate is: a key made in the
            # second of a revocation, after it, must not count as revoked.
            created_at=revocations.issue_time(time.time(), revocations.stored_cutoff(ctx.store, who.name)),
            description=req.description,
            status=ACTIVE,
            user=who.name,
            role=who.role,
        )
        ctx.store.create(keys.accesskey(key.access_key_id), _seal(key))
        return key

    try:
        # A Conflict is an id collision: 80 random bits make this all but impossible.
        return retrying(create_once)
    except Conflict:
        raise invalid("accessKeyId: could not allocate a unique id; try again") from None


def list_(ctx: ApiContext, req: ak.ListAccessKeysRequest) -> ak.ListAccessKeysResponse:
    resp = ak.ListAccessKeysResponse()
    for kv in ctx.store.list(keys.ACCESSKEYS).kvs:
        key = _unseal(kv.value)
        key.secret_access_key = ""
        resp.access_keys.append(key)
    return resp


def delete(ctx: ApiContext, req: ak.DeleteAccessKeyRequest) -> ak.AccessKey:
    if not _KEY_ID.fullmatch(req.access_key_id):
        raise invalid(f"accessKeyId: {req.access_key_id[:40]!r} is not a Shoal access key id (AKSH + 16 characters)")
    kv = ctx.store.get(keys.accesskey(req.access_key_id))
    if kv is None:
        raise not_found(f"accessKeyId: no access key {req.access_key_id}")
    ctx.store.delete(kv.key)
    key = _unseal(kv.value)
    key.secret_access_key = ""
    return key


def active(ctx: ApiContext, access_key_id: str) -> ak.AccessKey | None:
    """An Active key with its secret and owner, or None for an unknown or inactive one, one
    made before keys carried a role (it would otherwise act as admin), or one made before its
    user was revoked. Read from the store on every request, so a deleted key stops working at
    once on every replica; a revocation, as soon as the replica's watch delivers it."""
    if not _KEY_ID.fullmatch(access_key_id):
        return None
    kv = ctx.store.get(keys.accesskey(access_key_id))
    if kv is None:
        return None
    key = _unseal(kv.value)
    if key.status != ACTIVE or key.role not in ROLES or not key.user:
        return None
    return None if revocations.is_revoked(identity(key), ctx.revoked_since(key.user)) else key


def identity(key: ak.AccessKey) -> Identity:
    return Identity(key.role, key.user, access_key=key.access_key_id, issued=key.created_at)


class AccessKeysService(accesskeys_pb2_grpc.AccessKeysServicer):
    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx

    @grpc_errors
    def CreateAccessKey(self, request: ak.CreateAccessKeyRequest, context) -> ak.AccessKey:  # noqa: N802
        return create(self.ctx, request)

    @grpc_errors
    def ListAccessKeys(self, request: ak.ListAccessKeysRequest, context) -> ak.ListAccessKeysResponse:  # noqa: N802
        return list_(self.ctx, request)

    @grpc_errors
    def DeleteAccessKey(self, request: ak.DeleteAccessKeyRequest, context) -> ak.AccessKey:  # noqa: N802
        return delete(self.ctx, request)
