"""`shoal events [--service S] [--follow]`: the services' event lists ("has started 2 tasks",
"has reached a steady state", deployment and circuit-breaker decisions), oldest first with
their times; --follow polls DescribeServices and prints new events until Ctrl-C."""

from __future__ import annotations

import time
from collections.abc import Callable

from shoal.paging import batches, every_page
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoalctl.cli.client import Client, add_target_flags, connect
from shoalctl.cli.errors import CliError


def stamp(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def fetch(c: Client, cluster: str, service: str | None) -> list[r.ServiceEvent]:
    """Every event the services (or the one named) keep, oldest first."""
    names = [service] if service else every_page(c.ListServices, op.ListServicesRequest(cluster=cluster))
    events: list[r.ServiceEvent] = []
    for batch in batches(names, 10):
        resp = c.DescribeServices(op.DescribeServicesRequest(cluster=cluster, services=batch))
        if service and not resp.services:
            raise CliError(f"service {service} not found in cluster {cluster}")
        for svc in resp.services:
            events += svc.events
    return sorted(events, key=lambda e: (e.created_at, e.id))


def follow(poll: Callable[[], list[r.ServiceEvent]], emit: Callable[[r.ServiceEvent], None],
           interval: float, stop: Callable[[], bool] = lambda: False) -> None:
    """Prints what ``poll`` returns, then each event not seen before, every ``interval``."""
    seen: set[str] = set()
    while not stop():
        current = poll()
        for e in current:
            if e.id not in seen:
                emit(e)
        # Events only fall off the bounded lists, never come back: the current ids suffice.
        seen = {e.id for e in current}
        if stop():
            return
        time.sleep(interval)


def show_events(a) -> None:
    c = connect(a)

    def emit(e: r.ServiceEvent) -> None:
        print(f"{stamp(e.created_at)}  {e.message}", flush=True)

    if a.follow:
        follow(lambda: fetch(c, a.cluster, a.service), emit, a.interval)
        return
    for e in fetch(c, a.cluster, a.service):
        emit(e)


def register(sub) -> None:
    p = sub.add_parser("events", help="service events, oldest first (--follow for new ones)")
    p.add_argument("--service", "-s", help="only this service's events")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing new events until Ctrl-C")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between polls with --follow (default 1)")
    add_target_flags(p, cluster=True)
    p.set_defaults(func=show_events)
