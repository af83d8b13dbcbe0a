"""A node's side of joining: from a join token to a node certificate in its state dir.

1. Parse the token: it carries the cluster CA's fingerprint.
2. Open a TLS connection to the control plane without trusting anything yet, take the
   certificate chain it presents, and find in it the CA whose SHA-256 is the token's; the
   server's certificate must be signed by that CA (directly, or through a cross certificate
   it signed). Otherwise stop: the token is never sent to a server that cannot prove it
   belongs to the cluster.
3. Make a key here (it never leaves the node) and a CSR, and call JoinNode over TLS that
   trusts only that CA. The control plane consumes one use of the token, picks the node
   id and signs a certificate naming it.
4. Store ``<state-dir>/tls/node.key`` (0600), ``node.crt`` and ``ca.crt``. From then on
   the agent needs no token: it authenticates with the certificate.

Renewal (``renew``): when a third of the certificate's life is left the agent makes a new
key and trades a CSR, authenticated by the certificate it still has, for a new certificate
naming the same node.
"""

from __future__ import annotations

import datetime
import os
import socket
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from shoal.errors import rpc_status
from shoal.security import ca as ca_mod
from shoal.security import tokens
from shoal.security.channels import ClientTLS, client_channel
from shoal.security.sealing import write_private
from shoal.v1 import security_pb2 as sec
from shoal.v1 import security_pb2_grpc

TLS_DIR = "tls"
NODE_KEY, NODE_CERT, CA_BUNDLE = "node.key", "node.crt", "ca.crt"
_NEXT = ".next"


class JoinError(Exception):
    """Joining failed; the message says why and what to do. ``retryable``: the control
    plane could not be reached (it may be starting), as opposed to refusing."""

    def __init__(self, message: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class NodeCredentials:
    node_id: str
    tls: ClientTLS
    # The cluster the node's certificate binds it to (from its join token).
    cluster: str = ca_mod.LEGACY_NODE_CLUSTER


def _finish_swap(d: Path) -> None:
    # The certificate last: its presence is what marks the node as joined (see ``load``).
    if (d / f"{NODE_CERT}{_NEXT}").exists():
        for name in (NODE_KEY, NODE_CERT):
            if (d / f"{name}{_NEXT}").exists():
                os.replace(d / f"{name}{_NEXT}", d / name)


def tls_dir(state_dir: str | Path) -> Path:
    return Path(state_dir) / TLS_DIR


def load(state_dir: str | Path) -> NodeCredentials | None:
    """The node's stored credentials, or None if it has not joined yet."""
    d = tls_dir(state_dir)
    _finish_swap(d)
    if not (d / NODE_CERT).exists():
        return None
    try:
        tls = ClientTLS.from_files(d / CA_BUNDLE, d / NODE_CERT, d / NODE_KEY)
        cert = ca_mod.load_cert(tls.cert or b"", str(d / NODE_CERT))
    except (ValueError, OSError) as exc:
        raise JoinError(f"{d}: unreadable node credentials ({exc}); remove the directory and join again") from None
    identity = ca_mod.identity_of_cert(cert)
    if identity is None or identity.role != "node":
        raise JoinError(f"{d / NODE_CERT}: not a node certificate (subject {ca_mod.common_name(cert)!r})")
    return NodeCredentials(identity.name, tls, identity.cluster)


def _presented_chain(host: str, port: int, timeout: float) -> list[x509.Certificate]:
    """The certificates the server presents, unverified (checked by the caller)."""
    key_pem, cert_pem = ca_mod.anonymous_client_pair()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2"])
    with tempfile.TemporaryDirectory() as tmp:
        # The server asks every client for a certificate: offer the anonymous one.
        (Path(tmp) / "c.pem").write_bytes(cert_pem + key_pem)
        ctx.load_cert_chain(str(Path(tmp) / "c.pem"))
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw, \
                ctx.wrap_socket(raw, server_hostname=host) as tls:
            getter = getattr(tls, "get_unverified_chain", None)  # public from Python 3.13
            if getter is not None:
                ders = list(getter())
            else:
                ders = [c.public_bytes(ssl._ssl.ENCODING_DER) for c in tls._sslobj.get_unverified_chain()]
    except (OSError, ssl.SSLError) as exc:
        raise JoinError(f"cannot reach the control plane at {host}:{port} over TLS: {exc}", retryable=True) from None
    return [x509.load_der_x509_certificate(bytes(d)) for d in ders]


def verified_ca(chain: list[x509.Certificate], fingerprint: str, where: str) -> x509.Certificate:
    """The CA in ``chain`` with ``fingerprint``, after checking that it signed the server's
    certificate (``chain[0]``), directly or through a cross certificate in the chain."""
    if not chain:
        raise JoinError(f"{where} presented no certificate")
    anchor = next((c for c in chain if ca_mod.fingerprint(c) == fingerprint), None)
    if anchor is None:
        raise JoinError(f"{where} does not present the CA named in the token (sha256 {fingerprint[:16]}...): "
                        "another cluster, a rotated CA (create a new token), or someone in between")
    leaf = chain[0]
    if ca_mod.signed_by(leaf, anchor):
        return anchor
    for cross in chain[1:]:
        if cross.subject == leaf.issuer and ca_mod.signed_by(cross, anchor) and ca_mod.signed_by(leaf, cross):
            return anchor
    raise JoinError(f"{where}'s certificate is not signed by the token's CA: not sending the token")


def join(endpoint: str, token_text: str, state_dir: str | Path, hostname: str, timeout: float = 30) -> NodeCredentials:
    """Joins through the control plane at ``endpoint`` (HOST:PORT) and stores the
    credentials; raises JoinError (a bad token raises it before any connection)."""
    try:
        token = tokens.parse(token_text)
    except tokens.TokenError as exc:
        raise JoinError(f"--token: {exc}") from None
    host, _, port = endpoint.rpartition(":")
    host = host.strip("[]")
    anchor = verified_ca(_presented_chain(host, int(port), timeout), token.ca_fingerprint,
                         f"the control plane at {endpoint}")
    key = ca_mod.new_key()
    anon_key, anon_cert = ca_mod.anonymous_client_pair()
    tls = ClientTLS(ca=ca_mod.cert_pem(anchor), cert=anon_cert, key=anon_key)
    with client_channel(endpoint, tls) as channel:
        try:
            resp = security_pb2_grpc.SecurityStub(channel).JoinNode(
                sec.JoinNodeRequest(token=str(token), csr_pem=ca_mod.make_csr(key).decode(), hostname=hostname),
                timeout=timeout)
        except grpc.RpcError as exc:
            code, details = rpc_status(exc)
            # ABORTED: other nodes joining with the same token at the same instant.
            retry = code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.ABORTED)
            raise JoinError(f"the control plane at {endpoint} refused the join: {details}", retry) from None
    bundle = ca_mod.load_bundle(resp.ca_bundle_pem)
    if not any(ca_mod.fingerprint(c) == token.ca_fingerprint for c in bundle):
        bundle.append(anchor)
    return _store(state_dir, key, resp, bundle)


