"""How fast is a node's DNS responder? A responder on loopback with a routing table of
``--services`` services of 3 tasks each, and a stand-in upstream resolver (dnslib's server)
beside it. Prints, over ``--queries`` sequential UDP queries each:

- local:     an A query for a service name, answered from the table
- forwarded: an A query for another name, through the responder to the upstream, beside the
             same query asked of the upstream directly, alternating (the forwarding cost)
- throughput of local answers with 8 clients at once
- apply:     building the zone from the whole table (what each routing push costs), wall
             and CPU time

    python bench/dns.py [--queries 5000] [--services 1000]

`--smoke` is 200 queries and 50 services: proves it runs.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from dnslib import RR, DNSRecord  # noqa: E402
from dnslib.server import DNSServer  # noqa: E402

from agent.dns.responder import DnsResponder  # noqa: E402
from bench._timing import pct  # noqa: E402
from shoal.v1 import traffic_pb2 as t  # noqa: E402

CLIENTS = 8


class _Upstream:
    def resolve(self, request, handler):
        reply = request.reply()
        reply.add_answer(*RR.fromZone(f"{request.q.qname} 60 A 198.51.100.7"))
        return reply


class _Quiet:
    def __getattr__(self, name):
        return lambda *args: None


def table(services: int) -> t.RoutingTable:
    tb = t.RoutingTable(cluster="bench", revision=1)
    for i in range(services):
        tb.backends.add(name=f"sd-svc{i}-8080", mode="http", servers=[
            t.RouteServer(name=f"task{i}x{j}-8080", address=f"10.{i // 250}.{i % 250}.{j + 1}", port=31000 + j,
                          active=True) for j in range(3)])
        tb.dns.add(name=f"svc{i}.bench", backend=f"sd-svc{i}-8080", port=8080)
    return tb


def timed_queries(port: int, names: list[str]) -> list[float]:
    out = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        for name in names:
            data = DNSRecord.question(name).pack()
            started = time.perf_counter()
            s.sendto(data, ("127.0.0.1", port))
            reply = s.recv(65535)
            out.append(time.perf_counter() - started)
            assert reply[:2] == data[:2] and DNSRecord.parse(reply).rr, f"no answer for {name}"
    return out


def pct_ms(samples: list[float], q: float) -> float:
    return pct(samples, q) * 1000


def line(what: str, samples: list[float]) -> str:
    return f"{what}: p50 {pct_ms(samples, 0.5):.3f} ms p99 {pct_ms(samples, 0.99):.3f} ms ({len(samples)} queries)"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--queries", type=int, default=5000)
    p.add_argument("--services", type=int, default=1000)
    p.add_argument("--smoke", action="store_true")
    args = p.parse_args()
    if args.smoke:
        args.queries, args.services = 200, 50
    upstream = DNSServer(_Upstream(), port=0, address="127.0.0.1", logger=_Quiet())
    upstream.start_thread()
    upstream_port = upstream.server.server_address[1]
    dns = DnsResponder(["127.0.0.1"], 0, "172.17.0.1", [("127.0.0.1", upstream_port)])
    dns.start()
    try:
        tb = table(args.services)
        started, cpu_started = time.perf_counter(), time.process_time()
        dns.apply(tb)
        apply_ms = (time.perf_counter() - started) * 1000
        # CPU time too: on a shared box the wall time is mostly other processes' turn.
        apply_cpu_ms = (time.process_time() - cpu_started) * 1000
        local_names = [f"svc{i % args.services}.bench" for i in range(args.queries)]
        other_names = [f"host{i}.example.test" for i in range(args.queries)]
        timed_queries(dns.port, local_names[:50])  # warm up
        local = timed_queries(dns.port, local_names)
        # Alternated query by query, so both see the same moments of a busy box.
        direct, forwarded = [], []
        for name in other_names:
            direct += timed_queries(upstream_port, [name])
            forwarded += timed_queries(dns.port, [name])
        per_client = max(1, args.queries // CLIENTS)
        threads = [threading.Thread(target=timed_queries, args=(dns.port, local_names[:per_client]))
                   for _ in range(CLIENTS)]
        started = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        rate = CLIENTS * per_client / (time.perf_counter() - started)
    finally:
        dns.stop()
        upstream.stop()
        upstream.server.server_close()
    added50 = pct_ms(forwarded, 0.5) - pct_ms(direct, 0.5)
    added99 = pct_ms(forwarded, 0.99) - pct_ms(direct, 0.99)
    print(f"table: {args.services} services x 3 tasks")
    print(line("local A answer", local))
    print(line("upstream asked directly", direct))
    print(line("forwarded through the responder", forwarded))
    print(f"forwarding adds: p50 {added50:.3f} ms p99 {added99:.3f} ms")
    print(f"local answers, {CLIENTS} clients at once: {rate:,.0f} queries/s")
    print(f"apply of the whole table: {apply_ms:.1f} ms (CPU {apply_cpu_ms:.1f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
