"""A control-plane replica cut off from etcd but still reachable by its agents: it must send
them to another replica before its lease (and their liveness keys with it) expires, so no
node is judged lost and no task is replaced.

Real parts: a 3-member etcd, two replicas, two agents running real containers. Replica 1 is
told only about etcd member 1, so killing that member cuts it off while replica 2 keeps
quorum with the other two. Member 1 is first made a follower: killing etcd's leader would
stall every replica through an election, and etcd extends all leases when a new leader
takes over, which would hide a replica that failed to send its agents away.
"""

from __future__ import annotations

import json
import ssl
import time
import urllib.request

import pytest

from shoal import keys
from shoal.store.etcd import EtcdStore
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoalctl.chaos.converge import picture
from tests.fixtures.cluster import MakeCluster
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

LEASE_TTL = 4.0
TASKDEF = {"family": "cut-off", "containerDefinitions": [{
    "name": "web", "image": "shoal/busybox:latest", "memory": 16, "cpu": 16, "essential": True,
    "command": ["sleep", "100000"], "stopTimeout": 1,
}]}


def etcd_status(cluster, member: int) -> dict:
    return etcd_post(cluster, member, "/v3/maintenance/status", {})


def etcd_post(cluster, member: int, path: str, body: dict) -> dict:
    """A request to etcd's JSON gateway with the cluster's etcd client certificate."""
    tls = cluster.etcd_set.tls
    context = ssl.create_default_context(cafile=tls.ca)
    context.load_cert_chain(tls.client_cert, tls.client_key)
    req = urllib.request.Request(cluster.etcd_member(member).client_url + path, data=json.dumps(body).encode(),
                                 method="POST")
    with urllib.request.urlopen(req, timeout=5, context=context) as resp:
        return json.load(resp)


def make_follower(cluster, member: int, instead: int) -> None:
    """Moves etcd leadership from ``member`` to ``instead`` if ``member`` holds it."""
    status = etcd_status(cluster, member)
    if status["header"]["member_id"] != status["leader"]:
        return
    target = etcd_status(cluster, instead)["header"]["member_id"]
    etcd_post(cluster, member, "/v3/maintenance/transfer-leadership", {"targetID": target})
    wait_for(lambda: (s := etcd_status(cluster, member))["leader"] != s["header"]["member_id"],
             30, f"etcd member {member} to hand leadership to member {instead}")


def alive_at(store: EtcdStore, node_ids: list[str]) -> set[str]:
    """The replica addresses the nodes' liveness keys name (a missing key reads as "")."""
    values = set()
    for node_id in node_ids:
        kv = store.get(keys.alive(node_id))
        values.add(kv.value.decode() if kv else "")
    return values


def test_agents_leave_a_replica_cut_off_from_etcd(make_cluster: MakeCluster, busybox_image: str) -> None:
    cluster = make_cluster(agents=2, replicas=2, etcd_members=3, replica_etcd={1: [1]}, lease_ttl=LEASE_TTL)
    first, second = cluster.endpoints
    api = cluster.failover_operator()
    healthy = cluster.failover_operator(endpoints=[second])
    # Only the members replica 2 uses: member 1 is about to die.
    store = cluster.etcd_store(timeout=5, members=[2, 3])
    try:
        api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(TASKDEF)))
        api.CreateService(op.CreateServiceRequest(
            cluster="default", service_name="web", task_definition="cut-off", desired_count=2,
            placement_strategy=[r.PlacementStrategy(type="spread", field="instanceId")]))
        running = wait_for(lambda: (ids := {t.id for t in picture(api).tasks if t.last_status == "RUNNING"})
                           and len(ids) == 2 and ids, 120, "2 RUNNING tasks")
        node_ids = [n.id for n in picture(api).nodes]
        assert len(node_ids) == 2
        # Agents take the first endpoint they are given: both streams are on replica 1.
        wait_for(lambda: alive_at(store, node_ids) == {first}, 30, "both agents' streams on replica 1")

        make_follower(cluster, 1, instead=2)
        started = time.monotonic()
        cluster.kill_etcd_member(1)
        wait_for(lambda: alive_at(store, node_ids) == {second}, 3 * LEASE_TTL,
                 "both agents to re-put their liveness keys through replica 2")
        moved = time.monotonic() - started
        print(f"[replica cut off] agents moved to replica 2 {moved:.1f}s after its etcd member died")

        # Replica 1's lease expires a TTL after its last refresh; if any key were still
        # bound to it the node would be judged lost and its task replaced. Watch past that,
        # through replica 2 (replica 1 cannot read etcd).
        end = started + 3 * LEASE_TTL
        while time.monotonic() < end:
            pic = picture(healthy)
            now = {t.id for t in pic.tasks if t.last_status == "RUNNING"}
            assert now == running, f"tasks replaced: gone {sorted(running - now)}, new {sorted(now - running)}"
            lost = [n.id for n in pic.nodes if not n.agent_connected]
            assert not lost, f"nodes judged lost while their agents only changed replica: {lost}"
            time.sleep(0.5)  # the sampling period of a watch over a fixed window, not a wait for something
    finally:
        store.close()
        healthy.close()
        api.close()
