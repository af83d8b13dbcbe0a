"""The control plane's cluster-registry flags and start-up: the issuer key (shared by every
replica through etcd), the token endpoint (on the replica given --registry-token-listen)
and the client of the registry's API. controlplane/server.py calls ``add_flags`` and
``start``."""

from __future__ import annotations

import argparse
import logging
from http.server import ThreadingHTTPServer

from controlplane.api import accesskeys
from controlplane.api.context import ApiContext
from controlplane.ecs.config import cluster_ca_context
from controlplane.registry import events, front, token_server
from controlplane.registry.client import RegistryClient
from controlplane.registry.logins import Logins
from controlplane.registry.settings import RegistrySettings
from controlplane.revocations import Revocations
from controlplane.state import decode
from shoal import keys
from shoal.logs import kv
from shoal.netutil import split_hostport
from shoal.security import pki, registry_issuer
from shoal.security.sealing import Sealer
from shoal.v1 import registry_pb2 as rg

log = logging.getLogger(__name__)

DEFAULT_SERVICE = "shoal-registry"


def add_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--registry", metavar="HOST:PORT", default="",
                   help="the cluster registry (CNCF distribution with token auth) this control plane issues "
                        "tokens for; images named HOST:PORT/... are pulled with credentials from here")
    p.add_argument("--registry-token-listen", metavar="HOST:PORT", default="",
                   help="serve the registry's token endpoint (/token, HTTPS) here: the registry's auth.token.realm")
    p.add_argument("--registry-front-listen", metavar="HOST:PORT", default="",
                   help="serve Shoal's front of the registry here (the address image names carry): it forwards to "
                        "--registry-upstream and refuses a push that would move an immutable tag")
    p.add_argument("--registry-upstream", metavar="HOST:PORT", default="",
                   help="the registry process itself, on loopback in plain HTTP, behind --registry-front-listen")
    p.add_argument("--registry-lifecycle-interval", type=float, default=3600.0, metavar="SECONDS",
                   help="how often the leader applies the repositories' lifecycle policies")
    p.add_argument("--registry-service", default=DEFAULT_SERVICE,
                   help="the registry's auth.token.service (the tokens' audience)")


def start(args: argparse.Namespace, ctx: ApiContext, trust: pki.LiveTrust | None,
          sealer: Sealer | None, revocations: Revocations) -> list[ThreadingHTTPServer]:
    """Sets ``ctx.registry`` and returns the servers it started (the token endpoint with
    --registry-token-listen, the front with --registry-front-listen); does nothing without
    --registry. Raises SystemExit saying
    what to do when the flags do not fit together or the address cannot be bound."""
    if not args.registry:
        if args.registry_token_listen:
            raise SystemExit("controlplane: --registry-token-listen needs --registry (the registry it serves)")
        return []
    if trust is None or sealer is None:
        raise SystemExit("controlplane: --registry needs the cluster CA (not --insecure): registry access "
                         "follows Shoal identities")
    try:
        split_hostport(args.registry)
    except ValueError as exc:
        raise SystemExit(f"controlplane: --registry: {exc}") from None
    issuer = registry_issuer.load_or_create(ctx.store, sealer, trust.state.current)
    # Straight to the registry when it sits behind this replica's front: putting a tag back
    # (events.py) must not be refused as a push that moves it.
    client = RegistryClient(args.registry_upstream or args.registry, trust.state.bundle_pem(), issuer,
                            args.registry_service, f"shoal:replica:{args.name}", plain=bool(args.registry_upstream))
    settings = RegistrySettings(args.registry, args.registry_service, issuer, client)
    ctx.registry = settings
    logins = Logins(lambda key_id: accesskeys.active(ctx, key_id), revoked_since=revocations.cutoff)
    servers = [] if not args.registry_front_listen else [_start_front(args, ctx, trust, issuer, logins)]
    if not args.registry_token_listen:
        return servers
    try:
        host, port = split_hostport(args.registry_token_listen)
    except ValueError as exc:
        raise SystemExit(f"controlplane: --registry-token-listen: {exc}") from None
    tls = cluster_ca_context(args, host, trust, "registry token endpoint")

    def exists(name: str) -> bool:
        return ctx.store.get(keys.repository(name)) is not None

    try:
        server = token_server.serve(host, port, tls, issuer, args.registry_service, exists, logins.refusal,
                                    lambda body: events.record_pushes(ctx.store, body, client.put_tag))
    except OSError as exc:
        raise SystemExit(f"controlplane: cannot listen on --registry-token-listen {args.registry_token_listen}: "
                         f"{exc}") from exc
    log.info("registry token endpoint serving", extra=kv(listen=args.registry_token_listen, registry=args.registry,
                                                         service=args.registry_service))
    return [*servers, server]


def _start_front(args: argparse.Namespace, ctx: ApiContext, trust: pki.LiveTrust, issuer: registry_issuer.Issuer,
                 logins: Logins) -> ThreadingHTTPServer:
    if not args.registry_upstream:
        raise SystemExit("controlplane: --registry-front-listen needs --registry-upstream (the registry behind it)")
    try:
        host, port = split_hostport(args.registry_front_listen)
        split_hostport(args.registry_upstream)
    except ValueError as exc:
        raise SystemExit(f"controlplane: --registry-front-listen/--registry-upstream: {exc}") from None
    tls = cluster_ca_context(args, host, trust, "registry front")

    def immutable_tags(name: str) -> dict[str, str] | None:
        raw = ctx.store.get(keys.repository(name))
        if raw is None:
            return None
        repo = decode(rg.Repository, raw.value)
        return dict(repo.tag_digest) if repo.immutable_tags else None

    try:
        server = front.serve(host, port, tls, args.registry_upstream, immutable_tags,
                             lambda authorization: logins.bearer_refusal(issuer, args.registry_service, authorization))
    except OSError as exc:
        raise SystemExit(f"controlplane: cannot listen on --registry-front-listen {args.registry_front_listen}: "
                         f"{exc}") from exc
    log.info("registry front serving", extra=kv(listen=args.registry_front_listen, upstream=args.registry_upstream))
    return server
