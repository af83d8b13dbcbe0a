"""Node certificates expire; agents renew theirs before they do. With a control plane that
issues 45-second node certificates, an agent renews its own (same node id, new key), the
old certificate is refused once expired, and the agent, restarted after that, connects
with the renewed one and runs a task."""

from __future__ import annotations

import datetime
import json

import grpc
import pytest

from shoal.security import ca, joining
from shoal.security.channels import client_channel
from shoal.v1 import operator_pb2 as op
from shoal.v1 import security_pb2 as sec
from shoal.v1 import security_pb2_grpc
from shoalctl.chaos.converge import picture
from tests.fixtures.cluster import MakeCluster
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

LIFETIME = 45.0
TASKDEF = {"family": "renewed", "containerDefinitions": [{
    "name": "main", "image": "shoal/busybox:latest", "memory": 16, "cpu": 16, "essential": True,
    "command": ["sleep", "100000"], "stopTimeout": 1,
}]}


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def test_agent_renews_its_certificate_before_it_expires(make_cluster: MakeCluster, busybox_image: str) -> None:
    cluster = make_cluster(agents=1, extra_controlplane_args=["--node-cert-days", str(LIFETIME / 86400)])
    agent = cluster.agents[1]
    first = joining.load(agent.state_dir)
    assert first is not None
    first_cert = ca.load_cert(first.tls.cert or b"")

    renewed = wait_for(lambda: (c := joining.load(agent.state_dir)) and c.tls.cert != first.tls.cert and c,
                       2 * LIFETIME, "the agent to renew its certificate")
    new_cert = ca.load_cert(renewed.tls.cert or b"")
    assert renewed.node_id == first.node_id
    assert renewed.tls.key != first.tls.key, "a renewal makes a new key"
    assert new_cert.not_valid_after_utc > first_cert.not_valid_after_utc

    wait_for(lambda: now() > first_cert.not_valid_after_utc + datetime.timedelta(seconds=1), 2 * LIFETIME,
             "the first certificate to expire")
    with client_channel(cluster.endpoint, first.tls) as ch, pytest.raises(grpc.RpcError):
        security_pb2_grpc.SecurityStub(ch).WhoAmI(sec.WhoAmIRequest(), timeout=10)

    cluster.kill_agent(1)
    cluster.start_agent(1)
    api = cluster.operator
    api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(TASKDEF)))
    api.RunTask(op.RunTaskRequest(cluster="default", task_definition="renewed", count=1))
    wait_for(lambda: any(t.last_status == "RUNNING" and t.node_id == first.node_id for t in picture(api).tasks),
             90, "a task RUNNING on the restarted agent, connected with its renewed certificate")
    assert "renewed the node certificate" in agent.log_path.read_text()
