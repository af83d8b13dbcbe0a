"""The ECS gateway's flags and its TLS: a server certificate from the cluster CA by
default (valid for the --ecs-listen host, loopback, this host's names and every --san),
the operator's own with --ecs-cert/--ecs-key, plain HTTP only with --ecs-plaintext.
controlplane/server.py calls ``add_flags`` and ``start``."""

from __future__ import annotations

import argparse
import logging
import ssl
import tempfile
from pathlib import Path

from controlplane.api.context import ApiContext
from controlplane.ecs.server import EcsGateway, Limits, serve
from shoal.logs import kv
from shoal.netutil import split_hostport
from shoal.security import pki
from shoal.security.sealing import write_private

log = logging.getLogger(__name__)


def add_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ecs-listen", metavar="HOST:PORT",
                   help="serve the ECS-compatible HTTPS API (aws CLI, boto3) on HOST:PORT; off if unset")
    p.add_argument("--ecs-cert", metavar="PATH",
                   help="certificate chain (PEM) for the ECS API instead of one from the cluster CA")
    p.add_argument("--ecs-key", metavar="PATH", help="the key of --ecs-cert")
    p.add_argument("--ecs-plaintext", action="store_true",
                   help="serve the ECS API over plain HTTP: access keys' signatures and every answer travel "
                        "unencrypted; for development only")
    p.add_argument("--ecs-workers", type=int, default=Limits.workers, metavar="N",
                   help="ECS requests handled at once (more wait for a worker)")
    p.add_argument("--ecs-timeout", type=float, default=Limits.timeout, metavar="S",
                   help="seconds an ECS client has for its TLS handshake, request head and body; also how long "
                        "an idle keep-alive connection stays open")


def start(args: argparse.Namespace, ctx: ApiContext, trust: pki.LiveTrust | None) -> EcsGateway | None:
    """The gateway, serving, or None without --ecs-listen. Raises SystemExit saying what to
    do when the flags do not fit together or the address cannot be bound."""
    if not args.ecs_listen:
        return None
    limits = _limits(args)
    try:
        host, port = split_hostport(args.ecs_listen)
    except ValueError as exc:
        raise SystemExit(f"controlplane: --ecs-listen: {exc}") from None
    tls = _tls(args, host, trust)
    try:
        return serve(host, port, ctx, tls, limits)
    except OSError as exc:
        raise SystemExit(f"controlplane: cannot listen on --ecs-listen {args.ecs_listen}: {exc}") from exc


def _limits(args: argparse.Namespace) -> Limits:
    if not 1 <= args.ecs_workers <= 1024:
        raise SystemExit("controlplane: --ecs-workers must be 1-1024")
    if not 0.1 <= args.ecs_timeout <= 3600:
        raise SystemExit("controlplane: --ecs-timeout must be 0.1-3600 seconds")
    return Limits(workers=args.ecs_workers, timeout=args.ecs_timeout)


def _tls(args: argparse.Namespace, host: str, trust: pki.LiveTrust | None) -> ssl.SSLContext | None:
    if bool(args.ecs_cert) != bool(args.ecs_key):
        raise SystemExit("controlplane: --ecs-cert and --ecs-key go together")
    if args.ecs_plaintext:
        if args.ecs_cert:
            raise SystemExit("controlplane: --ecs-plaintext and --ecs-cert contradict each other; pick one")
        log.warning("ECS API over plain HTTP (--ecs-plaintext): requests and answers travel unencrypted; "
                    "for development only", extra=kv(listen=args.ecs_listen))
        return None
    if args.ecs_cert:
        try:
            return context_from_files(Path(args.ecs_cert), Path(args.ecs_key))
        except (OSError, ssl.SSLError) as exc:
            raise SystemExit(f"controlplane: --ecs-cert/--ecs-key: cannot load them: {exc}") from None
    if trust is None:
        raise SystemExit("controlplane: --ecs-listen: this control plane has no cluster CA (--insecure) to issue "
                         "the ECS API's certificate: give --ecs-cert/--ecs-key, or --ecs-plaintext for development")
    return cluster_ca_context(args, host, trust, "ECS API")


def cluster_ca_context(args: argparse.Namespace, host: str, trust: pki.LiveTrust, what: str) -> ssl.SSLContext:
    """TLS for one of the replica's HTTPS listeners (``what``, on ``host``): a fresh key and a
    certificate from the cluster CA, valid for that host, loopback, this host's names and
    every --san."""
    names = pki.default_server_names(host, list(getattr(args, "san", [])))
    key_pem, chain_pem = trust.state.server_identity(names)
    log.info("%s certificate issued by the cluster CA", what, extra=kv(ca=trust.state.current.fingerprint[:16],
                                                                                names=",".join(names)))
    return context_from_pem(chain_pem, key_pem)


def context_from_files(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    context.load_cert_chain(certfile=str(cert), keyfile=str(key))
    return context


def context_from_pem(chain_pem: bytes, key_pem: bytes) -> ssl.SSLContext:
    # ssl loads certificates from files only: the key lives on disk (0600, in a private
    # directory) just long enough to be read.
    with tempfile.TemporaryDirectory(prefix="shoal-ecs-tls-") as tmp:
        cert, key = Path(tmp) / "ecs.crt", Path(tmp) / "ecs.key"
        write_private(cert, chain_pem)
        write_private(key, key_pem)
        return context_from_files(cert, key)
