"""Node provider plugins: a registry from a provider type to a class, imported only when
used; ``external`` loads a class from the dotted path in config "class". What each type's
config may say is checked in ``shoal.provider_config``, which the control plane shares;
which types, commands and classes may run at all is the autoscaler host's providers config
file's say (profiles.py), never the API's."""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from autoscaler.providers.base import NodeProvider, ProviderContext, ProviderError, ProviderNode
from shoal.provider_config import EXTERNAL
from shoal.validation import ValidationError

__all__ = ["NodeProvider", "ProviderContext", "ProviderError", "ProviderNode", "TYPES", "create"]

TYPES = {
    "local": "autoscaler.providers.local:LocalNodeProvider",
    "command": "autoscaler.providers.command:CommandNodeProvider",
    "vagrant": "autoscaler.providers.vagrant:VagrantNodeProvider",
}


def _load(path: str, field: str) -> type[NodeProvider]:
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise ValidationError(field, f"{path!r} is not a dotted path like package.module:ClassName")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValidationError(field, f"cannot load {path!r}: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, NodeProvider)):
        raise ValidationError(field, f"{path!r} is not a NodeProvider subclass")
    return cls


def provider_class(type_: str, config: Mapping[str, str]) -> type[NodeProvider]:
    if type_ == EXTERNAL:
        path = config.get("class", "")
        if not path:
            raise ValidationError("nodeProvider.config.class", "required for the external type")
        return _load(path, "nodeProvider.config.class")
    if type_ not in TYPES:
        raise ValidationError("nodeProvider.type", f"{type_!r} is not one of {', '.join([*TYPES, EXTERNAL])}")
    return _load(TYPES[type_], "nodeProvider.type")


def create(type_: str, config: Mapping[str, str], ctx: ProviderContext) -> NodeProvider:
    cls = provider_class(type_, config)
    if type_ == EXTERNAL:
        config = {k: v for k, v in config.items() if k != "class"}
    cls.check_config(config)
    return cls(config, ctx)
