"""The cluster CA and the certificates it issues (EC P-256, SHA-256), with the
``cryptography`` package.

Identities live in the certificate's subject: the common name says who
(``shoal:node:<node-id>``, ``shoal:admin:<name>``, ``shoal:viewer:<name>``), organizational
units say what binds or widens it: ``cluster:<name>`` (the one cluster a node may register
into, from its join token) and ``grant:<permission>`` (what a viewer may do beyond reading,
e.g. ``grant:logs``). The CA always writes the subject itself: what a CSR asks for is
ignored except its public key, so nobody picks their own identity.

A CA's fingerprint is the SHA-256 of its certificate in DER, hex: what a join token
carries so a new node can check it talks to the right cluster before sending the token.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import ipaddress
import secrets
from dataclasses import dataclass, field, replace

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# replica: a control plane replica (its server certificate, used as a client to reach other replicas).
ROLES = ("node", "admin", "viewer", "replica")
# What a viewer may be granted beyond reading state: streaming task logs, listing secrets.
GRANTS = ("logs", "secrets", "exec")
# A node certificate issued before cluster binding is bound to the cluster ECS creates by default.
LEGACY_NODE_CLUSTER = "default"
_CLUSTER_OU, _GRANT_OU = "cluster:", "grant:"
CA_DAYS = 3650
SERVER_DAYS = 365
NODE_DAYS = 365
OPERATOR_MAX_DAYS = 5 * 365
CLOCK_SKEW = datetime.timedelta(minutes=5)
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.@")


class CertError(ValueError):
    """A certificate, key or CSR is malformed or unacceptable; the message names the field."""


@dataclass(frozen=True)
class Identity:
    role: str
    name: str
    # Nodes only: the cluster the node joined, and the only one it may register into.
    cluster: str = ""
    # Viewers only: permissions beyond reading (GRANTS).
    grants: frozenset[str] = frozenset()
    # The ECS gateway's access key the caller signed with ("" for a certificate): the registry
    # logins it gets name the key, and stop with it (controlplane/registry/logins.py).
    access_key: str = ""
    # Operators only: when the certificate was issued (its notBefore less the skew allowance,
    # to the second), which a revocation by name compares with (controlplane/revocations.py).
    issued: float = field(default=0.0, compare=False)

    @property
    def subject(self) -> str:
        return f"shoal:{self.role}:{self.name}"

    def __str__(self) -> str:
        return self.subject


def check_identity_name(name: str, field: str = "name") -> str:
    if not 1 <= len(name) <= 64 or not set(name) <= _NAME_CHARS:
        raise CertError(f"{field}: 1-64 letters, digits or -_.@, got {name[:70]!r}")
    return name


def parse_identity(common_name: str) -> Identity | None:
    """``shoal:<role>:<name>`` -> Identity; anything else -> None."""
    parts = common_name.split(":")
    if len(parts) != 3 or parts[0] != "shoal" or parts[1] not in ROLES:
        return None
    try:
        check_identity_name(parts[2])
    except CertError:
        return None
    return Identity(parts[1], parts[2])


def check_grants(grants: list[str] | tuple[str, ...], field: str = "grants") -> frozenset[str]:
    unknown = [g for g in grants if g not in GRANTS]
    if unknown:
        raise CertError(f"{field}: unknown permission {unknown[0][:20]!r}; want some of {', '.join(GRANTS)}")
    return frozenset(grants)


def identity_of_cert(cert: x509.Certificate) -> Identity | None:
    """The identity a certificate's subject names (who signed it is the caller's check)."""
    base = parse_identity(common_name(cert))
    if base is None:
        return None
    units = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)]
    units = [u if isinstance(u, str) else u.decode(errors="replace") for u in units]
    clusters = [u[len(_CLUSTER_OU):] for u in units if u.startswith(_CLUSTER_OU)]
    grants = frozenset(u[len(_GRANT_OU):] for u in units if u.startswith(_GRANT_OU)) & frozenset(GRANTS)
    if base.role == "node":
        if len(clusters) > 1:
            return None
        return Identity("node", base.name, cluster=clusters[0] if clusters else LEGACY_NODE_CLUSTER)
    issued = cert.not_valid_before_utc.timestamp() + CLOCK_SKEW.total_seconds()
    if base.role == "viewer":
        return Identity("viewer", base.name, grants=grants, issued=issued)
    return replace(base, issued=issued) if base.role == "admin" else base


# ---- keys, CSRs, PEM ------------------------------------------------------------------

def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def load_key(pem: bytes) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise CertError(f"key: not a PEM private key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CertError("key: want an EC private key")
    return key


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def load_cert(pem: bytes | str, field: str = "certificate") -> x509.Certificate:
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise CertError(f"{field}: not a PEM certificate: {exc}") from None


def load_bundle(pem: bytes | str, field: str = "caBundle") -> list[x509.Certificate]:
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise CertError(f"{field}: not PEM certificates: {exc}") from None
    return certs


def bundle_pem(certs: list[x509.Certificate]) -> bytes:
    return b"".join(cert_pem(c) for c in certs)


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def common_name(cert: x509.Certificate) -> str:
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = attrs[0].value if attrs else ""
    return value if isinstance(value, str) else value.decode(errors="replace")


def make_csr(key: ec.EllipticCurvePrivateKey, cn: str = "shoal-csr") -> bytes:
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
           .sign(key, hashes.SHA256()))
    return csr.public_bytes(serialization.Encoding.PEM)


def csr_public_key(pem: str | bytes, field: str = "csrPem"):
    """The public key of a well-formed, self-consistent CSR (EC P-256/P-384 or RSA >= 2048)."""
    data = pem.encode() if isinstance(pem, str) else pem
    if not data or len(data) > 16 * 1024:
        raise CertError(f"{field}: want a PEM certificate signing request of at most 16 KiB")
    try:
        csr = x509.load_pem_x509_csr(data)
    except ValueError as exc:
        raise CertError(f"{field}: not a PEM certificate signing request: {exc}") from None
    if not csr.is_signature_valid:
        raise CertError(f"{field}: the request's signature does not match its key")
    key = csr.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name in ("secp256r1", "secp384r1"):
        return key
    if isinstance(key, rsa.RSAPublicKey) and key.key_size >= 2048:
        return key
    raise CertError(f"{field}: want an EC P-256/P-384 or RSA >= 2048 key")


def signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer``'s key signed ``cert`` (the name check alone could be forged)."""
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except (ValueError, TypeError, InvalidSignature):
        return False


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _name(cn: str, units: list[str] | None = None) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "shoal"),
                      *(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, u) for u in units or ()),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def san_entries(names: list[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    seen: set[str] = set()
    for raw in names:
        name = raw.strip().strip("[]")
        if not name or name in seen:
            continue
        seen.add(name)
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            out.append(x509.DNSName(name))
    return out


# ---- the CA -----------------------------------------------------------------------------

@dataclass
class CertificateAuthority:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @classmethod
    def create(cls, days: int = CA_DAYS) -> CertificateAuthority:
        # A random suffix gives every CA its own subject, so after a rotation an old and a
        # new CA are never confused when chains are built.
        key = new_key()
        name = _name(f"Shoal cluster CA {secrets.token_hex(4)}")
        now = _now()
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - CLOCK_SKEW).not_valid_after(now + datetime.timedelta(days=days))
                .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False,
                                             encipher_only=False, decipher_only=False), critical=True)
                .add_extension(ski, critical=False)
                .sign(key, hashes.SHA256()))
        return cls(cert, key)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.cert)

    def _leaf(self, subject: x509.Name, public_key, days: float, usage: list, sans: list[x509.GeneralName],
              now: datetime.datetime | None = None):
        now = now or _now()
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(self.cert.subject)
                   .public_key(public_key).serial_number(x509.random_serial_number())
                   .not_valid_before(now - CLOCK_SKEW).not_valid_after(now + datetime.timedelta(days=days))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage(usage), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                                  critical=False))
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return builder.sign(self.key, hashes.SHA256())

    def issue_server(self, public_key, names: list[str], days: float = SERVER_DAYS,
                     replica: str = "") -> x509.Certificate:
        """A server certificate valid for every IP and DNS name in ``names``; with
        ``replica``, it also names that replica as a client (shoal:replica:<name>)."""
        sans = san_entries(names)
        cn = Identity("replica", replica).subject if replica else "shoal-controlplane"
        return self._leaf(_name(cn), public_key, days,
                          [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH], sans)

    def issue_client(self, public_key, identity: Identity, days: float = NODE_DAYS,
                     issued: float | None = None) -> x509.Certificate:
        """``issued`` (epoch seconds, default now): the issue time the certificate carries."""
        units = [f"{_CLUSTER_OU}{identity.cluster}"] if identity.role == "node" and identity.cluster else []
        if identity.role == "viewer":
            units += [f"{_GRANT_OU}{g}" for g in sorted(check_grants(tuple(identity.grants)))]
        now = None if issued is None else datetime.datetime.fromtimestamp(issued, datetime.UTC)
        return self._leaf(_name(identity.subject, units), public_key, days, [ExtendedKeyUsageOID.CLIENT_AUTH], [],
                          now)

    def cross_sign(self, other: x509.Certificate) -> x509.Certificate:
        """``other`` (a newer CA) re-signed by this CA: clients that trust only this CA can
        still verify a chain ending in ``other`` while a rotation is under way."""
        now = _now()
        return (x509.CertificateBuilder().subject_name(other.subject).issuer_name(self.cert.subject)
                .public_key(other.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - CLOCK_SKEW).not_valid_after(self.cert.not_valid_after_utc)
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(other.public_key()), critical=False)
                .sign(self.key, hashes.SHA256()))


