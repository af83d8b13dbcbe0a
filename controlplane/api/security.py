"""The Security gRPC service: joining nodes, join tokens, operator certificates, CA
rotation, and secrets. Who may call which method is authz's job (controlplane/authz.py);
what is checked here is what depends on the data: a token's validity, and that a node asks
only for the secrets of its own tasks."""

from __future__ import annotations

import logging
import time
import uuid

import grpc

from controlplane import revocations
from controlplane.api import execution_roles, secrets
from controlplane.api.context import ApiContext
from controlplane.api.nodes import refuse_if_deregistered
from controlplane.authz import current_identity, record_denial
from controlplane.errors import ApiError, grpc_errors, invalid, not_found
from controlplane.state import decode
from shoal import keys
from shoal.logs import kv
from shoal.security import ca as ca_mod
from shoal.security import pki, tokens
from shoal.security.ca import CertError, Identity
from shoal.store.base import Conflict
from shoal.v1 import resources_pb2 as r
from shoal.v1 import security_pb2 as sec
from shoal.v1 import security_pb2_grpc
from shoal.validation import check_name

log = logging.getLogger(__name__)


def _token_error(exc: tokens.TokenError) -> ApiError:
    if exc.reason == "conflict":
        # Lost the race for the token's use count to other joins: the caller retries.
        return ApiError(grpc.StatusCode.ABORTED, str(exc))
    if exc.reason == "bad_request":
        return invalid(str(exc))
    if exc.reason == "unknown":
        return not_found(str(exc))
    return ApiError(grpc.StatusCode.PERMISSION_DENIED, str(exc))


