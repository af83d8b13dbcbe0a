"""The AgentGateway gRPC service: node registration, and one stream per agent that
carries heartbeats and task state up and the node's assignments down. Each concern is its
own module; this class only puts them together over the state they share:

- ``agent_registration.py``: RegisterNode (the node record's registered resources);
- ``agent_stream.py``: the Connect stream, its reader and its send loop;
- ``agent_liveness.py``: the alive/ keys, silent agents, a replica cut off from etcd;
- ``task_reports.py``: the one narrow write of what an agent observed of its tasks.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent import futures

from controlplane.api.agent_liveness import Liveness
from controlplane.api.agent_registration import Registration
from controlplane.api.agent_stream import AgentStream, Streams
from controlplane.api.context import ApiContext
from controlplane.api.task_reports import TaskReports
from controlplane.assignments import AssignmentFeed
from shoal.replica_lease import ReplicaLease
from shoal.store.group_commit import Batcher
from shoal.v1 import agent_pb2, agent_pb2_grpc

STORE_WORKERS = 4


class AgentGatewayService(Registration, Streams, Liveness, TaskReports, agent_pb2_grpc.AgentGatewayServicer):
    def __init__(self, ctx: ApiContext, feed: AssignmentFeed, lease: ReplicaLease, ttl: float) -> None:
        self.ctx = ctx
        self.feed = feed
        self.lease = lease
        self.ttl = ttl
        self._lock = threading.Lock()
        self._streams: dict[str, AgentStream] = {}
        # Nodes whose stream ended but whose alive key stands until their TTL runs out:
        # a quick reconnect (to this or another replica) must not look like a lost node.
        self._lingering: dict[str, AgentStream] = {}
        lease.on_new_lease(self._rewrite_alive_keys)
        # Agents' task reports, written many to a transaction (task_reports.py).
        self.reports = Batcher(self._write_reports, name="task-reports")
        # The streams' store work (alive keys, proxy checks, a Hello's lookups): a few
        # threads, so the runnable threads stay few however many agents are connected.
        self.store_pool = futures.ThreadPoolExecutor(max_workers=STORE_WORKERS, thread_name_prefix="gateway-store")
        # This replica's gRPC address, the value of the alive keys it writes: another
        # replica relays calls that need an agent's stream (logs) to it.
        self.address = ""
        # Hooks of the log relay (controlplane/api/logs.py): chunks an agent sends up, and
        # the end of an agent's stream.
        self.on_log_chunk: Callable[[str, agent_pb2.AgentLogChunk], None] | None = None
        self.on_stream_end: Callable[[str], None] | None = None
        # The cluster's current routing table for a new stream (controlplane/routing_publisher.py).
        self.routing_for: Callable[[str], agent_pb2.ControlMessage | None] = lambda _cluster: None
