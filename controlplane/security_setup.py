"""A replica's security at start-up: flags, the cluster CA (created on the first start),
TLS on the gRPC port, the authorization interceptor, the Security service, and the master
key that seals secrets and access keys. server.py calls ``add_flags`` and ``Security.setup``;
everything else about security on the server side starts here."""

from __future__ import annotations

import argparse
import logging
import threading
from pathlib import Path

import grpc

from controlplane.api.context import ApiContext
from controlplane.api.security import SecurityService
from controlplane.authz import Authorizer
from controlplane.revocations import Revocations
from shoal.logs import kv
from shoal.security import ca as ca_mod
from shoal.security import pki, sealing
from shoal.security.ca import CertError, check_identity_name
from shoal.security.channels import ClientTLS, client_channel, server_credentials
from shoal.security.sealing import Sealer, SealError
from shoal.store.base import Store, StoreError
from shoal.v1 import security_pb2, security_pb2_grpc

log = logging.getLogger("controlplane.security")

DEFAULT_PKI_DIR = "/var/lib/shoal/pki"
SERVICE_NAME = security_pb2.DESCRIPTOR.services_by_name["Security"].full_name
REFRESH_SECONDS = 15.0


def add_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pki-dir", help=f"master key (seals secrets and access keys, in every mode) and bootstrap "
                   f"admin identity (default {DEFAULT_PKI_DIR}); other replicas need a copy of its master.key")
    p.add_argument("--san", action="append", default=[], metavar="NAME",
                   help="extra DNS name or IP for the server certificate (repeatable)")
    p.add_argument("--tls-cert", help="serve this certificate chain instead of one from the cluster CA")
    p.add_argument("--tls-key", help="the key of --tls-cert")
    p.add_argument("--tls-ca", help="extra CA bundle whose client certificates are accepted at the handshake")
    p.add_argument("--node-cert-days", type=float, default=ca_mod.NODE_DAYS,
                   help="lifetime of node certificates; agents renew theirs when a third of it is left")
    p.add_argument("--insecure", action="store_true",
                   help="plaintext gRPC, no authentication: for development only, never on a shared network")


class Security:
    def __init__(self, trust: pki.LiveTrust | None, sealer: Sealer | None, creds: grpc.ServerCredentials | None,
                 pki_dir: Path | None, revocations: Revocations, node_cert_days: float = ca_mod.NODE_DAYS) -> None:
        self.node_cert_days = node_cert_days
        self.trust = trust
        self.sealer = sealer
        self.creds = creds
        self.pki_dir = pki_dir
        self.revocations = revocations
        self.interceptors: list[grpc.ServerInterceptor] = [Authorizer(trust.identify if trust else None,
                                                                      revocations)]

    @classmethod
    def setup(cls, args: argparse.Namespace, store: Store, listen_host: str) -> Security:
        """Raises SystemExit with what to do when the CA or master key cannot be had."""
        if not 0 < args.node_cert_days <= 10 * 365:
            raise SystemExit("controlplane: --node-cert-days must be more than 0 and at most 3650")
        if bool(args.tls_cert) != bool(args.tls_key):
            raise SystemExit("controlplane: --tls-cert and --tls-key go together")
        if args.insecure:
            log.warning("RUNNING INSECURE: plaintext gRPC, anyone who reaches %s can run containers on every node; "
                        "never use --insecure outside development", args.listen)
            # Secrets and access keys are sealed at rest in every mode: plaintext on the wire
            # is a development choice, plaintext in etcd would outlive it.
            pki_dir = Path(args.pki_dir or DEFAULT_PKI_DIR)
            try:
                pki_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
                sealer = pki.sealer_for(pki_dir, create=True)
            except (SealError, OSError) as exc:
                raise SystemExit(f"controlplane: --pki-dir {pki_dir} (the master key that seals secrets, "
                                 f"also with --insecure): {exc}") from None
            assert sealer is not None
            sealing.install(sealer)
            return cls(None, sealer, None, None, Revocations(store))
        pki_dir = Path(args.pki_dir or DEFAULT_PKI_DIR)
        try:
            pki_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            state, sealer, created = pki.load_or_create(store, pki_dir)
            if created:
                pki.write_admin_bundle(pki_dir, state)
                log.info("wrote the bootstrap admin identity",
                         extra=kv(dir=pki_dir, files="admin.crt admin.key ca.crt"))
        except (pki.PkiError, SealError, OSError) as exc:
            raise SystemExit(f"controlplane: {exc}") from None
        sealing.install(sealer)
        replica = args.name if _valid_name(args.name) else ""
        extra = list(args.san)
        advertise = getattr(args, "advertise_address", "")
        if advertise:
            extra.append(advertise.rpartition(":")[0].strip("[]"))
        trust = pki.LiveTrust(store, sealer, state, pki.default_server_names(listen_host, extra), replica)
        creds = None
        if args.tls_cert:
            creds = _own_certificate(args, state)
        log.info("TLS on; clients need a certificate from the cluster CA",
                 extra=kv(ca=state.current.fingerprint[:16], trusted=len(state.authorities), pki_dir=pki_dir))
        return cls(trust, sealer, creds or trust.server_credentials(), pki_dir, Revocations(store),
                   args.node_cert_days)

    def register(self, server: grpc.Server, ctx: ApiContext) -> None:
        service = SecurityService(ctx, self.trust, self.sealer, self.revocations, self.node_cert_days)
        security_pb2_grpc.add_SecurityServicer_to_server(service, server)

    def open_channel(self, address: str) -> grpc.Channel:
        """A channel from this replica to another: its server certificate doubles as its
        client identity (shoal:replica:<name>)."""
        if self.trust is None:
            return client_channel(address, None)
        trust = self.trust
        return client_channel(address, ClientTLS(ca=trust.state.bundle_pem(), cert=trust.server_chain,
                                                 key=trust.server_key))

    def bind(self, server: grpc.Server, address: str) -> int:
        if self.creds is None:
            return server.add_insecure_port(address)
        return server.add_secure_port(address, self.creds)

    def start_refresh(self, stop: threading.Event) -> None:
        """Picks up CA rotations made through other replicas."""
        if self.trust is None:
            return
        trust = self.trust

        def loop() -> None:
            while not stop.wait(REFRESH_SECONDS):
                try:
                    sentence = trust.refresh()
                except (StoreError, pki.PkiError, SealError) as exc:
                    log.warning("cannot refresh the cluster CAs: %s", exc)
                    continue
                if sentence:
                    log.info(sentence)

        threading.Thread(target=loop, name="ca-refresh", daemon=True).start()


def _valid_name(name: str) -> bool:
    try:
        check_identity_name(name)
        return True
    except CertError:
        return False


def _own_certificate(args: argparse.Namespace, state: pki.TrustState) -> grpc.ServerCredentials:
    try:
        chain = Path(args.tls_cert).read_bytes()
        key = Path(args.tls_key).read_bytes()
        extra = Path(args.tls_ca).read_bytes() if args.tls_ca else b""
    except OSError as exc:
        raise SystemExit(f"controlplane: --tls-cert/--tls-key/--tls-ca: {exc}") from None
    return server_credentials(key, chain, state.client_roots_pem() + extra)
