"""`shoal registry host-setup`: the cluster registry's files for a registry that systemd runs
on a real host (deploy/systemd/shoal-registry.service, the Vagrant lab's control-plane VM),
rendered by the same code `shoal up` uses: config.yml (token auth, Shoal as issuer, push
notifications to the token endpoint), the certificates, and dockerd's trust of the CA.

Run as root on the control-plane host once the control plane has started with --registry
(it creates the CA and the token issuer in etcd): it reads them from etcd with etcd's
client certificate and opens the CA with the master key in --pki-dir."""

from __future__ import annotations

import argparse
from pathlib import Path

from shoal.netutil import split_hostport
from shoal.store.etcd import EtcdStore
from shoalctl.cli.errors import CliError
from shoalctl.local.registry import CERTS_D, RegistryProcess


def host_setup(a: argparse.Namespace) -> None:
    try:
        host, port = split_hostport(a.address)
    except ValueError as exc:
        raise CliError(f"--address: {exc}") from None
    if not a.token_url.startswith("https://"):
        raise CliError(f"--token-url: expected https://HOST:PORT/token, got {a.token_url!r}")
    if not 0 <= a.upstream_port <= 65535:
        raise CliError(f"--upstream-port: expected 0-65535, got {a.upstream_port}")
    for flag, path in (("--etcd-ca", a.etcd_ca), ("--etcd-cert", a.etcd_cert), ("--etcd-key", a.etcd_key)):
        if not Path(path).is_file():
            raise CliError(f"{flag}: no file {path}")
    if not Path(a.pki_dir).is_dir():
        raise CliError(f"--pki-dir: no directory {a.pki_dir} (the control plane's --pki-dir)")
    store = EtcdStore(a.etcd, ca_cert=a.etcd_ca, cert_cert=a.etcd_cert, cert_key=a.etcd_key)
    try:
        registry = RegistryProcess(Path(a.dir), Path(a.dir) / "registry.log", host, port, a.token_url,
                                   a.upstream_port)
        registry.prepare(store, Path(a.pki_dir))
    except RuntimeError as exc:
        raise CliError(str(exc)) from None
    finally:
        store.close()
    where = f"127.0.0.1:{a.upstream_port} (plain HTTP, behind the control plane's front on {a.address})" \
        if a.upstream_port else f"{a.address} (TLS)"
    print(f"wrote {a.dir}/config.yml: the registry listens on {where}, tokens from {a.token_url}; "
          f"dockerd here trusts the cluster CA in {CERTS_D / a.address}/ca.crt")


def add_to(verbs) -> None:
    p = verbs.add_parser("host-setup", help="write the registry's config and certificates for its systemd unit "
                                            "(run as root on the control-plane host)")
    p.set_defaults(func=host_setup)
    p.add_argument("dir", metavar="DIR", help="where config.yml, the certificates and data/ go")
    p.add_argument("--address", required=True, metavar="HOST:PORT",
                   help="what image names start with (the control plane's --registry)")
    p.add_argument("--token-url", required=True, metavar="URL",
                   help="the token endpoint: https://<--registry-token-listen>/token")
    p.add_argument("--upstream-port", type=int, default=0, metavar="PORT",
                   help="listen on 127.0.0.1:PORT in plain HTTP behind the control plane's front "
                        "(its --registry-upstream); 0: serve --address with TLS")
    p.add_argument("--etcd", required=True, metavar="URL")
    p.add_argument("--etcd-ca", required=True, metavar="FILE")
    p.add_argument("--etcd-cert", required=True, metavar="FILE")
    p.add_argument("--etcd-key", required=True, metavar="FILE")
    p.add_argument("--pki-dir", required=True, metavar="DIR", help="the control plane's --pki-dir (its master key)")
