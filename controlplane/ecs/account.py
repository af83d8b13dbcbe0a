"""ECS's account-setting operations over controlplane/api/account_settings.py. Shoal has one
account and no IAM principals: a setting is the account's, shown with the account root as
its principal; a request naming another principal is refused."""

from __future__ import annotations

from typing import Any

from controlplane.api import account_settings
from controlplane.api.context import ApiContext
from controlplane.ecs import fields
from controlplane.ecs.errors import invalid_parameter
from shoal.v1 import resources_pb2 as r

Body = dict[str, Any]


def _root(ctx: ApiContext) -> str:
    return f"arn:aws:iam::{ctx.arns.account}:root"


def _principal(ctx: ApiContext, body: Body) -> None:
    principal = fields.string(body, "principalArn")
    if principal and principal != _root(ctx):
        raise invalid_parameter(f"principalArn: Shoal's account settings are account-wide; give none or "
                                f"{_root(ctx)}")


def _out(ctx: ApiContext, s: r.ClusterSetting) -> Body:
    return {"name": s.name, "value": s.value, "principalArn": _root(ctx), "type": "user"}


def put_account_setting(ctx: ApiContext, body: Body) -> Body:
    _principal(ctx, body)
    setting = account_settings.put(ctx, fields.string(body, "name", required=True),
                                   fields.string(body, "value", required=True))
    return {"setting": _out(ctx, setting)}


def put_account_setting_default(ctx: ApiContext, body: Body) -> Body:
    setting = account_settings.put(ctx, fields.string(body, "name", required=True),
                                   fields.string(body, "value", required=True))
    return {"setting": _out(ctx, setting)}


def delete_account_setting(ctx: ApiContext, body: Body) -> Body:
    _principal(ctx, body)
    return {"setting": _out(ctx, account_settings.delete(ctx, fields.string(body, "name", required=True)))}


def list_account_settings(ctx: ApiContext, body: Body) -> Body:
    _principal(ctx, body)
    if not isinstance(body.get("effectiveSettings", False), bool):
        raise invalid_parameter("effectiveSettings: must be true or false")
    found = account_settings.list_(ctx, fields.string(body, "name"), fields.string(body, "value"))
    return {"settings": [_out(ctx, s) for s in found]}


ACTIONS = {
    "PutAccountSetting": put_account_setting,
    "PutAccountSettingDefault": put_account_setting_default,
    "DeleteAccountSetting": delete_account_setting,
    "ListAccountSettings": list_account_settings,
}
