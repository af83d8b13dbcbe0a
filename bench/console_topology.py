"""What the console's topology page costs at 1,000 nodes, in headless Chromium: the real
console server (sessions, JSON views, change stream) over a replica's watch-fed cache, on an
in-memory store holding ``--nodes`` node records in three zones (some DRAINING, some with no
agent connected) and ``--tasks`` RUNNING tasks of ten services. No control plane, agents or
etcd: what is measured is the page and the console, not a fleet joining (see bench/scale.py
for that; on a shared 2-core box a 1,000-node hollow fleet drives the load past 300).

Prints: the time from opening the Nodes page to every node's tile drawn (median and max of
``--repeat``), the size of /api/nodes (read on each change notice while the page is open),
and the change stream while one task record changes every 100 ms for 10 s: notices and
bytes sent, and how long after a drain the drained tile shows it.

    python bench/console_topology.py [--nodes 1000] [--tasks 5000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from controlplane.api.context import ApiContext  # noqa: E402
from controlplane.cache import Cache  # noqa: E402
from controlplane.console.logs import LogSource  # noqa: E402
from controlplane.console.server import Console  # noqa: E402
from controlplane.console.views import Views  # noqa: E402
from controlplane.feed import EventFeed  # noqa: E402
from shoal import keys  # noqa: E402
from shoal.security.ca import Identity  # noqa: E402
from shoal.store.memory import MemoryStore  # noqa: E402
from shoal.v1 import resources_pb2 as r  # noqa: E402
from tests.headless import OPEN_AND_TIME, chromium  # noqa: E402

ZONES = ("a", "b", "c")
STREAM = """
const [ms, done] = [arguments[0], arguments[arguments.length - 1]];
const es = new EventSource('/api/stream');
let notices = 0, bytes = 0;
es.addEventListener('change', (e) => { notices += 1; bytes += e.data.length + 'event: change\\ndata: \\n\\n'.length; });
const reads = () => performance.getEntriesByType('resource').filter((r) => r.name.endsWith('/api/nodes')).length;
const before = reads();
setTimeout(() => { es.close(); done([notices, bytes, reads() - before]); }, ms);
"""


def fill(store: MemoryStore, nodes: int, tasks: int) -> list[r.ContainerInstance]:
    lease = store.grant_lease(3600)
    made = []
    for i in range(nodes):
        node = r.ContainerInstance(id=f"{i:032x}", hostname=f"hollow-{i:05d}", cluster="default",
                                   status="DRAINING" if i % 97 == 5 else "ACTIVE", cpu_units=4096, memory_mib=8192,
                                   attributes=[r.Attribute(name="ecs.availability-zone", value=ZONES[i % 3])])
        store.put(keys.node("default", node.id), node.SerializeToString())
        if i % 113 != 7:  # a few with no agent connected: shown lost
            store.put(keys.alive(node.id), b"1", lease=lease)
        made.append(node)
    for j in range(tasks):
        t = r.Task(id=f"{j:032x}"[::-1], cluster="default", service_name=f"svc-{j % 10}", group=f"service:svc-{j % 10}",
                   node_id=made[j % nodes].id, last_status="RUNNING", desired_status="RUNNING", cpu="256",
                   memory="512", created_at=time.time())
        store.put(keys.task("default", t.id), t.SerializeToString())
    return made


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nodes", type=int, default=1000)
    p.add_argument("--tasks", type=int, default=5000)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--smoke", action="store_true", help="60 nodes, 200 tasks, one open, a 3 s stream: proves it runs")
    args = p.parse_args(argv)
    window = 10
    if args.smoke:
        args.nodes, args.tasks, args.repeat, window = 60, 200, 1, 3
    if not shutil.which("chromium") or not shutil.which("chromedriver"):
        print("needs chromium and chromium-driver (scripts/bootstrap.sh)", file=sys.stderr)
        return 2
    store = MemoryStore()
    nodes = fill(store, args.nodes, args.tasks)
    feed = EventFeed()
    cache = Cache(store, on_change=lambda: None)
    cache.add_listener(feed.observe)
    cache.start()
    console = Console("127.0.0.1", 0, ApiContext(store), Views(cache, feed, lambda: "bench"), feed, False,
                      LogSource(lambda _: None, ""))  # type: ignore[arg-type,return-value]
    with tempfile.TemporaryDirectory(prefix="console-topology-") as tmp:
        b = chromium(Path(tmp), "1400,1000")
        try:
            b.set_script_timeout(120)
            b.get(console.link(Identity(role="admin", name="bench")).url)
            times = sorted(b.execute_async_script(OPEN_AND_TIME, args.nodes) for _ in range(args.repeat))
            size = b.execute_async_script("const done = arguments[arguments.length - 1]; "
                                          "fetch('/api/nodes').then(r => r.text()).then(t => done(t.length));")
            stop = threading.Event()

            def churn() -> None:
                k = 0
                while not stop.wait(0.1):
                    t = r.Task(id=f"{k:032x}"[::-1], cluster="default", service_name=f"svc-{k % 10}",
                               node_id=nodes[k % len(nodes)].id, last_status="RUNNING", desired_status="RUNNING",
                               cpu="256", memory=str(512 + k % 7), created_at=time.time())
                    store.put(keys.task("default", t.id), t.SerializeToString())
                    k += 1

            churner = threading.Thread(target=churn, daemon=True)
            churner.start()
            b.execute_script("performance.setResourceTimingBufferSize(10000)")
            notices, stream_bytes, reads = b.execute_async_script(STREAM, window * 1000)
            stop.set()
            churner.join()
            # A drain, seen on the open page.
            victim = nodes[1]
            # Clock started just before the write (the page's own clock, stopped by the redraw).
            tile = f'a.tile.draining[data-tile="{victim.id}"]'
            b.execute_script("window.drainSeen = null; const t0 = performance.now(); new MutationObserver(() => { "
                             "if (!window.drainSeen && document.querySelector(arguments[0])) "
                             "window.drainSeen = performance.now() - t0; })"
                             ".observe(document.getElementById('page'), {childList: true, subtree: true});", tile)
            started = time.monotonic()
            drained = r.ContainerInstance()
            drained.CopyFrom(victim)
            drained.status = "DRAINING"
            store.put(keys.node("default", victim.id), drained.SerializeToString())
            seen = None
            while seen is None and time.monotonic() - started < 30:
                seen = b.execute_script("return window.drainSeen")
                time.sleep(0.05)
        finally:
            b.quit()
            console.close()
            cache.close()
            store.close()
    print(f"topology page, {args.nodes} nodes in 3 zones, {args.tasks} tasks of 10 services, headless Chromium:")
    print(f"  open to every tile drawn: median {statistics.median(times):.0f} ms, max {times[-1]:.0f} ms "
          f"({args.repeat} opens)")
    print(f"  /api/nodes (read on each notice while the page is open): {size / 1024:.0f} KiB")
    print(f"  change stream, a task changing every 100 ms for {window} s: {notices} notices, {stream_bytes} bytes; "
          f"the open page re-read /api/nodes {reads} times ({reads * size / 1024:.0f} KiB)")
    print("  a drain written to the store -> its tile marked on the open page: "
          + (f"{seen:.0f} ms" if seen is not None else "not within 30 s"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
