"""`shoal node install-script`: prints (or writes, mode 600) the install script of one
host, the way ECS Anywhere hands out ecs-anywhere-install.sh. The token is read from
--token-file, stdin or SHOAL_JOIN_TOKEN (--token works too, but shows in `ps` and shell
history)."""

from __future__ import annotations

import os
import sys

from shoalctl.anywhere import HostSettings, InstallScriptError, render, with_capacity_provider
from shoalctl.cli.client import endpoint
from shoalctl.cli.errors import CliError


def _token(a) -> str:
    if a.token and a.token_file:
        raise CliError("give --token or --token-file, not both")
    if a.token_file == "-":
        return sys.stdin.read().strip()
    if a.token_file:
        try:
            with open(a.token_file) as f:
                return f.read().strip()
        except OSError as exc:
            raise CliError(f"--token-file: {exc.strerror}: {a.token_file}") from None
    token = a.token or os.environ.get("SHOAL_JOIN_TOKEN", "")
    if not token:
        raise CliError("a join token is required: --token-file FILE (or - for stdin), or SHOAL_JOIN_TOKEN "
                       "(`shoal token create --cluster NAME` makes one)")
    return token.strip()


def _attributes(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise CliError(f"--attribute {item!r}: expected KEY=VALUE")
        out[key] = value
    return out


def install_script(a) -> None:
    settings = HostSettings(
        token=_token(a), join=a.join or endpoint(a.endpoint).split(",")[0], package=a.package, cluster=a.cluster,
        name=a.name, address=a.address, metrics_port=a.metrics_port, proxy=a.proxy,
        proxy_metrics_port=a.proxy_metrics_port,
        attributes=with_capacity_provider(_attributes(a.attribute), a.capacity_provider))
    try:
        script = render(settings)
    except InstallScriptError as exc:
        raise CliError(str(exc)) from None
    if not a.out:
        sys.stdout.write(script)
        return
    # Created 600 before anything is written: the script holds the token.
    fd = os.open(a.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(script)
    print(f"wrote {a.out} (mode 600: it holds the join token); on the host: sudo bash {a.out}", file=sys.stderr)


def register(nodes) -> None:
    """Adds `install-script` to the `shoal node` verbs."""
    p = nodes.add_parser("install-script", help="the install script of a new host (ECS Anywhere's install script)")
    p.set_defaults(func=install_script)
    p.add_argument("--cluster", default="default", help="the cluster the host joins (the token's)")
    p.add_argument("--endpoint", help="control plane HOST:PORT (default: $SHOAL_ENDPOINT or `shoal up`'s)")
    p.add_argument("--join", default="", metavar="HOST:PORT",
                   help="where the host reaches the control plane (default: --endpoint's first address)")
    p.add_argument("--token-file", default="", metavar="FILE", help="the join token's file ('-': stdin)")
    p.add_argument("--token", default="", help="the join token itself (visible in `ps`: prefer --token-file)")
    p.add_argument("--package", required=True, metavar="PIP_REQUIREMENT",
                   help="how the host installs Shoal with pip: a wheel path or URL, a VCS URL, or NAME==VERSION")
    p.add_argument("--name", default="", help="the node's name (default: the host's hostname)")
    p.add_argument("--address", default="", help="the address the control plane and Prometheus reach the host at")
    p.add_argument("--attribute", action="append", default=[], metavar="K=V", help="a custom node attribute")
    p.add_argument("--metrics-port", type=int, default=0, help="the agent's metrics port (default: a free one)")
    p.add_argument("--proxy", action="store_true", help="run the node proxy (HAProxy, which the host must have)")
    p.add_argument("--proxy-metrics-port", type=int, default=0, help="the node proxy's exporter port (with --proxy)")
    p.add_argument("--capacity-provider", default="",
                   help="make the host a node of this capacity provider (attribute shoal.capacity-provider)")
    p.add_argument("-o", "--out", default="", metavar="FILE", help="write the script here (mode 600), not stdout")
