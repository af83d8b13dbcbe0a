"""`shoal events`: the cluster-wide event feed (service events, deployments, task state
changes, node changes), oldest first with their times, filtered by service, node and kind;
--follow keeps printing new ones as the control plane's watch sees them (a stream, no
polling) and moves to another replica if its replica goes away."""

from __future__ import annotations

import json
import sys
import time

import grpc

from shoal.durations import parse_duration
from shoal.v1 import events_pb2 as ev
from shoal.v1 import events_pb2_grpc
from shoalctl.cli.client import add_target_flags, connect, connection, describe_rpc_error, endpoint
from shoalctl.cli.errors import CliError
from shoalctl.cli.output import to_dict

KINDS = ("service", "deployment", "task", "node", "chaos")


def stamp(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def line(e: ev.ClusterEvent) -> str:
    return f"{stamp(e.created_at)}  {e.kind:<10}  {e.message}"


def request(a) -> ev.ListEventsRequest:
    kinds = [k.strip() for k in ",".join(a.kind or []).split(",") if k.strip()]
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise CliError(f"--kind: {bad[0]!r} is not one of {', '.join(KINDS)}")
    if a.limit is not None and not 0 < a.limit <= 10_000:
        raise CliError(f"--limit: must be 1-10000, got {a.limit}")
    since = time.time() - parse_duration(a.since, "--since") if a.since else 0.0
    return ev.ListEventsRequest(cluster=a.cluster, service=a.service or "", node=a.node or "", kinds=kinds,
                                since=since, limit=a.limit or 0)


def show_events(a) -> int:
    req = request(a)
    emit = (lambda e: print(json.dumps(to_dict(e)), flush=True)) if a.output == "json" else \
        (lambda e: print(line(e), flush=True))
    if not a.follow:
        c = connect(a, events_pb2_grpc.EventsStub)
        for e in c.ListEvents(req).events:
            emit(e)
        return 0
    try:
        follow(a, req, emit)
    except BrokenPipeError:
        return 0
    return 0


def follow(a, req: ev.ListEventsRequest, emit) -> None:
    """Streams from one replica after another: each replica numbers its own events, so a
    move resumes by time and skips what was already printed."""
    conn = connection(endpoint(a.endpoint))
    printed: set[tuple[float, str, str]] = set()
    failures = 0
    while True:
        for target in conn.targets:
            channel = conn.open(target)
            try:
                for e in events_pb2_grpc.EventsStub(channel).WatchEvents(req):
                    failures = 0
                    seen = (e.created_at, e.kind, e.message)
                    if seen in printed:
                        continue
                    printed.add(seen)
                    emit(e)
                    req.since = max(req.since, e.created_at)
                return
            except grpc.RpcError as exc:
                if exc.code() != grpc.StatusCode.UNAVAILABLE:
                    raise CliError(describe_rpc_error(exc, target)) from None
                failures += 1
                if failures > 3 * len(conn.targets):
                    raise CliError(describe_rpc_error(exc, ",".join(conn.targets))) from None
                print(f"shoal: {target} went away; following from the next replica", file=sys.stderr)
                time.sleep(1)
            finally:
                channel.close()


def register(sub) -> None:
    p = sub.add_parser("events", help="the cluster's events, oldest first (--follow for new ones)")
    p.add_argument("--service", "-s", help="only this service's events")
    p.add_argument("--node", "-n", help="only events of this node (its id)")
    p.add_argument("--kind", "-k", action="append",
                   help=f"only these kinds ({', '.join(KINDS)}); repeat or comma-separate")
    p.add_argument("--since", help="only events of the last DURATION (30s, 10m, 2h, 1d)")
    p.add_argument("--limit", type=int, help="at most this many, the newest (default 1000)")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing new events until Ctrl-C")
    add_target_flags(p, cluster=True, output=True)
    p.set_defaults(func=show_events)
