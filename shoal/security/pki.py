"""Where the cluster CA lives: sealed in etcd (``/shoal/v1/pki/ca``), so every control plane
replica signs with the same CA and a rotation reaches them all. Each replica needs only the
master key in its ``--pki-dir`` (copy ``master.key`` from the first replica, mode 0600).

The first replica to start finds no CA, creates the master key (if its pki dir has none)
and the CA, and stores it create-only; a replica that loses that race reads the winner's.
That first replica also writes a bootstrap admin identity to its pki dir (``admin.crt``,
``admin.key``, ``ca.crt``), like kubeadm's admin.conf: the way in for the first operator.

A rotation adds a new CA in front: it signs everything from then on, while the old ones stay
trusted (client certificates they issued keep working) and sign a cross certificate for the
new one, so a node that knows only the old CA still verifies the servers' new certificates.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509

from shoal.logs import kv
from shoal.security import ca as ca_mod
from shoal.security import tokens
from shoal.security.ca import CertificateAuthority, Identity
from shoal.security.sealing import Sealer, SealError, create_master_key, load_master_key, write_private
from shoal.store.base import Conflict, Store
from shoal.v1 import security_pb2 as sec

log = logging.getLogger(__name__)

CA_KEY = "/shoal/v1/pki/ca"
ADMIN_CERT, ADMIN_KEY, CA_BUNDLE = "admin.crt", "admin.key", "ca.crt"
# Oldest CAs beyond this many are dropped at a rotation: a rotation retires the one before last.
MAX_AUTHORITIES = 2


class PkiError(Exception):
    """The CA cannot be loaded or created; the message says what to do."""


@dataclass
class TrustState:
    """Every CA the cluster trusts, the one that signs first."""

    authorities: list[CertificateAuthority]
    cross: list[x509.Certificate] = field(default_factory=list)
    mod_revision: int = 0

    @property
    def current(self) -> CertificateAuthority:
        return self.authorities[0]

    @property
    def certs(self) -> list[x509.Certificate]:
        return [a.cert for a in self.authorities]

    def bundle_pem(self) -> bytes:
        return ca_mod.bundle_pem(self.certs)

    def fingerprints(self) -> list[str]:
        return [a.fingerprint for a in self.authorities]

    def to_bytes(self) -> bytes:
        return json.dumps({
            "version": 1,
            "authorities": [{"cert": ca_mod.cert_pem(a.cert).decode(), "key": ca_mod.key_pem(a.key).decode()}
                            for a in self.authorities],
            "cross": [ca_mod.cert_pem(c).decode() for c in self.cross],
        }).encode()

    @classmethod
    def from_bytes(cls, data: bytes, mod_revision: int = 0) -> TrustState:
        doc = json.loads(data)
        auths = [CertificateAuthority(ca_mod.load_cert(a["cert"]), ca_mod.load_key(a["key"].encode()))
                 for a in doc["authorities"]]
        return cls(auths, [ca_mod.load_cert(c) for c in doc.get("cross", [])], mod_revision)

    def server_identity(self, names: list[str], replica: str = "") -> tuple[bytes, bytes]:
        """(key PEM, chain PEM) for one replica: a fresh key, a certificate from the current
        CA valid for ``names``, the cross certificates, then every CA (a joining node looks
        for its token's CA in that chain). The order matters: a client that trusts only an
        old CA builds its chain from the first certificate naming the leaf's issuer, which
        must be the cross certificate, not the new (to it untrusted) self-signed CA."""
        key = ca_mod.new_key()
        leaf = self.current.issue_server(key.public_key(), names, replica=replica)
        chain = [leaf, *self.cross, *self.certs]
        return ca_mod.key_pem(key), ca_mod.bundle_pem(chain)

    def client_roots_pem(self) -> bytes:
        """What a server accepts client certificates from: the cluster CAs and the public
        anonymous join CA (which authz gives no rights but JoinNode)."""
        return self.bundle_pem() + ca_mod.cert_pem(ca_mod.anonymous_ca().cert)

    def identity_of(self, cert: x509.Certificate) -> Identity | None:
        """The identity a client certificate names, if a cluster CA's own key signed it."""
        if not any(ca_mod.signed_by(cert, a.cert) for a in self.authorities):
            return None
        return ca_mod.identity_of_cert(cert)


def sealer_for(pki_dir: Path, create: bool) -> Sealer | None:
    key = load_master_key(pki_dir)
    if key is None and create:
        key = create_master_key(pki_dir)
        log.info("created the cluster master key", extra=kv(path=Path(pki_dir) / "master.key"))
    return Sealer(key) if key is not None else None


def load(store: Store, sealer: Sealer) -> TrustState | None:
    rec = store.get(CA_KEY)
    if rec is None:
        return None
    try:
        return TrustState.from_bytes(sealer.unseal(rec.value, CA_KEY), rec.mod_revision)
    except SealError as exc:
        raise PkiError(f"{exc}: copy master.key from the --pki-dir of the replica that created the cluster") from None


def load_or_create(store: Store, pki_dir: Path) -> tuple[TrustState, Sealer, bool]:
    """The cluster's CAs, creating them (and the master key) on the first start. Returns
    (state, sealer, created)."""
    pki_dir = Path(pki_dir)
    existing = store.get(CA_KEY)
    sealer = sealer_for(pki_dir, create=existing is None)
    if sealer is None:
        raise PkiError(f"the cluster already has a CA but {pki_dir}/master.key is missing: copy it (mode 0600) "
                       "from the --pki-dir of the replica that created the cluster")
    state = load(store, sealer)
    if state is not None:
        return state, sealer, False
    state = TrustState([CertificateAuthority.create()])
    try:
        state.mod_revision = store.create(CA_KEY, sealer.seal(state.to_bytes(), CA_KEY))
    except Conflict:
        # Another replica created it first: theirs is the cluster's.
        state = load(store, sealer)
        if state is None:
            raise PkiError("the cluster CA vanished while being created; start again") from None
        return state, sealer, False
    log.info("created the cluster CA", extra=kv(fingerprint=state.current.fingerprint))
    return state, sealer, True


def rotate(store: Store, sealer: Sealer) -> TrustState:
    """A new current CA, cross-signed by the one it replaces; the oldest beyond
    MAX_AUTHORITIES is dropped. Compare-and-set: a concurrent rotation makes this raise
    Conflict rather than lose one."""
    state = load(store, sealer)
    if state is None:
        raise PkiError("the cluster has no CA yet")
    new = CertificateAuthority.create()
    cross = [a.cross_sign(new.cert) for a in state.authorities]
    rotated = TrustState([new, *state.authorities][:MAX_AUTHORITIES], cross)
    rotated.mod_revision = store.cas(CA_KEY, sealer.seal(rotated.to_bytes(), CA_KEY), state.mod_revision)
    return rotated


def write_admin_bundle(pki_dir: Path, state: TrustState, name: str = "admin") -> None:
    """The bootstrap admin identity: ``admin.key`` (0600), ``admin.crt``, ``ca.crt``."""
    pki_dir = Path(pki_dir)
    key = ca_mod.new_key()
    cert = state.current.issue_client(key.public_key(), Identity("admin", name), days=ca_mod.OPERATOR_MAX_DAYS)
    write_private(pki_dir / ADMIN_KEY, ca_mod.key_pem(key))
    write_private(pki_dir / ADMIN_CERT, ca_mod.cert_pem(cert))
    write_private(pki_dir / CA_BUNDLE, state.bundle_pem())


def default_server_names(listen_host: str, extra: list[str]) -> list[str]:
    """The names a replica's certificate is valid for: what it listens on, loopback, its
    host name, every local address when it listens on all of them, and ``extra``."""
    names = ["127.0.0.1", "::1", "localhost", socket.gethostname()]
    if listen_host in ("0.0.0.0", "::", ""):
        try:
            import psutil

            for addrs in psutil.net_if_addrs().values():
                names += [a.address.split("%")[0] for a in addrs if a.family in (socket.AF_INET, socket.AF_INET6)]
        except Exception as exc:  # best effort: --san covers what is missed
            log.warning("cannot list local addresses for the server certificate: %s", exc)
    else:
        names.append(listen_host)
    return names + list(extra)


class LiveTrust:
    """A replica's view of the cluster's CAs and its own server certificate, refreshed
    from the store (``refresh``, called periodically), so a rotation reaches a running
    replica: new handshakes get the new roots and certificate (see ``server_credentials``)."""

    def __init__(self, store: Store, sealer: Sealer, state: TrustState, server_names: list[str],
                 replica: str = "") -> None:
        self.store = store
        self.sealer = sealer
        self.server_names = server_names
        self.replica = replica
        self._lock = threading.Lock()
        self._known: dict[bytes, Identity] = {}
        self._install(state)
        self.version = 0

    def _install(self, state: TrustState) -> None:
        key, chain = state.server_identity(self.server_names, self.replica)
        with self._lock:
            self.state = state
            self.server_key, self.server_chain = key, chain
            self._known = {}

    def refresh(self) -> str:
        """Reloads the CAs; returns a sentence when they changed, "" otherwise."""
        state = load(self.store, self.sealer)
        if state is None or state.fingerprints() == self.state.fingerprints():
            return ""
        self._install(state)
        self.version += 1
        return (f"cluster CAs changed: now signing with {state.current.fingerprint[:16]}, "
                f"trusting {len(state.authorities)}")

    def identify(self, pem: bytes) -> Identity | None:
        """The identity of a client certificate (PEM), cached while the CAs stay the same."""
        with self._lock:
            known = self._known.get(pem)
            state = self.state
        if known is not None:
            return known
        identity = state.identity_of(ca_mod.load_cert(pem))
        if identity is not None:
            with self._lock:
                if len(self._known) > 10_000:
                    self._known.clear()
                self._known[pem] = identity
        return identity

    def server_credentials(self):
        import grpc

        seen = [self.version]

        def config():
            return grpc.ssl_server_certificate_configuration(
                [(self.server_key, self.server_chain)], root_certificates=self.state.client_roots_pem())

        def fetch():
            # Called by gRPC before each handshake: None keeps the current configuration.
            if seen[0] == self.version:
                return None
            seen[0] = self.version
            return config()

        return grpc.dynamic_ssl_server_credentials(config(), fetch, require_client_authentication=True)


LOCAL_TOKEN_FILE = "local-join-token"


def bootstrap_local(store: Store, pki_dir: Path) -> str:
    """What `shoal up` needs before its replicas start: the master key, the CA, an admin
    identity in ``pki_dir`` (re-issued if its files are gone), and a join token for its own
    agents and autoscaler nodes (kept in ``pki_dir``, mode 0600, reused while valid).
    Returns the join token."""
    pki_dir = Path(pki_dir)
    pki_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    state, _, created = load_or_create(store, pki_dir)
    if created or not all((pki_dir / f).exists() for f in (ADMIN_CERT, ADMIN_KEY, CA_BUNDLE)):
        write_admin_bundle(pki_dir, state)
    else:
        # After a rotation the CLI must trust the new CA too.
        write_private(pki_dir / CA_BUNDLE, state.bundle_pem())
    path = pki_dir / LOCAL_TOKEN_FILE
    try:
        text = path.read_text().strip()
        parsed = tokens.parse(text)
        rec = store.get(tokens.key(parsed.token_id))
        if (rec is not None and parsed.ca_fingerprint == state.current.fingerprint
                and tokens.state(sec.JoinToken.FromString(rec.value), time.time()) == "valid"):
            return text
    except (OSError, tokens.TokenError):
        pass
    text, _ = tokens.create(store, state.current.fingerprint,
                            description="shoal up: this machine's agents and autoscaler nodes")
    write_private(path, text.encode() + b"\n")
    return text
