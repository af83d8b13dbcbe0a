"""The local etcd's own CA and certificates, made by Shoal in the state dir before etcd starts.

etcd gets a CA of its own, not the cluster CA: the cluster CA is kept in etcd (so it cannot
exist before etcd does), and it signs every node's certificate, which must not open the
store. Only what holds the client key made here (the control plane replicas, the autoscaler,
`shoal up` itself) reaches etcd. The CA is kept across restarts; the leaf certificates are
issued afresh at each start (cheap, and a host name change never leaves a stale one).

On a real host, ``python -m shoalctl.local.etcdcerts DIR [--name HOST]...`` makes the same
files once (and leaves them alone after), for an etcd and control plane started by hand
or by systemd (see docs/security.md).

Files, in ``<state_dir>/pki/etcd/`` (keys mode 0600)::

    ca.crt, ca.key          the etcd CA
    server.crt, server.key  what every member serves clients with (and its peers with)
    client.crt, client.key  what etcd's clients present
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from shoal.security import ca as ca_mod
from shoal.security.ca import CertificateAuthority, Identity
from shoal.security.sealing import write_private

# etcd listens on loopback; these are the names its clients dial.
LOOPBACK_NAMES = ["127.0.0.1", "::1", "localhost"]


@dataclass(frozen=True)
class EtcdTLS:
    """Serve over TLS and require a client certificate from ``ca``; ``client_cert`` and
    ``client_key`` are what clients present. ``peer`` also puts member-to-member traffic
    under TLS with certificate auth (the server pair, which is valid as a client too)."""

    ca: str
    cert: str
    key: str
    client_cert: str
    client_key: str
    peer: bool = False

    def client_flags(self) -> list[str]:
        """What the control plane and the autoscaler take to reach this etcd."""
        return ["--etcd-ca", self.ca, "--etcd-cert", self.client_cert, "--etcd-key", self.client_key]


FILES = ("ca.crt", "ca.key", "server.crt", "server.key", "client.crt", "client.key")


def ensure(directory: Path, names: list[str] | None = None, peer: bool = False, keep: bool = False) -> EtcdTLS:
    """The CA in ``directory`` (created on first use), and a fresh server certificate for
    loopback and ``names`` and a client certificate signed by it; with ``keep``, the files
    already there when they all are."""
    directory.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    directory.mkdir(exist_ok=True, mode=0o700)
    tls = EtcdTLS(ca=str(directory / "ca.crt"), cert=str(directory / "server.crt"), key=str(directory / "server.key"),
                  client_cert=str(directory / "client.crt"), client_key=str(directory / "client.key"), peer=peer)
    if keep and all((directory / f).exists() for f in FILES):
        return tls
    authority = _load_or_create_ca(directory)
    server_key = ca_mod.new_key()
    server = authority.issue_server(server_key.public_key(), [*LOOPBACK_NAMES, *(names or [])])
    client_key = ca_mod.new_key()
    client = authority.issue_client(client_key.public_key(), Identity("admin", "etcd-client"))
    write_private(directory / "server.key", ca_mod.key_pem(server_key))
    (directory / "server.crt").write_bytes(ca_mod.cert_pem(server))
    write_private(directory / "client.key", ca_mod.key_pem(client_key))
    (directory / "client.crt").write_bytes(ca_mod.cert_pem(client))
    return tls


def _load_or_create_ca(directory: Path) -> CertificateAuthority:
    cert_path, key_path = directory / "ca.crt", directory / "ca.key"
    if cert_path.exists() and key_path.exists():
        return CertificateAuthority(ca_mod.load_cert(cert_path.read_bytes()), ca_mod.load_key(key_path.read_bytes()))
    authority = CertificateAuthority.create()
    write_private(key_path, ca_mod.key_pem(authority.key))
    cert_path.write_bytes(ca_mod.cert_pem(authority.cert))
    return authority


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m shoalctl.local.etcdcerts",
                                description="Make an etcd CA, a server and a client certificate in DIR, once.")
    p.add_argument("dir", type=Path, help="where the files go (created 0700; keys 0600)")
    p.add_argument("--name", action="append", default=[], metavar="HOST",
                   help="an address or DNS name etcd is reached at besides loopback (repeatable)")
    args = p.parse_args(argv)
    had = all((args.dir / f).exists() for f in FILES)
    ensure(args.dir, args.name, keep=True)
    print(f"etcd certificates {'already in' if had else 'made in'} {args.dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
