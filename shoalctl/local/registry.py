"""The local cluster's registry: Debian's ``docker-registry`` (CNCF distribution 2.8) with
TLS from the cluster CA and token authentication, Shoal (replica 1's /token) as the issuer.

It listens on a non-loopback address of this machine: dockerd treats every loopback
registry as insecure (no certificate check at all), and the point is that nodes trust it
through the CA. Behind Shoal's front (an upstream port) that address is the front's, and the
process listens on 127.0.0.1 in plain HTTP instead (``tls.crt`` then unused). The shared dockerd learns the CA from
``/etc/docker/certs.d/<host:port>/ca.crt`` (read at every pull, so no restart), written at
start and removed at stop (``remove_trust``; `shoal down` calls it too).

Files under ``<state_dir>/registry/``: ``config.yml``, ``tls.crt``/``tls.key`` (the server
certificate, key 0600), ``issuer.crt`` (the one certificate whose tokens it accepts; the config, 0600, holds the
token it posts push notifications with),
``data/`` (the blobs), ``trust`` (the certs.d directory written, for `shoal down`)."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import shutil
import socket
import subprocess
from pathlib import Path

import requests

from shoal import logs
from shoal.security import pki, registry_issuer
from shoal.security.sealing import write_private
from shoal.store.base import Store
from shoalctl.local import procs

log = logging.getLogger(__name__)

BINARY = "docker-registry"
CERTS_D = Path("/etc/docker/certs.d")
SERVICE = "shoal-registry"


def available(binary: str = BINARY) -> str | None:
    return shutil.which(binary)


def reachable_host(preferred: str) -> str:
    """``preferred`` unless it is loopback; else the address this machine's default route
    leaves from (no packet is sent), or loopback when there is none."""
    if not ipaddress.ip_address(preferred).is_loopback:
        return preferred
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))
        return s.getsockname()[0]
    return preferred


def render_config(base: Path, listen: str, realm: str, events_token: str, tls: bool = True) -> str:
    """config.yml; JSON is valid YAML. Push notifications go to the token endpoint's /events.
    ``tls`` False: plain HTTP, for a registry on loopback behind Shoal's front."""
    events = realm.rsplit("/", 1)[0] + "/events"
    http = {"addr": listen}
    if tls:
        http["tls"] = {"certificate": str(base / "tls.crt"), "key": str(base / "tls.key")}
    return json.dumps({
        "version": 0.1,
        "log": {"level": "info", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(base / "data")}, "delete": {"enabled": True}},
        "http": http,
        "auth": {"token": {"realm": realm, "service": SERVICE, "issuer": registry_issuer.ISSUER,
                           "rootcertbundle": str(base / "issuer.crt")}},
        "notifications": {"endpoints": [{
            "name": "shoal", "url": events, "headers": {"Authorization": [f"Bearer {events_token}"]},
            "timeout": "5s", "threshold": 5, "backoff": "1s",
            "ignore": {"mediatypes": ["application/octet-stream"], "actions": ["pull"]},
        }]},
    }, indent=2) + "\n"


