"""`shoal app deploy|delete` and the app pieces it shares with the gateway: bad flags refused
before anything is made, and what decides whether a new task definition revision is needed."""

from __future__ import annotations

import grpc
import pytest

from controlplane import apps
from controlplane.errors import ApiError
from shoal.v1 import resources_pb2 as r
from shoal.v1 import traffic_pb2 as t
from shoalctl.cli import main


@pytest.fixture(autouse=True)
def nowhere(monkeypatch, tmp_path) -> None:
    # Nothing listens here: a flag check that let a call through would fail on the connection.
    monkeypatch.setenv("SHOAL_INSECURE", "1")
    monkeypatch.setenv("SHOAL_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("SHOAL_ENDPOINT", "127.0.0.1:9")


@pytest.mark.parametrize(("flags", "said"), [
    (["--min", "3", "--max", "2"], "--min/--max: need 1 <= min <= max, got 3 and 2"),
    (["--min", "0"], "--min/--max: need 1 <= min <= max, got 0 and 3"),
    (["--listen-port", "70000"], "--listen-port: must be from 1 to 65535, got 70000"),
])
def test_bad_flags_are_refused_naming_the_flag(flags: list[str], said: str, capsys) -> None:
    assert main.main(["app", "deploy", "some/image:1", "--name", "web", *flags]) == 1
    assert capsys.readouterr().err.strip() == f"shoal: {said}"


def test_a_new_revision_only_when_the_container_differs() -> None:
    spec = apps.AppSpec(name="web", image="reg:5000/apps/web:abc", port=8080)
    td = r.TaskDefinition(family="web", container_definitions=[r.ContainerDefinition(
        name="web", image="reg:5000/apps/web:abc", cpu=256, memory=256,
        port_mappings=[r.PortMapping(container_port=8080)])])
    assert apps._same(td, spec)
    for change in ({"image": "reg:5000/apps/web:def"}, {"cpu": 512}, {"memory": 128}):
        other = r.TaskDefinition()
        other.CopyFrom(td)
        for k, v in change.items():
            setattr(other.container_definitions[0], k, v)
        assert not apps._same(other, spec), change
    moved = r.TaskDefinition()
    moved.CopyFrom(td)
    moved.container_definitions[0].port_mappings[0].container_port = 80
    assert not apps._same(moved, spec)
    told = r.TaskDefinition()
    told.CopyFrom(td)
    told.container_definitions[0].environment.add(name="MODE", value="x")
    assert not apps._same(told, spec)
    assert apps._same(told, apps.AppSpec(name="web", image="reg:5000/apps/web:abc", port=8080,
                                         environment=[{"name": "MODE", "value": "x"}]))


class _Traffic:
    """CreateListener refusing the ports it is told are taken, as the traffic API does."""

    def __init__(self, refuse: int, message: str = "port: {} is node n1's agent metrics port") -> None:
        self.refuse, self.message, self.tried = refuse, message, []

    def CreateListener(self, req: t.CreateListenerRequest) -> t.LoadBalancerResponse:  # noqa: N802
        self.tried.append(req.port)
        if len(self.tried) <= self.refuse:
            raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, self.message.format(req.port))
        return t.LoadBalancerResponse(load_balancer=t.LoadBalancer(listeners=[t.Listener(port=req.port)]))


def test_a_picked_listener_port_the_api_refuses_is_picked_again() -> None:
    traffic = _Traffic(refuse=2)
    lb = apps._listen(apps.Plane(operator=None, traffic=traffic, scaling=None), apps.AppSpec(name="web", image="i"))
    assert len(traffic.tried) == 3 and lb.listeners[0].port == traffic.tried[-1]


def test_an_asked_port_or_another_refusal_is_not_picked_around() -> None:
    asked = _Traffic(refuse=1)
    with pytest.raises(ApiError, match="agent metrics"):
        apps._listen(apps.Plane(None, asked, None), apps.AppSpec(name="web", image="i", listen_port=8000))
    assert asked.tried == [8000]
    other = _Traffic(refuse=1, message="loadBalancer: web not found")
    with pytest.raises(ApiError, match="not found"):
        apps._listen(apps.Plane(None, other, None), apps.AppSpec(name="web", image="i"))
    assert len(other.tried) == 1
    always = _Traffic(refuse=100)
    with pytest.raises(ApiError, match="agent metrics"):
        apps._listen(apps.Plane(None, always, None), apps.AppSpec(name="web", image="i"))
    assert len(always.tried) == apps.FREE_PORT_PICKS
