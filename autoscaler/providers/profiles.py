"""Node provider profiles: what the autoscaler host lets capacity providers run.

A capacity provider written through the API names a profile (``nodeProvider.profile``); only
the autoscaler's own configuration file (``--providers-config``, JSON) says what a profile
is — a provider type and its config, including the commands it runs and the plugin class it
loads. So an API caller picks among what the host's operator allowed and never chooses code
that runs on the autoscaler's host:

    {"profiles": {
       "cloud-vms": {"type": "command",
                     "config": {"create": ["/opt/shoal/new-vm"], "terminate": ["/opt/shoal/rm-vm"]}},
       "lab": {"type": "vagrant", "config": {"vagrant_dir": "/srv/shoal/vagrant"}},
       "mine": {"type": "external", "config": {"class": "mypkg.provider:MyProvider"}}}}

``local`` (agents as processes on this machine, what `shoal up` uses) is built in; the file
may redefine it. The API's ``nodeProvider.config`` may add only the settings the profile's
provider type lists as ``API_KEYS`` (node size, zone, attributes: data, not code); anything
else is refused, naming the key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from autoscaler.providers import TYPES, provider_class
from shoal.provider_config import EXTERNAL, check_config
from shoal.validation import ValidationError

DEFAULT_PATH = Path("/etc/shoal/providers.json")


@dataclass(frozen=True)
class Profile:
    name: str
    type: str
    config: Mapping[str, str] = field(default_factory=dict)


BUILTIN = {"local": Profile("local", "local")}


class ProfilesError(ValueError):
    """The providers config file is unreadable or wrong; the message names the file and field."""


def _strings(value: object, where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ProfilesError(f"{where}: must be an object of strings")
    out = {}
    for k, v in value.items():
        if isinstance(v, list) and all(isinstance(x, str) for x in v):
            v = json.dumps(v)  # an argv list, as the command provider takes it
        if not isinstance(v, str):
            raise ProfilesError(f"{where}.{k}: must be a string (or, for commands, a list of strings)")
        out[str(k)] = v
    return out


def load(path: Path | None) -> dict[str, Profile]:
    """The built-in profiles and those of the file at ``path`` (None: built-ins only). Every
    profile is checked now, its plugin class loaded, so a mistake stops the autoscaler at
    start rather than at its first scale-out."""
    profiles = dict(BUILTIN)
    if path is None:
        return profiles
    try:
        doc = json.loads(Path(path).read_text())
    except OSError as exc:
        raise ProfilesError(f"--providers-config {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ProfilesError(f"--providers-config {path}: not JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("profiles", {}), dict) or set(doc) - {"profiles"}:
        raise ProfilesError(f"--providers-config {path}: want {{\"profiles\": {{NAME: {{\"type\": ..., "
                            "\"config\": {...}}}}}}")
    for name, body in doc.get("profiles", {}).items():
        where = f"{path}: profiles.{name}"
        if not isinstance(body, dict) or set(body) - {"type", "config"}:
            raise ProfilesError(f"{where}: want {{\"type\": ..., \"config\": {{...}}}}")
        type_ = body.get("type")
        if type_ not in (*TYPES, EXTERNAL):
            raise ProfilesError(f"{where}.type: {type_!r} is not one of {', '.join([*TYPES, EXTERNAL])}")
        config = _strings(body.get("config", {}), f"{where}.config")
        try:
            check_config(type_, config)
            if type_ == EXTERNAL:  # the plugin is loaded now, and checks its own settings
                provider_class(type_, config).check_config({k: v for k, v in config.items() if k != "class"})
        except ValidationError as exc:
            raise ProfilesError(f"{where}: {exc}") from None
        profiles[name] = Profile(name, type_, config)
    return profiles


def resolve(profiles: Mapping[str, Profile], name: str, api_config: Mapping[str, str],
            source: str) -> tuple[str, dict[str, str]]:
    """(provider type, config) for a capacity provider naming profile ``name`` with the API
    settings ``api_config``; raises ValidationError naming the field. ``source``: where
    the profiles came from, for the message."""
    profile = profiles.get(name)
    if profile is None:
        known = ", ".join(sorted(profiles))
        raise ValidationError("nodeProvider.profile", f"{name[:64]!r} is not a profile of this autoscaler "
                                                      f"({source}; known: {known})")
    allowed = provider_class(profile.type, profile.config).API_KEYS
    for key in api_config:
        if key not in allowed:
            hint = f"it may set {', '.join(sorted(allowed))}" if allowed else "it may set nothing"
            raise ValidationError(f"nodeProvider.config.{key}", f"not settable through the API for profile "
                                                                f"{name!r} ({hint}); set it in the profile")
    return profile.type, {**profile.config, **api_config}
