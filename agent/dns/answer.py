"""One query, one decision: an authoritative answer from the zone, a refusal, or None (the
query goes upstream). Pure: the zone and whether the client is the node's own are given."""

from __future__ import annotations

from dnslib import AAAA, EDNS0, OPCODE, QTYPE, RCODE, RR, SOA, SRV, A, DNSHeader, DNSRecord

from agent.dns.zone import TTL, Name, Zone

# The largest UDP answer sent to a client that did not say (EDNS0) it takes more.
UDP_DEFAULT = 512
# The most a client's EDNS0 buffer size is believed; past it an answer goes over TCP.
UDP_MOST = 1232


def answer(zone: Zone, request: DNSRecord, own_client: bool) -> DNSRecord | None:
    """The reply to ``request``, or None when it should be forwarded upstream. A client that
    is not on one of the node's networks gets Shoal's names but no recursion (REFUSED)."""
    if request.header.opcode != OPCODE.QUERY:
        return _error(request, RCODE.NOTIMP)
    if len(request.questions) != 1:
        return _error(request, RCODE.FORMERR)
    q = request.q
    qname = str(q.qname)
    if not zone.owns(qname):
        return None if own_client else _error(request, RCODE.REFUSED)
    reply = request.reply(ra=int(own_client))
    reply.header.aa = 1
    if q.qclass != 1:  # IN: no other class has Shoal names
        reply.header.rcode = RCODE.REFUSED
        return reply
    if not zone.exists(qname):
        reply.header.rcode = RCODE.NXDOMAIN
        _add_soa(reply, zone, qname)
        return reply
    name = zone.lookup(qname) or Name()
    for rr in _records(name, q.qname, q.qtype):
        reply.add_answer(rr)
    if q.qtype in (QTYPE.SRV, QTYPE.ANY):
        for target in name.targets:
            reply.add_ar(_address_rr(target.host, target.address, name.ttl))
    if not reply.rr:
        _add_soa(reply, zone, qname)
    return reply


def _records(name: Name, qname: object, qtype: int) -> list[RR]:
    out: list[RR] = []
    if qtype in (QTYPE.A, QTYPE.AAAA, QTYPE.ANY):
        want = {QTYPE.A: False, QTYPE.AAAA: True}.get(qtype)
        out += [_address_rr(qname, a, name.ttl) for a in name.addresses if want is None or _v6(a) == want]
    if qtype in (QTYPE.SRV, QTYPE.ANY):
        out += [RR(qname, QTYPE.SRV, ttl=name.ttl, rdata=SRV(priority=0, weight=1, port=t.port, target=t.host + "."))
                for t in name.targets]
    return out


def _v6(address: str) -> bool:
    # The zone holds only valid addresses; of those, only IPv6 ones have a colon.
    return ":" in address


def _address_rr(rname: object, address: str, ttl: int) -> RR:
    if _v6(address):
        return RR(rname, QTYPE.AAAA, ttl=ttl, rdata=AAAA(address))
    return RR(rname, QTYPE.A, ttl=ttl, rdata=A(address))


def _add_soa(reply: DNSRecord, zone: Zone, qname: str) -> None:
    """A negative answer carries its domain's SOA, whose minimum caps how long it is cached."""
    domain = zone.domain_of(qname) or qname.rstrip(".")
    soa = SOA(mname=f"ns.{domain}.", rname=f"hostmaster.{domain}.",
              times=(max(zone.revision, 0) % 2**32, TTL, TTL, TTL, TTL))
    reply.add_auth(RR(domain + ".", QTYPE.SOA, ttl=TTL, rdata=soa))


def _error(request: DNSRecord, rcode: int) -> DNSRecord:
    header = DNSHeader(id=request.header.id, bitmap=request.header.bitmap, qr=1, aa=0, ra=0)
    header.rcode = rcode
    return DNSRecord(header, questions=list(request.questions))


def client_buffer(request: DNSRecord) -> int:
    """How large a UDP answer the client takes: its EDNS0 buffer size, or 512 bytes."""
    for rr in request.ar:
        if rr.rtype == QTYPE.OPT:
            return max(UDP_DEFAULT, min(int(rr.rclass), UDP_MOST))
    return UDP_DEFAULT


def pack(reply: DNSRecord, request: DNSRecord, tcp: bool, own_client: bool = True) -> bytes:
    """The reply's bytes (with our EDNS0 record when the client sent one). Over UDP, one too
    large for the client first loses its additional records, which are only a courtesy
    (RFC 2181 9); if still too large it is truncated (TC set) and the client asks again over TCP.
    A client off the node's networks gets at most 512 bytes over UDP, whatever its EDNS0 says:
    a spoofed query then cannot turn the responder into much of an amplifier."""
    edns = [EDNS0(udp_len=UDP_MOST)] if any(rr.rtype == QTYPE.OPT for rr in request.ar) else []
    limit = client_buffer(request) if own_client else UDP_DEFAULT
    whole = _copy(reply, tc=0, rr=reply.rr, auth=reply.auth, ar=list(reply.ar) + edns)
    data = whole.pack()
    if tcp or len(data) <= limit:
        return data
    lean = _copy(reply, tc=0, rr=reply.rr, auth=reply.auth, ar=edns).pack()
    if len(lean) <= limit:
        return lean
    # The question stays: dnslib's truncate() drops it, and some stub resolvers then ignore the reply.
    return _copy(reply, tc=1, rr=[], auth=[], ar=edns).pack()


def _copy(reply: DNSRecord, *, tc: int, rr: list[RR], auth: list[RR], ar: list[RR]) -> DNSRecord:
    header = DNSHeader(id=reply.header.id, bitmap=reply.header.bitmap)
    header.tc = tc
    return DNSRecord(header, questions=list(reply.questions), rr=list(rr), auth=list(auth), ar=list(ar))
