"""`shoal top`: a live terminal view of one cluster — nodes with CPU and memory reserved
against registered as bars, services with running/desired, the newest events — drawn with
rich's Live. Keys: Tab moves between the panels, j/k (or the arrows) scroll the one in focus,
q quits. State is read through the Operator and Events APIs every --interval seconds (new
events only, by sequence number)."""

from __future__ import annotations

import contextlib
import os
import select
import sys
import termios
import time
import tty
from collections.abc import Iterator
from dataclasses import dataclass, field

from rich.console import Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from shoal.paging import batches, every_page
from shoal.v1 import events_pb2 as ev
from shoal.v1 import events_pb2_grpc
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoalctl.cli.client import Client, add_target_flags, connect
from shoalctl.cli.errors import CliError

PANELS = ("nodes", "services", "events")
BAR = 20
KEEP_EVENTS = 200


@dataclass
class Snapshot:
    nodes: list[r.ContainerInstance] = field(default_factory=list)
    services: list[r.Service] = field(default_factory=list)
    events: list[ev.ClusterEvent] = field(default_factory=list)
    taken_at: float = 0.0


@dataclass
class Screen:
    focus: int = 0
    offsets: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PANELS, 0))

    def key(self, k: str) -> bool:
        """Applies key ``k``; False when it means quit."""
        panel = PANELS[self.focus]
        if k in ("q", "Q", "\x03"):
            return False
        if k == "\t":
            self.focus = (self.focus + 1) % len(PANELS)
        elif k in ("j", "\x1b[B"):
            self.offsets[panel] += 1
        elif k in ("k", "\x1b[A"):
            self.offsets[panel] = max(0, self.offsets[panel] - 1)
        return True


def read(ops: Client, events: Client, cluster: str, held: Snapshot) -> Snapshot:
    arns = every_page(ops.ListContainerInstances, op.ListContainerInstancesRequest(cluster=cluster))
    nodes: list[r.ContainerInstance] = []
    for batch in batches(arns, 100):
        nodes += ops.DescribeContainerInstances(op.DescribeContainerInstancesRequest(
            cluster=cluster, container_instances=batch)).container_instances
    names = every_page(ops.ListServices, op.ListServicesRequest(cluster=cluster))
    services: list[r.Service] = []
    for batch in batches(names, 10):
        services += ops.DescribeServices(op.DescribeServicesRequest(cluster=cluster, services=batch)).services
    after = held.events[-1].seq if held.events else 0
    new = events.ListEvents(ev.ListEventsRequest(cluster=cluster, after_seq=after, limit=KEEP_EVENTS)).events
    return Snapshot(sorted(nodes, key=lambda n: (_zone(n), n.hostname)), sorted(services, key=lambda s: s.service_name),
                    (held.events + list(new))[-KEEP_EVENTS:], time.time())


def _zone(n: r.ContainerInstance) -> str:
    return next((a.value for a in n.attributes if a.name == "ecs.availability-zone"), "")


def bar(used: int, total: int) -> Text:
    filled = round(BAR * used / total) if total > 0 else 0
    filled = max(0, min(BAR, filled))
    colour = "red" if filled >= BAR * 0.9 else "yellow" if filled >= BAR * 0.7 else "green"
    return Text("█" * filled, style=colour) + Text("░" * (BAR - filled), style="dim") + Text(f" {used}/{total}")


def _remaining(n: r.ContainerInstance, name: str) -> int:
    return next((x.integer_value for x in n.remaining_resources if x.name == name), 0)


