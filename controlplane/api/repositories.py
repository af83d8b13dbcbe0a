"""The Registry service: short-lived credentials for the cluster registry and its
repositories. Repositories are records in etcd (``/shoal/v1/repositories/<name>``, written
only here); their images are read from the registry itself. Credentials are JWTs signed by
the cluster's registry issuer (shoal/security/registry_issuer.py): a login credential for an
operator's ``docker login``, a pull-only registry token per image for the node a task is
assigned to. For an image whose container names ``repositoryCredentials``, that node gets the
user name and password of the Shoal secret it names instead (any registry). Nothing here
logs a credential."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

import grpc

from controlplane.api import secrets
from controlplane.api.context import ApiContext
from controlplane.authz import current_identity, record_denial
from controlplane.errors import ApiError, grpc_errors, invalid, not_found
from controlplane.registry.access import ScopeError, check_repository_name
from controlplane.registry.client import RegistryClient, RegistryUnavailable
from controlplane.state import decode
from shoal import keys
from shoal.logs import kv
from shoal.security import registry_issuer
from shoal.security.registry_issuer import Issuer
from shoal.security.sealing import Sealer
from shoal.store.base import Conflict
from shoal.v1 import registry_pb2 as rg
from shoal.v1 import registry_pb2_grpc
from shoal.v1 import resources_pb2 as r

log = logging.getLogger(__name__)

LOGIN_SECONDS = 12 * 3600
PULL_SECONDS = 600
LOGIN_USER = "shoal"


@dataclass
class RegistrySettings:
    address: str
    service: str
    issuer: Issuer
    client: RegistryClient


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
    def __init__(self, ctx: ApiContext, settings: RegistrySettings | None, sealer: Sealer | None) -> None:
        self.ctx = ctx
        self.settings = settings
        # Opens the secrets repositoryCredentials name.
        self.sealer = sealer

    def _require(self) -> RegistrySettings:
        if self.settings is None:
            raise ApiError(grpc.StatusCode.FAILED_PRECONDITION,
                           "this control plane has no cluster registry (start it with --registry and "
                           "--registry-token-listen; `shoal up` does)")
        return self.settings

    def _check_name(self, name: str, field: str) -> str:
        try:
            return check_repository_name(name, field)
        except ScopeError as exc:
            raise invalid(str(exc)) from None

    def _record(self, name: str) -> rg.Repository:
        kv_ = self.ctx.store.get(keys.repository(name))
        if kv_ is None:
            raise not_found(f"repositoryName: no repository {name!r} (`shoal repo create {name}`)",
                            "RepositoryNotFoundException")
        return decode(rg.Repository, kv_.value)

    @grpc_errors
    def GetLoginCredential(self, request: rg.GetLoginCredentialRequest, context) -> rg.LoginCredential:  # noqa: N802
        s = self._require()
        who = current_identity()
        if who is None:
            raise ApiError(grpc.StatusCode.FAILED_PRECONDITION,
                           "registry credentials stand for a Shoal identity; this control plane runs --insecure")
        ttl = request.ttl_seconds or LOGIN_SECONDS
        if ttl > LOGIN_SECONDS:
            raise invalid(f"ttlSeconds: at most {LOGIN_SECONDS} (12 hours)")
        claims = registry_issuer.claims(who.subject, registry_issuer.LOGIN_AUDIENCE, ttl, role=who.role)
        log.info("registry login credential issued", extra=kv(identity=who, expires=claims["exp"]))
        return rg.LoginCredential(registry=s.address, username=LOGIN_USER, password=s.issuer.sign(claims),
                                  expires_at=claims["exp"])

    @grpc_errors
    def GetTaskPullCredentials(self, request: rg.GetTaskPullCredentialsRequest,  # noqa: N802
                               context) -> rg.GetTaskPullCredentialsResponse:
        who = current_identity()
        node_id = who.name if who is not None else ""
        kv_ = self.ctx.store.get(keys.assignment(node_id, request.task_id)) if node_id else None
        if kv_ is None:
            record_denial("other_node_task", who, "pull credentials of a task not assigned to it",
                          task=request.task_id[:64])
            raise ApiError(grpc.StatusCode.PERMISSION_DENIED, f"taskId: task {request.task_id[:64]} is not "
                                                              f"assigned to {who}")
        a = decode(r.TaskAssignment, kv_.value)
        resp = rg.GetTaskPullCredentialsResponse()
        explicit = _repository_credentials(a.task_definition)
        for i, cdef in enumerate(a.task_definition.container_definitions):
            if cdef.name in explicit:
                field = f"containerDefinitions[{i}].repositoryCredentials.credentialsParameter"
                user, password = _user_password(secrets.value_of(self.ctx.store, self.sealer, explicit[cdef.name],
                                                                 field), field)
                resp.credentials.add(image=cdef.image, username=user, password=password)
                continue
            repository = image_repository(cdef.image, self.settings.address) if self.settings else None
            if repository is None or self.settings is None:
                continue
            access = [{"type": "repository", "name": repository, "actions": ["pull"]}]
            claims = registry_issuer.claims(who.subject if who else "", self.settings.service, PULL_SECONDS,
                                            access=access)
            resp.credentials.add(image=cdef.image, registry_token=self.settings.issuer.sign(claims))
        log.info("pull credentials issued", extra=kv(node=node_id, task=request.task_id, images=len(resp.credentials)))
        return resp

    @grpc_errors
    def CreateRepository(self, request: rg.CreateRepositoryRequest, context) -> rg.Repository:  # noqa: N802
        s = self._require()
        name = self._check_name(request.name, "repositoryName")
        who = current_identity()
        repo = rg.Repository(name=name, uri=f"{s.address}/{name}", created_at=time.time(),
                             created_by=str(who or ""))
        try:
            self.ctx.store.create(keys.repository(name), repo.SerializeToString())
        except Conflict:
            raise ApiError(grpc.StatusCode.ALREADY_EXISTS, f"repositoryName: repository {name!r} already exists",
                           "RepositoryAlreadyExistsException") from None
        log.info("repository created", extra=kv(repository=name, by=who))
        return repo

    @grpc_errors
    def ListRepositories(self, request: rg.ListRepositoriesRequest, context) -> rg.ListRepositoriesResponse:  # noqa: N802
        resp = rg.ListRepositoriesResponse()
        for kv_ in self.ctx.store.list(keys.REPOSITORIES).kvs:
            resp.repositories.append(decode(rg.Repository, kv_.value))
        return resp

    @grpc_errors
    def DeleteRepository(self, request: rg.DeleteRepositoryRequest, context) -> rg.Repository:  # noqa: N802
        s = self._require()
        name = self._check_name(request.name, "repositoryName")
        repo = self._record(name)
        # Images first: a repository record that outlives a failed image deletion can be
        # deleted again; images left behind a deleted record could not be found any more.
        try:
            for image in s.client.images(name):
                s.client.delete(name, image.digest)
        except RegistryUnavailable as exc:
            raise ApiError(grpc.StatusCode.UNAVAILABLE, f"cannot delete {name}'s images: {exc}") from None
        kv_ = self.ctx.store.get(keys.repository(name))
        if kv_ is not None:
            self.ctx.store.delete(keys.repository(name), kv_.mod_revision)
        log.info("repository deleted", extra=kv(repository=name, by=current_identity()))
        return repo

    @grpc_errors
    def ListImages(self, request: rg.ListImagesRequest, context) -> rg.ListImagesResponse:  # noqa: N802
        s = self._require()
        name = self._check_name(request.repository, "repositoryName")
        repo = self._record(name)
        try:
            images = s.client.images(name)
        except RegistryUnavailable as exc:
            raise ApiError(grpc.StatusCode.UNAVAILABLE, str(exc)) from None
        resp = rg.ListImagesResponse(repository=name)
        for image in images:
            resp.images.add(digest=image.digest, tags=sorted(image.tags), size_bytes=image.size_bytes,
                            media_type=image.media_type, pushed_at=repo.pushed_at.get(image.digest, 0))
        return resp
