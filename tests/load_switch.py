"""A load switch for autoscaling runs (the integration test and bench/autoscale_reaction.py):
an HTTP endpoint on the host answering "burn" or "idle", and the command of a task that polls
it and burns CPU while it says so."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LoadSwitch:
    """GET / answers "burn" or "idle"; the burner tasks poll it."""

    def __init__(self, host: str) -> None:
        self.burn = False
        switch = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                body = b"burn\n" if switch.burn else b"idle\n"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.host, self.port = host, self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def burner_command(host: str, port: int) -> list[str]:
    # Burning: 10 rounds of ~0.05 s busy + 0.35 s asleep, then ask again; idle: ask every second.
    script = (
        f'while :; do if printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w 2 {host} {port} | grep -q burn; then '
        "j=0; while [ $j -lt 10 ]; do i=0; while [ $i -lt 40000 ]; do i=$((i+1)); done; sleep 0.35; "
        "j=$((j+1)); done; else sleep 1; fi; done"
    )
    return ["sh", "-c", script]
