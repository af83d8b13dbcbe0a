"""The Registry service: short-lived credentials for the cluster registry and its
repositories. Repositories are records in etcd (``/shoal/v1/repositories/<name>``, written
only here, but for push times and tags: registry/events.py); their images are read from the registry
itself. Credentials are JWTs signed by the cluster's registry issuer
(shoal/security/registry_issuer.py): a login credential for an operator's ``docker login``, a
pull-only registry token per image for the node a task is assigned to. For an image whose
container names ``repositoryCredentials``, that node gets the user name and password of the
Shoal secret it names instead (any registry). Nothing here logs a credential.

The module-level functions are the operations; the gRPC service and the ECR gateway
(controlplane/ecs/ecr.py) both call them."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

import grpc

from controlplane.api import execution_roles, secrets
from controlplane.api.context import ApiContext
from controlplane.authz import current_identity, record_denial
from controlplane.errors import ApiError, grpc_errors, invalid, not_found
from controlplane.registry import lifecycle
from controlplane.registry.access import ScopeError, check_repository_name
from controlplane.registry.client import RegistryUnavailable
from controlplane.registry.logins import CERT_CLAIM, KEY_CLAIM
from controlplane.registry.settings import RegistrySettings
from controlplane.state import decode
from shoal import keys
from shoal.logs import kv
from shoal.security import registry_issuer
from shoal.security.ca import Identity
from shoal.security.sealing import Sealer
from shoal.store.base import KV, Conflict
from shoal.store.update import update
from shoal.taskdef.document import parse_task_definition_ref
from shoal.v1 import registry_pb2 as rg
from shoal.v1 import registry_pb2_grpc
from shoal.v1 import resources_pb2 as r

log = logging.getLogger(__name__)

LOGIN_SECONDS = 12 * 3600
PULL_SECONDS = 600
LOGIN_USER = "shoal"


def image_repository(image: str, address: str) -> str | None:
    """The repository of ``image`` when it names the cluster registry at ``address``
    (``HOST:PORT/NAME[:TAG|@DIGEST]``), else None."""
    host, sep, rest = image.partition("/")
    if not sep or host != address:
        return None
    name = rest.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    return name


def require(ctx: ApiContext) -> RegistrySettings:
    if ctx.registry is None:
        raise ApiError(grpc.StatusCode.FAILED_PRECONDITION,
                       "this control plane has no cluster registry (start it with --registry and "
                       "--registry-token-listen; `shoal up` does)")
    return ctx.registry


def check_name(name: str, field: str = "repositoryName") -> str:
    try:
        return check_repository_name(name, field)
    except ScopeError as exc:
        raise invalid(str(exc)) from None


def record(ctx: ApiContext, name: str) -> rg.Repository:
    kv_ = ctx.store.get(keys.repository(check_name(name)))
    if kv_ is None:
        raise not_found(f"repositoryName: no repository {name!r} (`shoal repo create {name}`)",
                        "RepositoryNotFoundException")
    return decode(rg.Repository, kv_.value)


def login_credential(ctx: ApiContext, who: Identity | None, ttl: int = 0) -> rg.LoginCredential:
    s = require(ctx)
    if who is None:
        raise ApiError(grpc.StatusCode.FAILED_PRECONDITION,
                       "registry credentials stand for a Shoal identity; this control plane runs --insecure")
    ttl = ttl or LOGIN_SECONDS
    if not 0 < ttl <= LOGIN_SECONDS:
        raise invalid(f"ttlSeconds: at most {LOGIN_SECONDS} (12 hours)")
    # A login made with an access key names it, so it stops with the key (registry/logins.py).
    key = {KEY_CLAIM: who.access_key} if who.access_key else {}
    # One made with a certificate names its issue time, so it stops with a revocation.
    if not who.access_key and who.issued:
        key[CERT_CLAIM] = int(who.issued)
    claims = registry_issuer.claims(who.subject, registry_issuer.LOGIN_AUDIENCE, ttl, role=who.role, **key)
    log.info("registry login credential issued", extra=kv(identity=who, expires=claims["exp"]))
    return rg.LoginCredential(registry=s.address, username=LOGIN_USER, password=s.issuer.sign(claims),
                              expires_at=claims["exp"])


def create(ctx: ApiContext, name: str, who: Identity | None, immutable_tags: bool = False) -> rg.Repository:
    s = require(ctx)
    name = check_name(name)
    repo = rg.Repository(name=name, uri=f"{s.address}/{name}", created_at=time.time(), created_by=str(who or ""),
                         immutable_tags=immutable_tags)
    try:
        ctx.store.create(keys.repository(name), repo.SerializeToString())
    except Conflict:
        raise ApiError(grpc.StatusCode.ALREADY_EXISTS, f"repositoryName: repository {name!r} already exists",
                       "RepositoryAlreadyExistsException") from None
    log.info("repository created", extra=kv(repository=name, by=who))
    return repo


def _change(ctx: ApiContext, name: str, change: Callable[[rg.Repository], None]) -> rg.Repository:
    """Applies ``change`` to the record, retried on conflict; the record as written."""
    out: list[rg.Repository] = []

    def mutate(kv_: KV | None) -> bytes | None:
        out.clear()
        if kv_ is None:
            return None
        repo = decode(rg.Repository, kv_.value)
        change(repo)
        out.append(repo)
        return repo.SerializeToString()

    update(ctx.store, keys.repository(name), mutate)
    if not out:
        raise not_found(f"repositoryName: no repository {name!r}", "RepositoryNotFoundException")
    return out[0]


def set_tag_mutability(ctx: ApiContext, name: str, immutable_tags: bool) -> rg.Repository:
    """Turns tag immutability on or off. Turning it on first records which manifest each tag
    names now (the registry's own view), so a tag pushed before the switch is held too."""
    s = require(ctx)
    current = record(ctx, name)
    held: dict[str, str] = {}
    if immutable_tags:
        try:
            held = {t: i.digest for i in s.client.images(current.name) for t in i.tags}
        except RegistryUnavailable as exc:
            raise ApiError(grpc.StatusCode.UNAVAILABLE, str(exc), "ServerException") from None

    def change(repo: rg.Repository) -> None:
        repo.immutable_tags = immutable_tags
        repo.tag_digest.update(held)

    repo = _change(ctx, current.name, change)
    log.info("repository tag mutability set", extra=kv(repository=repo.name, immutable=immutable_tags))
    return repo


def put_lifecycle_policy(ctx: ApiContext, name: str, text: str) -> rg.Repository:
    """Sets the policy after checking it whole (an invalid one changes nothing)."""
    current = record(ctx, name)
    try:
        lifecycle.parse(text)
    except lifecycle.PolicyError as exc:
        raise invalid(str(exc)) from None
    repo = _change(ctx, current.name, lambda repo: setattr(repo, "lifecycle_policy", text))
    log.info("repository lifecycle policy set", extra=kv(repository=repo.name))
    return repo


def delete_lifecycle_policy(ctx: ApiContext, name: str) -> rg.Repository:
    """Removes the policy; the record as it was, policy included (ECR answers with it).
    Raises LifecyclePolicyNotFoundException when there is none."""
    current = record(ctx, name)
    if not current.lifecycle_policy:
        raise not_found(f"repositoryName: repository {name!r} has no lifecycle policy",
                        "LifecyclePolicyNotFoundException")
    _change(ctx, current.name, lambda repo: setattr(repo, "lifecycle_policy", ""))
    log.info("repository lifecycle policy deleted", extra=kv(repository=current.name))
    return current


def list_(ctx: ApiContext) -> list[rg.Repository]:
    return [decode(rg.Repository, kv_.value) for kv_ in ctx.store.list(keys.REPOSITORIES).kvs]


def images(ctx: ApiContext, name: str) -> tuple[rg.Repository, list[rg.Image]]:
    """The repository's record and its tagged images, as the registry holds them now."""
    s = require(ctx)
    repo = record(ctx, name)
    try:
        found = s.client.images(repo.name)
    except RegistryUnavailable as exc:
        raise ApiError(grpc.StatusCode.UNAVAILABLE, str(exc), "ServerException") from None
    return repo, [rg.Image(digest=i.digest, tags=sorted(i.tags), size_bytes=i.size_bytes, media_type=i.media_type,
                           pushed_at=repo.pushed_at.get(i.digest, 0)) for i in found]


def delete_image(ctx: ApiContext, name: str, digest: str) -> bool:
    """Deletes one manifest (every tag on it); False when the registry did not have it."""
    try:
        return require(ctx).client.delete(name, digest)
    except RegistryUnavailable as exc:
        raise ApiError(grpc.StatusCode.UNAVAILABLE, f"cannot delete {name}@{digest}: {exc}", "ServerException") \
            from None


def delete(ctx: ApiContext, name: str, force: bool = True) -> rg.Repository:
    """Deletes the record and, with ``force``, its images first (without, a repository that
    still has images is refused, as ECR does)."""
    repo, held = images(ctx, name)
    if held and not force:
        raise ApiError(grpc.StatusCode.FAILED_PRECONDITION,
                       f"repositoryName: repository {name!r} still holds {len(held)} image(s); delete them or use "
                       "force", "RepositoryNotEmptyException")
    # Images first: a record that outlives a failed image deletion can be deleted again;
    # images left behind a deleted record could not be found any more.
    for image in held:
        delete_image(ctx, repo.name, image.digest)
    kv_ = ctx.store.get(keys.repository(repo.name))
    if kv_ is not None:
        ctx.store.delete(keys.repository(repo.name), kv_.mod_revision)
    log.info("repository deleted", extra=kv(repository=repo.name, images=len(held)))
    return repo


def _repository_credentials(td: r.TaskDefinition) -> dict[str, str]:
    """Container name -> the secret its repositoryCredentials name (kept in sourceJson; the
    task definition's parser checked its shape at registration)."""
    try:
        doc = json.loads(td.source_json or "{}")
    except ValueError:
        return {}
    out = {}
    for c in doc.get("containerDefinitions") or []:
        creds = c.get("repositoryCredentials") if isinstance(c, dict) else None
        if isinstance(creds, dict) and isinstance(creds.get("credentialsParameter"), str):
            out[str(c.get("name"))] = creds["credentialsParameter"]
    return out


def _user_password(value: str, field: str) -> tuple[str, str]:
    """A registry secret's value: ``{"username": ..., "password": ...}`` (Secrets Manager's form)."""
    try:
        doc = json.loads(value)
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or not all(isinstance(doc.get(k), str) and doc[k] for k in ("username", "password")):
        raise invalid(f"{field}: the secret must hold JSON {{\"username\": ..., \"password\": ...}}")
    return doc["username"], doc["password"]


class RegistryService(registry_pb2_grpc.RegistryServicer):
    def __init__(self, ctx: ApiContext, sealer: Sealer | None) -> None:
        self.ctx = ctx
        # Opens the secrets repositoryCredentials name.
        self.sealer = sealer

    @grpc_errors
    def GetLoginCredential(self, request: rg.GetLoginCredentialRequest, context) -> rg.LoginCredential:  # noqa: N802
        return login_credential(self.ctx, current_identity(), request.ttl_seconds)

    @grpc_errors
    def GetTaskPullCredentials(self, request: rg.GetTaskPullCredentialsRequest,  # noqa: N802
                               context) -> rg.GetTaskPullCredentialsResponse:
        who = current_identity()
        node_id = who.name if who is not None else ""
        if request.prepull_deployment_id and not request.task_id:
            td, what = self._prepull_definition(who, node_id, request.prepull_deployment_id), "pre-pull"
        else:
            kv_ = self.ctx.store.get(keys.assignment(node_id, request.task_id)) if node_id else None
            if kv_ is None:
                record_denial("other_node_task", who, "pull credentials of a task not assigned to it",
                              task=request.task_id[:64])
                raise ApiError(grpc.StatusCode.PERMISSION_DENIED, f"taskId: task {request.task_id[:64]} is not "
                                                                  f"assigned to {who}")
            td, what = decode(r.TaskAssignment, kv_.value).task_definition, "task"
        resp = rg.GetTaskPullCredentialsResponse()
        explicit = _repository_credentials(td)
        s = self.ctx.registry
        for i, cdef in enumerate(td.container_definitions):
            if cdef.name in explicit:
                field = f"containerDefinitions[{i}].repositoryCredentials.credentialsParameter"
                execution_roles.check(self.ctx, td, execution_roles.GET_SECRET,
                                      execution_roles.secret_arn(self.ctx, explicit[cdef.name]), field)
                user, password = _user_password(secrets.value_of(self.ctx.store, self.sealer, explicit[cdef.name],
                                                                 field), field)
                resp.credentials.add(image=cdef.image, username=user, password=password)
                continue
            repository = image_repository(cdef.image, s.address) if s is not None else None
            if repository is None or s is None:
                continue
            execution_roles.check(self.ctx, td, execution_roles.PULL,
                                  execution_roles.repository_arn(self.ctx, repository),
                                  f"containerDefinitions[{i}].image")
            access = [{"type": "repository", "name": repository, "actions": ["pull"]}]
            claims = registry_issuer.claims(who.subject if who else "", s.service, PULL_SECONDS, access=access)
            resp.credentials.add(image=cdef.image, registry_token=s.issuer.sign(claims))
        log.info("pull credentials issued", extra=kv(node=node_id, task=request.task_id, kind=what,
                                                     deployment=request.prepull_deployment_id,
                                                     images=len(resp.credentials)))
        return resp

    def _prepull_definition(self, who: Identity | None, node_id: str, deployment_id: str) -> r.TaskDefinition:
        """The task definition of one of this node's pre-pull intents: a node is told what to
        pull ahead only through its own intents, so it gets no credentials through another's."""
        kv_ = self.ctx.store.get(keys.prepull(node_id, deployment_id)) if node_id else None
        if kv_ is None:
            record_denial("other_node_prepull", who, "pull credentials of a pre-pull not meant for it",
                          deployment=deployment_id[:64])
            raise ApiError(grpc.StatusCode.PERMISSION_DENIED, f"prepullDeploymentId: no pre-pull of deployment "
                                                              f"{deployment_id[:64]} is meant for {who}")
        intent = decode(r.PrePull, kv_.value)
        family, revision = parse_task_definition_ref(intent.task_definition_arn)
        td_kv = self.ctx.store.get(keys.taskdef(family, revision or 0))
        if td_kv is None:
            raise not_found(f"prepullDeploymentId: task definition {intent.task_definition_arn} is gone")
        return decode(r.TaskDefinition, td_kv.value)

    @grpc_errors
    def CreateRepository(self, request: rg.CreateRepositoryRequest, context) -> rg.Repository:  # noqa: N802
        return create(self.ctx, request.name, current_identity(), request.immutable_tags)

    @grpc_errors
    def UpdateRepository(self, request: rg.UpdateRepositoryRequest, context) -> rg.Repository:  # noqa: N802
        return set_tag_mutability(self.ctx, request.name, request.immutable_tags)

    @grpc_errors
    def DescribeRepository(self, request: rg.DescribeRepositoryRequest, context) -> rg.Repository:  # noqa: N802
        return record(self.ctx, request.name)

    @grpc_errors
    def PutLifecyclePolicy(self, request: rg.PutLifecyclePolicyRequest, context) -> rg.Repository:  # noqa: N802
        return put_lifecycle_policy(self.ctx, request.name, request.policy_text)

    @grpc_errors
    def DeleteLifecyclePolicy(self, request: rg.DeleteLifecyclePolicyRequest,  # noqa: N802
                              context) -> rg.Repository:
        return delete_lifecycle_policy(self.ctx, request.name)

    @grpc_errors
    def ListRepositories(self, request: rg.ListRepositoriesRequest, context) -> rg.ListRepositoriesResponse:  # noqa: N802
        return rg.ListRepositoriesResponse(repositories=list_(self.ctx))

    @grpc_errors
    def DeleteRepository(self, request: rg.DeleteRepositoryRequest, context) -> rg.Repository:  # noqa: N802
        return delete(self.ctx, request.name)

    @grpc_errors
    def ListImages(self, request: rg.ListImagesRequest, context) -> rg.ListImagesResponse:  # noqa: N802
        repo, found = images(self.ctx, request.repository)
        return rg.ListImagesResponse(repository=repo.name, images=found)
