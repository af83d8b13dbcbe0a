"""What the responder knows, built from a routing table: for each name its addresses (A/AAAA)
and SRV targets, and the domains (the namespaces) it answers for with authority."""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field

from shoal.v1 import traffic_pb2
from shoal.validation import is_plain_ip, is_public_tld

# Seconds a resolver may cache an answer: short, because tasks come and go.
TTL = 5
# A name with a draining target is answered uncached: its clients re-resolve at once.
DRAINING_TTL = 0
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


@dataclass(frozen=True)
class Target:
    """One SRV target: a task's port, named `<server>.<name>` so the target resolves too."""

    host: str
    address: str
    port: int


@dataclass
class Name:
    addresses: list[str] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    ttl: int = TTL


@dataclass(frozen=True)
class Zone:
    revision: int = -1
    # Lower case, without the trailing dot.
    names: dict[str, Name] = field(default_factory=dict)
    domains: frozenset[str] = frozenset()
    # Names with none of their own records but names below them (a namespace, "_tcp.api.lab"):
    # they exist, so they answer NODATA rather than NXDOMAIN (RFC 8020).
    interior: frozenset[str] = frozenset()
    # The table's names under a public top-level domain, not answered (build()).
    left_out: frozenset[str] = frozenset()

    def exists(self, qname: str) -> bool:
        name = normal(qname)
        return name in self.names or name in self.interior

    def owns(self, qname: str) -> bool:
        """Whether a query for ``qname`` is ours to answer (or to deny) rather than upstream's."""
        name = normal(qname)
        return name in self.names or any(name == d or name.endswith("." + d) for d in self.domains)

    def lookup(self, qname: str) -> Name | None:
        return self.names.get(normal(qname))

    def domain_of(self, qname: str) -> str:
        """The longest of our domains ``qname`` lies in ("" for a bare alias)."""
        name = normal(qname)
        inside = [d for d in self.domains if name == d or name.endswith("." + d)]
        return max(inside, key=len, default="")


def normal(name: str) -> str:
    return name.rstrip(".").lower()


def is_dns_name(name: str) -> bool:
    return 0 < len(name) <= 253 and all(_LABEL.fullmatch(label) for label in name.split("."))


def _label(server_name: str) -> str:
    """A DNS label for a server's name; a name that is not one becomes a stable hash."""
    label = server_name.lower()
    return label if _LABEL.fullmatch(label) else "s" + hashlib.sha256(label.encode()).hexdigest()[:16]


_valid_address = functools.lru_cache(maxsize=65536)(is_plain_ip)


def _targets(servers: list[traffic_pb2.RouteServer], name: str) -> list[Target]:
    return [Target(host=f"{_label(s.name)}.{name}", address=s.address, port=s.port) for s in servers]


def _merge(entry: Name, addresses: list[str], targets: list[Target], draining: bool) -> None:
    entry.addresses.extend(a for a in dict.fromkeys(addresses) if a not in entry.addresses)
    entry.targets.extend(t for t in targets if t not in entry.targets)
    if draining:
        entry.ttl = DRAINING_TTL


def build(table: traffic_pb2.RoutingTable, proxy_address: str) -> Zone:
    """The zone a table describes. ``proxy_address`` is where containers reach this node's
    proxy: the A record of a `via_proxy` name. Only active servers are answered; a draining
    one only makes its name's answers uncached. A name whose namespace is a public top-level
    domain is left out (``Zone.left_out``): owning that domain would answer NXDOMAIN for every
    real name under it. The API refuses such namespaces; a table written around it, or a
    namespace made before that check, still shadows nothing here."""
    backends = {b.name: b for b in table.backends}
    records: dict[str, Name] = {}
    # `_<service>._tcp.<name>`, the SRV form RFC 2782 clients ask for, and for a named port
    # `_<port name>._tcp.<name>` with only that port's tasks.
    srv: dict[str, Name] = {}
    domains: set[str] = set()
    left_out: set[str] = set()
    for record in table.dns:
        name = normal(record.name)
        if not name:
            continue
        if "." in name and is_public_tld(name.rpartition(".")[2]):
            left_out.add(name)
            continue
        first, _, domain = name.partition(".")
        if domain:
            domains.add(domain)
        backend = backends.get(record.backend)
        servers = list(backend.servers) if backend is not None else []
        draining = any(not s.active for s in servers)
        active = [s for s in servers if s.active and s.port > 0 and _valid_address(s.address)]
        targets = _targets(active, name)
        if record.via_proxy:
            addresses = [proxy_address] if _valid_address(proxy_address) else []
        else:
            addresses = [s.address for s in active]
        _merge(records.setdefault(name, Name()), addresses, targets, draining)
        _merge(srv.setdefault(f"_{first}._tcp.{name}", Name()), [], targets, draining)
        port_name = record.port_name.lower()
        if port_name and _LABEL.fullmatch(port_name):
            _merge(srv.setdefault(f"_{port_name}._tcp.{name}", Name()), [], targets, draining)
    # A name the table gives wins over one made up here.
    names = {**srv, **records}
    for entry in list(names.values()):
        for target in entry.targets:
            names.setdefault(target.host, Name(addresses=[target.address], ttl=entry.ttl))
    interior = set(domains)
    for name in names:
        parts = name.split(".")
        interior.update(".".join(parts[i:]) for i in range(1, len(parts)))
    return Zone(revision=table.revision, names=names, domains=frozenset(domains),
                interior=frozenset(interior - names.keys()), left_out=frozenset(left_out))
