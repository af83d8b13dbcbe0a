"""ECS's account settings (PutAccountSetting, PutAccountSettingDefault, ListAccountSettings,
DeleteAccountSetting) for the ones Shoal acts on. Shoal has one account and no IAM
principals, so a setting is account-wide. containerInsights is stored: CreateCluster gives
it to a new cluster that names none (as ECS does). The long ARN formats are what Shoal
always uses: they read `enabled`, and `disabled` is refused. Every other name is refused."""

from __future__ import annotations

from controlplane import cluster_settings
from controlplane.api.context import ApiContext
from controlplane.errors import invalid
from shoal import keys
from shoal.store.base import Conflict
from shoal.v1 import resources_pb2 as r

LONG_ARN_FORMATS = ("serviceLongArnFormat", "taskLongArnFormat", "containerInstanceLongArnFormat")
NAMES = (cluster_settings.CONTAINER_INSIGHTS, *LONG_ARN_FORMATS)


def _check_name(name: str) -> None:
    if name not in NAMES:
        raise invalid(f"name: {name[:64]!r} is not an account setting Shoal acts on ({', '.join(NAMES)})")


def put(ctx: ApiContext, name: str, value: str) -> r.ClusterSetting:
    _check_name(name)
    if name in LONG_ARN_FORMATS:
        if value != "enabled":
            raise invalid(f"value: Shoal's ARNs are always in the long format; {name} can only be enabled")
        return r.ClusterSetting(name=name, value=value)
    setting = cluster_settings.check([r.ClusterSetting(name=name, value=value)], "setting")[0]
    ctx.store.put(keys.account_setting(name), setting.SerializeToString())
    return setting


def delete(ctx: ApiContext, name: str) -> r.ClusterSetting:
    """Back to Shoal's default; answers the setting as it was."""
    _check_name(name)
    if name in LONG_ARN_FORMATS:
        raise invalid(f"name: {name} is always enabled on Shoal; there is nothing to delete")
    before = effective(ctx, name)
    kv = ctx.store.get(keys.account_setting(name))
    if kv is not None:
        try:
            ctx.store.delete(keys.account_setting(name), kv.mod_revision)
        except Conflict:
            raise invalid(f"name: {name} changed while it was being deleted; try again") from None
    return before


def effective(ctx: ApiContext, name: str) -> r.ClusterSetting:
    kv = ctx.store.get(keys.account_setting(name))
    if kv is not None:
        return r.ClusterSetting.FromString(kv.value)
    return r.ClusterSetting(name=name, value="enabled")


def list_(ctx: ApiContext, name: str = "", value: str = "") -> list[r.ClusterSetting]:
    if name:
        _check_name(name)
    out = [effective(ctx, n) for n in NAMES if not name or n == name]
    return [s for s in out if not value or s.value == value]


def cluster_default(ctx: ApiContext) -> list[r.ClusterSetting]:
    """The settings a new cluster gets when it names none: the stored account setting."""
    kv = ctx.store.get(keys.account_setting(cluster_settings.CONTAINER_INSIGHTS))
    return [r.ClusterSetting.FromString(kv.value)] if kv is not None else []
