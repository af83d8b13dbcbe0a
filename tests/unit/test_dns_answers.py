"""The DNS responder's answers, built from hand-made routing tables and read back with
dnslib: A (direct and through the proxy), SRV, NXDOMAIN, draining servers, and which queries
are forwarded or refused."""

import ipaddress
import socket

import psutil
import pytest
from dnslib import EDNS0, QTYPE, RCODE, DNSRecord

from agent.dns import answer, upstream, zone
from agent.dns.responder import NETWORKS_REFRESH, DnsResponder, _service_of, local_networks
from shoal.v1 import traffic_pb2 as t

PROXY = "172.17.0.1"


def server(name: str, address: str, port: int, active: bool = True) -> t.RouteServer:
    return t.RouteServer(name=name, address=address, port=port, active=active)


def table(revision: int = 7) -> t.RoutingTable:
    """api.lab is reached directly (Cloud Map style); web.lab and its alias `web` through
    the proxy; a draining api task must not be answered."""
    return t.RoutingTable(
        cluster="default", revision=revision,
        backends=[
            t.RouteBackend(name="sd-api-8080", mode="http", servers=[
                server("task1-8080", "192.0.2.10", 31001),
                server("task2-8080", "192.0.2.11", 31002),
                server("task3-8080", "192.0.2.12", 31003, active=False),
            ]),
            t.RouteBackend(name="sd-web-80", mode="http", servers=[server("task9-80", "192.0.2.20", 32000)]),
        ],
        dns=[
            t.DnsRecord(name="api.lab", backend="sd-api-8080", port=8080),
            t.DnsRecord(name="web.lab", via_proxy=True, backend="sd-web-80", port=80),
            t.DnsRecord(name="web", via_proxy=True, backend="sd-web-80", port=80),
        ],
    )


def ask(z: zone.Zone, name: str, qtype: str = "A", own: bool = True) -> DNSRecord | None:
    q = DNSRecord.question(name, qtype)
    reply = answer.answer(z, q, own)
    # What a client sees: the bytes, parsed again.
    return None if reply is None else DNSRecord.parse(answer.pack(reply, q, tcp=True))


def rdata(reply: DNSRecord, qtype: str) -> list[str]:
    return sorted(str(rr.rdata) for rr in reply.rr if rr.rtype == getattr(QTYPE, qtype))


def test_direct_name_answers_each_active_task_host_and_no_draining_one():
    reply = ask(zone.build(table(), PROXY), "api.lab")
    assert reply.header.rcode == RCODE.NOERROR and reply.header.aa == 1
    assert rdata(reply, "A") == ["192.0.2.10", "192.0.2.11"]
    # A draining target is present in the table: the answer must not be cached.
    assert {rr.ttl for rr in reply.rr} == {zone.DRAINING_TTL}


def test_via_proxy_name_and_alias_answer_the_node_local_proxy():
    z = zone.build(table(), PROXY)
    for name in ("web.lab", "WEB.Lab.", "web"):
        reply = ask(z, name)
        assert rdata(reply, "A") == [PROXY], name
        assert {rr.ttl for rr in reply.rr} == {zone.TTL}
    # The question's spelling comes back as asked.
    assert str(ask(z, "WEB.Lab.").rr[0].rname) == "WEB.Lab."


def test_srv_gives_each_active_task_port_with_its_address_in_additional():
    z = zone.build(table(), PROXY)
    for name in ("api.lab", "_api._tcp.api.lab"):
        reply = ask(z, name, "SRV")
        targets = sorted((str(rr.rdata.target), rr.rdata.port) for rr in reply.rr)
        assert targets == [("task1-8080.api.lab.", 31001), ("task2-8080.api.lab.", 31002)], name
        extra = sorted((str(rr.rname), str(rr.rdata)) for rr in reply.ar)
        assert extra == [("task1-8080.api.lab.", "192.0.2.10"), ("task2-8080.api.lab.", "192.0.2.11")]
    # The SRV form has no address of its own.
    assert ask(z, "_api._tcp.api.lab").rr == []
    # The SRV target resolves on its own too; the draining task's does not.
    assert rdata(ask(z, "task2-8080.api.lab"), "A") == ["192.0.2.11"]
    assert ask(z, "task3-8080.api.lab").header.rcode == RCODE.NXDOMAIN
    # Through the proxy or not, SRV names the tasks themselves.
    srv = ask(z, "web.lab", "SRV")
    assert [(str(rr.rdata.target), rr.rdata.port) for rr in srv.rr] == [("task9-80.web.lab.", 32000)]


