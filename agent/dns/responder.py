"""`DnsResponder`: the routing consumer that serves a node's DNS. It answers Shoal's names
from the latest routing table, forwards every other query from the node's own networks to
the host's resolvers, and tells the runtime layer what containers should use."""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Callable

import psutil
from dnslib import RCODE, DNSHeader, DNSRecord

import shoal.logs
from agent.dns import answer, upstream, zone
from agent.dns.server import FORWARD, DnsServer, Forward
from agent.dns.upstream import Upstream
from shoal.v1 import traffic_pb2

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# Interfaces come and go (every Docker network is one) and DHCP rewrites resolv.conf: both
# are read again this often.
NETWORKS_REFRESH = 30.0


def local_networks() -> list[Network]:
    """The networks of this host's interfaces: who may use the responder as a resolver."""
    out: list[Network] = []
    for addrs in psutil.net_if_addrs().values():
        for a in addrs:
            if a.family not in (socket.AF_INET, socket.AF_INET6) or not a.netmask:
                continue
            try:
                out.append(ipaddress.ip_interface(f"{a.address.split('%', 1)[0]}/{a.netmask}").network)
            except ValueError:
                continue
    return out


def _service_of(backend: str) -> str:
    """The service of a discovery backend ("sd-<service>-<port>"), else ""."""
    if not backend.startswith("sd-"):
        return ""
    service, _, port = backend[3:].rpartition("-")
    return service if port.isdigit() else ""


class DnsResponder:
    """``upstreams`` None: the nameservers of /etc/resolv.conf, read again as the host's
    network settings change."""

    def __init__(self, addresses: list[str], port: int, proxy_address: str, upstreams: list[Upstream] | None,
                 networks: Callable[[], list[Network]] = local_networks,
                 timeout: float = upstream.TIMEOUT, resolv_conf: str = upstream.RESOLV_CONF,
                 shared: bool = False) -> None:
        self.addresses = addresses
        self.proxy_address = proxy_address
        self.timeout = timeout
        self._given_upstreams = upstreams
        self._resolv_conf = resolv_conf
        self._upstreams: list[Upstream] = upstreams or []
        self._networks_source = networks
        self._networks: list[Network] = []
        self._read_at = -NETWORKS_REFRESH
        self._zone = zone.Zone()
        self._search: dict[str, tuple[str, ...]] = {}
        self._lock = threading.Lock()
        self.server = DnsServer(self, addresses, port, shared)

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def upstreams(self) -> list[Upstream]:
        self._refresh()
        # Never ourselves: a host whose resolv.conf names this responder would loop.
        own = {(a, self.port) for a in self.addresses}
        return [u for u in self._upstreams if u not in own]

    def _refresh(self) -> None:
        """Reads the host's networks (and resolv.conf) again once they may have changed."""
        now = time.monotonic()
        if now - self._read_at < NETWORKS_REFRESH:
            return
        self._read_at = now
        self._networks = self._networks_source()
        if self._given_upstreams is None:
            self._upstreams = upstream.from_resolv_conf(self._resolv_conf)

    def start(self) -> str:
        """Binds and serves; raises OSError naming the address that could not be bound."""
        self.server.start()
        sentence = (f"dns responder on {', '.join(self.addresses)} port {self.port}, forwarding to "
                    f"{', '.join(f'{h}:{p}' for h, p in self.upstreams) or 'no upstream (other names fail)'}")
        log.info(sentence)
        return sentence

    def stop(self) -> None:
        self.server.stop()

    # ---- the routing consumer --------------------------------------------------------

    def apply(self, table: traffic_pb2.RoutingTable) -> str:
        with self._lock:
            if table.revision < self._zone.revision:
                return (f"dns: ignored routing table at revision {table.revision}: "
                        f"already answering from {self._zone.revision}")
            built = zone.build(table, self.proxy_address)
            search: dict[str, set[str]] = {}
            for record in table.dns:
                service = _service_of(record.backend)
                domain = built.domain_of(record.name)
                # Docker refuses a container whose search domain is not a DNS name.
                if service and zone.is_dns_name(domain):
                    search.setdefault(service, set()).add(domain)
            self._zone = built
            self._search = {s: tuple(sorted(d)) for s, d in search.items()}
        names = {zone.normal(r.name) for r in table.dns if r.name} - built.left_out
        said = (f"dns: answering {len(names)} names in {len(built.domains)} namespaces "
                f"({', '.join(sorted(built.domains)) or 'none'}) at revision {table.revision}")
        if built.left_out:
            said += (f"; not answering {', '.join(sorted(built.left_out))}: a namespace may not be a public "
                     "top-level domain")
        return said

    def search_domains(self, service: str) -> tuple[str, ...]:
        """The namespaces ``service`` is registered in: its containers' DNS search list."""
        with self._lock:
            return self._search.get(service, ())

    # ---- one query -------------------------------------------------------------------

    def handle(self, data: bytes, client: str, tcp: bool) -> bytes | None:
        """The reply to one query from ``client``, wherever it comes from; None sends nothing
        (not even a header could be read)."""
        reply = self.answer_locally(data, client, tcp)
        return self.forward(data, tcp) if reply is FORWARD else reply

    def answer_locally(self, data: bytes, client: str, tcp: bool) -> bytes | None | Forward:
        try:
            request = DNSRecord.parse(data)
        except Exception:  # dnslib raises several kinds on hostile bytes; all mean FORMERR
            return _formerr(data)
        own = self._own_client(client)
        reply = answer.answer(self._zone, request, own)
        return FORWARD if reply is None else answer.pack(reply, request, tcp, own)

    def forward(self, data: bytes, tcp: bool) -> bytes | None:
        forwarded = upstream.forward(self.upstreams, data, tcp, self.timeout)
        if forwarded is not None:
            return forwarded
        request = DNSRecord.parse(data)  # it parsed before it was sent here
        log.warning("no upstream answered", extra=shoal.logs.kv(name=str(request.q.qname)))
        failed = DNSHeader(id=request.header.id, bitmap=request.header.bitmap, qr=1, aa=0, ra=1)
        failed.rcode = RCODE.SERVFAIL
        return DNSRecord(failed, questions=list(request.questions)).pack()

    def _own_client(self, client: str) -> bool:
        try:
            ip = ipaddress.ip_address(client)
        except ValueError:
            return False
        if ip.is_loopback:
            return True
        self._refresh()
        return any(ip in n for n in self._networks if n.version == ip.version)


def _formerr(data: bytes) -> bytes | None:
    if len(data) < 12:
        return None
    header = DNSHeader(id=int.from_bytes(data[:2], "big"), qr=1)
    header.rcode = RCODE.FORMERR
    return DNSRecord(header).pack()
