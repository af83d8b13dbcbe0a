"""Hosts with their own addresses on one machine: a Linux bridge in the root namespace and,
per host, a network namespace joined to it by a veth pair. Taking the bridge end of a
host's veth down is a real partition: packets to and from that host stop, sockets stay
open and silent, exactly like a pulled cable.

Addresses come from 169.254.0.0/16 (link-local): never routed beyond this machine, so lab
traffic cannot leak out and cannot collide with a network anyone uses. Each lab takes a
free /24 in it; the bridge is .1, host N is .(10+N).

Every name carries the lab's id, so everything a lab made can be found and removed even
when its state file is lost (``sweep``):

    bridge      shl-<id>            netns       shoal-<id>-hN
    veth        shl<id>hN (bridge end; the host's end is renamed eth0 in its namespace)
"""

from __future__ import annotations

import ipaddress
import logging
import re
import secrets
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

from shoal import logs
from shoalctl.lab import mesh

log = logging.getLogger(__name__)

LINK_LOCAL = ipaddress.ip_network("169.254.0.0/16")
# 169.254.169.254 is the cloud metadata address and low /24s are used by autoconfiguration
# in the wild; the lab stays clear of both.
_THIRD_OCTETS = range(200, 250)
MAX_HOSTS = 200
_ID = re.compile(r"^[0-9a-f]{4,6}$")


class LabError(RuntimeError):
    """A lab network operation failed; the message says which command and why."""


