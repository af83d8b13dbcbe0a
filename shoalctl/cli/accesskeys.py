"""`shoal accesskey create|list|delete`: the key pairs the aws CLI and the AWS SDKs sign
their requests to the ECS gateway with (`controlplane --ecs-listen`)."""

from __future__ import annotations

from shoal.v1 import accesskeys_pb2 as ak
from shoal.v1 import accesskeys_pb2_grpc
from shoalctl.cli.client import add_verb, caller
from shoalctl.cli.output import ago, print_json, table

_call = caller(accesskeys_pb2_grpc.AccessKeysStub)


def create(a) -> None:
    key = _call(a, "CreateAccessKey", ak.CreateAccessKeyRequest(description=a.description, user=a.user or "",
                                                                role=a.role or ""))
    if a.output == "json":
        print_json({"AccessKeyId": key.access_key_id, "SecretAccessKey": key.secret_access_key, "User": key.user,
                    "Role": key.role})
        return
    # Shell-ready: `eval "$(shoal accesskey create)"` configures the aws CLI and boto3.
    print(f"export AWS_ACCESS_KEY_ID={key.access_key_id}")
    print(f"export AWS_SECRET_ACCESS_KEY={key.secret_access_key}")
    print(f"# key of {key.user} ({key.role}); the secret is shown only now; `shoal accesskey delete` revokes it")


def list_(a) -> None:
    keys = _call(a, "ListAccessKeys", ak.ListAccessKeysRequest()).access_keys
    if a.output == "json":
        print_json([{"AccessKeyId": k.access_key_id, "Status": k.status, "CreateDate": k.created_at,
                     "Description": k.description, "User": k.user, "Role": k.role} for k in keys])
        return
    table(["ACCESS KEY ID", "USER", "ROLE", "STATUS", "AGE", "DESCRIPTION"],
          [[k.access_key_id, k.user or "-", k.role or "-", k.status, ago(k.created_at), k.description or "-"]
           for k in keys])


def delete(a) -> None:
    key = _call(a, "DeleteAccessKey", ak.DeleteAccessKeyRequest(access_key_id=a.access_key_id))
    print(f"deleted {key.access_key_id}")


def register(sub) -> None:
    noun = sub.add_parser("accesskey", help="access keys for the ECS-compatible API (aws CLI, boto3)")
    verbs = noun.add_subparsers(dest="verb", metavar="VERB", required=True)
    p = add_verb(verbs, "create", create,
                 "issue a key pair for a user, with that user's role (prints the secret once)", output=True)
    p.add_argument("--description", default="", help="what the key is for")
    p.add_argument("--user", help="whose key it is (default: you, as your certificate names you)")
    p.add_argument("--role", choices=("admin", "viewer"),
                   help="what the key may do: viewer keys only Describe and List (default: your own role; "
                        "required with --user naming someone else)")
    add_verb(verbs, "list", list_, "list keys (secrets are never shown again)", output=True)
    p = add_verb(verbs, "delete", delete, "revoke a key")
    p.add_argument("access_key_id", metavar="ACCESS_KEY_ID")