def test_unknown_name_in_a_namespace_is_nxdomain_with_the_namespace_soa():
    z = zone.build(table(), PROXY)
    for name in ("nope.lab", "x.api.lab.lab", "_nope._tcp.api.lab"):
        reply = ask(z, name)
        assert reply.header.rcode == RCODE.NXDOMAIN and reply.header.aa == 1, name
        assert not reply.rr
        [soa] = reply.auth
        assert str(soa.rname) == "lab." and soa.rdata.times[-1] == zone.TTL


def test_known_name_without_that_type_is_nodata_not_nxdomain():
    # musl and glibc ask AAAA beside A: an NXDOMAIN there would make them give up on the name.
    z = zone.build(table(), PROXY)
    reply = ask(z, "api.lab", "AAAA")
    assert reply.header.rcode == RCODE.NOERROR and not reply.rr and reply.auth
    # A namespace and the names between a record and its SRV form exist too (RFC 8020).
    for name in ("lab", "_tcp.api.lab"):
        empty = ask(z, name)
        assert empty.header.rcode == RCODE.NOERROR and not empty.rr, name


def test_a_name_with_no_active_task_has_no_address_and_a_task_on_ipv6_gets_aaaa():
    tb = table()
    tb.backends[0].servers[0].active = False
    tb.backends[0].servers[1].address = "2001:db8::11"
    z = zone.build(tb, PROXY)
    assert rdata(ask(z, "api.lab"), "A") == []
    assert rdata(ask(z, "api.lab", "AAAA"), "AAAA") == ["2001:db8::11"]
    tb.backends[0].servers[1].active = False
    assert ask(zone.build(tb, PROXY), "api.lab").rr == []


def test_an_address_with_an_ipv6_zone_is_left_out_not_a_failed_answer():
    tb = table()
    tb.backends[0].servers[1].address = "2001:db8::11%eth0"
    z = zone.build(tb, PROXY)
    assert rdata(ask(z, "api.lab"), "A") == ["192.0.2.10"]
    assert rdata(ask(z, "api.lab", "AAAA"), "AAAA") == []


def test_other_names_are_forwarded_for_the_node_and_refused_to_strangers():
    z = zone.build(table(), PROXY)
    assert ask(z, "example.com") is None
    assert ask(z, "laboratory.org") is None  # "lab" is a namespace; "laboratory.org" is not in it
    refused = ask(z, "example.com", own=False)
    assert refused.header.rcode == RCODE.REFUSED and refused.header.ra == 0
    # A stranger still gets Shoal's own names, but is told no recursion is available.
    served = ask(z, "api.lab", own=False)
    assert rdata(served, "A") == ["192.0.2.10", "192.0.2.11"] and served.header.ra == 0


def test_bad_queries_get_an_error_not_a_crash():
    z = zone.build(table(), PROXY)
    two = DNSRecord.question("api.lab")
    two.add_question(DNSRecord.question("web.lab").q)
    assert answer.answer(z, two, True).header.rcode == RCODE.FORMERR
    notify = DNSRecord.question("api.lab")
    notify.header.opcode = 4
    assert answer.answer(z, notify, True).header.rcode == RCODE.NOTIMP
    chaos = DNSRecord.question("api.lab", "A", "CH")
    assert answer.answer(z, chaos, True).header.rcode == RCODE.REFUSED


def test_large_udp_answer_is_truncated_to_the_client_buffer_and_whole_over_tcp():
    tb = t.RoutingTable(revision=1, backends=[t.RouteBackend(name="sd-big-80", servers=[
        server(f"task{i:02d}-80", f"10.1.0.{i}", 30000 + i) for i in range(1, 61)])],
        dns=[t.DnsRecord(name="big.lab", backend="sd-big-80", port=80)])
    z = zone.build(tb, PROXY)
    q = DNSRecord.question("big.lab", "SRV")
    reply = answer.answer(z, q, True)
    small = DNSRecord.parse(answer.pack(reply, q, tcp=False))
    assert small.header.tc == 1 and not small.rr and str(small.q.qname) == "big.lab."
    whole = DNSRecord.parse(answer.pack(reply, q, tcp=True))
    assert whole.header.tc == 0 and len(whole.rr) == 60
    # A client announcing a larger buffer (EDNS0) gets more in one datagram, still within it.
    q_edns = DNSRecord.question("big.lab", "A")
    q_edns.add_ar(EDNS0(udp_len=4096))
    packed = answer.pack(answer.answer(z, q_edns, True), q_edns, tcp=False)
    assert len(packed) <= answer.UDP_MOST and len(DNSRecord.parse(packed).rr) == 60
    # Not a client off the node's networks: its UDP answers stay within 512 bytes.
    stranger = answer.pack(answer.answer(z, q_edns, False), q_edns, tcp=False, own_client=False)
    assert len(stranger) <= answer.UDP_DEFAULT and DNSRecord.parse(stranger).header.tc == 1


