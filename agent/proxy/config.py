"""The HAProxy configuration for one node, rendered from a RoutingTable (pure).

`render` returns the whole text and, apart, the servers it holds and the *skeleton* — the
text without its server lines. Two tables with the same skeleton differ only in servers,
which the runtime API changes without a reload; any other difference needs a new config.
Everything taken from the table is checked here (names, modes, patterns, addresses), so a
table the proxy cannot carry is refused with the field named before anything is written."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from shoal.taskdef.policy import FIRST_UNPRIVILEGED_PORT
from shoal.v1 import traffic_pb2

METRICS_FRONTEND = "shoal-metrics"
MODES = ("http", "tcp")
# HAProxy's proxy and server names: letters, digits and "-_.:".
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")
_HOST_CHARS = re.compile(r"^[A-Za-z0-9.*?-]+$")
# ALB's path-pattern characters but the single quote, which the config's quoting cannot carry.
_PATH_CHARS = re.compile(r'^[A-Za-z0-9_\-.$/~"@:+&*?=%]+$')
_CHECK_PATH = re.compile(r"^/[A-Za-z0-9_\-.~/%?=&:@+]*$")
_MATCHER = re.compile(r"^[0-9]{3}(-[0-9]{3})?(,[0-9]{3}(-[0-9]{3})?)*$")
# Old workers keep in-flight connections after a reload at most this long beyond the
# longest deregistration delay.
HARD_STOP_MARGIN = 30


class ConfigError(ValueError):
    """The table cannot be carried by the proxy; the message names the field."""


@dataclass(frozen=True)
class NodeAddresses:
    """Where this node's proxy listens: load-balancer frontends on ``external`` (the agent's
    --address), service-connect (``internal``) frontends where containers reach the node,
    the exporter on ``external:metrics_port``; the runtime API on ``stats_socket``.
    ``reserved``: the ports of the node's other own listeners (the agent's metrics, the DNS
    responder), which no route may take. ``privileged_ports``: whether load-balancer listeners
    may bind ports below 1024 here (the agent's --allow-privileged-listener-ports).
    ``held_elsewhere``: binds (address, port) another program on this node holds now
    (``driver.held_elsewhere``), which no route takes while it does."""

    external: str
    internal: str
    metrics_port: int
    stats_socket: str
    reserved: frozenset[int] = frozenset()
    privileged_ports: bool = False
    held_elsewhere: frozenset[tuple[str, int]] = frozenset()

    def own_ports(self) -> frozenset[int]:
        return (self.reserved | {self.metrics_port}) - {0}


@dataclass(frozen=True)
class Server:
    backend: str
    name: str
    address: str
    port: int
    active: bool
    proxy_v2: bool = False
    # Set while a deployment shifts traffic between revisions; None: HAProxy's default (1).
    weight: int | None = None
    # A registered address the proxy health-checks itself (by its backend's check settings).
    checked: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return (self.backend, self.name)

    def options(self) -> str:
        """The keywords both a config line and a runtime `add server` take."""
        return (f"{_addr(self.address)}:{self.port}" + (" send-proxy-v2" if self.proxy_v2 else "")
                + (f" weight {self.weight}" if self.weight is not None else "") + (" check" if self.checked else ""))


@dataclass(frozen=True)
class Rendered:
    text: str
    skeleton: str
    servers: dict[tuple[str, str], Server] = field(default_factory=dict)
    # Frontends not bound (name, port, why): their port is one of the node's own, a
    # privileged one this node does not allow, or one another program holds.
    left_out: tuple[tuple[str, int, str], ...] = ()
    # Where the bound frontends listen (address, port).
    binds: frozenset[tuple[str, int]] = frozenset()
    # Whether a frontend was left out only for as long as another program holds its port.
    waits_for_ports: bool = False


def render(table: traffic_pb2.RoutingTable, addrs: NodeAddresses) -> Rendered:
    """The node's config for ``table``; raises ConfigError naming what it cannot carry. A
    frontend on one of the node's own ports, a load-balancer one on a privileged port this
    node does not allow, or one whose port another program on this node holds (a Service
    Connect alias on 22 where sshd listens), is left out (``Rendered.left_out``) rather than
    refused: the table may come from a time before this node joined, from a cluster whose
    policy is wider than the node's, or from around the API, and the other routes must still
    apply on every node (a listener HAProxy cannot bind fails its whole reload)."""
    backends = {b.name: b for b in table.backends}
    _check_names(table, backends)
    proxied = _proxied_backends(table)
    binds: dict[tuple[str, int], str] = {}
    head = _global(table, addrs)
    # The revision is said in the text, not in the skeleton: a new revision alone is no reason to reload.
    stamp = f"# Rendered by the Shoal agent from routing table revision {table.revision}; do not edit.\n"
    own = addrs.own_ports()
    left_out: list[tuple[str, int, str]] = []
    waits = False
    sections: list[list[str]] = []
    for i, fe in enumerate(table.frontends):
        where = f"frontends[{i}] ({fe.name})"
        bind = _bind(fe, addrs)
        if not 0 < fe.port < 65536:
            raise ConfigError(f"{where}.port: {fe.port} is not a port")
        if fe.port in own:
            left_out.append((fe.name, fe.port, "the port is one of this node's own"))
            continue
        # Service Connect's frontends bind only where this node's containers reach it.
        if not fe.internal and fe.port < FIRST_UNPRIVILEGED_PORT and not addrs.privileged_ports:
            left_out.append((fe.name, fe.port, f"ports below {FIRST_UNPRIVILEGED_PORT} need this node's "
                                               "--allow-privileged-listener-ports"))
            continue
        if bind in binds:
            raise ConfigError(f"{where}.port: {bind[0]}:{bind[1]} is already bound by {binds[bind]}")
        if bind in addrs.held_elsewhere:
            waits = True
            left_out.append((fe.name, fe.port, f"another program on this node holds {_addr(bind[0])}:{bind[1]}"))
            continue
        binds[bind] = fe.name
        sections.append(_frontend(fe, bind, where))
    servers: dict[tuple[str, str], Server] = {}
    server_lines: dict[str, list[str]] = {}
    for i, be in enumerate(table.backends):
        lines = []
        for j, s in enumerate(be.servers):
            where = f"backends[{i}].servers[{j}]"
            if not _NAME.match(s.name):
                raise ConfigError(f"{where}.name: {s.name!r} is not a proxy name (letters, digits, '-_.:')")
            if (be.name, s.name) in servers:
                raise ConfigError(f"{where}.name: {s.name!r} appears twice in backend {be.name}")
            _check_address(s.address, f"{where}.address")
            if not 0 < s.port < 65536:
                raise ConfigError(f"{where}.port: {s.port} is not a port")
            if s.HasField("weight") and not 0 <= s.weight <= 256:
                raise ConfigError(f"{where}.weight: {s.weight} is not from 0 to 256")
            if s.proxy_checked and not be.HasField("health_check"):
                raise ConfigError(f"{where}.proxy_checked: backend {be.name} has no health_check")
            srv = Server(be.name, s.name, s.address, s.port, s.active, be.name in proxied,
                         s.weight if s.HasField("weight") else None, s.proxy_checked)
            servers[srv.key] = srv
            # A draining server starts a new worker in maintenance: no new requests either way.
            lines.append(f"    server {s.name} {srv.options()}" + ("" if s.active else " disabled"))
        server_lines[be.name] = lines
        sections.append(_backend(be, be.name in proxied, f"backends[{i}]"))
    skeleton = head + "".join("\n" + "\n".join(s) + "\n" for s in sections)
    text = stamp + head
    for s in sections:
        text += "\n" + "\n".join(s) + "\n"
        if s[0].startswith("backend "):
            text += "".join(line + "\n" for line in server_lines[s[0].split()[1]])
    return Rendered(text=text, skeleton=skeleton, servers=servers, left_out=tuple(left_out),
                    binds=frozenset(binds), waits_for_ports=waits)


def wanted_binds(table: traffic_pb2.RoutingTable, addrs: NodeAddresses) -> set[tuple[str, int]]:
    """Where ``table``'s frontends would listen on this node (address, port)."""
    return {_bind(fe, addrs) for fe in table.frontends}


def _bind(fe: traffic_pb2.RouteFrontend, addrs: NodeAddresses) -> tuple[str, int]:
    """Where ``fe`` listens: Service Connect's (internal) where containers reach the node."""
    return (addrs.internal if fe.internal else addrs.external, fe.port)


def _global(table: traffic_pb2.RoutingTable, addrs: NodeAddresses) -> str:
    longest = max((b.deregistration_delay_seconds for b in table.backends), default=0)
    return (
        "global\n"
        "    master-worker\n"
        f"    stats socket {addrs.stats_socket} mode 600 level admin expose-fd listeners\n"
        "    stats timeout 30s\n"
        f"    hard-stop-after {max(longest, 30) + HARD_STOP_MARGIN}s\n"
        "\n"
        "defaults\n"
        "    timeout connect 5s\n"
        "    timeout client 60s\n"
        "    timeout server 60s\n"
        "    timeout http-request 10s\n"
        "    timeout queue 10s\n"
        # A connection refused by a server that just went away is tried on another.
        "    retries 3\n"
        "    option redispatch 1\n"
        "\n"
        f"frontend {METRICS_FRONTEND}\n"
        "    mode http\n"
        f"    bind {_addr(addrs.external)}:{addrs.metrics_port}\n"
        "    http-request use-service prometheus-exporter\n"
    )


def _frontend(fe: traffic_pb2.RouteFrontend, bind: tuple[str, int], where: str) -> list[str]:
    if fe.mode not in MODES:
        raise ConfigError(f"{where}.mode: {fe.mode!r} is not one of {', '.join(MODES)}")
    lines = [f"frontend {fe.name}", f"    mode {fe.mode}", f"    bind {_addr(bind[0])}:{bind[1]}"]
    if fe.mode == "tcp":
        if fe.rules:
            raise ConfigError(f"{where}.rules: a tcp frontend cannot route on host or path")
    else:
        if fe.proxy_protocol:
            raise ConfigError(f"{where}.proxy_protocol: only tcp frontends send the PROXY protocol")
        # The client's address reaches the backend in X-Forwarded-For.
        lines.append("    option forwardfor")
    for k, rule in enumerate(fe.rules):
        cond = []
        if rule.host_patterns:
            pats = " ".join(_quoted(_host_regex(p, f"{where}.rules[{k}].host_patterns")) for p in rule.host_patterns)
            lines.append(f"    acl r{k}_host req.hdr(host) -m reg -i {pats}")
            cond.append(f"r{k}_host")
        if rule.path_patterns:
            pats = " ".join(_quoted(_path_regex(p, f"{where}.rules[{k}].path_patterns")) for p in rule.path_patterns)
            lines.append(f"    acl r{k}_path path -m reg {pats}")
            cond.append(f"r{k}_path")
        if not cond:
            raise ConfigError(f"{where}.rules[{k}]: a rule needs a host or a path pattern")
        lines.append(f"    use_backend {rule.backend} if {' '.join(cond)}")
    if fe.default_backend:
        lines.append(f"    default_backend {fe.default_backend}")
    return lines


def _backend(be: traffic_pb2.RouteBackend, proxied: bool, where: str) -> list[str]:
    if be.mode not in MODES:
        raise ConfigError(f"{where}.mode: {be.mode!r} is not one of {', '.join(MODES)}")
    # roundrobin is a dynamic algorithm: the runtime API may add and remove its servers.
    lines = [f"backend {be.name}", f"    mode {be.mode}", "    balance roundrobin"]
    if proxied:
        # Part of the skeleton: switching the PROXY protocol on or off takes a reload.
        lines.append("    # servers send the PROXY protocol v2")
    if be.HasField("health_check"):
        lines += _health_check(be.health_check, be.mode, f"{where}.health_check")
    return lines


def _health_check(hc: traffic_pb2.HealthCheckConfig, mode: str, where: str) -> list[str]:
    """How the servers marked ``check`` (registered addresses) are checked: the target
    group's settings, in the skeleton, so servers added at run time take them too."""
    for name in ("interval_seconds", "timeout_seconds", "healthy_threshold", "unhealthy_threshold"):
        if not 0 < getattr(hc, name) <= 3600:
            raise ConfigError(f"{where}.{name}: {getattr(hc, name)} is not from 1 to 3600")
    lines = [f"    default-server inter {hc.interval_seconds}s rise {hc.healthy_threshold} "
             f"fall {hc.unhealthy_threshold}", f"    timeout check {hc.timeout_seconds}s"]
    if hc.protocol.upper() == "HTTP":
        if mode != "http":
            raise ConfigError(f"{where}.protocol: an HTTP check in a {mode} backend")
        if not _CHECK_PATH.match(hc.path):
            raise ConfigError(f"{where}.path: {hc.path!r} is not a path the proxy can send")
        if not _MATCHER.match(hc.matcher):
            raise ConfigError(f"{where}.matcher: {hc.matcher!r} is not codes like 200, 200,204 or 200-399")
        lines += ["    option httpchk", f"    http-check send meth GET uri {hc.path}",
                  f"    http-check expect status {hc.matcher}"]
    return lines


def _check_names(table: traffic_pb2.RoutingTable, backends: dict) -> None:
    seen: set[str] = {METRICS_FRONTEND}
    for kind, items in (("frontends", table.frontends), ("backends", table.backends)):
        for i, item in enumerate(items):
            if not _NAME.match(item.name):
                raise ConfigError(f"{kind}[{i}].name: {item.name!r} is not a proxy name (letters, digits, '-_.:')")
            if item.name in seen:
                raise ConfigError(f"{kind}[{i}].name: {item.name!r} is used twice")
            seen.add(item.name)
            if item.mode not in MODES:
                raise ConfigError(f"{kind}[{i}] ({item.name}).mode: {item.mode!r} is not one of {', '.join(MODES)}")
    for i, fe in enumerate(table.frontends):
        refs = [(f"rules[{k}].backend", r.backend) for k, r in enumerate(fe.rules)]
        if fe.default_backend:
            refs.append(("default_backend", fe.default_backend))
        for fld, name in refs:
            if name not in backends:
                raise ConfigError(f"frontends[{i}] ({fe.name}).{fld}: no backend named {name!r}")
            if backends[name].mode != fe.mode:
                raise ConfigError(f"frontends[{i}] ({fe.name}).{fld}: backend {name} is {backends[name].mode}, "
                                  f"the frontend {fe.mode}")


def _proxied_backends(table: traffic_pb2.RoutingTable) -> set[str]:
    """Backends whose servers get the PROXY protocol: those of frontends asking for it. A
    backend shared with a frontend that does not ask cannot be both."""
    want: dict[str, tuple[bool, str]] = {}
    for fe in table.frontends:
        for name in [r.backend for r in fe.rules] + ([fe.default_backend] if fe.default_backend else []):
            if name in want and want[name][0] != fe.proxy_protocol:
                raise ConfigError(f"frontends ({fe.name}).proxy_protocol: backend {name} is also used by "
                                  f"{want[name][1]}, which differs in proxy_protocol")
            want[name] = (fe.proxy_protocol, fe.name)
    return {name for name, (on, _) in want.items() if on}


def _check_address(address: str, where: str) -> None:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise ConfigError(f"{where}: {address!r} is not an IP address") from None
    # ipaddress takes any text after an IPv6 address's '%' as its zone, newlines too.
    if "%" in address:
        raise ConfigError(f"{where}: {address!r} has an IPv6 zone ('%'), which the proxy does not take")


def _addr(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def _glob(pattern: str) -> str:
    """An ALB wildcard pattern as a regex body without backslashes (which the config's
    quoting would eat): `*` any run, `?` one character, everything else literal."""
    out = []
    for ch in pattern:
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch.isalnum():
            out.append(ch)
        else:
            out.append(f"[{ch}]")
    return "".join(out)


def _host_regex(pattern: str, where: str) -> str:
    if not _HOST_CHARS.match(pattern):
        raise ConfigError(f"{where}: {pattern!r} may hold only letters, digits, '-', '.', '*' and '?'")
    # A Host header may carry the port.
    return f"^{_glob(pattern)}(:[0-9]+)?$"


def _path_regex(pattern: str, where: str) -> str:
    if not _PATH_CHARS.match(pattern):
        raise ConfigError(f"{where}: {pattern!r} holds a character a path pattern may not")
    return f"^{_glob(pattern)}$"


def _quoted(regex: str) -> str:
    # Single quotes: HAProxy takes everything inside literally.
    return f"'{regex}'"
