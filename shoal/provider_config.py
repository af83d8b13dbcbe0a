"""What a capacity provider's ``nodeProvider {type, config}`` may say, checked without
running anything: by the control plane when a capacity provider is created, and by the
autoscaler before it builds the provider (``autoscaler/providers/``). Every error names
the field at fault (``nodeProvider.config.<key>``)."""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Callable, Mapping

from shoal.taskdef.policy import HostPolicy, parse_flags
from shoal.validation import ValidationError, check_name, check_string_map, parse_key_value

MAX_CONFIG_KEYS = 50
MAX_CONFIG_VALUE = 4096
# A plugin class named by its dotted path in config "class"; the control plane checks the
# path's form only (it may not have the plugin), the autoscaler loads it.
EXTERNAL = "external"


def check_keys(config: Mapping[str, str], known: frozenset[str]) -> None:
    """Refuses keys a provider does not understand, so a typo is an error, not a no-op."""
    for key in config:
        if key not in known:
            names = ", ".join(sorted(known)) or "none"
            raise ValidationError(f"nodeProvider.config.{key}", f"unknown key (known: {names})")


def int_option(config: Mapping[str, str], key: str, default: int, lo: int, hi: int) -> int:
    text = config.get(key, "")
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValidationError(f"nodeProvider.config.{key}", f"must be a whole number, got {text[:40]!r}") from None
    if not lo <= value <= hi:
        raise ValidationError(f"nodeProvider.config.{key}", f"must be between {lo} and {hi}, got {value}")
    return value


def parse_argv(text: str, field: str) -> list[str]:
    """A command as an argv list: JSON list of strings, or a shlex-split string."""
    text = text.strip()
    if not text:
        raise ValidationError(field, "required: a command as a JSON list or a string")
    if text.startswith("["):
        try:
            argv = json.loads(text)
        except ValueError as exc:
            raise ValidationError(field, f"not a JSON list of strings: {exc}") from exc
        if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
            raise ValidationError(field, "must be a JSON list of strings")
    else:
        try:
            argv = shlex.split(text)
        except ValueError as exc:
            raise ValidationError(field, f"cannot split into arguments: {exc}") from exc
    if not argv or not argv[0]:
        raise ValidationError(field, "the command is empty")
    return argv


def attribute_items(text: str) -> list[str]:
    """The ``k=v,k2=v2`` items of the local provider's ``attributes``."""
    return [item.strip() for item in text.split(",") if item.strip()]


def _absolute(config: Mapping[str, str], key: str) -> None:
    if config.get(key) and not os.path.isabs(config[key]):
        raise ValidationError(f"nodeProvider.config.{key}", "must be an absolute path")


def _check_local(config: Mapping[str, str]) -> None:
    int_option(config, "cpu_units", 0, 0, 1_000_000)
    int_option(config, "memory_mib", 0, 0, 100_000_000)
    int_option(config, "stop_timeout", 20, 1, 600)
    int_option(config, "gc_delay", 30, 0, 86_400)
    int_option(config, "resync_interval", 10, 1, 3_600)
    if config.get("runtime", "docker") not in ("docker", "hollow"):
        raise ValidationError("nodeProvider.config.runtime", "must be docker or hollow")
    _absolute(config, "state_dir")
    for item in attribute_items(config.get("attributes", "")):
        parse_key_value(item, "nodeProvider.config.attributes")
    if config.get("zone"):
        check_name(config["zone"], "nodeProvider.config.zone", 64)
    local_policy(config)


def local_policy(config: Mapping[str, str]) -> HostPolicy:
    """What the local provider's agents let tasks reach: its ``allow`` setting, the agent's
    --allow-* flags (a JSON list or a string), set only in the autoscaler host's profile."""
    if not config.get("allow"):
        return HostPolicy()
    return parse_flags(parse_argv(config["allow"], "nodeProvider.config.allow"), "nodeProvider.config.allow")


def _check_command(config: Mapping[str, str]) -> None:
    parse_argv(config.get("create", ""), "nodeProvider.config.create")
    parse_argv(config.get("terminate", ""), "nodeProvider.config.terminate")
    if config.get("list"):
        parse_argv(config["list"], "nodeProvider.config.list")
    int_option(config, "timeout", 600, 1, 86_400)
    _absolute(config, "state_dir")


def _check_vagrant(config: Mapping[str, str]) -> None:
    int_option(config, "max_nodes", 8, 1, 1000)
    int_option(config, "timeout", 1800, 10, 86_400)
    _absolute(config, "vagrant_dir")
    prefix = config.get("prefix", "node-")
    if not prefix or not all(c.isalnum() or c in "-_" for c in prefix):
        raise ValidationError("nodeProvider.config.prefix", "letters, digits, - and _ only")


# The built-in types: the keys each understands and the check of their values.
BUILT_IN: dict[str, tuple[frozenset[str], Callable[[Mapping[str, str]], None]]] = {
    "local": (frozenset({
        "cpu_units", "memory_mib", "zone", "attributes", "runtime", "state_dir", "endpoint",
        "metrics_address", "log_level", "stop_timeout", "gc_delay", "resync_interval", "allow",
    }), _check_local),
    "command": (frozenset({"create", "terminate", "list", "timeout", "state_dir"}), _check_command),
    "vagrant": (frozenset({"vagrant_dir", "max_nodes", "prefix", "vagrant", "timeout"}), _check_vagrant),
}


def check_built_in(type_: str, config: Mapping[str, str]) -> None:
    known, check = BUILT_IN[type_]
    check_keys(config, known)
    check(config)


def check_config(type_: str, config: Mapping[str, str]) -> None:
    """Validates a nodeProvider {type, config}; an external class is not loaded, only the
    form of its path checked."""
    types = ", ".join([*BUILT_IN, EXTERNAL])
    if not type_:
        raise ValidationError("nodeProvider.type", f"required: one of {types}")
    check_string_map(config, "nodeProvider.config", MAX_CONFIG_KEYS, MAX_CONFIG_VALUE)
    if type_ == EXTERNAL:
        path = config.get("class", "")
        if not path or not all(part.isidentifier() for part in path.replace(":", ".").split(".")):
            raise ValidationError("nodeProvider.config.class", "required: a dotted path like package.module:Class")
        return
    if type_ not in BUILT_IN:
        raise ValidationError("nodeProvider.type", f"{type_!r} is not one of {types}")
    check_built_in(type_, config)
