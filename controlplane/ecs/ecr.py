"""The ECR subset of the gateway: AWS JSON 1.1 with ``X-Amz-Target:
AmazonEC2ContainerRegistry_V20150921.<Operation>`` and SigV4 scoped to ``ecr``, on the same
port as ECS, so ``aws ecr get-login-password --endpoint-url … | docker login --username AWS
--password-stdin HOST:PORT`` and ``aws ecr create-repository`` work against the cluster
registry. Each operation is the Registry service's own (controlplane/api/repositories.py),
judged by the same permission as its gRPC method: GetAuthorizationToken is any operator's
login credential for its own identity, creating and deleting needs an admin."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from controlplane.api import repositories
from controlplane.api.context import ApiContext
from controlplane.ecs import beside, fields, sigv4
from controlplane.ecs.errors import EcsError, invalid_parameter
from controlplane.ecs.replay import ReplayCache
from shoal.security.ca import Identity
from shoal.v1 import registry_pb2 as rg

TARGET_PREFIX = "AmazonEC2ContainerRegistry_V20150921."
SIGNING_NAME = "ecr"
_REGISTRY = "/shoal.v1.Registry/"

Body = dict[str, Any]
Operation = Callable[[ApiContext, Identity, Body], Body]


def is_ecr(target: str | None) -> bool:
    return bool(target) and str(target).startswith(TARGET_PREFIX)


def _name(body: Body) -> str:
    return fields.string(body, "repositoryName", required=True)


def _repository(ctx: ApiContext, repo: rg.Repository) -> Body:
    return {"repositoryArn": f"arn:aws:ecr:{ctx.arns.region}:{ctx.arns.account}:repository/{repo.name}",
            "registryId": ctx.arns.account, "repositoryName": repo.name, "repositoryUri": repo.uri,
            "createdAt": repo.created_at, "imageTagMutability": _MUTABILITY[repo.immutable_tags]}


_MUTABILITY = {False: "MUTABLE", True: "IMMUTABLE"}


def _immutable(body: Body, required: bool) -> bool:
    value = body.get("imageTagMutability")
    if value is None and not required:
        return False
    if value not in ("MUTABLE", "IMMUTABLE"):
        raise invalid_parameter("imageTagMutability: MUTABLE or IMMUTABLE")
    return value == "IMMUTABLE"


def _image_ids(body: Body, required: bool) -> list[dict[str, str]] | None:
    ids = body.get("imageIds")
    if ids is None and not required:
        return None
    if not isinstance(ids, list) or not ids or len(ids) > 100:
        raise invalid_parameter("imageIds: 1-100 image identifiers")
    out = []
    for i, item in enumerate(ids):
        if not isinstance(item, dict) or not (item.get("imageDigest") or item.get("imageTag")) or \
                not all(isinstance(v, str) for v in item.values()) or set(item) - {"imageDigest", "imageTag"}:
            raise invalid_parameter(f"imageIds[{i}]: want imageDigest and/or imageTag (strings)")
        out.append(item)
    return out


def _matches(image: rg.Image, wanted: dict[str, str]) -> bool:
    return (("imageDigest" not in wanted or wanted["imageDigest"] == image.digest)
            and ("imageTag" not in wanted or wanted["imageTag"] in image.tags))


def get_authorization_token(ctx: ApiContext, who: Identity, body: Body) -> Body:
    cred = repositories.login_credential(ctx, who)
    # `aws ecr get-login-password` prints what follows the colon; docker's user name is free.
    token = base64.b64encode(f"AWS:{cred.password}".encode()).decode()
    return {"authorizationData": [{"authorizationToken": token, "expiresAt": cred.expires_at,
                                   "proxyEndpoint": f"https://{cred.registry}"}]}


def create_repository(ctx: ApiContext, who: Identity, body: Body) -> Body:
    immutable = _immutable(body, required=False)
    return {"repository": _repository(ctx, repositories.create(ctx, _name(body), who, immutable))}


def put_image_tag_mutability(ctx: ApiContext, who: Identity, body: Body) -> Body:
    immutable = _immutable(body, required=True)
    repo = repositories.set_tag_mutability(ctx, _name(body), immutable)
    return {"registryId": ctx.arns.account, "repositoryName": repo.name,
            "imageTagMutability": _MUTABILITY[repo.immutable_tags]}


def describe_repositories(ctx: ApiContext, who: Identity, body: Body) -> Body:
    names = body.get("repositoryNames")
    if names is None:
        return {"repositories": [_repository(ctx, r) for r in repositories.list_(ctx)]}
    if not isinstance(names, list) or not 1 <= len(names) <= 100 or not all(isinstance(n, str) for n in names):
        raise invalid_parameter("repositoryNames: 1-100 repository names")
    return {"repositories": [_repository(ctx, repositories.record(ctx, n)) for n in names]}


def delete_repository(ctx: ApiContext, who: Identity, body: Body) -> Body:
    force = fields.boolean(body, "force")
    return {"repository": _repository(ctx, repositories.delete(ctx, _name(body), force))}


def describe_images(ctx: ApiContext, who: Identity, body: Body) -> Body:
    repo, found = repositories.images(ctx, _name(body))
    wanted = _image_ids(body, required=False)
    if wanted is not None:
        for w in wanted:
            if not any(_matches(i, w) for i in found):
                raise EcsError("ImageNotFoundException", f"imageIds: no image {w} in repository {repo.name!r}")
        found = [i for i in found if any(_matches(i, w) for w in wanted)]
    details = []
    for i in found:
        detail: Body = {"registryId": ctx.arns.account, "repositoryName": repo.name, "imageDigest": i.digest,
                        "imageTags": list(i.tags), "imageSizeInBytes": i.size_bytes,
                        "imageManifestMediaType": i.media_type}
        if i.pushed_at:
            detail["imagePushedAt"] = i.pushed_at
        details.append(detail)
    return {"imageDetails": details}


def list_images(ctx: ApiContext, who: Identity, body: Body) -> Body:
    _, found = repositories.images(ctx, _name(body))
    return {"imageIds": [{"imageDigest": i.digest, "imageTag": t} for i in found for t in i.tags]}


def batch_delete_image(ctx: ApiContext, who: Identity, body: Body) -> Body:
    repo, found = repositories.images(ctx, _name(body))
    deleted: list[dict[str, str]] = []
    failures: list[Body] = []
    for w in _image_ids(body, required=True) or []:
        match = next((i for i in found if _matches(i, w)), None)
        if match is None or not repositories.delete_image(ctx, repo.name, match.digest):
            failures.append({"imageId": w, "failureCode": "ImageNotFound",
                             "failureReason": "Requested image not found"})
            continue
        found = [i for i in found if i.digest != match.digest]
        deleted.append({"imageDigest": match.digest, **({"imageTag": w["imageTag"]} if "imageTag" in w else {})})
    return {"imageIds": deleted, "failures": failures}


def _policy(ctx: ApiContext, repo: rg.Repository) -> Body:
    return {"registryId": ctx.arns.account, "repositoryName": repo.name, "lifecyclePolicyText": repo.lifecycle_policy}


def put_lifecycle_policy(ctx: ApiContext, who: Identity, body: Body) -> Body:
    text = fields.string(body, "lifecyclePolicyText", required=True)
    return _policy(ctx, repositories.put_lifecycle_policy(ctx, _name(body), text))


def get_lifecycle_policy(ctx: ApiContext, who: Identity, body: Body) -> Body:
    repo = repositories.record(ctx, _name(body))
    if not repo.lifecycle_policy:
        raise EcsError("LifecyclePolicyNotFoundException",
                       f"repositoryName: repository {repo.name!r} has no lifecycle policy")
    return _policy(ctx, repo)


def delete_lifecycle_policy(ctx: ApiContext, who: Identity, body: Body) -> Body:
    return _policy(ctx, repositories.delete_lifecycle_policy(ctx, _name(body)))


# Each operation with the Registry method whose permission it needs.
OPERATIONS: dict[str, tuple[Operation, str]] = {
    "GetAuthorizationToken": (get_authorization_token, "GetLoginCredential"),
    "CreateRepository": (create_repository, "CreateRepository"),
    "DescribeRepositories": (describe_repositories, "ListRepositories"),
    "DeleteRepository": (delete_repository, "DeleteRepository"),
    "PutImageTagMutability": (put_image_tag_mutability, "UpdateRepository"),
    "PutLifecyclePolicy": (put_lifecycle_policy, "PutLifecyclePolicy"),
    "GetLifecyclePolicy": (get_lifecycle_policy, "DescribeRepository"),
    "DeleteLifecyclePolicy": (delete_lifecycle_policy, "DeleteLifecyclePolicy"),
    "DescribeImages": (describe_images, "ListImages"),
    "ListImages": (list_images, "ListImages"),
    "BatchDeleteImage": (batch_delete_image, "DeleteRepository"),
}

# Served again when a signature is seen again (sigv4.verify). Not GetAuthorizationToken: it
# mints a registry login, which a replayer must not be handed anew.
READS = frozenset({"DescribeRepositories", "DescribeImages", "ListImages", "GetLifecyclePolicy"})
_IS_READ = sigv4.reads_by_target(TARGET_PREFIX, READS)


def handle(ctx: ApiContext, req: sigv4.Request, replays: ReplayCache | None = None) -> tuple[int, dict, str]:
    """One ECR request: (HTTP status, JSON body, operation or "-")."""
    return beside.handle(ctx, req, replays, signing_name=SIGNING_NAME, is_read=_IS_READ, title="ECR",
                         operations=OPERATIONS, method_of=lambda name: _REGISTRY + OPERATIONS[name][1],
                         run=lambda name, who, body: OPERATIONS[name][0](ctx, who, body))
