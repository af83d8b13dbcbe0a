"""`shoal app status|logs NAME`: what `shoal app deploy` made, read back — its URLs, the
service's deployments, tasks (node, health) and events, the scaling range — and the
interleaved output of its running tasks, each line prefixed with its task id. Reads only."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from controlplane import apps
from shoal.durations import parse_duration
from shoal.paging import batches, every_page
from shoal.v1 import logs_pb2, scaling_pb2_grpc, traffic_pb2_grpc
from shoal.v1 import operator_pb2 as op
from shoalctl.cli import client, logs, refs
from shoalctl.cli.client import endpoint
from shoalctl.cli.errors import CliError
from shoalctl.cli.output import ago, print_json, table, to_dict

EVENTS = 5  # the service's last events `app status` shows
POLL = 2.0  # seconds between looks for new tasks under `app logs --follow`


def app_plane(a) -> apps.Plane:
    """The control plane's APIs an app is made of, over gRPC at the command's --endpoint."""
    return apps.Plane(client.connect(a), client.connect(a, traffic_pb2_grpc.TrafficStub),
                      client.connect(a, scaling_pb2_grpc.ScalingStub))


def _read(plane: apps.Plane, cluster: str, name: str) -> tuple[apps.AppSpec, Any, Any]:
    found = apps.read(plane, cluster, name)
    if found is None:
        raise CliError(f"no app {name} in cluster {cluster} (`shoal app deploy` makes one)")
    return found


def _running(c: Any, cluster: str, name: str) -> list:
    arns = every_page(c.ListTasks, op.ListTasksRequest(cluster=cluster, service_name=name, desired_status="RUNNING"))
    return [t for batch in batches(arns, 100)
            for t in c.DescribeTasks(op.DescribeTasksRequest(cluster=cluster, tasks=list(batch))).tasks]


def _urls(c: Any, cluster: str, port: int) -> list[str]:
    """The load balancer listens on every node: one URL per ACTIVE node with an address."""
    arns = every_page(c.ListContainerInstances, op.ListContainerInstancesRequest(cluster=cluster, status="ACTIVE"))
    nodes = [n for batch in batches(arns, 100) for n in c.DescribeContainerInstances(
        op.DescribeContainerInstancesRequest(cluster=cluster, container_instances=list(batch))).container_instances]
    return [f"http://{n.address}:{port}/" for n in nodes if n.address]


def status_doc(spec: apps.AppSpec, svc: Any, tasks: list, nodes: dict[str, str], urls: list[str],
               events: int = EVENTS) -> dict:
    """The app's state as `-o json` prints it (ECS's camelCase names where ECS has them)."""
    return {
        "name": spec.name, "cluster": spec.cluster, "urls": urls, "image": spec.image,
        "taskDefinition": svc.task_definition, "desiredCount": svc.desired_count,
        "runningCount": svc.running_count, "pendingCount": svc.pending_count,
        "deployments": [to_dict(d) for d in svc.deployments],
        "tasks": [{"taskId": t.id, "taskDefinitionArn": t.task_definition_arn, "lastStatus": t.last_status,
                   "node": nodes.get(t.node_id, t.node_id), "nodeId": t.node_id,
                   "healthStatus": t.health_status or "UNKNOWN",
                   "targetHealth": t.target_health[0].state if t.target_health else "",
                   "startedAt": t.started_at} for t in tasks],
        "scaling": {"minCapacity": spec.min, "maxCapacity": spec.max, "metric": spec.metric,
                    "targetValue": spec.target},
        "events": [{"createdAt": e.created_at, "message": e.message} for e in svc.events[:events]],
    }


def _short(arn: str) -> str:
    return arn.rpartition("/")[2] or "-"


def print_status(doc: dict) -> None:
    print(f"{doc['name']}  {_short(doc['taskDefinition'])}  {doc['image']}")
    print(f"running={doc['runningCount']} pending={doc['pendingCount']} desired={doc['desiredCount']}  "
          f"scaling {doc['scaling']['minCapacity']}-{doc['scaling']['maxCapacity']} on "
          f"{doc['scaling']['metric']} target {doc['scaling']['targetValue']:g}")
    for address in doc["urls"] or ["(no ACTIVE node with an address: the load balancer listens on the nodes)"]:
        print(address)
    print("\nDEPLOYMENTS")
    table(["STATUS", "TASKDEF", "DESIRED", "RUNNING", "PENDING", "FAILED", "ROLLOUT", "REASON"],
          [[d.get("status", ""), _short(d.get("taskDefinition", "")), d.get("desiredCount", 0),
            d.get("runningCount", 0), d.get("pendingCount", 0), d.get("failedTasks", 0),
            d.get("rolloutState", "-"), d.get("rolloutStateReason", "")] for d in doc["deployments"]])
    print("\nTASKS")
    table(["TASK", "TASKDEF", "STATUS", "NODE", "HEALTH", "TARGET", "UP"],
          [[t["taskId"][:12], _short(t["taskDefinitionArn"]), t["lastStatus"], t["node"], t["healthStatus"],
            t["targetHealth"] or "-", ago(t["startedAt"])] for t in doc["tasks"]])
    print("\nEVENTS")
    for e in doc["events"]:
        print(f"  {ago(e['createdAt']):>4} ago  {e['message']}")


def status(a) -> None:
    plane = app_plane(a)
    spec, svc, lb = _read(plane, a.cluster, a.name)
    c = plane.operator
    doc = status_doc(spec, svc, _running(c, a.cluster, a.name), refs.node_names(c, a.cluster),
                     _urls(c, a.cluster, lb.listeners[0].port) if lb.listeners else [])
    if a.output == "json":
        print_json(doc)
    else:
        print_status(doc)


class Interleaved:
    """Several tasks' output as one stream of whole lines, each prefixed with its task's
    id; a line is written only once complete (a task's partial line waits for its end)."""

    def __init__(self, write: Callable[[bytes], None]) -> None:
        self._write = write
        self._lock = threading.Lock()
        self._partial: dict[str, bytes] = {}

    def feed(self, task_id: str, data: bytes) -> None:
        prefix = f"{task_id[:12]} | ".encode()
        with self._lock:
            *whole, rest = (self._partial.pop(task_id, b"") + data).split(b"\n")
            self._partial[task_id] = rest
            if whole:
                self._write(b"".join(prefix + line + b"\n" for line in whole))

    def end(self, task_id: str) -> None:
        with self._lock:
            rest = self._partial.pop(task_id, b"")
            if rest:
                self._write(f"{task_id[:12]} | ".encode() + rest + b"\n")


def _stdout(data: bytes) -> None:
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


class _Streams:
    """One thread per task streaming its output (as `shoal logs` does) into ``out``; a task's
    failure is said on stderr and the others go on."""

    def __init__(self, target: str, out: Interleaved) -> None:
        self._target = target
        self._out = out
        self._threads: dict[str, threading.Thread] = {}
        self.failed: list[str] = []

    def add(self, task_id: str, request: logs_pb2.GetTaskLogsRequest) -> None:
        thread = threading.Thread(target=self._run, args=(task_id, request), daemon=True,
                                  name=f"logs-{task_id[:12]}")
        self._threads[task_id] = thread
        thread.start()

    def known(self) -> set[str]:
        return set(self._threads)

    def _run(self, task_id: str, request: logs_pb2.GetTaskLogsRequest) -> None:
        try:
            logs.stream(self._target, request, lambda data: self._out.feed(task_id, data))
        except CliError as exc:
            self.failed.append(task_id)
            print(f"shoal: task {task_id[:12]}: {exc}", file=sys.stderr, flush=True)
        finally:
            self._out.end(task_id)

    def join(self) -> None:
        for thread in list(self._threads.values()):
            thread.join()


def show_logs(a) -> int:
    if a.tail is not None and a.tail < 0:
        raise CliError(f"--tail: must be 0 or more, got {a.tail}")
    since = int(parse_duration(a.since, "--since")) if a.since else 0
    plane = app_plane(a)
    _read(plane, a.cluster, a.name)
    c = plane.operator
    streams = _Streams(endpoint(a.endpoint), Interleaved(_stdout))

    def request(task_id: str, since_seconds: int, tail: int) -> logs_pb2.GetTaskLogsRequest:
        return logs_pb2.GetTaskLogsRequest(cluster=a.cluster, task=task_id, container="", follow=a.follow,
                                           since_seconds=since_seconds, tail=tail)

    for t in _running(c, a.cluster, a.name):
        streams.add(t.id, request(t.id, since, a.tail or 0))
    if not streams.known() and not a.follow:
        raise CliError(f"app {a.name} has no running task")
    while a.follow:
        # Tasks started since (a redeploy, a scale-out, a replacement) join with all they wrote.
        time.sleep(POLL)
        for t in _running(c, a.cluster, a.name):
            if t.id not in streams.known():
                streams.add(t.id, request(t.id, 0, 0))
    streams.join()
    return 1 if streams.failed else 0
