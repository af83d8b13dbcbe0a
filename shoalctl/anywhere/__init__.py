"""The per-host install script of `shoal node install-script` (ECS Anywhere's
ecs-anywhere-install.sh, for Shoal): ``render`` fills ``install.sh`` with one host's
settings, each checked here and shell-quoted, so nothing a caller passes can break out of
the script. The unit it installs is ``shoal-agent.service``, the same file as
deploy/systemd/shoal-agent.service (a test keeps the two equal)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from importlib import resources

from controlplane.scheduler.model import PROVIDER_ATTRIBUTE

TOKEN = re.compile(r"[A-Za-z0-9._~+/=:-]{16,512}")
# A word systemd's EnvironmentFile splitting and the agent's flags both keep whole.
WORD = re.compile(r"[A-Za-z0-9._:/@+-]{1,255}")
CLUSTER = re.compile(r"[A-Za-z0-9_-]{1,255}")
HOSTNAME = re.compile(r"[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?")
JOIN = re.compile(r"[A-Za-z0-9.\[\]:-]{1,255}:[0-9]{1,5}")
# A pip requirement: a wheel path or URL, a VCS URL, NAME==VERSION (shell-quoted in the script).
PACKAGE = re.compile(r"[A-Za-z0-9._:/@+=#?&%~,<>!\[\]-]{1,1000}")
ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_./:-]{1,128}")


class InstallScriptError(ValueError):
    """Bad input, naming the flag."""


@dataclass
class HostSettings:
    token: str
    join: str
    package: str
    cluster: str = "default"
    name: str = ""
    address: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    # 0: the agent picks a free port (it registers the one it got, so /sd still finds it).
    metrics_port: int = 0
    # The node proxy (HAProxy, which the host must have): `shoal agent --proxy`.
    proxy: bool = False
    proxy_metrics_port: int = 0


def check(s: HostSettings) -> None:
    if not TOKEN.fullmatch(s.token):
        raise InstallScriptError("--token: expected 16-512 characters of [A-Za-z0-9._~+/=:-] (`shoal token create`)")
    if not JOIN.fullmatch(s.join):
        raise InstallScriptError(f"--join: expected HOST:PORT of the control plane, got {s.join[:80]!r}")
    if not CLUSTER.fullmatch(s.cluster):
        raise InstallScriptError(f"--cluster: expected letters, digits, - and _ (at most 255), got {s.cluster[:80]!r}")
    if not PACKAGE.fullmatch(s.package):
        raise InstallScriptError("--package: a pip requirement without spaces (a wheel path or URL, or NAME==VERSION)")
    if s.name and not HOSTNAME.fullmatch(s.name):
        raise InstallScriptError(f"--name: expected a lowercase hostname, got {s.name[:80]!r}")
    if s.address and not WORD.fullmatch(s.address):
        raise InstallScriptError(f"--address: expected an address, got {s.address[:80]!r}")
    for flag, port in (("--metrics-port", s.metrics_port), ("--proxy-metrics-port", s.proxy_metrics_port)):
        if not 0 <= port <= 65535:
            raise InstallScriptError(f"{flag}: expected a port 1-65535 (0: a free one), got {port}")
    if s.proxy_metrics_port and not s.proxy:
        raise InstallScriptError("--proxy-metrics-port: needs --proxy")
    for key, value in s.attributes.items():
        if not ATTRIBUTE_NAME.fullmatch(key):
            raise InstallScriptError(f"--attribute {key[:80]!r}: names are 1-128 letters, digits, _ . / : -")
        if not WORD.fullmatch(value):
            raise InstallScriptError(f"--attribute {key}: values are 1-255 letters, digits and . _ : / @ + -")


def render(s: HostSettings) -> str:
    """The install script for one host (it holds the token: keep it secret)."""
    check(s)
    template = (resources.files(__package__) / "install.sh").read_text()
    unit = (resources.files(__package__) / "shoal-agent.service").read_text().rstrip("\n")
    values = {
        "CLUSTER": shlex.quote(s.cluster),
        "JOIN": shlex.quote(s.join),
        "PACKAGE": shlex.quote(s.package),
        "NAME": shlex.quote(s.name),
        "ADDRESS": shlex.quote(s.address),
        "ATTRIBUTES": " ".join(shlex.quote(f"{k}={v}") for k, v in sorted(s.attributes.items())),
        "AGENT_FLAGS": " ".join(agent_flags(s)),
        "TOKEN": s.token,
        "UNIT": unit,
    }
    for key, value in values.items():
        template = template.replace(f"@@{key}@@", value)
    return template


def agent_flags(s: HostSettings) -> list[str]:
    """The `shoal agent` flags beyond join, cluster, name, address and attributes."""
    flags = [f"--metrics-port {s.metrics_port}"] if s.metrics_port else []
    if s.proxy:
        flags.append("--proxy")
    if s.proxy_metrics_port:
        flags.append(f"--proxy-metrics-port {s.proxy_metrics_port}")
    return flags


def with_capacity_provider(attributes: dict[str, str], provider: str) -> dict[str, str]:
    """The node attribute that makes this host a node of ``provider`` for placement."""
    return {**attributes, PROVIDER_ATTRIBUTE: provider} if provider else attributes
