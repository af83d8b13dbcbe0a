"""`shoal accesskey create|list|delete`: the key pairs the aws CLI and the AWS SDKs sign
their requests to the ECS gateway with (`controlplane --ecs-listen`)."""

from __future__ import annotations

import grpc

from shoal.v1 import accesskeys_pb2 as ak
from shoal.v1 import accesskeys_pb2_grpc
from shoalctl.cli.client import describe_rpc_error, endpoint, open_channel
from shoalctl.cli.errors import CliError
from shoalctl.cli.output import add_output_flag, ago, print_json, table

TIMEOUT = 30.0


def _call(args, method: str, request):
    target = endpoint(getattr(args, "endpoint", None))
    with open_channel(target) as channel:
        stub = accesskeys_pb2_grpc.AccessKeysStub(channel)
        try:
            return getattr(stub, method)(request, timeout=TIMEOUT)
        except grpc.RpcError as exc:
            raise CliError(describe_rpc_error(exc, target)) from None


def create(a) -> None:
    key = _call(a, "CreateAccessKey", ak.CreateAccessKeyRequest(description=a.description))
    if a.output == "json":
        print_json({"AccessKeyId": key.access_key_id, "SecretAccessKey": key.secret_access_key})
        return
    # Shell-ready: `eval "$(shoal accesskey create)"` configures the aws CLI and boto3.
    print(f"export AWS_ACCESS_KEY_ID={key.access_key_id}")
    print(f"export AWS_SECRET_ACCESS_KEY={key.secret_access_key}")
    print("# the secret is shown only now; `shoal accesskey delete` revokes the key")


def list_(a) -> None:
    keys = _call(a, "ListAccessKeys", ak.ListAccessKeysRequest()).access_keys
    if a.output == "json":
        print_json([{"AccessKeyId": k.access_key_id, "Status": k.status, "CreateDate": k.created_at,
                     "Description": k.description} for k in keys])
        return
    table(["ACCESS KEY ID", "STATUS", "AGE", "DESCRIPTION"],
          [[k.access_key_id, k.status, ago(k.created_at), k.description or "-"] for k in keys])


def delete(a) -> None:
    key = _call(a, "DeleteAccessKey", ak.DeleteAccessKeyRequest(access_key_id=a.access_key_id))
    print(f"deleted {key.access_key_id}")


def register(sub) -> None:
    noun = sub.add_parser("accesskey", help="access keys for the ECS-compatible API (aws CLI, boto3)")
    verbs = noun.add_subparsers(dest="verb", metavar="VERB", required=True)
    p = verbs.add_parser("create", help="issue a key pair (prints the secret once)")
    p.add_argument("--description", default="", help="what the key is for")
    _common(p, output=True)
    p.set_defaults(func=create)
    p = verbs.add_parser("list", help="list keys (secrets are never shown again)")
    _common(p, output=True)
    p.set_defaults(func=list_)
    p = verbs.add_parser("delete", help="revoke a key")
    p.add_argument("access_key_id", metavar="ACCESS_KEY_ID")
    _common(p)
    p.set_defaults(func=delete)


def _common(p, output: bool = False) -> None:
    p.add_argument("--endpoint", help="control plane HOST:PORT (default: $SHOAL_ENDPOINT or `shoal up`'s)")
    if output:
        add_output_flag(p)