# ---- anonymous join ---------------------------------------------------------------------
#
# gRPC's Python server either requires a client certificate on every connection or never
# asks for one, so a node that has no certificate yet could not even say hello. The way
# around: a second trust anchor whose key is public (derived from a fixed string). Anyone
# can mint a certificate under it, which is exactly as good as presenting none: authz
# accepts a caller as a node or operator only if the cluster CA's own key signed its
# certificate, so an "anonymous" caller may call JoinNode (with a token) and nothing else.

_ANON_SEED = b"shoal anonymous join v1: this key is public and grants nothing"
ANONYMOUS_CN = "shoal anonymous join (public key, grants nothing)"


@functools.cache
def _anonymous_key() -> ec.EllipticCurvePrivateKey:
    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551  # P-256's group order
    scalar = int.from_bytes(hashlib.sha256(_ANON_SEED).digest(), "big") % (order - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP256R1())


@functools.cache
def anonymous_ca() -> CertificateAuthority:
    key = _anonymous_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ANONYMOUS_CN)])
    now = _now()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(key, hashes.SHA256()))
    return CertificateAuthority(cert, key)


@functools.cache
def anonymous_client_pair() -> tuple[bytes, bytes]:
    """(key PEM, certificate PEM) of a throwaway client identity for JoinNode."""
    ca = anonymous_ca()
    key = new_key()
    now = _now()
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "anonymous")]))
            .issuer_name(ca.cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca.key, hashes.SHA256()))
    return key_pem(key), cert_pem(cert)
