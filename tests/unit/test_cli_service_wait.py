"""`shoal service create|update --wait`: progress lines until the PRIMARY deployment
completes (exit 0), or an error naming it (exit 1) when it fails or outlasts --timeout —
the loop `service deploy --wait` uses, against the Operator API served in-process over a
plane whose service controller runs between polls."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from controlplane.controllers.services import ServiceController
from shoalctl.cli import deploy, main
from tests.fixtures.plane import WEB, Plane
from tests.unit.test_service_deployments import cli, settle  # noqa: F401 (a fixture)


@pytest.fixture
def plane() -> Iterator[Plane]:
    p = Plane()
    p.node("n1", cpu=8192, memory=8192)
    try:
        yield p
    finally:
        p.close()


def settle_between_polls(monkeypatch, plane: Plane) -> None:
    """Each of the wait loop's pauses runs the service controller and the plane's nodes."""
    ctl = ServiceController(plane.writer, plane.api.arns)
    monkeypatch.setattr(deploy, "time", SimpleNamespace(
        monotonic=time.monotonic, strftime=time.strftime, sleep=lambda _s: settle(plane, ctl, 1)))


def test_create_and_update_wait_for_their_deployment(plane: Plane, cli, monkeypatch, capsys) -> None:  # noqa: F811
    settle_between_polls(monkeypatch, plane)
    assert main.main(["service", "create", "web", "--taskdef", "web:1", "--desired", "2", "--wait",
                      "--timeout", "30"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "created service web (web:1, desired 2)"
    first = plane.service().deployments[0].id
    assert "IN_PROGRESS new 0/2 running" in out[1], out
    assert "COMPLETED   new 2/2 running, 2 healthy; old 0 running" in out[-2], out
    assert out[-1] == f"deployment {first} completed"
    assert sum(1 for t in plane.tasks().values() if t.last_status == "RUNNING") == 2

    plane.register({**WEB, "containerDefinitions": [{**WEB["containerDefinitions"][0], "image": "busybox:2"}]})
    assert main.main(["service", "update", "web", "--taskdef", "web:2", "--wait", "--timeout", "30"]) == 0
    out = capsys.readouterr().out.splitlines()
    second = plane.service().deployments[0].id
    assert second != first and out[0] == "updated service web (web:2, desired 2)"
    assert "old 2 running" in out[1], out
    assert out[-1] == f"deployment {second} completed"

    # With -o json the service is the one JSON document on stdout; the progress goes to stderr.
    assert main.main(["service", "update", "web", "--desired", "3", "--wait", "-o", "json"]) == 0
    printed = capsys.readouterr()
    assert json.loads(printed.out)["desiredCount"] == 3
    assert printed.err.splitlines()[-1].endswith("completed"), printed.err


def test_wait_fails_naming_the_deployment_when_it_does_not_settle(plane: Plane, cli, monkeypatch,  # noqa: F811
                                                                  capsys) -> None:
    # Nothing runs the controller: the deployment stays IN_PROGRESS until --timeout.
    monkeypatch.setattr(deploy, "time", SimpleNamespace(monotonic=time.monotonic, strftime=time.strftime,
                                                        sleep=lambda _s: None))
    assert main.main(["service", "create", "web", "--taskdef", "web:1", "--desired", "1", "--wait",
                      "--timeout", "0"]) == 1
    deployment = plane.service().deployments[0].id
    assert f"deployment {deployment} still IN_PROGRESS after 0s" in capsys.readouterr().err
    # Without --wait nothing is waited for.
    assert main.main(["service", "update", "web", "--desired", "2"]) == 0
