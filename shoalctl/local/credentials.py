"""The local cluster's credentials: the cluster CA, the admin identity the CLI uses and the
join token its agents and autoscaler register with, all made before any replica starts."""

from __future__ import annotations

from pathlib import Path

from shoal.security import pki
from shoal.security.channels import ClientTLS
from shoal.store.base import Store
from shoalctl.local.errors import ClusterError


class LocalCredentials:
    """``secure`` False: an --insecure cluster, with none of these."""

    def __init__(self, pki_dir: Path, secure: bool) -> None:
        self.pki_dir = pki_dir
        self.secure = secure
        self._join_token: str | None = None

    def bootstrap(self, store: Store) -> None:
        """The CA, admin identity and join token (so several replicas starting at once find
        one master key; see shoal.security.pki)."""
        if not self.secure:
            return
        try:
            self._join_token = pki.bootstrap_local(store, self.pki_dir)
        except (pki.PkiError, OSError) as exc:
            raise ClusterError(f"cannot set up the cluster CA in {self.pki_dir}: {exc}") from exc

    def admin_tls(self) -> ClientTLS | None:
        return ClientTLS.from_dir(self.pki_dir, "admin") if self.secure else None

    def env(self) -> dict[str, str]:
        """What agents and the autoscaler get in their environment to authenticate: a join
        token (never on a command line, where `ps` shows it) and the admin identity."""
        if not self.secure:
            return {"SHOAL_INSECURE": "1"}
        if self._join_token is None:
            raise ClusterError("start the control plane before agents: the join token comes with it")
        return {"SHOAL_JOIN_TOKEN": self._join_token, **self.admin_env()}

    def admin_env(self) -> dict[str, str]:
        return {"SHOAL_CA": str(self.pki_dir / "ca.crt"), "SHOAL_CERT": str(self.pki_dir / "admin.crt"),
                "SHOAL_KEY": str(self.pki_dir / "admin.key")}

    def config_entries(self) -> dict[str, str | bool]:
        """config.json's ``ca``/``cert``/``key``: the admin identity the CLI authenticates
        with. An --insecure cluster has none and says so (``insecure``), which is what lets
        the CLI talk plaintext to it."""
        if not self.secure:
            return {"insecure": True}
        return {"ca": str(self.pki_dir / "ca.crt"), "cert": str(self.pki_dir / "admin.crt"),
                "key": str(self.pki_dir / "admin.key")}