def _ip(*args: str, netns: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    cmd = ["ip", *(["-n", netns] if netns else []), *args]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if check and out.returncode != 0:
        raise LabError(f"`{' '.join(cmd)}` failed: {out.stderr.strip() or out.stdout.strip()} "
                       "(the lab needs root: network namespaces, veth pairs and a bridge)")
    return out


@dataclass
class LabHost:
    number: int
    netns: str
    veth: str
    address: str

    @property
    def name(self) -> str:
        """The agent (and node hostname) that runs in this host: agent-N."""
        return f"agent-{self.number}"


@dataclass
class LabNetwork:
    lab_id: str
    subnet: str
    hosts: dict[int, LabHost] = field(default_factory=dict)

    @property
    def bridge(self) -> str:
        return f"shl-{self.lab_id}"

    @property
    def gateway(self) -> str:
        """The bridge's address in the root namespace: where hosts reach the control plane."""
        return str(ipaddress.ip_network(self.subnet)[1])

    @property
    def prefixlen(self) -> int:
        return ipaddress.ip_network(self.subnet).prefixlen

    @classmethod
    def plan(cls, hosts: int, lab_id: str | None = None, subnet: str | None = None) -> LabNetwork:
        """Names and addresses for a new lab of ``hosts`` hosts (nothing is created yet)."""
        if not 1 <= hosts <= MAX_HOSTS:
            raise ValueError(f"hosts: must be 1-{MAX_HOSTS}, got {hosts}")
        lab_id = lab_id or secrets.token_hex(3)
        if not _ID.match(lab_id):
            raise ValueError(f"lab id {lab_id!r}: 4-6 lowercase hex digits")
        net = cls(lab_id, subnet or free_subnet())
        for n in range(1, hosts + 1):
            net.add_host_plan(n)
        return net

    def add_host_plan(self, n: int) -> LabHost:
        network = ipaddress.ip_network(self.subnet)
        host = LabHost(number=n, netns=f"shoal-{self.lab_id}-h{n}", veth=f"shl{self.lab_id}h{n}",
                       address=str(network[10 + n]))
        self.hosts[n] = host
        return host

    def host(self, name_or_number: str | int) -> LabHost:
        """By number, "agent-N", "hN" or netns name."""
        for h in self.hosts.values():
            if name_or_number in (h.number, h.name, f"h{h.number}", h.netns, str(h.number)):
                return h
        raise KeyError(f"no lab host {name_or_number!r} (hosts: {', '.join(h.name for h in self.hosts.values())})")

    # ---- making and unmaking --------------------------------------------------------------

    def create(self) -> None:
        """Creates the bridge and every host; on failure removes what it made and raises."""
        try:
            _ip("link", "add", self.bridge, "type", "bridge")
            _ip("addr", "add", f"{self.gateway}/{self.prefixlen}", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
            mesh.allow_bridge(self.bridge, self.lab_id)
            for host in self.hosts.values():
                self._create_host(host)
        except BaseException as exc:
            self.destroy()
            if isinstance(exc, mesh.MeshError):
                raise LabError(str(exc)) from exc
            raise
        log.info("lab network up", extra=logs.kv(lab=self.lab_id, bridge=self.bridge, subnet=self.subnet,
                                                 hosts=len(self.hosts)))

    def _create_host(self, host: LabHost) -> None:
        _ip("netns", "add", host.netns)
        _ip("link", "add", host.veth, "type", "veth", "peer", "name", f"{host.veth}p")
        _ip("link", "set", f"{host.veth}p", "netns", host.netns)
        _ip("link", "set", f"{host.veth}p", "name", "eth0", netns=host.netns)
        _ip("addr", "add", f"{host.address}/{self.prefixlen}", "dev", "eth0", netns=host.netns)
        _ip("link", "set", "eth0", "up", netns=host.netns)
        _ip("link", "set", "lo", "up", netns=host.netns)
        _ip("link", "set", host.veth, "master", self.bridge)
        _ip("link", "set", host.veth, "up")

    def add_host(self, n: int) -> LabHost:
        host = self.add_host_plan(n)
        self._create_host(host)
        return host

    def destroy(self) -> list[str]:
        """Removes every host and the bridge; safe to call twice and after a failed create."""
        done = []
        for host in self.hosts.values():
            if _link_exists(host.veth):
                _ip("link", "del", host.veth, check=False)
            if host.netns in netns_names():
                _ip("netns", "del", host.netns, check=False)
                done.append(f"removed {host.netns}")
        if _link_exists(self.bridge):
            _ip("link", "del", self.bridge, check=False)
            done.append(f"removed bridge {self.bridge}")
        return done + mesh.disallow_bridge(self.lab_id)

    # ---- faults ---------------------------------------------------------------------------

    def partition(self, name_or_number: str | int) -> LabHost:
        """Cuts the host's link (bridge end of its veth down). The host's sockets stay open
        and silent, like a pulled cable. Containers on the machine's dockerd are not cut
        off from the machine; a host's own dockerd (in its namespace) is, pulls and all."""
        host = self.host(name_or_number)
        _ip("link", "set", host.veth, "down")
        log.info("partitioned lab host", extra=logs.kv(lab=self.lab_id, host=host.name, veth=host.veth))
        return host

    def heal(self, name_or_number: str | int) -> LabHost:
        host = self.host(name_or_number)
        _ip("link", "set", host.veth, "up")
        log.info("healed lab host", extra=logs.kv(lab=self.lab_id, host=host.name, veth=host.veth))
        return host

    def partitioned(self, name_or_number: str | int) -> bool:
        """True while the host's link is cut."""
        host = self.host(name_or_number)
        try:
            flags = int(Path("/sys/class/net", host.veth, "flags").read_text().strip(), 16)
        except (OSError, ValueError):
            return True
        return not flags & 0x1  # IFF_UP

    # ---- persistence ----------------------------------------------------------------------

    def to_json(self) -> dict:
        return {"lab_id": self.lab_id, "subnet": self.subnet,
                "hosts": [asdict(h) for h in sorted(self.hosts.values(), key=lambda h: h.number)]}

    @classmethod
    def from_json(cls, data: dict) -> LabNetwork:
        net = cls(str(data["lab_id"]), str(data["subnet"]))
        for h in data.get("hosts", []):
            host = LabHost(int(h["number"]), str(h["netns"]), str(h["veth"]), str(h["address"]))
            net.hosts[host.number] = host
        return net


def netns_names() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def _link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def free_subnet() -> str:
    """A 169.254.X.0/24 no interface on this machine uses."""
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True, check=False).stdout
    addrs = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True, check=False).stdout
    for third in _THIRD_OCTETS:
        marker = f"169.254.{third}."
        if marker not in routes and marker not in addrs:
            return f"169.254.{third}.0/24"
    raise LabError("no free 169.254.X.0/24 for a lab network: remove old labs with `shoal lab down`")


def sweep(lab_id: str) -> list[str]:
    """Removes every namespace, veth and bridge named for lab ``lab_id``: the cleanup that
    works without the lab's state file."""
    if not _ID.match(lab_id):
        raise ValueError(f"lab id {lab_id!r}: 4-6 lowercase hex digits")
    done = []
    for ns in sorted(netns_names()):
        if ns.startswith(f"shoal-{lab_id}-h"):
            _ip("netns", "del", ns, check=False)
            done.append(f"removed {ns}")
    for link in sorted(p.name for p in Path("/sys/class/net").iterdir()):
        if link.startswith(f"shl{lab_id}h") or link == f"shl-{lab_id}":
            _ip("link", "del", link, check=False)
            done.append(f"removed {link}")
    return done + mesh.disallow_bridge(lab_id)