def _store(state_dir: str | Path, key, resp: sec.JoinNodeResponse, bundle: list[x509.Certificate]) -> NodeCredentials:
    cert = ca_mod.load_cert(resp.cert_pem, "certPem")
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    if (cert.public_key().public_bytes(enc, pub) != key.public_key().public_bytes(enc, pub)
            or ca_mod.common_name(cert) != f"shoal:node:{resp.node_id}"):
        raise JoinError("the control plane returned a certificate that is not for this node's key and id")
    d = tls_dir(state_dir)
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_private(d / CA_BUNDLE, ca_mod.bundle_pem(bundle))
    # Key and certificate must change together: both are written in full beside the old
    # ones first, and ``load`` finishes the swap if we die between the two renames.
    write_private(d / f"{NODE_KEY}{_NEXT}", ca_mod.key_pem(key))
    write_private(d / f"{NODE_CERT}{_NEXT}", resp.cert_pem.encode())
    _finish_swap(d)
    creds = load(state_dir)
    assert creds is not None
    return creds


def renewal_due(tls: ClientTLS, now: datetime.datetime | None = None) -> datetime.datetime:
    """When the certificate in ``tls`` should be renewed: once a third of its life is left
    (its life counted from issue, not from the backdated notBefore)."""
    cert = ca_mod.load_cert(tls.cert or b"", "node certificate")
    issued = cert.not_valid_before_utc + ca_mod.CLOCK_SKEW
    return cert.not_valid_after_utc - (cert.not_valid_after_utc - issued) / 3


def expires_at(tls: ClientTLS) -> datetime.datetime:
    return ca_mod.load_cert(tls.cert or b"", "node certificate").not_valid_after_utc


def renew(channel: grpc.Channel, state_dir: str | Path, node_id: str, timeout: float = 30) -> NodeCredentials:
    """Trades a new key's CSR for a new certificate over ``channel`` (authenticated by the
    current one) and stores both; raises JoinError saying why not. ``grpc.RpcError`` from
    the call is passed on (the caller tells a deregistered node from a passing failure)."""
    key = ca_mod.new_key()
    resp = security_pb2_grpc.SecurityStub(channel).RenewNodeCertificate(
        sec.RenewNodeCertificateRequest(csr_pem=ca_mod.make_csr(key).decode()), timeout=timeout)
    if resp.node_id != node_id:
        raise JoinError(f"the control plane renewed the certificate of {resp.node_id!r}, not of this node")
    return _store(state_dir, key, resp, ca_mod.load_bundle(resp.ca_bundle_pem))