class RegistryProcess(procs.Supervised):
    def __init__(self, base: Path, log_path: Path, host: str, port: int, token_url: str,
                 upstream_port: int = 0) -> None:
        self.base = Path(base)
        self.log_path = Path(log_path)
        self.host = host
        self.port = port
        self.token_url = token_url
        # With an upstream port, the process listens on loopback there, in plain HTTP, and
        # Shoal's front (control-plane replica 1) serves ``address`` with TLS; without, it
        # serves ``address`` itself, with TLS. A second TLS hop on loopback protected nothing
        # and cost the front about half its pull rate (bench/images.py).
        self.upstream_port = upstream_port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def listen(self) -> str:
        return f"127.0.0.1:{self.upstream_port}" if self.upstream_port else self.address

    def prepare(self, store: Store, pki_dir: Path) -> None:
        """Writes the config, the server certificate and the issuer's, and trusts the CA
        in dockerd's certs.d."""
        sealer = pki.sealer_for(pki_dir, create=False)
        state = pki.load(store, sealer) if sealer is not None else None
        if sealer is None or state is None:
            raise RuntimeError(f"the registry needs the cluster CA, and {pki_dir} has no master key for it")
        issuer = registry_issuer.load_or_create(store, sealer, state.current)
        self.base.mkdir(parents=True, exist_ok=True)
        key, chain = state.server_identity([self.host, "localhost", "127.0.0.1", socket.gethostname()])
        write_private(self.base / "tls.key", key)
        (self.base / "tls.crt").write_bytes(chain)
        (self.base / "issuer.crt").write_bytes(issuer.cert_pem())
        events_token = issuer.sign(registry_issuer.claims("registry", registry_issuer.EVENTS_AUDIENCE,
                                                          registry_issuer.ISSUER_DAYS * 86400))
        # 0600: it holds the token the registry posts its notifications with.
        write_private(self.base / "config.yml",
                      render_config(self.base, self.listen, self.token_url, events_token,
                                    tls=not self.upstream_port).encode())
        trust = CERTS_D / self.address
        trust.mkdir(parents=True, exist_ok=True)
        (trust / "ca.crt").write_bytes(state.bundle_pem())
        (self.base / "trust").write_text(str(trust) + "\n")

    def start(self, timeout: float = 30) -> None:
        """Spawns the registry and waits until it answers /v2/ (401: it wants a token)."""
        log.info("starting the registry", extra=logs.kv(address=self.address, log=self.log_path))
        ca = str(CERTS_D / self.address / "ca.crt")
        # Go reads its roots from SSL_CERT_FILE: the registry then trusts the token
        # endpoint it posts notifications to, through the cluster CA and nothing else.
        self.proc = procs.spawn([BINARY, "serve", str(self.base / "config.yml")], self.log_path,
                                env={**procs.child_env(), "SSL_CERT_FILE": ca})
        try:
            urls = [f"https://{self.address}/v2/"]
            if self.upstream_port:
                urls.insert(0, f"http://{self.listen}/v2/")
            for url in urls:
                self.until_ready(lambda url=url: requests.get(url, verify=ca, timeout=2).status_code == 401,
                                 "registry", url, timeout, interval=0.2)
        except RuntimeError:
            procs.kill_popen(self.proc)
            raise

    def garbage_collect(self, timeout: float = 300) -> str:
        """Frees the blobs no manifest references any more (what lifecycle policies and
        deletions leave behind). distribution's garbage collector must not run beside a
        serving registry (a push in flight could lose its blobs), so the registry is stopped
        for it and started again; pushes and pulls meanwhile fail and are retried by docker."""
        before = data_bytes(self.base)
        if self.proc is not None:
            procs.stop_popen(self.proc, "registry", 10)
        try:
            done = subprocess.run([BINARY, "garbage-collect", str(self.base / "config.yml")],
                                  capture_output=True, text=True, timeout=timeout)
        finally:
            self.start()
        if done.returncode != 0:
            raise RuntimeError(f"registry garbage-collect failed: {(done.stderr or done.stdout).strip()[-500:]}")
        after = data_bytes(self.base)
        return f"registry garbage collection: data {before} -> {after} bytes (freed {before - after})"

    def stop(self, timeout: float = 10) -> str:
        said = procs.stop_popen(self.proc, "registry", timeout) if self.proc is not None else "registry not started"
        return f"{said}; {remove_trust(self.base)}"


def data_bytes(base: Path) -> int:
    """Bytes of the files under the registry's storage root."""
    root = Path(base) / "data"
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.exists() else 0


def remove_trust(base: Path) -> str:
    """Removes the certs.d directory the registry under ``base`` wrote, if any."""
    marker = Path(base) / "trust"
    try:
        trust = Path(marker.read_text().strip())
    except FileNotFoundError:
        return "no registry trust to remove"
    if trust.parent == CERTS_D:
        shutil.rmtree(trust, ignore_errors=True)
    marker.unlink(missing_ok=True)
    return f"removed {trust}"
