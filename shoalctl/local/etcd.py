"""Runs a real etcd from the installed binary: one member for `shoal up` and the tests, or a
loopback cluster of several for HA tests.

etcd needs real ports in its advertised URLs, so port 0 means "pick a free one now"; the
chosen ports stay fixed for the life of the object, so a killed member can be started
again on the same data dir and rejoin its cluster.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import logging
import os
import signal
import subprocess
import time
from pathlib import Path

import pyetcd

from shoal import logs
from shoal.netutil import free_ports
from shoalctl.local.etcdcerts import EtcdTLS
from shoalctl.local.procs import Started, Supervised

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


class EtcdProcess(Supervised, Started):
    """One etcd member. ``start()`` spawns it and waits until it serves client requests;
    ``stop()`` ends it gracefully, ``kill()`` abruptly (for fault tests)."""

    def __init__(
        self,
        data_dir: Path,
        client_port: int = 0,
        peer_port: int = 0,
        name: str = "shoal",
        host: str = "127.0.0.1",
        initial_cluster: str | None = None,
        cluster_state: str = "new",
        binary: str = "etcd",
        die_with_parent: bool = False,
        tls: EtcdTLS | None = None,
    ) -> None:
        """``initial_cluster`` ("a=http://127.0.0.1:p1,b=...") defaults to this member alone.
        ``tls``: clients (and, with ``tls.peer``, the other members) must present a
        certificate from ``tls.ca``.
        ``die_with_parent`` asks the kernel to SIGKILL etcd when the thread that started it
        exits, so a crashed test run leaves no etcd behind; leave it off when starting from a
        short-lived thread."""
        if cluster_state not in ("new", "existing"):
            raise ValueError(f"cluster_state must be 'new' or 'existing', got {cluster_state!r}")
        self.data_dir = Path(data_dir)
        self.tls = tls
        self.name = name
        self.host = host
        # Picked together: two free_port() calls in a row can return the same port.
        picked = iter(p for p in free_ports(3, host) if p not in (client_port, peer_port))
        self.client_port = client_port or next(picked)
        self.peer_port = peer_port or next(picked)
        self.initial_cluster = initial_cluster or f"{name}={self.peer_url}"
        self.cluster_state = cluster_state
        self.binary = binary
        self.die_with_parent = die_with_parent
        self.log_path = self.data_dir.parent / f"etcd-{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def client_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"{'https' if self.tls and self.tls.peer else 'http'}://{self.host}:{self.peer_port}"

    def command(self) -> list[str]:
        # The cluster token ties members of one cluster together, so members of another
        # test's cluster that happen to reuse a port are refused.
        token = "shoal-" + hashlib.sha1(self.initial_cluster.encode()).hexdigest()[:12]
        return [
            self.binary,
            f"--name={self.name}",
            f"--data-dir={self.data_dir}",
            f"--listen-client-urls={self.client_url}",
            f"--advertise-client-urls={self.client_url}",
            f"--listen-peer-urls={self.peer_url}",
            f"--initial-advertise-peer-urls={self.peer_url}",
            f"--initial-cluster={self.initial_cluster}",
            f"--initial-cluster-state={self.cluster_state}",
            f"--initial-cluster-token={token}",
            # etcd's defaults: shorter timings cause spurious elections on a busy 2-core box.
            "--heartbeat-interval=100",
            "--election-timeout=1000",
            # Snapshots every 10k writes keep restart (WAL replay) short without costing much.
            "--snapshot-count=10000",
            "--quota-backend-bytes=1073741824",
            # Keep an hour of history so a watcher that re-lists rarely finds it compacted.
            "--auto-compaction-mode=periodic",
            "--auto-compaction-retention=1h",
            "--logger=zap",
            "--log-outputs=stderr",
            *([f"--cert-file={self.tls.cert}", f"--key-file={self.tls.key}",
               f"--trusted-ca-file={self.tls.ca}", "--client-cert-auth"] if self.tls else []),
            *([f"--peer-cert-file={self.tls.cert}", f"--peer-key-file={self.tls.key}",
               f"--peer-trusted-ca-file={self.tls.ca}", "--peer-client-cert-auth"]
              if self.tls and self.tls.peer else []),
        ]

    def spawn(self) -> None:
        """Starts the process without waiting for it to serve (members of a new cluster only
        become ready together)."""
        if self.running:
            raise RuntimeError(f"etcd {self.name} is already running (pid {self.pid})")
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        # ETCD_* variables are read as flags and would clash with ours.
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD_")}
        log.info(
            "starting etcd",
            extra=logs.kv(name=self.name, client=self.client_url, peer=self.peer_url, log=self.log_path),
        )
        with open(self.log_path, "ab") as log_file:
            self.proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=env,
                # Own session: a Ctrl-C meant for `shoal up` or pytest must not reach etcd
                # before we stop it in order.
                start_new_session=True,
                preexec_fn=_die_with_parent if self.die_with_parent else None,
            )

    def wait_ready(self, timeout: float = 30) -> None:
        """Waits until a linearizable read succeeds; RuntimeError with the log tail if the
        process exits or the deadline passes."""
        if self.proc is None:
            raise RuntimeError(f"etcd {self.name} was not started")
        self.until_ready(self._health_check, f"etcd {self.name}", self.client_url, timeout)

    def start(self, timeout: float = 30) -> None:
        """Spawns etcd and returns once it serves clients; on failure stops it and raises
        RuntimeError with the tail of its log."""
        self.spawn()
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.kill()
            raise

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("etcd ignored SIGTERM; killing it", extra=logs.kv(name=self.name, pid=proc.pid))
                self.kill()

    def kill(self) -> None:
        """SIGKILL and reap: a crash, as fault tests want it."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(10)

    def _health_check(self) -> bool:
        """True when this member serves a read; raises saying why not."""
        tls = self.tls
        client = pyetcd.client(self.host, self.client_port, timeout=2, ca_cert=tls.ca if tls else None,
                               cert_key=tls.client_key if tls else None, cert_cert=tls.client_cert if tls else None)
        try:
            client.get_response("health")
            # The port may be served by someone else's etcd (a free-port race): make sure
            # the member answering is this one.
            status = client.maintenancestub.Status(pyetcd.etcdrpc.StatusRequest(), 2)
            names = {m.id: m.name for m in client.members}
            answered = names.get(status.header.member_id)
            if answered != self.name:
                raise RuntimeError(f"{self.client_url} is served by etcd member {answered!r}")
            return True
        finally:
            client.close()

    def __repr__(self) -> str:
        return f"EtcdProcess(name={self.name!r}, client={self.client_url}, pid={self.pid})"


