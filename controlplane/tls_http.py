"""The threaded HTTP server behind the control plane's small HTTPS endpoints (the web
console, the registry's token endpoint and front): TLS with a certificate the caller made
(from the cluster CA, ``ecs.config.cluster_ca_context``), or plain HTTP when given none."""

from __future__ import annotations

import logging
import socket
import ssl
from http.server import ThreadingHTTPServer

log = logging.getLogger(__name__)

HANDSHAKE_SECONDS = 10.0


class TLSServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type, tls: ssl.SSLContext | None) -> None:
        self.tls = tls
        super().__init__(address, handler)

    def finish_request(self, request: socket.socket, client_address) -> None:  # type: ignore[override]
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        # The handshake happens here, in the request's own thread, not in the accept loop:
        # a client that never finishes it holds up no one else. The deadline stays on every
        # read after it: a client silent that long is dropped.
        request.settimeout(HANDSHAKE_SECONDS)
        try:
            wrapped = self.tls.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError) as exc:
            log.debug("TLS handshake failed: %s", exc)
            return
        self.RequestHandlerClass(wrapped, client_address, self)
