"""The control plane's HTTP side: Prometheus /metrics, and /sd, a Prometheus HTTP
service discovery document listing every connected agent's metrics endpoint and its node
proxy's exporter, so a stock Prometheus finds all nodes without hand-written targets."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from controlplane.metrics import REGISTRY
from controlplane.state import State

log = logging.getLogger(__name__)


def sd_targets(state: State) -> list[dict]:
    """One target group per connected agent's metrics, and one per node proxy's HAProxy
    exporter (labelled ``component="proxy"``; it answers the same /metrics path, so one
    scrape job takes both)."""
    alive = state.alive_node_ids()
    out = []
    for rec in state.nodes():
        node = rec.msg
        if node.id not in alive:
            continue
        labels = {
            "cluster": node.cluster,
            "node": node.id,
            "hostname": node.hostname,
            "zone": next((a.value for a in node.attributes if a.name == "ecs.availability-zone"), ""),
        }
        address = node.address or "127.0.0.1"
        if node.metrics_port:
            out.append({"targets": [f"{address}:{node.metrics_port}"], "labels": labels})
        if node.proxy_metrics_port:
            out.append({"targets": [f"{address}:{node.proxy_metrics_port}"],
                        "labels": {**labels, "component": "proxy"}})
    return out


def serve(host: str, port: int, state: State) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path.startswith("/metrics"):
                body, ctype = generate_latest(REGISTRY), CONTENT_TYPE_LATEST
            elif self.path.startswith("/sd"):
                try:
                    body, ctype = json.dumps(sd_targets(state)).encode(), "application/json"
                except Exception as exc:
                    self.send_error(503, f"state store unavailable: {exc}")
                    return
            elif self.path.startswith("/healthz"):
                body, ctype = b"ok\n", "text/plain"
            else:
                self.send_error(404, "try /metrics or /sd")
                return
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt: str, *args) -> None:
            log.debug("http: " + fmt, *args)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    return server