def start_etcd_cluster(
    base_dir: Path, size: int = 3, timeout: float = 60, die_with_parent: bool = False, tls: EtcdTLS | None = None
) -> list[EtcdProcess]:
    """Starts ``size`` members on loopback (data in base_dir/m1.., logs in base_dir) and
    returns once all serve; stops them all and raises RuntimeError if any does not.
    ``tls`` (with ``peer``): every member serves clients and peers under it."""
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    names = [f"m{i + 1}" for i in range(size)]
    ports = free_ports(2 * size)  # every member's peer and client port, all distinct
    peer_ports, client_ports = ports[:size], ports[size:]
    scheme = "https" if tls and tls.peer else "http"
    initial = ",".join(f"{n}={scheme}://127.0.0.1:{p}" for n, p in zip(names, peer_ports, strict=True))
    members = [
        EtcdProcess(
            Path(base_dir) / n,
            peer_port=p,
            client_port=c,
            name=n,
            initial_cluster=initial,
            die_with_parent=die_with_parent,
            tls=tls,
        )
        for n, p, c in zip(names, peer_ports, client_ports, strict=True)
    ]
    try:
        for m in members:
            m.spawn()
        deadline = time.monotonic() + timeout
        for m in members:
            m.wait_ready(max(1.0, deadline - time.monotonic()))
    except BaseException:
        for m in members:
            m.kill()
        raise
    return members


def client_urls(members: list[EtcdProcess]) -> str:
    """The comma-separated endpoint list ``EtcdStore`` takes."""
    return ",".join(m.client_url for m in members)


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