def render(snap: Snapshot, screen: Screen, height: int, cluster: str) -> Group:
    """The whole screen for ``snap`` (pure: the same input, the same picture)."""
    rows = max(3, (height - 12) // 3)

    def titled(i: int, title: str) -> str:
        return f"[reverse] {title} [/reverse]" if screen.focus == i else f" {title} "

    nodes = Table(expand=True, box=None)
    for col in ("node", "zone", "status", "agent", "cpu reserved", "memory reserved", "tasks"):
        nodes.add_column(col)
    start = min(screen.offsets["nodes"], max(0, len(snap.nodes) - 1))
    for n in snap.nodes[start:start + rows]:
        nodes.add_row(n.hostname or n.id, _zone(n), Text(n.status, style="yellow" if n.status == "DRAINING" else ""),
                      Text("connected", style="green") if n.agent_connected else Text("lost", style="bold red"),
                      bar(n.cpu_units - _remaining(n, "CPU"), n.cpu_units),
                      bar(n.memory_mib - _remaining(n, "MEMORY"), n.memory_mib),
                      f"{n.running_tasks_count}+{n.pending_tasks_count}")
    services = Table(expand=True, box=None)
    for col in ("service", "running/desired", "pending", "task definition", "rollout"):
        services.add_column(col)
    start = min(screen.offsets["services"], max(0, len(snap.services) - 1))
    for s in snap.services[start:start + rows]:
        primary = next((d for d in s.deployments if d.status == "PRIMARY"), None)
        style = "green" if s.running_count == s.desired_count else "yellow"
        services.add_row(s.service_name, Text(f"{s.running_count}/{s.desired_count}", style=style),
                         str(s.pending_count), s.task_definition.rpartition("/")[2],
                         primary.rollout_state if primary else "")
    events = Table(expand=True, box=None, show_header=False)
    events.add_column("time", no_wrap=True)
    events.add_column("kind", no_wrap=True)
    events.add_column("message")
    newest = snap.events[::-1]
    start = min(screen.offsets["events"], max(0, len(newest) - 1))
    for e in newest[start:start + rows]:
        events.add_row(time.strftime("%H:%M:%S", time.localtime(e.created_at)), e.kind, Text(e.message))
    connected = sum(1 for n in snap.nodes if n.agent_connected)
    head = Text(f"shoal top — cluster {cluster}: {connected}/{len(snap.nodes)} nodes connected, "
                f"{len(snap.services)} services · {time.strftime('%H:%M:%S', time.localtime(snap.taken_at))} · "
                "Tab: next panel  j/k: scroll  q: quit", style="bold")
    return Group(head, Panel(nodes, title=titled(0, f"nodes ({len(snap.nodes)})"), title_align="left"),
                 Panel(services, title=titled(1, f"services ({len(snap.services)})"), title_align="left"),
                 Panel(events, title=titled(2, "events (newest first)"), title_align="left"))


@contextlib.contextmanager
def keys_from(fd: int) -> Iterator[None]:
    """The terminal in cbreak mode (keys arrive one by one, unechoed) while inside."""
    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def next_key(fd: int, timeout: float) -> str | None:
    ready, _, _ = select.select([fd], [], [], timeout)
    if not ready:
        return None
    k = os.read(fd, 8).decode(errors="replace")
    return k or "q"  # end of input: quit


def top(a) -> int:
    if a.interval < 0.5:
        raise CliError(f"--interval: at least 0.5 seconds, got {a.interval}")
    ops, events = connect(a), connect(a, events_pb2_grpc.EventsStub)
    screen = Screen()
    snap = read(ops, events, a.cluster, Snapshot())
    fd = sys.stdin.fileno()
    with keys_from(fd), Live(screen=True, auto_refresh=False, redirect_stdout=False) as live:
        deadline = time.monotonic() + a.interval
        while True:
            live.update(render(snap, screen, live.console.size.height, a.cluster), refresh=True)
            k = next_key(fd, max(0.0, deadline - time.monotonic()))
            if k is not None:
                if not screen.key(k):
                    return 0
                continue
            snap = read(ops, events, a.cluster, snap)
            deadline = time.monotonic() + a.interval


def register(sub) -> None:
    p = sub.add_parser("top", help="a live terminal view of nodes, services and events")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between reads (default 2)")
    add_target_flags(p, cluster=True)
    p.set_defaults(func=top)
