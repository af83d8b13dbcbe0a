"""Roles: a name and a policy document (controlplane/iam/policy.py), stored under
``/shoal/v1/roles/<name>`` and written by admins only (create-only, delete on the read
revision). A task definition's ``taskRoleArn`` names one by ARN or name; the policy is read
again on every request a task's credentials sign, so an edit or a delete takes effect at once."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable

import grpc

from controlplane.api.context import ApiContext, already_exists
from controlplane.authz import current_identity
from controlplane.errors import ApiError, invalid, not_found
from controlplane.iam.policy import Policy, PolicyError, parse
from shoal import keys
from shoal.store.base import Conflict
from shoal.v1 import roles_pb2 as ro

# IAM's role names: 1-64 of letters, digits and +=,.@_-
_NAME = re.compile(r"[A-Za-z0-9+=,.@_-]{1,64}")
MAX_DESCRIPTION = 1000


def role_arn(ctx: ApiContext, name: str) -> str:
    return f"arn:aws:iam::{ctx.arns.account}:role/{name}"


def name_of(name_or_arn: str) -> str:
    """The role a ``taskRoleArn`` names: arn:aws:iam::ACCOUNT:role/[path/]NAME, or a bare name."""
    return name_or_arn.rpartition("/")[2] if name_or_arn.startswith("arn:") else name_or_arn


def check_name(name: str, field: str = "roleName") -> str:
    if not _NAME.fullmatch(name):
        raise invalid(f"{field}: 1-64 letters, digits or +=,.@_- (IAM's role names); got {name[:70]!r}")
    return name


def create(ctx: ApiContext, req: ro.CreateRoleRequest, known_actions: Iterable[str]) -> ro.Role:
    name = check_name(req.name)
    try:
        parse(req.policy_document, known_actions)
    except PolicyError as exc:
        raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, f"policyDocument: {exc}", "MalformedPolicyDocument") from None
    if len(req.description) > MAX_DESCRIPTION or any(not ch.isprintable() for ch in req.description):
        raise invalid(f"description: at most {MAX_DESCRIPTION} printable characters")
    who = current_identity()
    role = ro.Role(name=name, arn=role_arn(ctx, name), policy_document=req.policy_document, created_at=time.time(),
                   created_by=str(who or "anonymous"), description=req.description)
    try:
        ctx.store.create(keys.role(name), role.SerializeToString())
    except Conflict:
        raise already_exists(f"roleName: role {name!r} already exists") from None
    return role


def get(ctx: ApiContext, name_or_arn: str) -> ro.Role | None:
    kv = ctx.store.get(keys.role(check_name(name_of(name_or_arn))))
    if kv is None:
        return None
    role = ro.Role()
    role.ParseFromString(kv.value)
    return role


def require(ctx: ApiContext, name_or_arn: str) -> ro.Role:
    role = get(ctx, name_or_arn)
    if role is None:
        raise not_found(f"roleName: no role {name_of(name_or_arn)[:70]!r}", "NoSuchEntity")
    return role


def policy_of(role: ro.Role) -> Policy:
    """A stored role's policy (checked against the catalogue when it was stored)."""
    return parse(role.policy_document, None)


def list_(ctx: ApiContext) -> ro.ListRolesResponse:
    resp = ro.ListRolesResponse()
    for kv in ctx.store.list(keys.ROLES).kvs:
        role = resp.roles.add()
        role.ParseFromString(kv.value)
    return resp


def delete(ctx: ApiContext, name: str) -> ro.Role:
    k = keys.role(check_name(name_of(name)))
    kv = ctx.store.get(k)
    if kv is None:
        raise not_found(f"roleName: no role {name[:70]!r}", "NoSuchEntity")
    ctx.store.delete(k, kv.mod_revision)
    role = ro.Role()
    role.ParseFromString(kv.value)
    return role
