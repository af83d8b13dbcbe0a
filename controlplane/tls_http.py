"""The threaded HTTP server behind the control plane's small HTTPS endpoints (the web
console, the registry's token endpoint and front): TLS with a certificate the caller made
(from the cluster CA, ``ecs.config.cluster_ca_context``), or plain HTTP when given none."""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
from http.server import ThreadingHTTPServer

log = logging.getLogger(__name__)

# How long a connection may stay silent (the TLS handshake, a request's bytes, a keep-alive
# connection's next request, a stream's write to a reader who stopped reading) before it is
# dropped and its thread freed.
IDLE_SECONDS = 10.0


class TLSServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type, tls: ssl.SSLContext | None) -> None:
        self.tls = tls
        super().__init__(address, handler)

    def finish_request(self, request: socket.socket, client_address) -> None:  # type: ignore[override]
        request.settimeout(IDLE_SECONDS)
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        # The handshake happens here, in the request's own thread, not in the accept loop:
        # a client that never finishes it holds up no one else.
        try:
            wrapped = self.tls.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError) as exc:
            log.debug("TLS handshake failed: %s", exc)
            return
        try:
            self.RequestHandlerClass(wrapped, client_address, self)
        finally:
            # wrap_socket took the socket's descriptor, so the server's own shutdown_request
            # closes nothing: the connection would end only once the garbage collector got to
            # it, and a browser meanwhile would send its next request where no thread reads.
            with contextlib.suppress(OSError):  # the client went first
                wrapped.shutdown(socket.SHUT_RDWR)
            wrapped.close()
