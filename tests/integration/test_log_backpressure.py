"""A log reader that stops reading never stalls its node's heartbeats: a real control plane
on a real etcd, a scripted agent that answers `shoal logs --follow` with output as fast as
the stream takes it, and a caller that never reads a byte. The node stays connected and its
liveness key stays put for well over two TTLs; the stuck call is ended and the agent told
to stop reading."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import grpc
import pytest

from shoal import keys
from shoal.store.etcd import EtcdStore
from shoal.v1 import logs_pb2, logs_pb2_grpc
from shoal.v1 import operator_pb2 as op
from tests.fixtures.replica import ReplicaProcess
from tests.integration.test_controlplane import WEB, agent, cp, register  # noqa: F401 (cp: fixture)
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

TTL = 2.0  # the cp fixture's --lease-ttl


def never(problem: Callable[[], str], seconds: float) -> None:
    """Checks every 50 ms for ``seconds`` that ``problem()`` finds nothing ("")."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        found = problem()
        assert not found, f"after {time.monotonic() - start:.1f}s: {found}"
        time.sleep(0.05)  # the sampling period of an observation, not a wait for something


def test_a_reader_that_never_reads_does_not_stall_heartbeats(cp: ReplicaProcess) -> None:  # noqa: F811
    node = agent(cp, "host-0", heartbeat=TTL / 4)
    node.log_flood = 4000  # 125 MiB: far more than the control plane may buffer for one call
    register(cp, WEB)
    task = cp.api.RunTask(op.RunTaskRequest(cluster="default", task_definition="web")).tasks[0]
    wait_for(lambda: task.id in node.tasks(), 30, "the task assigned to host-0")
    node.report(task.id, "RUNNING")

    store = EtcdStore(cp.etcd.client_url)
    call = logs_pb2_grpc.LogsStub(cp.channel).GetTaskLogs(
        logs_pb2.GetTaskLogsRequest(cluster="default", task=task.id, follow=True))
    try:
        wait_for(lambda: node.log_requests, 15, "the agent asked for the task's logs")
        request_id = node.log_requests[0].request_id

        def lost() -> str:
            connected = cp.api.DescribeContainerInstances(op.DescribeContainerInstancesRequest(
                cluster="default", container_instances=[node.node_id])).container_instances[0].agent_connected
            alive = store.get(keys.alive(node.node_id)) is not None
            return "" if connected and alive else f"host-0 agentConnected={connected}, liveness key present={alive}"

        never(lost, 2.5 * TTL)
        # Meanwhile the reader that never read was cut off, and the agent told to stop reading.
        assert request_id in node.cancelled_logs
        # What the caller had in gRPC's buffers still reads; then the call says it was cancelled.
        outcome: list[object] = []

        def drain() -> None:
            try:
                for _ in call:
                    pass
                outcome.append("ended without an error")
            except grpc.RpcError as exc:
                outcome.append(exc.code())

        threading.Thread(target=drain, daemon=True).start()
        wait_for(lambda: outcome, 15, "the unread call to end")
        assert outcome == [grpc.StatusCode.CANCELLED]
    finally:
        call.cancel()
        store.close()
