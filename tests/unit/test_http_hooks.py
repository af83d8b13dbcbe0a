"""HTTP lifecycle hooks (controlplane/http_hooks.py) against a real HTTP server on loopback and
the service controller over the in-memory store: a hook URL outside the operator's allowlist is
refused by name (closed by default; etcd's port tried), an answer of SUCCEEDED lets the
deployment go on, and no answer within the timeout — or a host taken off the list — rolls it
back."""

from __future__ import annotations

import pytest

from controlplane import traffic_shift as ts
from controlplane.api import services
from controlplane.errors import ApiError
from controlplane.http_hooks import HookCaller
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoalctl.cli import main
from tests.fixtures.hook_server import Hook
from tests.fixtures.plane import Plane
from tests.unit.test_service_deployments import cli  # noqa: F401 (fixture)
from tests.unit.test_traffic_shift import config, deploy_v2, live_by_revision, run, shifting


def http_hooked(url: str, stage: str = "POST_SCALE_UP") -> r.DeploymentConfiguration:
    return config("BLUE_GREEN", lifecycle_hooks=[r.DeploymentLifecycleHook(
        target_type="HTTP", hook_target_arn=url, lifecycle_stages=[stage])])


def test_hook_urls_are_closed_by_default_and_refused_outside_the_allowlist() -> None:
    etcd = "http://127.0.0.1:2379/v3/kv/put"
    with pytest.raises(ApiError, match=r"lifecycleHooks\[0\].hookTargetArn: host 127.0.0.1:2379 is not one"):
        ts.check(http_hooked(etcd), True)  # no allowlist: no HTTP hook at all
    with pytest.raises(ApiError, match="host 127.0.0.1:2379 is not one the control plane allows"):
        ts.check(http_hooked(etcd), True, frozenset({"127.0.0.1:8080", "hooks.example"}))
    for bad in ("file:///etc/passwd", "ftp://hooks.example/x", "http://", "http://hooks.example:99999/"):
        with pytest.raises(ApiError, match="hookTargetArn"):
            ts.check(http_hooked(bad), True, frozenset({"hooks.example"}))
    ts.check(http_hooked("http://127.0.0.1:8080/ok"), True, frozenset({"127.0.0.1:8080"}))
    ts.check(http_hooked("https://hooks.example/ok"), True, frozenset({"hooks.example"}))


def test_the_api_refuses_a_hook_url_the_control_plane_does_not_allow(plane: Plane) -> None:
    shifting(plane, config("BLUE_GREEN"))
    with pytest.raises(ApiError, match="hookTargetArn: host 127.0.0.1:2379"):
        services.update(plane.api, op.UpdateServiceRequest(
            cluster="default", service="web", deployment_configuration=http_hooked("http://127.0.0.1:2379/")))
    assert not plane.service().deployment_configuration.lifecycle_hooks, "nothing half-applied"


def _waiting(plane: Plane, url: str) -> tuple:
    ctl = shifting(plane, http_hooked(url))
    v1 = plane.td.task_definition_arn
    v2 = deploy_v2(plane)
    assert "waits at POST_SCALE_UP" in run(plane, ctl, cycles=3)
    return ctl, v1, v2


def test_an_answer_of_succeeded_lets_the_deployment_go_on(plane: Plane, hook: Hook) -> None:
    plane.api.hook_hosts = frozenset({"127.0.0.1"})
    ctl, _, v2 = _waiting(plane, hook.url)
    said = HookCaller(plane.api, timeout=10).reconcile()
    assert said.endswith("CONTINUE (it answered SUCCEEDED)")
    [body] = hook.bodies
    entry = max(plane.service().service_deployments, key=lambda e: e.created_at)
    assert (body["serviceDeploymentArn"], body["lifecycleStage"]) == (entry.service_deployment_arn, "POST_SCALE_UP")
    assert entry.lifecycle_hook_details[0].status == "SUCCEEDED"
    run(plane, ctl, cycles=3)
    assert live_by_revision(plane) == {v2: 4}
    assert HookCaller(plane.api).reconcile() == "" and len(hook.bodies) == 1, "called once"


def test_in_progress_asks_again_and_no_answer_in_time_rolls_back(plane: Plane, hook: Hook) -> None:
    plane.api.hook_hosts = frozenset({"127.0.0.1"})
    ctl, v1, _ = _waiting(plane, hook.url)
    hook.answer = {"hookStatus": "IN_PROGRESS"}
    assert HookCaller(plane.api).reconcile() == ""
    hook.hold = True
    said = HookCaller(plane.api, timeout=0.5).reconcile()
    assert said.endswith("ROLLBACK (no answer within 0.5s)") and len(hook.bodies) == 2
    run(plane, ctl, cycles=4)
    assert live_by_revision(plane) == {v1: 4}
    svc = plane.service()
    assert svc.task_definition == v1
    assert max(svc.service_deployments, key=lambda e: e.created_at).status == "ROLLBACK_SUCCESSFUL"


def test_a_host_taken_off_the_list_is_not_called_and_the_deployment_rolls_back(plane: Plane, hook: Hook) -> None:
    plane.api.hook_hosts = frozenset({"127.0.0.1"})
    ctl, v1, _ = _waiting(plane, hook.url)
    plane.api.hook_hosts = frozenset()
    said = HookCaller(plane.api).reconcile()
    assert "ROLLBACK (not called: its URL host 127.0.0.1" in said
    assert hook.bodies == [], "no connection made"
    run(plane, ctl, cycles=4)
    assert live_by_revision(plane) == {v1: 4}


def test_the_cli_sets_an_http_hook_and_the_allowlist_refusal_reaches_it(plane: Plane, cli, capsys) -> None:  # noqa: F811
    shifting(plane, config("BLUE_GREEN"))
    assert main.main(["service", "update", "web", "--http-hook", "POST_SCALE_UP"]) == 1
    assert "--http-hook: STAGE=URL" in capsys.readouterr().err
    assert main.main(["service", "update", "web", "--http-hook", "POST_SCALE_UP=http://127.0.0.1:2379/"]) == 1
    assert "hookTargetArn: host 127.0.0.1:2379 is not one" in capsys.readouterr().err
    plane.api.hook_hosts = frozenset({"hooks.example"})
    assert main.main(["service", "update", "web", "--http-hook", "POST_SCALE_UP=https://hooks.example/go"]) == 0
    [h] = plane.service().deployment_configuration.lifecycle_hooks
    assert (h.target_type, h.hook_target_arn, list(h.lifecycle_stages)) == \
        ("HTTP", "https://hooks.example/go", ["POST_SCALE_UP"])
