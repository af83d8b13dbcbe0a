"""The agent's credentials at start-up: the node certificate in its state dir, or a join
with a token when it has none yet (then never again), or none at all with --insecure."""

from __future__ import annotations

import datetime
import logging
import threading
import time
from typing import TYPE_CHECKING

import shoal.logs
from agent import identity
from shoal.retry import backoff
from shoal.security import joining
from shoal.security.channels import ClientTLS

if TYPE_CHECKING:
    from agent.connection import GatewayClient

log = logging.getLogger("agent")

_JOIN_BACKOFF_BASE, _JOIN_BACKOFF_CAP = 0.2, 5.0


class CredentialsError(Exception):
    """No way to authenticate; the message says what to do."""


def resolve(state_dir: str, join_at: str, token: str, hostname: str, cluster: str, stored_node_id: str,
            timeout: float = 300) -> tuple[ClientTLS, str]:
    """(TLS credentials, node id). Joins at ``join_at`` with ``token`` if the state dir
    holds no certificate, retrying while the control plane is unreachable (it may be
    starting) for up to ``timeout`` seconds; a refused token fails at once."""
    try:
        creds = joining.load(state_dir)
    except joining.JoinError as exc:
        raise CredentialsError(str(exc)) from None
    if creds is None:
        if not token:
            raise CredentialsError(
                f"no node certificate in {joining.tls_dir(state_dir)}: join the cluster with --token "
                "(from `shoal token create`; or env SHOAL_JOIN_TOKEN), or pass --insecure for a control plane "
                "started with --insecure")
        creds = _join(state_dir, join_at, token, hostname, timeout)
        log.info("joined the cluster", extra=shoal.logs.kv(node=creds.node_id, cluster=creds.cluster,
                                                          endpoint=join_at))
    if creds.cluster != cluster:
        # The control plane would refuse it too; saying so here names the flag to fix.
        raise CredentialsError(f"--cluster {cluster!r}: this node's certificate binds it to cluster "
                               f"{creds.cluster!r} (the cluster of its join token); run it with --cluster "
                               f"{creds.cluster} or join {cluster!r} with another --state-dir and token")
    if stored_node_id and stored_node_id != creds.node_id:
        # The certificate is the identity: node.json follows it (containers of the old id stay as they are).
        log.warning("node.json named another node than the certificate; following the certificate",
                    extra=shoal.logs.kv(old=stored_node_id, node=creds.node_id))
    if stored_node_id != creds.node_id:
        identity.save(state_dir, creds.node_id, cluster)
    return creds.tls, creds.node_id


def _join(state_dir: str, join_at: str, token: str, hostname: str, timeout: float) -> joining.NodeCredentials:
    deadline = time.monotonic() + timeout
    attempt = 0
    while True:
        try:
            return joining.join(join_at, token, state_dir, hostname)
        except joining.JoinError as exc:
            delay = backoff(attempt, _JOIN_BACKOFF_BASE, _JOIN_BACKOFF_CAP)
            if not exc.retryable or time.monotonic() + delay > deadline:
                raise CredentialsError(f"join at {join_at} failed: {exc}") from None
            log.warning("cannot join yet; retrying", extra=shoal.logs.kv(endpoint=join_at, error=exc))
        time.sleep(delay)
        attempt += 1


def keep_renewed(client: GatewayClient, state_dir: str, stop: threading.Event) -> None:
    """Renews the node certificate whenever a third of its life is left, until ``stop``;
    retries a failed renewal after a tenth of the time left (1 s to 10 min)."""
    while client.tls is not None:
        due = joining.renewal_due(client.tls)
        now = datetime.datetime.now(datetime.UTC)
        if now < due:
            if stop.wait(min((due - now).total_seconds(), 3600.0)):
                return
            continue
        if client.renew_certificate(state_dir):
            continue
        left = (joining.expires_at(client.tls) - now).total_seconds()
        if stop.wait(min(600.0, max(1.0, left / 10))):
            return


def start_renewal(client: GatewayClient, state_dir: str, stop: threading.Event) -> None:
    threading.Thread(target=keep_renewed, args=(client, state_dir, stop), name="cert-renewal", daemon=True).start()
