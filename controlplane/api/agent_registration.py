"""The agent gateway's registration half: ``RegisterNode`` creates or refreshes the node's
record (what the host offers); it is idempotent for the node id the agent saved."""

from __future__ import annotations

import ipaddress
import logging
import time
import uuid
from collections.abc import Callable

from controlplane.api.attributes import merged_attributes
from controlplane.api.context import ApiContext
from controlplane.api.nodes import refuse_if_deregistered
from controlplane.errors import ApiError, grpc_errors, invalid
from shoal import keys
from shoal.logs import kv
from shoal.v1 import agent_pb2
from shoal.v1 import resources_pb2 as r
from shoal.validation import check_name, is_plain_ip

log = logging.getLogger(__name__)

_MAX_ATTRIBUTES = 64


class Registration:
    """Part of ``AgentGatewayService`` (controlplane/api/agents.py), which sets these."""

    ctx: ApiContext
    ttl: float
    refusal_if_cut_off: Callable[[], ApiError | None]

    @grpc_errors
    def RegisterNode(self, request: agent_pb2.RegisterNodeRequest, context) -> agent_pb2.RegisterNodeResponse:
        if (refusal := self.refusal_if_cut_off()) is not None:
            raise refusal
        cluster = self.ctx.require_cluster(request.cluster or "default").msg.cluster_name
        if request.node_id:
            refuse_if_deregistered(self.ctx.store, request.node_id)
        _check_registration(request)
        node_id = request.node_id or uuid.uuid4().hex

        def registered(node: r.ContainerInstance | None) -> r.ContainerInstance | None:
            # What the host offers is the agent's to say; status (drain) and agentConnected
            # are not, and stay as they are.
            before = node.SerializeToString(deterministic=True) if node is not None else None
            node = node or r.ContainerInstance(
                id=node_id,
                cluster=cluster,
                container_instance_arn=self.ctx.arns.node(cluster, node_id),
                ec2_instance_id=node_id,
                status="ACTIVE",
                registered_at=time.time(),
            )
            node.hostname = request.hostname
            node.cpu_units = request.cpu_units
            node.memory_mib = request.memory_mib
            node.address = request.address
            node.metrics_port = request.metrics_port
            node.proxy_metrics_port = request.proxy_metrics_port
            node.agent_version = request.agent_version
            del node.attributes[:]
            node.attributes.extend(merged_attributes(request.attributes, node.custom_attributes))
            node.dynamic_port_low = request.dynamic_port_low
            node.dynamic_port_high = request.dynamic_port_high
            # An agent reconnecting says what it said last time: writing that again would
            # cost an etcd transaction and a watch event to every watcher per reconnect.
            if before is not None and node.SerializeToString(deterministic=True) == before:
                return None
            return node

        rec = self.ctx.state.update(keys.node(cluster, node_id), r.ContainerInstance, registered, field="nodeId")
        log.info("node registered", extra=kv(node=node_id, cluster=cluster, host=request.hostname))
        return agent_pb2.RegisterNodeResponse(
            node_id=node_id,
            container_instance_arn=rec.msg.container_instance_arn,
            heartbeat_interval_seconds=max(self.ttl / 4, 0.25),
            lease_ttl_seconds=self.ttl,
        )


def _check_registration(req: agent_pb2.RegisterNodeRequest) -> None:
    if req.node_id:
        check_name(req.node_id, "nodeId")
    if len(req.hostname) > 255:
        raise invalid("hostname: at most 255 characters")
    if req.cpu_units <= 0 or req.cpu_units > 1024 * 1024:
        raise invalid("cpuUnits: must be between 1 and 1048576")
    if req.memory_mib <= 0 or req.memory_mib > 64 * 1024 * 1024:
        raise invalid("memoryMib: must be positive")
    # Every node's proxy config and DNS answers carry this address for the node's tasks.
    if req.address and not is_plain_ip(req.address):
        raise invalid(f"address: {req.address[:64]!r} is not an IP address (without an IPv6 zone)")
    if req.address:
        ip = ipaddress.ip_address(req.address)
        # Every proxy sends this node's tasks' traffic there: the metadata address would make
        # each node's proxy reach its own host's metadata service. (Other link-local addresses
        # are nodes' own in `shoal lab`.)
        if ip in _METADATA or ip.is_multicast or ip.is_unspecified:
            raise invalid(f"address: {req.address} is a cloud metadata, multicast or unspecified address; give "
                          "the address other nodes reach this one at")
    for name, port in (("metricsPort", req.metrics_port), ("proxyMetricsPort", req.proxy_metrics_port)):
        if not 0 <= port <= 65535:
            raise invalid(f"{name}: must be 0-65535, got {port}")
    low, high = req.dynamic_port_low, req.dynamic_port_high
    if (low or high) and not 1024 <= low < high <= 65535:
        raise invalid("dynamicPortLow/dynamicPortHigh: need 1024 <= low < high <= 65535")
    if len(req.attributes) > _MAX_ATTRIBUTES:
        raise invalid(f"attributes: at most {_MAX_ATTRIBUTES}")
    for i, attr in enumerate(req.attributes):
        if not attr.name or len(attr.name) > 128 or not all(ch.isalnum() or ch in "-_./@:" for ch in attr.name):
            raise invalid(f"attributes[{i}].name: 1-128 letters, digits or -_./@:")
        if len(attr.value) > 128:
            raise invalid(f"attributes[{i}].value: at most 128 characters")


_METADATA = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})
