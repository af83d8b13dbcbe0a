"""The node's task-role credentials endpoint over real HTTP on loopback, with the control
plane's side replaced by a function that mints numbered credentials: ECS's document, one
task's token refused for another's path, a stopped task's path answering nothing,
credentials refreshed past half their life, and the environment a container gets."""

from __future__ import annotations

import calendar
import itertools
import time
from collections.abc import Iterator

import pytest
import requests

from agent import spec, task_roles
from agent.task_roles import TOKEN_ENV, URI_ENV, TaskRoleEndpoint
from shoal.v1 import resources_pb2 as r
from shoal.v1 import roles_pb2 as ro
from tests.waiting import wait_for

ROLE = "arn:aws:iam::000000000000:role/reader"


class ControlPlane:
    """Mints a new numbered key per ask, living ``ttl`` seconds; ``refuse`` makes it fail."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self.numbers = itertools.count(1)
        self.asked: list[str] = []
        self.refuse = ""

    def fetch(self, task: r.Task) -> ro.TaskRoleCredentials:
        if self.refuse:
            raise RuntimeError(self.refuse)
        self.asked.append(task.id)
        n = next(self.numbers)
        return ro.TaskRoleCredentials(access_key_id=f"ASSH{n:016d}", secret_access_key=f"secret-{n}",
                                      session_token=f"token-{n}", expiration=time.time() + self.ttl, role_arn=ROLE)


def assignment(task_id: str, role: str = ROLE, desired: str = "RUNNING") -> r.TaskAssignment:
    return r.TaskAssignment(task=r.Task(id=task_id, cluster="default", desired_status=desired),
                            task_definition=r.TaskDefinition(task_role_arn=role))


@pytest.fixture
def node(tmp_path) -> Iterator[tuple[TaskRoleEndpoint, ControlPlane, dict[str, r.TaskAssignment]]]:
    cp = ControlPlane(ttl=3600)
    desired = {"t1": assignment("t1"), "t2": assignment("t2"), "plain": assignment("plain", role="")}
    endpoint = TaskRoleEndpoint(task_roles.node_key(str(tmp_path)), cp.fetch, lambda: task_roles.role_tasks(desired),
                                "127.0.0.1", 0)
    endpoint.start(interval=0.05)
    try:
        yield endpoint, cp, desired
    finally:
        endpoint.close()


def get(env: dict[str, str], token: str | None = None) -> requests.Response:
    return requests.get(env[URI_ENV], headers={"Authorization": env[TOKEN_ENV] if token is None else token},
                        timeout=5)


def test_a_task_reads_its_credentials_in_ecs_shape(node) -> None:
    endpoint, cp, desired = node
    env = endpoint.environment(desired["t1"].task)
    assert env[URI_ENV].startswith(endpoint.base_url + "/v2/credentials/")
    resp = get(env)
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == {"AccessKeyId", "SecretAccessKey", "Token", "Expiration", "RoleArn"}
    assert body["RoleArn"] == ROLE and body["AccessKeyId"].startswith("ASSH")
    assert body["Expiration"].endswith("Z")


def test_one_tasks_token_cannot_read_anothers_credentials(node) -> None:
    endpoint, _, desired = node
    one, two = endpoint.environment(desired["t1"].task), endpoint.environment(desired["t2"].task)
    assert one[URI_ENV] != two[URI_ENV] and one[TOKEN_ENV] != two[TOKEN_ENV]
    assert get(two, token=one[TOKEN_ENV]).status_code == 401
    assert get(two, token="").status_code == 401
    # A hostile header or path is refused, never a crash of the endpoint.
    assert endpoint.answer(two[URI_ENV].removeprefix(endpoint.base_url), "\u00e9t\u00e9")[0] == 401
    assert endpoint.answer("/v2/credentials/\u00e9", one[TOKEN_ENV])[0] == 404
    assert get(two).json()["AccessKeyId"] != get(one).json()["AccessKeyId"]
    assert requests.get(endpoint.base_url + "/v2/credentials/guess", headers={"Authorization": one[TOKEN_ENV]},
                        timeout=5).status_code == 404


def test_a_stopped_tasks_path_answers_nothing(node) -> None:
    endpoint, _, desired = node
    env = endpoint.environment(desired["t1"].task)
    desired["t1"] = assignment("t1", desired="STOPPED")
    assert get(env).status_code == 404
    del desired["t1"]
    wait_for(lambda: "t1" not in endpoint._cache, timeout=5, what="the stopped task's credentials forgotten")


def test_the_path_and_token_survive_an_agent_restart(node, tmp_path) -> None:
    endpoint, cp, desired = node
    env = endpoint.environment(desired["t1"].task)
    again = TaskRoleEndpoint(task_roles.node_key(str(tmp_path)), cp.fetch, lambda: task_roles.role_tasks(desired),
                             "127.0.0.1", 0)
    assert again.environment(desired["t1"].task) == {URI_ENV: env[URI_ENV].replace(endpoint.base_url,
                                                                                    again.base_url),
                                                      TOKEN_ENV: env[TOKEN_ENV]}
    again.close()


def test_credentials_are_refreshed_before_they_expire(tmp_path) -> None:
    cp = ControlPlane(ttl=1.0)
    desired = {"t1": assignment("t1")}
    endpoint = TaskRoleEndpoint(task_roles.node_key(str(tmp_path)), cp.fetch, lambda: task_roles.role_tasks(desired),
                                "127.0.0.1", 0).start(interval=0.05)
    try:
        env = endpoint.environment(desired["t1"].task)
        first = get(env).json()["AccessKeyId"]
        # The background refresh replaces the key after half its life, before it expires.
        wait_for(lambda: len(cp.asked) >= 3, timeout=5, what="two refreshes")
        later = get(env).json()
        assert later["AccessKeyId"] != first
        assert calendar.timegm(time.strptime(later["Expiration"], "%Y-%m-%dT%H:%M:%SZ")) >= int(time.time())
        # With the control plane out of reach, a key still valid is served on.
        cp.refuse = "control plane unreachable"
        assert get(env).status_code == 200
    finally:
        endpoint.close()


def test_the_environment_goes_into_every_container_but_not_the_spec_hash() -> None:
    a = assignment("t1")
    a.task_definition.container_definitions.add(name="app", image="busybox", memory=16)
    a.task_definition.container_definitions.add(name="side", image="busybox", memory=16)
    specs = spec.build(a, node_id="n1", bind_ip="0.0.0.0", default_stop_timeout=10)
    env = {URI_ENV: "http://172.17.0.1:51679/v2/credentials/x", TOKEN_ENV: "tok"}
    out = task_roles.with_role_env(specs, a, lambda task: env)
    for (_, before), (_, after) in zip(specs, out, strict=True):
        assert after.environment[TOKEN_ENV] == "tok"
        assert after.labels == before.labels  # no label carries the token
    assert task_roles.with_role_env(specs, assignment("t2", role=""), None) == specs
    with pytest.raises(RuntimeError, match="serves no task role credentials"):
        task_roles.with_role_env(specs, a, None)

    def refused(task: r.Task) -> dict[str, str]:
        raise RuntimeError("roleName: no role 'reader'")

    with pytest.raises(RuntimeError, match="unable to get credentials for task role .*no role 'reader'"):
        task_roles.with_role_env(specs, a, refused)


def test_the_default_host_is_ecs_address_when_this_host_can_have_it(monkeypatch) -> None:
    monkeypatch.setattr(task_roles, "local_address", lambda address=task_roles.ECS_HOST: "")
    assert task_roles.default_host("172.17.0.1", "10.0.0.5") == "169.254.170.2"


def test_the_default_host_falls_back_to_the_bridge_gateway_saying_why(monkeypatch, caplog) -> None:
    monkeypatch.setattr(task_roles, "local_address",
                        lambda address=task_roles.ECS_HOST: "ip addr add: Operation not permitted")
    assert task_roles.default_host("172.17.0.1", "10.0.0.5") == "172.17.0.1"
    [record] = [rec for rec in caplog.records if "ECS's address" in rec.getMessage()]
    assert "SDKs refuse" in record.getMessage() and "Operation not permitted" in str(record.__dict__), record.__dict__


def test_the_hollow_runtime_serves_on_its_own_address_and_adds_none(monkeypatch) -> None:
    def refuse(address: str = task_roles.ECS_HOST) -> str:
        raise AssertionError("no address is added for a runtime without containers")
    monkeypatch.setattr(task_roles, "local_address", refuse)
    assert task_roles.default_host("", "10.0.0.5") == "10.0.0.5"
