"""`shoal registry login` and `shoal repo create|list|delete|images`: the cluster registry
(started by `shoal up`; Shoal issues its tokens). A login credential stands for your own
Shoal identity for 12 hours at most: admins push and pull, viewers pull."""

from __future__ import annotations

import datetime
import shutil
import subprocess

from shoal.v1 import registry_pb2 as rg
from shoal.v1 import registry_pb2_grpc
from shoalctl.cli.client import add_verb, caller
from shoalctl.cli.errors import CliError
from shoalctl.cli.output import ago, print_json, table
from shoalctl.cli.registry_host import add_to as add_host_setup

_call = caller(registry_pb2_grpc.RegistryStub)


def login(a) -> None:
    cred = _call(a, "GetLoginCredential", rg.GetLoginCredentialRequest(ttl_seconds=a.ttl))
    if a.password_only:
        # Like `aws ecr get-login-password`: for `docker login --password-stdin` elsewhere.
        print(cred.password)
        return
    docker = shutil.which("docker")
    if docker is None:
        raise CliError("docker is not installed: use `shoal registry login --password-only | docker login "
                       f"--username {cred.username} --password-stdin {cred.registry}` where it is")
    done = subprocess.run([docker, "login", cred.registry, "--username", cred.username, "--password-stdin"],
                          input=cred.password, text=True, capture_output=True)
    if done.returncode != 0:
        raise CliError(f"docker login {cred.registry} failed: {(done.stderr or done.stdout).strip()}")
    until = datetime.datetime.fromtimestamp(cred.expires_at, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"logged in to {cred.registry} (until {until}); push with `docker push {cred.registry}/NAME:TAG`")


def create(a) -> None:
    repo = _call(a, "CreateRepository", rg.CreateRepositoryRequest(name=a.name, immutable_tags=a.immutable))
    if a.output == "json":
        print_json(repo)
        return
    print(repo.uri)


def update(a) -> None:
    repo = _call(a, "UpdateRepository", rg.UpdateRepositoryRequest(name=a.name, immutable_tags=a.immutable))
    print(f"{repo.name}: tags {'IMMUTABLE' if repo.immutable_tags else 'MUTABLE'}")


def list_(a) -> None:
    repos = _call(a, "ListRepositories", rg.ListRepositoriesRequest()).repositories
    if a.output == "json":
        print_json(list(repos))
        return
    table(["NAME", "URI", "TAGS", "AGE", "CREATED BY"],
          [[r.name, r.uri, "IMMUTABLE" if r.immutable_tags else "MUTABLE", ago(r.created_at), r.created_by or "-"]
           for r in repos])


def delete(a) -> None:
    repo = _call(a, "DeleteRepository", rg.DeleteRepositoryRequest(name=a.name))
    print(f"deleted {repo.name} and its images")


def images(a) -> None:
    resp = _call(a, "ListImages", rg.ListImagesRequest(repository=a.name))
    if a.output == "json":
        print_json(resp)
        return
    table(["DIGEST", "TAGS", "SIZE", "PUSHED"],
          [[i.digest, ",".join(i.tags) or "-", _size(i.size_bytes), ago(i.pushed_at)] for i in resp.images])


def lifecycle(a) -> None:
    if a.action == "set":
        if not a.file:
            raise CliError("shoal repo lifecycle set NAME FILE: FILE (the policy's JSON, ECR's format) is required")
        try:
            with open(a.file) as f:
                text = f.read()
        except OSError as exc:
            raise CliError(f"cannot read {a.file}: {exc.strerror}") from None
        repo = _call(a, "PutLifecyclePolicy", rg.PutLifecyclePolicyRequest(name=a.name, policy_text=text))
        print(f"{repo.name}: lifecycle policy set; the leader applies it every sweep")
    elif a.action == "get":
        repo = _call(a, "DescribeRepository", rg.DescribeRepositoryRequest(name=a.name))
        if not repo.lifecycle_policy:
            raise CliError(f"repository {repo.name} has no lifecycle policy")
        print(repo.lifecycle_policy.rstrip("\n"))
    else:
        repo = _call(a, "DeleteLifecyclePolicy", rg.DeleteLifecyclePolicyRequest(name=a.name))
        print(f"{repo.name}: lifecycle policy deleted")


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def register(sub) -> None:
    noun = sub.add_parser("registry", help="the cluster registry: log in with a short-lived credential")
    verbs = noun.add_subparsers(dest="verb", metavar="VERB", required=True)
    p = add_verb(verbs, "login", login, "`docker login` to the cluster registry as your Shoal identity")
    p.add_argument("--ttl", type=int, default=0, metavar="SECONDS", help="how long the credential lasts "
                   "(default and most: 12 hours)")
    p.add_argument("--password-only", action="store_true",
                   help="print the password instead of running docker login (for --password-stdin)")
    add_host_setup(verbs)

    noun = sub.add_parser("repo", help="repositories of the cluster registry")
    verbs = noun.add_subparsers(dest="verb", metavar="VERB", required=True)
    p = add_verb(verbs, "create", create, "create a repository (pushing needs one)", output=True)
    p.add_argument("name", metavar="NAME")
    p.add_argument("--immutable", action="store_true", help="tags cannot be moved: a push that would move one is "
                   "undone (ECR's imageTagMutability IMMUTABLE)")
    p = add_verb(verbs, "update", update, "change a repository's tag mutability")
    p.add_argument("name", metavar="NAME")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--immutable", dest="immutable", action="store_true", help="tags cannot be moved")
    group.add_argument("--mutable", dest="immutable", action="store_false", help="tags may be moved again")
    add_verb(verbs, "list", list_, "list repositories", output=True)
    p = add_verb(verbs, "delete", delete, "delete a repository and every image in it")
    p.add_argument("name", metavar="NAME")
    p = add_verb(verbs, "lifecycle", lifecycle, "set, show or delete a repository's lifecycle policy (ECR's JSON)")
    p.add_argument("action", choices=["set", "get", "delete"])
    p.add_argument("name", metavar="NAME")
    p.add_argument("file", metavar="FILE", nargs="?", help="with set: the policy's JSON file")
    p = add_verb(verbs, "images", images, "list a repository's images: digest, tags, size, push time", output=True)
    p.add_argument("name", metavar="NAME")
