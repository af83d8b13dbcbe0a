"""`shoal role create|list|show|delete` against the Roles gRPC service in-process on an
in-memory store; roles are admin-only and a viewer or a node is refused by the same rule
the replica's interceptor applies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from controlplane.api.context import ApiContext
from controlplane.api.roles_service import RolesService
from controlplane.authz import Denied, decide
from controlplane.known_actions import known_actions
from shoal.security.ca import Identity
from shoal.store.memory import MemoryStore
from shoal.v1 import roles_pb2_grpc
from shoalctl.cli import roles
from shoalctl.cli.errors import CliError
from tests.fixtures.cli_server import cli_server, run_noun

POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecs:ListServices",
                                                  "Resource": "*"}]}


@pytest.fixture
def server(monkeypatch, tmp_path) -> Iterator[str]:
    store = MemoryStore()
    try:
        with cli_server(monkeypatch, tmp_path, lambda srv: roles_pb2_grpc.add_RolesServicer_to_server(
                RolesService(ApiContext(store), known_actions()), srv)) as endpoint:
            yield endpoint
    finally:
        store.close()


def shoal(endpoint: str, *argv: str) -> None:
    run_noun(roles.register, "role", endpoint, *argv)


def test_create_list_show_delete(server, tmp_path: Path, capsys) -> None:
    policy = tmp_path / "p.json"
    policy.write_text(json.dumps(POLICY))
    shoal(server, "create", "lister", "--policy-file", str(policy))
    assert "arn:aws:iam::000000000000:role/lister" in capsys.readouterr().out
    shoal(server, "list")
    out = capsys.readouterr().out
    assert "lister" in out and "arn:aws:iam::000000000000:role/lister" in out
    shoal(server, "show", "arn:aws:iam::000000000000:role/lister")
    assert json.loads(capsys.readouterr().out)["PolicyDocument"] == POLICY
    shoal(server, "delete", "lister")
    assert "deleted role lister" in capsys.readouterr().out
    shoal(server, "list", "-o", "json")
    assert json.loads(capsys.readouterr().out) == []


def test_a_malformed_policy_is_refused_naming_the_field(server, tmp_path: Path) -> None:
    policy = tmp_path / "p.json"
    policy.write_text(json.dumps({**POLICY, "Statement": [{**POLICY["Statement"][0], "Effect": "Maybe"}]}))
    with pytest.raises(CliError, match=r"Statement\[0\]\.Effect"):
        shoal(server, "create", "bad", "--policy-file", str(policy))
    with pytest.raises(CliError, match="--policy-file"):
        shoal(server, "create", "bad", "--policy-file", str(tmp_path / "missing.json"))


@pytest.mark.parametrize("method", ["CreateRole", "GetRole", "ListRoles", "DeleteRole"])
def test_roles_are_admin_only(method: str) -> None:
    full = f"/shoal.v1.Roles/{method}"
    decide(full, Identity("admin", "alice"))
    for who in (Identity("viewer", "bob"), Identity("node", "n1")):
        with pytest.raises(Denied):
            decide(full, who)


def test_task_role_credentials_are_for_nodes_only() -> None:
    decide("/shoal.v1.Roles/GetTaskRoleCredentials", Identity("node", "n1"))
    with pytest.raises(Denied):
        decide("/shoal.v1.Roles/GetTaskRoleCredentials", Identity("admin", "alice"))
