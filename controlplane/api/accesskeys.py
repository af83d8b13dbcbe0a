"""Access keys for the ECS gateway: create, list, delete, and the lookup the Signature V4
check makes on every request. Secrets pass through ``_seal``/``_unseal`` and nowhere else,
so encryption at rest can replace those two functions without touching the callers."""

from __future__ import annotations

import base64
import re
import secrets
import time

import grpc

from controlplane.api.context import ApiContext
from controlplane.errors import ApiError, grpc_errors, invalid, not_found
from shoal import keys
from shoal.security import sealing
from shoal.store.base import Conflict
from shoal.v1 import accesskeys_pb2 as ak
from shoal.v1 import accesskeys_pb2_grpc

# AWS key ids are 20 upper-case characters with a 4-letter prefix saying what they are
# (AKIA, ASIA...); "AKSH" marks Shoal's, so one is never mistaken for a real AWS key.
KEY_ID_PREFIX = "AKSH"
_KEY_ID = re.compile(r"AKSH[A-Z2-7]{16}")
MAX_DESCRIPTION = 256
ACTIVE = "Active"
_ATTEMPTS = 5


_SEAL_CONTEXT = keys.ACCESSKEYS


def _seal(key: ak.AccessKey) -> bytes:
    """The stored form of a key record (the one place a secret is written): sealed with the
    master key (shoal/security/sealing.py); plaintext only on an --insecure control plane
    started without a --pki-dir."""
    sealer = sealing.installed()
    data = key.SerializeToString()
    return sealer.seal(data, _SEAL_CONTEXT) if sealer is not None else data


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


def create(ctx: ApiContext, req: ak.CreateAccessKeyRequest) -> ak.AccessKey:
    if len(req.description) > MAX_DESCRIPTION:
        raise invalid(f"description: at most {MAX_DESCRIPTION} characters")
    if any(not ch.isprintable() for ch in req.description):
        raise invalid("description: must not hold control characters")
    for _ in range(_ATTEMPTS):
        key = ak.AccessKey(
            access_key_id=_new_key_id(),
            secret_access_key=_new_secret(),
            created_at=time.time(),
            description=req.description,
            status=ACTIVE,
        )
        try:
            ctx.store.create(keys.accesskey(key.access_key_id), _seal(key))
            return key
        except Conflict:  # an id collision: 80 random bits make this all but impossible
            continue
    raise invalid("accessKeyId: could not allocate a unique id; try again")


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


def secret_for(ctx: ApiContext, access_key_id: str) -> str | None:
    """The secret of an Active key, or None for an unknown or inactive one. Read from the
    store on every request, so a deleted key stops working at once on every replica."""
    if not _KEY_ID.fullmatch(access_key_id):
        return None
    kv = ctx.store.get(keys.accesskey(access_key_id))
    if kv is None:
        return None
    key = _unseal(kv.value)
    return key.secret_access_key if key.status == ACTIVE else None


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