def test_responder_ignores_an_older_table_and_knows_each_service_search_domains():
    r = DnsResponder(["127.0.0.1"], 0, PROXY, [])
    assert "answering 3 names in 1 namespaces (lab) at revision 7" in r.apply(table(7))
    assert "ignored" in r.apply(t.RoutingTable(revision=6))
    assert r.search_domains("api") == ("lab",) and r.search_domains("web") == ("lab",)
    assert r.search_domains("other") == ()
    odd = t.RoutingTable(revision=8, dns=[t.DnsRecord(name="x.bad_ns", backend="sd-x-80"),
                                          t.DnsRecord(name="x.ok", backend="sd-x-80")])
    r.apply(odd)
    assert r.search_domains("x") == ("ok",)
    assert _service_of("sd-my-api-8080") == "my-api" and _service_of("tg-123") == ""


def test_responder_refuses_recursion_outside_the_node_networks_and_answers_garbage_with_formerr():
    nets = [ipaddress.ip_network("172.17.0.0/16")]
    r = DnsResponder(["127.0.0.1"], 0, PROXY, [("127.0.0.1", 9)], networks=lambda: nets, timeout=0.2)
    r.apply(table())
    q = DNSRecord.question("example.com").pack()
    assert DNSRecord.parse(r.handle(q, "203.0.113.9", False)).header.rcode == RCODE.REFUSED
    # From the node's network it is forwarded; nothing listens upstream, so SERVFAIL.
    assert DNSRecord.parse(r.handle(q, "172.17.0.5", False)).header.rcode == RCODE.SERVFAIL
    garbage = b"\x12\x34" + b"\xff" * 30
    formerr = DNSRecord.parse(r.handle(garbage, "172.17.0.5", False))
    assert formerr.header.id == 0x1234 and formerr.header.rcode == RCODE.FORMERR
    assert r.handle(b"\x00", "172.17.0.5", False) is None
    # A name whose compression pointer points at itself, and a label running past the end.
    header = bytes.fromhex("abcd01000001000000000000")
    for hostile in (header + b"\xc0\x0c\x00\x01\x00\x01", header + b"\x3f" + b"a" * 10):
        assert DNSRecord.parse(r.handle(hostile, "127.0.0.1", False)).header.rcode == RCODE.FORMERR


def test_responder_never_forwards_to_itself():
    r = DnsResponder(["127.0.0.1"], 5353, PROXY, [("127.0.0.1", 5353), ("192.0.2.53", 53)])
    assert r.upstreams == [("192.0.2.53", 53)]


@pytest.mark.parametrize("value,expected", [
    ("10.0.0.2", ("10.0.0.2", 53)), ("10.0.0.2:5353", ("10.0.0.2", 5353)),
    ("[2001:db8::1]:54", ("2001:db8::1", 54)), ("2001:db8::1", ("2001:db8::1", 53)),
])
def test_upstream_values(value, expected):
    assert upstream.parse(value) == expected


@pytest.mark.parametrize("value,why", [
    ("dns.example", "not an IP address"), ("10.0.0.2:0", "port must be"), ("10.0.0.2:x", "port must be"),
    ("[2001:db8::1", "expected IP"),
])
def test_bad_upstream_values_say_why(value, why):
    with pytest.raises(upstream.UpstreamError, match=why):
        upstream.parse(value)


def test_resolv_conf_nameservers(tmp_path):
    conf = tmp_path / "resolv.conf"
    conf.write_text("# a comment\nsearch example.org\nnameserver 10.0.0.2\nnameserver fe80::1%eth0\n"
                    "nameserver bogus\noptions ndots:2\n")
    assert upstream.from_resolv_conf(str(conf)) == [("10.0.0.2", 53), ("fe80::1", 53)]
    assert upstream.from_resolv_conf(str(tmp_path / "missing")) == []


