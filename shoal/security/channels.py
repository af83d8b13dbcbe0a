"""The one place gRPC channels and server credentials are made, so TLS is never forgotten
on one path.

A client with ``ClientTLS`` verifies the control plane against the cluster CA bundle and
presents its own certificate; ``tls=None`` is plaintext, which only a control plane started
with ``--insecure`` accepts (a TLS server refuses it at the handshake).

Where a client's credentials come from (``ClientTLS.from_env``): SHOAL_CA, SHOAL_CERT and
SHOAL_KEY (file paths), else the ``ca``/``cert``/``key`` paths of a config dict (what
`shoal up` writes to <state-dir>/config.json). SHOAL_TLS_SERVER_NAME overrides the name the
server certificate is checked against (when reaching a replica by an address its
certificate does not list).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc

# The largest message a client accepts (the server may answer with big listings) and the
# largest it sends (the server refuses anything over its own limit anyway).
MAX_RECEIVE_BYTES = 64 * 1024 * 1024
MAX_SEND_BYTES = 4 * 1024 * 1024
_DEFAULT_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.max_receive_message_length", MAX_RECEIVE_BYTES),
    ("grpc.max_send_message_length", MAX_SEND_BYTES),
)


class TlsConfigError(ValueError):
    """Credentials are incomplete or unreadable; the message names the file or variable."""


@dataclass(frozen=True)
class ClientTLS:
    ca: bytes
    cert: bytes | None = None
    key: bytes | None = None
    server_name: str | None = None

    @classmethod
    def from_files(cls, ca: str | Path, cert: str | Path | None = None, key: str | Path | None = None,
                   server_name: str | None = None) -> ClientTLS:
        if (cert is None) != (key is None):
            raise TlsConfigError("a client certificate and its key must be given together")
        return cls(_read(ca, "CA bundle"), _read(cert, "certificate") if cert else None,
                   _read(key, "key") if key else None, server_name)

    @classmethod
    def from_dir(cls, directory: str | Path, name: str) -> ClientTLS:
        """``<dir>/ca.crt`` with ``<dir>/<name>.crt`` and ``<dir>/<name>.key``."""
        d = Path(directory)
        return cls.from_files(d / "ca.crt", d / f"{name}.crt", d / f"{name}.key")

    @classmethod
    def from_env(cls, config: Mapping[str, object] | None = None,
                 env: Mapping[str, str] | None = None) -> ClientTLS | None:
        """SHOAL_CA/SHOAL_CERT/SHOAL_KEY, else ``config``'s ca/cert/key; None if neither names
        a CA (plaintext, for an --insecure control plane)."""
        env = os.environ if env is None else env
        server_name = env.get("SHOAL_TLS_SERVER_NAME") or None
        if env.get("SHOAL_CA"):
            return cls.from_files(env["SHOAL_CA"], env.get("SHOAL_CERT") or None, env.get("SHOAL_KEY") or None,
                                  server_name)
        if config and config.get("ca"):
            cert, key = config.get("cert"), config.get("key")
            return cls.from_files(str(config["ca"]), str(cert) if cert else None, str(key) if key else None,
                                  server_name)
        return None

    def credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(root_certificates=self.ca, private_key=self.key,
                                            certificate_chain=self.cert)


def _read(path: str | Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise TlsConfigError(f"cannot read the {what} {path}: {exc.strerror or exc}") from None


def client_channel(target: str, tls: ClientTLS | None,
                   options: Sequence[tuple[str, object]] = ()) -> grpc.Channel:
    """A channel to ``target``: TLS (mutual when ``tls`` has a certificate), or plaintext
    when ``tls`` is None. ``options`` add to (and override) the message size limits."""
    merged = _options(tls, options)
    if tls is None:
        return grpc.insecure_channel(target, options=merged)
    return grpc.secure_channel(target, tls.credentials(), options=merged)


def aio_client_channel(target: str, tls: ClientTLS | None,
                       options: Sequence[tuple[str, object]] = ()) -> grpc.aio.Channel:
    """`client_channel` for an asyncio event loop (grpc.aio); call it on the loop's thread."""
    merged = _options(tls, options)
    if tls is None:
        return grpc.aio.insecure_channel(target, options=merged)
    return grpc.aio.secure_channel(target, tls.credentials(), options=merged)


def _options(tls: ClientTLS | None, options: Sequence[tuple[str, object]]) -> list[tuple[str, object]]:
    merged = dict(_DEFAULT_OPTIONS)
    merged.update(dict(options))
    if tls is not None and tls.server_name:
        merged["grpc.ssl_target_name_override"] = tls.server_name
    return list(merged.items())


def server_credentials(key_pem: bytes, chain_pem: bytes, client_roots_pem: bytes) -> grpc.ServerCredentials:
    """Server TLS that requires every client to present a certificate from
    ``client_roots_pem`` (which identities may do what is authz's business)."""
    return grpc.ssl_server_credentials([(key_pem, chain_pem)], root_certificates=client_roots_pem,
                                       require_client_auth=True)
