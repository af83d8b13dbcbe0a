"""A canary deployment through real node proxies (`shoal up`, three agents, HAProxy on each):
while the canary holds, about its share of requests land on the new revision's tasks (the
routing table's weights, set through HAProxy's runtime API); then all traffic moves, the old
tasks stop, and no request fails throughout under steady load."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from shoal.netutil import free_port
from shoal.v1 import operator_pb2 as op
from shoal.v1 import operator_pb2_grpc
from tests.integration.test_traffic_walk import (  # noqa: F401 (the up fixture)
    CONVERGE,
    Load,
    Up,
    answers_from_all,
    healthy_count,
    hostname,
    node_addresses,
    running,
    taskdef,
    up,
)
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

CANARY_PERCENT = 25


def primary(stub, name: str):
    svc = stub.DescribeServices(op.DescribeServicesRequest(cluster="default", services=[name]), timeout=10).services[0]
    return svc, next(d for d in svc.deployments if d.status == "PRIMARY")


def test_a_canary_takes_about_its_share_then_everything_with_no_failed_request(up: Up, tmp_path: Path) -> None:  # noqa: F811
    port = free_port()
    td = tmp_path / "canary.json"
    td.write_text(json.dumps(taskdef("canary")))
    up.shoal("taskdef", "register", str(td))
    up.shoal("lb", "create", "canary", "--listener", f"{port}:http")
    up.shoal("service", "create", "canary", "--taskdef", "canary", "--desired", "4", "--load-balancer", "canary",
             "--strategy", "CANARY", "--canary-percent", str(CANARY_PERCENT), "--canary-minutes", "1",
             "--bake-minutes", "0")
    wait_for(lambda: healthy_count(up, "canary") == 4, 120, "`shoal tg health canary` showing 4 healthy")
    v2 = json.loads(up.shoal("taskdef", "register", str(td), "-o", "json"))["taskDefinitionArn"]
    with up.channel() as channel:
        stub = operator_pb2_grpc.OperatorStub(channel)
        blue = {hostname(x) for x in running(stub, "canary")}

        def everywhere() -> bool:
            try:
                return all(v == blue for v in answers_from_all(node_addresses(), port, blue).values())
            except OSError:
                return False
        wait_for(everywhere, 60, "all four tasks answering on every node's listener")
        load = Load(node_addresses(), port)
        try:
            wait_for(lambda: load.mark() >= 30, 30, "requests answered before the deployment")
            up.shoal("service", "update", "canary", "--taskdef", v2.rsplit("/", 1)[-1])
            started = time.monotonic()
            wait_for(lambda: primary(stub, "canary")[1].lifecycle_stage == "PRODUCTION_TRAFFIC_SHIFT", 120,
                     "the canary share shifted")
            shifted = time.monotonic()
            green = {hostname(x) for x in running(stub, "canary") if x.task_definition_arn == v2}
            assert len(green) == 4
            # Leave the proxies a moment to take the weights, then count for ~15 s.
            time.sleep(1.0)
            mark = load.mark()
            wait_for(lambda: load.mark() >= mark + 400, 30, "400 requests during the canary")
            during = [a for _, a in load.answers[mark:]]
            still = primary(stub, "canary")[1]
            assert (still.lifecycle_stage, still.traffic_percent) == ("PRODUCTION_TRAFFIC_SHIFT", CANARY_PERCENT), \
                "the canary must still hold while its share is counted"
            share = sum(1 for a in during if a in green) / len(during)
            wait_for(lambda: primary(stub, "canary")[1].rollout_state == "COMPLETED", 180, "the deployment done")
            done = time.monotonic()
            after = load.mark()
            wait_for(lambda: load.mark() >= after + 100, 30, "100 requests after the deployment")
        finally:
            load.finish()
    print(f"\ncanary {CANARY_PERCENT}%: {share:.1%} of {len(during)} requests on green; "
          f"scale-up+shift {shifted - started:.1f}s, to completion {done - started:.1f}s; "
          f"{len(load.failures)} failed of {len(load.answers)} requests")
    assert not load.failures, load.failures[:5]
    assert abs(share - CANARY_PERCENT / 100) < 0.08, f"{share:.1%} of requests on green"
    # Once the deployment is done (and the routing table has reached the proxies), only green answers.
    assert {a for at, a in load.answers[after:] if at > done + CONVERGE} <= green
