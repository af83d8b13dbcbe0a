"""The etcd of a local cluster: one member, or a loopback cluster of 3 or 5 for HA tests, and
a member stopped, killed or started again for fault tests. It serves only clients that
present the certificate made for it (see etcdcerts), members of several over TLS too."""

from __future__ import annotations

from pathlib import Path

from shoal.store.etcd import EtcdStore
from shoalctl.local import etcdcerts, procs
from shoalctl.local.errors import ClusterError
from shoalctl.local.etcd import EtcdProcess, client_urls, start_etcd_cluster
from shoalctl.local.etcdcerts import EtcdTLS

_NOT_INSTALLED = ("etcd is not installed (no `etcd` on PATH): run scripts/bootstrap.sh "
                  "or `apt-get install etcd-server`")


class LocalEtcd:
    """``members`` is 1, 3 or 5; data under ``base_dir``, its CA and certificates in
    ``tls_dir``. A single member logs to ``logs_dir/etcd.log`` and listens on
    ``client_port`` (0: a free port)."""

    def __init__(self, base_dir: Path, logs_dir: Path, tls_dir: Path, members: int = 1,
                 client_port: int = 0) -> None:
        if members not in (1, 3, 5):
            raise ValueError(f"etcd_members must be 1, 3 or 5, got {members}")
        self.base_dir = base_dir
        self.logs_dir = logs_dir
        self.count = members
        self.client_port = client_port
        self.tls_dir = tls_dir
        self.tls: EtcdTLS | None = None
        self.members: list[EtcdProcess] = []

    @property
    def first(self) -> EtcdProcess | None:
        return self.members[0] if self.members else None

    @property
    def url(self) -> str | None:
        """The client URL, or every member's comma-separated; None before ``start``."""
        return client_urls(self.members) if self.members else None

    def urls_of(self, numbers: list[int]) -> str:
        """The client URLs of members ``numbers`` (1-based), comma-separated."""
        return client_urls([self.member(m) for m in numbers])

    def client_flags(self) -> list[str]:
        """--etcd-ca/--etcd-cert/--etcd-key for the control plane and the autoscaler."""
        return self.tls.client_flags() if self.tls else []

    def store(self, timeout: float = 10, members: list[int] | None = None) -> EtcdStore:
        """A store on every member (or on ``members``) with the client certificate; the
        caller closes it."""
        tls = self.tls
        return EtcdStore(self.urls_of(members) if members else self.url or "", timeout=timeout,
                         ca_cert=tls.ca if tls else None, cert_cert=tls.client_cert if tls else None,
                         cert_key=tls.client_key if tls else None)

    def config_entries(self) -> dict[str, str]:
        """config.json's ``etcd_ca``/``etcd_cert``/``etcd_key``: how other processes on this
        machine (`shoal chaos`) reach this etcd."""
        tls = self.tls
        return {"etcd_ca": tls.ca, "etcd_cert": tls.client_cert, "etcd_key": tls.client_key} if tls else {}

    def start(self, timeout: float) -> None:
        """Starts every member and returns once all serve; ClusterError if one does not."""
        self.tls = etcdcerts.ensure(self.tls_dir, peer=self.count > 1)
        try:
            if self.count > 1:
                self.members = start_etcd_cluster(self.base_dir, self.count, timeout, tls=self.tls)
                return
            member = EtcdProcess(self.base_dir, client_port=self.client_port, name="shoal", tls=self.tls)
            member.log_path = self.logs_dir / "etcd.log"
            self.members = [member]
            member.start(timeout)
        except FileNotFoundError as exc:
            raise ClusterError(_NOT_INSTALLED) from exc
        except RuntimeError as exc:
            raise ClusterError(str(exc)) from exc

    def stop(self, timeout: float = 10) -> list[str]:
        done = []
        for member in self.members:
            member.stop(timeout)
            done.append(f"etcd {member.name} stopped")
        return done

    def member(self, i: int) -> EtcdProcess:
        if not 1 <= i <= len(self.members):
            raise ClusterError(f"no etcd member {i}: this cluster has {len(self.members)}")
        return self.members[i - 1]

    def start_member(self, i: int, timeout: float = 60) -> None:
        """Starts member ``i`` again on its data dir: it rejoins its cluster."""
        member = self.member(i)
        member.cluster_state = "existing"
        try:
            member.start(timeout)
        except RuntimeError as exc:
            raise ClusterError(str(exc)) from exc

    def exited(self) -> bool:
        """True when the first member was started and has exited."""
        first = self.first
        return first is not None and first.pid is not None and not first.running

    def records(self) -> list[procs.ProcRecord]:
        if self.count == 1:
            first = self.first
            return [procs.ProcRecord.of("etcd", "etcd", first.pid, first.log_path)] \
                if first is not None and first.pid is not None else []
        return [procs.ProcRecord.of("etcd", f"etcd-{m.name}", m.pid, m.log_path)
                for m in self.members if m.pid is not None]