class SecurityService(security_pb2_grpc.SecurityServicer):
    """``trust``: the replica's live view of the CAs, or None for an --insecure control plane
    (which then cannot sign anything)."""

    def __init__(self, ctx: ApiContext, trust: pki.LiveTrust | None, sealer,
                 revoked: revocations.Revocations, node_cert_days: float = ca_mod.NODE_DAYS) -> None:
        self.ctx = ctx
        self.revoked = revoked
        self.trust = trust
        self.sealer = sealer
        self.node_cert_days = node_cert_days

    def _trust(self) -> pki.LiveTrust:
        if self.trust is None:
            raise ApiError(grpc.StatusCode.FAILED_PRECONDITION,
                           "this control plane runs --insecure: it has no CA to sign with")
        return self.trust

    def _current_ca(self) -> tuple[pki.TrustState, ca_mod.CertificateAuthority]:
        # Read from the store at each signing, so a rotation made through any replica counts at once.
        state = pki.load(self.ctx.store, self._trust().sealer)
        if state is None:
            raise ApiError(grpc.StatusCode.FAILED_PRECONDITION, "the cluster has no CA")
        return state, state.current

    # ---- joining ------------------------------------------------------------------------

    @grpc_errors
    def JoinNode(self, request: sec.JoinNodeRequest, context) -> sec.JoinNodeResponse:  # noqa: N802
        state, authority = self._current_ca()
        try:
            parsed = tokens.parse(request.token)
        except tokens.TokenError as exc:
            record_denial("bad_token", None, "join with a malformed token", peer=context.peer())
            raise invalid(str(exc)) from None
        try:
            public_key = ca_mod.csr_public_key(request.csr_pem)
        except CertError as exc:
            raise invalid(str(exc)) from None
        if len(request.hostname) > 255:
            raise invalid("hostname: at most 255 characters")
        try:
            record = tokens.consume(self.ctx.store, parsed)
        except tokens.TokenError as exc:
            record_denial(exc.reason, None, "join refused", token=parsed.token_id, peer=context.peer())
            raise _token_error(exc) from None
        node_id = uuid.uuid4().hex
        cluster = record.cluster or ca_mod.LEGACY_NODE_CLUSTER
        cert = authority.issue_client(public_key, Identity("node", node_id, cluster=cluster),
                                      days=self.node_cert_days)
        log.info("node joined", extra=kv(node=node_id, cluster=cluster, token=record.id, host=request.hostname[:64],
                                         uses=f"{record.used}/{record.max_uses or 'unlimited'}"))
        return sec.JoinNodeResponse(node_id=node_id, cert_pem=ca_mod.cert_pem(cert).decode(),
                                    ca_bundle_pem=state.bundle_pem().decode())

    @grpc_errors
    def RenewNodeCertificate(  # noqa: N802
        self, request: sec.RenewNodeCertificateRequest, context
    ) -> sec.JoinNodeResponse:
        state, authority = self._current_ca()
        who = current_identity()
        if who is None or who.role != "node":  # authz lets only nodes in; this is for --insecure
            raise ApiError(grpc.StatusCode.PERMISSION_DENIED, "only a node may renew its certificate")
        refuse_if_deregistered(self.ctx.store, who.name)
        try:
            public_key = ca_mod.csr_public_key(request.csr_pem)
        except CertError as exc:
            raise invalid(str(exc)) from None
        # Same node, same cluster: renewal never moves a node to another cluster.
        cert = authority.issue_client(public_key, Identity("node", who.name, cluster=who.cluster),
                                      days=self.node_cert_days)
        log.info("node certificate renewed", extra=kv(node=who.name, ca=state.current.fingerprint[:16],
                                                      expires=cert.not_valid_after_utc.isoformat()))
        return sec.JoinNodeResponse(node_id=who.name, cert_pem=ca_mod.cert_pem(cert).decode(),
                                    ca_bundle_pem=state.bundle_pem().decode())

    # ---- tokens -------------------------------------------------------------------------

    @grpc_errors
    def CreateJoinToken(self, request: sec.CreateJoinTokenRequest, context) -> sec.CreateJoinTokenResponse:  # noqa: N802
        _, authority = self._current_ca()
        cluster = self.ctx.require_cluster(request.cluster or "default").msg.cluster_name
        try:
            text, record = tokens.create(self.ctx.store, authority.fingerprint, request.ttl_seconds,
                                         request.max_uses, request.description, cluster=cluster)
        except tokens.TokenError as exc:
            raise _token_error(exc) from None
        log.info("join token created", extra=kv(token=record.id, cluster=cluster, by=current_identity(),
                                                max_uses=record.max_uses))
        record.secret_sha256 = ""
        return sec.CreateJoinTokenResponse(token=text, info=record)

    @grpc_errors
    def ListJoinTokens(self, request: sec.ListJoinTokensRequest, context) -> sec.ListJoinTokensResponse:  # noqa: N802
        return sec.ListJoinTokensResponse(tokens=tokens.list_(self.ctx.store))

    @grpc_errors
    def RevokeJoinToken(self, request: sec.RevokeJoinTokenRequest, context) -> sec.JoinToken:  # noqa: N802
        try:
            record = tokens.revoke(self.ctx.store, request.id)
        except tokens.TokenError as exc:
            raise _token_error(exc) from None
        log.info("join token revoked", extra=kv(token=record.id, by=current_identity()))
        return record

    # ---- operators and the CA ----------------------------------------------------------------

    @grpc_errors
    def IssueOperatorCertificate(self, request: sec.IssueOperatorCertificateRequest,  # noqa: N802
                                 context) -> sec.IssueOperatorCertificateResponse:
        if request.role not in ("admin", "viewer"):
            raise invalid(f"role: want admin or viewer, got {request.role[:20]!r}")
        if request.grants and request.role != "viewer":
            raise invalid("grants: only a viewer takes grants (an admin may do everything)")
        try:
            ca_mod.check_identity_name(request.name)
            grants = ca_mod.check_grants(list(request.grants))
            public_key = ca_mod.csr_public_key(request.csr_pem)
        except CertError as exc:
            raise invalid(str(exc)) from None
        days = request.ttl_seconds / 86400 if request.ttl_seconds else 365
        if not 0 < days <= ca_mod.OPERATOR_MAX_DAYS:
            raise invalid(f"ttlSeconds: at most {ca_mod.OPERATOR_MAX_DAYS} days")
        state, authority = self._current_ca()
        identity = Identity(request.role, request.name, grants=grants)
        issued = revocations.issue_time(time.time(), revocations.stored_cutoff(self.ctx.store, request.name))
        cert = authority.issue_client(public_key, identity, days=days, issued=issued)
        log.info("operator certificate issued", extra=kv(identity=identity, grants=",".join(sorted(grants)),
                                                         by=current_identity()))
        return sec.IssueOperatorCertificateResponse(cert_pem=ca_mod.cert_pem(cert).decode(),
                                                    ca_bundle_pem=state.bundle_pem().decode(),
                                                    identity=identity.subject)

    @grpc_errors
    def RevokeOperatorCertificates(self, request: sec.RevokeOperatorCertificatesRequest,  # noqa: N802
                                   context) -> sec.RevokeOperatorCertificatesResponse:
        try:
            ca_mod.check_identity_name(request.name)
        except CertError as exc:
            raise invalid(str(exc)) from None
        cutoff = revocations.cutoff_after(time.time())
        by = str(current_identity() or "anonymous")
        self.ctx.store.put(keys.revoked_user(request.name), revocations.record(request.name, cutoff, by))
        log.info("operator certificates revoked", extra=kv(user=request.name, not_before=cutoff, by=by))
        return sec.RevokeOperatorCertificatesResponse(
            revoked=sec.RevokedOperator(name=request.name, not_before=cutoff))

    @grpc_errors
    def ListRevokedOperators(self, request: sec.ListRevokedOperatorsRequest,  # noqa: N802
                             context) -> sec.ListRevokedOperatorsResponse:
        found = [revocations.parse(kv_.value) for kv_ in self.ctx.store.list(keys.REVOKED_USERS).kvs]
        return sec.ListRevokedOperatorsResponse(revoked=sorted(
            (sec.RevokedOperator(name=p[0], not_before=p[1]) for p in found if p is not None), key=lambda r: r.name))

    @grpc_errors
    def RotateCA(self, request: sec.RotateCARequest, context) -> sec.RotateCAResponse:  # noqa: N802
        trust = self._trust()
        try:
            state = pki.rotate(self.ctx.store, trust.sealer)
        except Conflict:
            raise ApiError(grpc.StatusCode.ABORTED, "another rotation happened at the same time; try again") from None
        sentence = trust.refresh()
        log.info("CA rotated", extra=kv(by=current_identity(), now=state.current.fingerprint[:16], said=sentence))
        return sec.RotateCAResponse(new_fingerprint=state.current.fingerprint,
                                    trusted_fingerprints=state.fingerprints())

    @grpc_errors
    def WhoAmI(self, request: sec.WhoAmIRequest, context) -> sec.WhoAmIResponse:  # noqa: N802
        who = current_identity()
        if who is None:
            return sec.WhoAmIResponse()
        return sec.WhoAmIResponse(identity=who.subject, role=who.role, name=who.name,
                                  grants=sorted(who.grants), cluster=who.cluster)

    # ---- secrets ------------------------------------------------------------------------

    @grpc_errors
    def PutSecret(self, request: sec.PutSecretRequest, context) -> sec.SecretInfo:  # noqa: N802
        info = secrets.put(self.ctx.store, self.sealer, request)
        log.info("secret stored", extra=kv(secret=info.name, version=info.version, by=current_identity()))
        return info

    @grpc_errors
    def ListSecrets(self, request: sec.ListSecretsRequest, context) -> sec.ListSecretsResponse:  # noqa: N802
        return secrets.list_(self.ctx.store, self.sealer)

    @grpc_errors
    def DeleteSecret(self, request: sec.DeleteSecretRequest, context) -> sec.SecretInfo:  # noqa: N802
        info = secrets.delete(self.ctx.store, self.sealer, request)
        log.info("secret deleted", extra=kv(secret=info.name, by=current_identity()))
        return info

    @grpc_errors
    def GetTaskSecrets(self, request: sec.GetTaskSecretsRequest, context) -> sec.GetTaskSecretsResponse:  # noqa: N802
        check_name(request.task_id, "taskId")
        who = current_identity()
        node_id = who.name if who is not None else self._owner(request)
        # The assignment exists only under the node the task is placed on: that is the check.
        assignment = self.ctx.store.get(keys.assignment(node_id, request.task_id))
        if assignment is None:
            owner = self._owner(request)
            if who is not None and owner and owner != who.name:
                record_denial("other_node_task", who, "secrets of another node's task", task=request.task_id,
                              owner=owner)
                raise ApiError(grpc.StatusCode.PERMISSION_DENIED,
                               f"taskId: task {request.task_id} is not assigned to {who}")
            raise not_found(f"taskId: no task {request.task_id} assigned to this node")
        a = decode(r.TaskAssignment, assignment.value)
        if a.task.desired_status != "RUNNING":
            raise ApiError(grpc.StatusCode.FAILED_PRECONDITION, f"taskId: task {request.task_id} is being stopped")
        execution_roles.check_secrets(self.ctx, a.task_definition)
        return secrets.values_for(self.ctx.store, self.sealer, a.task_definition)

    def _owner(self, request: sec.GetTaskSecretsRequest) -> str:
        rec = self.ctx.state.task(request.cluster or "default", request.task_id)
        return rec.msg.node_id if rec is not None else ""
