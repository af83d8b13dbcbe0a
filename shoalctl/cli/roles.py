"""`shoal role create|list|show|delete`: task roles, each a policy document in IAM's JSON
grammar over Shoal's actions; a task definition's taskRoleArn names one (admins only)."""

from __future__ import annotations

import json
from pathlib import Path

from shoal.v1 import roles_pb2 as ro
from shoal.v1 import roles_pb2_grpc
from shoalctl.cli.client import add_verb, caller
from shoalctl.cli.errors import CliError
from shoalctl.cli.output import ago, print_json, table

MAX_POLICY_FILE = 64 * 1024


_call = caller(roles_pb2_grpc.RolesStub)


def _as_json(role: ro.Role) -> dict:
    return {"RoleName": role.name, "Arn": role.arn, "CreateDate": role.created_at, "CreatedBy": role.created_by,
            "Description": role.description, "PolicyDocument": json.loads(role.policy_document)}


def create(a) -> None:
    path = Path(a.policy_file)
    try:
        if path.stat().st_size > MAX_POLICY_FILE:
            raise CliError(f"--policy-file {path}: larger than {MAX_POLICY_FILE} bytes")
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"--policy-file {path}: cannot read it: {exc}") from None
    role = _call(a, "CreateRole", ro.CreateRoleRequest(name=a.name, policy_document=text,
                                                       description=a.description))
    if a.output == "json":
        print_json(_as_json(role))
        return
    print(f"created role {role.name}: name it in a task definition as \"taskRoleArn\": \"{role.arn}\"")


def list_(a) -> None:
    found = _call(a, "ListRoles", ro.ListRolesRequest()).roles
    if a.output == "json":
        print_json([_as_json(x) for x in found])
        return
    table(["NAME", "ARN", "STATEMENTS", "AGE", "DESCRIPTION"],
          [[x.name, x.arn, str(_statements(x)), ago(x.created_at), x.description or "-"] for x in found])


def _statements(role: ro.Role) -> int:
    statement = json.loads(role.policy_document).get("Statement")
    return len(statement) if isinstance(statement, list) else 1


def show(a) -> None:
    role = _call(a, "GetRole", ro.GetRoleRequest(name=a.name))
    print_json(_as_json(role))


def delete(a) -> None:
    role = _call(a, "DeleteRole", ro.DeleteRoleRequest(name=a.name))
    print(f"deleted role {role.name} (credentials of tasks naming it stop working now)")


def register(sub) -> None:
    noun = sub.add_parser("role", help="task roles: what a task's own AWS SDK may do against Shoal (taskRoleArn)")
    verbs = noun.add_subparsers(dest="verb", metavar="VERB", required=True)
    p = add_verb(verbs, "create", create, "create a role from a policy document (IAM's JSON grammar)", output=True)
    p.add_argument("name", metavar="NAME")
    p.add_argument("--policy-file", required=True, metavar="FILE",
                   help='the policy: {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
                        '"Action": "ecs:List*", "Resource": "*"}]}')
    p.add_argument("--description", default="", help="what the role is for")
    add_verb(verbs, "list", list_, "list roles", output=True)
    p = add_verb(verbs, "show", show, "print a role and its policy document (JSON)")
    p.add_argument("name", metavar="NAME_OR_ARN")
    p = add_verb(verbs, "delete", delete, "delete a role")
    p.add_argument("name", metavar="NAME_OR_ARN")
