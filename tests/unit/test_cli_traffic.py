"""`shoal lb|tg|namespace` and `shoal service create --load-balancer` against the Operator
and Traffic gRPC services in-process on an in-memory store: what reaches the API, the
defaults taken from the task definition, and all-or-nothing `lb create`."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from controlplane.api import taskdefs
from controlplane.api.context import ApiContext
from controlplane.api.operator import OperatorService
from controlplane.api.traffic import add_traffic_service
from shoal import keys
from shoal.store.memory import MemoryStore
from shoal.v1 import operator_pb2 as op
from shoal.v1 import operator_pb2_grpc
from shoal.v1 import resources_pb2 as r
from shoal.v1 import traffic_pb2 as t
from shoalctl.cli import main
from shoalctl.cli.errors import CliError
from shoalctl.cli.service_traffic import parse_input_json
from shoalctl.cli.traffic import parse_listener
from tests.fixtures.cli_server import cli_server

WEB = {"family": "web", "containerDefinitions": [
    {"name": "web", "image": "shoal/busybox:latest", "memory": 64, "portMappings": [{"containerPort": 8080}]}]}
TWO = {"family": "two", "containerDefinitions": [
    dict(WEB["containerDefinitions"][0]), dict(WEB["containerDefinitions"][0], name="side")]}


@pytest.fixture
def server(monkeypatch, tmp_path) -> Iterator[tuple[str, ApiContext]]:
    store = MemoryStore()
    ctx = ApiContext(store)
    ctx.ensure_default_cluster()
    for doc in (WEB, TWO):
        taskdefs.register(ctx, op.RegisterTaskDefinitionRequest(json=json.dumps(doc)))
    try:
        with cli_server(monkeypatch, tmp_path,
                        lambda srv: operator_pb2_grpc.add_OperatorServicer_to_server(OperatorService(ctx), srv),
                        lambda srv: add_traffic_service(ctx, srv)) as endpoint:
            yield endpoint, ctx
    finally:
        store.close()


def test_listener_specs() -> None:
    assert parse_listener("8000") == (8000, "")
    assert parse_listener("8000:http") == (8000, "HTTP")
    assert parse_listener("5432:TCP") == (5432, "TCP")
    for bad, match in (("x", "expected PORT"), ("0", "from 1 to 65535"), ("80:udp", "http or tcp")):
        with pytest.raises(CliError, match=match):
            parse_listener(bad)


def test_cli_input_json_refuses_traffic_members_shoal_would_drop() -> None:
    req, _ = parse_input_json(json.dumps({"serviceName": "web", "loadBalancers": [
        {"targetGroupArn": "arn:x", "containerName": "web", "containerPort": 80}]}), op.CreateServiceRequest)
    assert req.load_balancers[0].container_port == 80
    with pytest.raises(CliError, match=r"loadBalancers\[0\]\.advancedConfiguration: not supported"):
        parse_input_json(json.dumps({"loadBalancers": [{"advancedConfiguration": {}}]}), op.CreateServiceRequest)
    with pytest.raises(CliError, match="not JSON"):
        parse_input_json("{", op.CreateServiceRequest)


def test_lb_create_then_service_with_defaults_from_the_task_definition(server, capsys) -> None:
    _, ctx = server
    assert main.main(["lb", "create", "web", "--listener", "8000", "--listener", "8001:http"]) == 0
    lb = ctx.state.load(keys.load_balancer("default", "web"), t.LoadBalancer).msg
    assert [(x.port, x.protocol) for x in lb.listeners] == [(8000, "HTTP"), (8001, "HTTP")]
    assert main.main(["lb", "create", "db", "--listener", "5432:tcp", "--proxy-protocol"]) == 0
    db = ctx.state.load(keys.load_balancer("default", "db"), t.LoadBalancer).msg
    assert (db.type, db.listeners[0].proxy_protocol) == ("network", True)

    assert main.main(["service", "create", "web", "--taskdef", "web", "--desired", "0",
                      "--load-balancer", "web"]) == 0
    svc = ctx.state.service("default", "web").msg
    assert [(x.load_balancer_name, x.container_name, x.container_port, x.target_group_arn) for x in
            svc.load_balancers] == [("web", "web", 8080, lb.default_target_group_arn)]
    capsys.readouterr()
    assert main.main(["service", "create", "two", "--taskdef", "two", "--load-balancer", "web"]) == 1
    assert "--load-balancer: task definition two:1 has 2 containers; say which: web:CONTAINER:PORT" in \
        capsys.readouterr().err
    assert main.main(["service", "create", "two", "--taskdef", "two", "--load-balancer",
                      f"{lb.default_target_group_arn}:side:8080"]) == 0
    assert ctx.state.service("default", "two").msg.load_balancers[0] == r.ServiceLoadBalancer(
        target_group_arn=lb.default_target_group_arn, container_name="side", container_port=8080)


def test_lb_create_is_all_or_nothing(server, capsys) -> None:
    _, ctx = server
    assert main.main(["lb", "create", "web", "--listener", "8000"]) == 0
    capsys.readouterr()
    # The second listener is refused by the cluster: the new load balancer goes with it.
    assert main.main(["lb", "create", "other", "--listener", "9000", "--listener", "8000"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("shoal: port: 8000 is already a listener port of load balancer 'web'"), err
    assert ctx.store.get(keys.load_balancer("default", "other")) is None
    assert main.main(["lb", "create", "x", "--listener", "80:tcp", "--type", "application"]) == 1
    assert "--listener: 80:tcp on an application load balancer" in capsys.readouterr().err


def test_tg_and_namespace_commands(server, capsys) -> None:
    _, ctx = server
    assert main.main(["tg", "create", "api", "--port", "8080", "--protocol", "http", "--health-path", "/health",
                      "--interval", "10", "--timeout", "3", "--healthy-threshold", "3", "--unhealthy-threshold", "4",
                      "--deregistration-delay", "0", "--matcher", "200-299"]) == 0
    tg = ctx.state.load(keys.target_group("default", "api"), t.TargetGroup).msg
    hc = tg.health_check
    assert (hc.path, hc.interval_seconds, hc.timeout_seconds, hc.healthy_threshold, hc.unhealthy_threshold,
            hc.matcher, tg.deregistration_delay_seconds) == ("/health", 10, 3, 3, 4, "200-299", 0)
    capsys.readouterr()
    assert main.main(["tg", "list"]) == 0
    assert "HTTP /health 200-299 every 10s" in capsys.readouterr().out
    assert main.main(["tg", "health", "api"]) == 0
    assert capsys.readouterr().out.startswith("TASK")
    assert main.main(["namespace", "create", "lab"]) == 0
    capsys.readouterr()
    assert main.main(["namespace", "list", "-o", "json"]) == 0
    assert [x["name"] for x in json.loads(capsys.readouterr().out)] == ["lab"]
    assert main.main(["namespace", "delete", "lab"]) == 0
    assert ctx.store.get(keys.namespace("default", "lab")) is None
    assert main.main(["tg", "delete", "api"]) == 0
    assert ctx.store.get(keys.target_group("default", "api")) is None


def test_service_update_attaches_and_sets_the_grace_period(server, capsys) -> None:
    _, ctx = server
    assert main.main(["lb", "create", "web", "--listener", "8000"]) == 0
    assert main.main(["namespace", "create", "lab"]) == 0
    assert main.main(["service", "create", "web", "--taskdef", "web", "--desired", "0"]) == 0
    assert main.main(["service", "update", "web", "--load-balancer", "web", "--namespace", "lab",
                      "--health-check-grace-period", "20"]) == 0
    svc = ctx.state.service("default", "web").msg
    assert (svc.load_balancers[0].container_port, svc.service_registries[0].namespace,
            svc.health_check_grace_period_seconds) == (8080, "lab", 20)
    capsys.readouterr()
    assert main.main(["service", "update", "web", "--health-check-grace-period", "-1"]) == 1
    assert "healthCheckGracePeriodSeconds: must not be negative" in capsys.readouterr().err