def test_a_named_port_has_its_own_srv_name_with_only_that_port():
    tb = t.RoutingTable(revision=3, backends=[
        t.RouteBackend(name="sd-api-8080", servers=[server("task1-8080", "192.0.2.10", 31001)]),
        t.RouteBackend(name="sd-api-9090", servers=[server("task1-9090", "192.0.2.10", 31002)]),
    ], dns=[
        t.DnsRecord(name="api.lab", backend="sd-api-8080", port=8080, port_name="http"),
        t.DnsRecord(name="api.lab", backend="sd-api-9090", port=9090, port_name="Metrics"),
    ])
    z = zone.build(tb, PROXY)
    ports = {name: sorted(rr.rdata.port for rr in ask(z, name, "SRV").rr)
             for name in ("api.lab", "_api._tcp.api.lab", "_http._tcp.api.lab", "_metrics._tcp.api.lab")}
    assert ports == {"api.lab": [31001, 31002], "_api._tcp.api.lab": [31001, 31002],
                     "_http._tcp.api.lab": [31001], "_metrics._tcp.api.lab": [31002]}
    assert ask(z, "_grpc._tcp.api.lab", "SRV").header.rcode == RCODE.NXDOMAIN


def test_over_udp_additional_records_go_before_the_answer_is_cut():
    def srv_reply(n: int, edns: bool) -> DNSRecord:
        tb = t.RoutingTable(revision=1, backends=[t.RouteBackend(name="sd-mid-80", servers=[
            server(f"t{i}-80", f"10.1.0.{i}", 30000 + i) for i in range(1, n + 1)])],
            dns=[t.DnsRecord(name="mid.lab", backend="sd-mid-80", port=80)])
        q = DNSRecord.question("mid.lab", "SRV")
        if edns:
            q.add_ar(EDNS0(udp_len=4096))
        return DNSRecord.parse(answer.pack(answer.answer(zone.build(tb, PROXY), q, True), q, tcp=False))

    # 12 targets: the SRV records fit in 512 bytes, their addresses beside them do not.
    lean = srv_reply(12, edns=False)
    assert lean.header.tc == 0 and len(lean.rr) == 12 and lean.ar == []
    # A client that sent EDNS0 gets ours back, and room for the addresses too.
    full = srv_reply(12, edns=True)
    assert len(full.rr) == 12 and len([rr for rr in full.ar if rr.rtype == QTYPE.A]) == 12
    assert [rr.rtype for rr in full.ar].count(QTYPE.OPT) == 1


def test_the_host_networks_hold_loopback_and_every_interface_address():
    nets = local_networks()
    assert any(ipaddress.ip_address("127.0.0.1") in n for n in nets)
    for addrs in psutil.net_if_addrs().values():
        for a in addrs:
            if a.family == socket.AF_INET:
                assert any(ipaddress.ip_address(a.address) in n for n in nets), a.address


def test_without_given_upstreams_resolv_conf_is_read_again_as_it_changes(tmp_path, monkeypatch):
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 10.0.0.2\n")
    clock = [1000.0]
    monkeypatch.setattr("agent.dns.responder.time.monotonic", lambda: clock[0])
    r = DnsResponder(["127.0.0.1"], 53, PROXY, None, networks=lambda: [], resolv_conf=str(conf))
    assert r.upstreams == [("10.0.0.2", 53)]
    conf.write_text("nameserver 10.0.0.3\nnameserver 127.0.0.1\n")  # DHCP moved; ourselves listed too
    assert r.upstreams == [("10.0.0.2", 53)]  # not yet: read at most once per refresh
    clock[0] += NETWORKS_REFRESH
    assert r.upstreams == [("10.0.0.3", 53)]


def test_names_under_a_public_top_level_domain_are_left_out_and_the_domain_not_owned():
    tb = table()
    tb.dns.add(name="web.org", via_proxy=True, backend="sd-web-80", port=80)
    tb.dns.add(name="pypi.ORG.", via_proxy=True, backend="sd-web-80", port=80)
    tb.dns.add(name="a.b.io", backend="sd-api-8080", port=8080)
    z = zone.build(tb, PROXY)
    assert z.left_out == {"web.org", "pypi.org", "a.b.io"}
    assert z.domains == {"lab"}
    for name in ("pypi.org", "web.org", "files.pythonhosted.org", "org", "a.b.io", "x.b.io"):
        assert ask(z, name) is None, name  # forwarded upstream, as any name outside Shoal's
    assert rdata(ask(z, "web.lab"), "A") == [PROXY]
