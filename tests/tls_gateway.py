"""The ECS-compatible gateway served in-process over TLS as the control plane serves it (a
server certificate from a cluster CA), for the unit tests that talk to it with boto3."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from controlplane.api.context import ApiContext
from controlplane.ecs.config import context_from_pem
from controlplane.ecs.elbv2.traffic import Traffic
from controlplane.ecs.server import EcsGateway, serve
from shoal.netutil import free_port
from shoal.security import ca as ca_mod


@contextmanager
def tls_gateway(ctx: ApiContext, tmp_path: Path, traffic: Traffic | None = None) -> Iterator[EcsGateway]:
    """The gateway over ``ctx``, closed after; the CA that signed its certificate is written
    under ``tmp_path``, at the gateway's ``ca_path``, for a client's ``verify``."""
    authority = ca_mod.CertificateAuthority.create()
    key = ca_mod.new_key()
    leaf = authority.issue_server(key.public_key(), ["127.0.0.1", "localhost"])
    (tmp_path / "ca.crt").write_bytes(ca_mod.cert_pem(authority.cert))
    tls = context_from_pem(ca_mod.bundle_pem([leaf, authority.cert]), ca_mod.key_pem(key))
    gw = serve("127.0.0.1", free_port(), ctx, tls, traffic=traffic)
    gw.ca_path = str(tmp_path / "ca.crt")  # type: ignore[attr-defined]
    try:
        yield gw
    finally:
        gw.close()
