"""The commands `shoal up` suggests work on a minimal Debian (no curl, no wget, no `open`)."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from shoalctl.cli.local import fetch_command


class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = b"hello from the test\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def page() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_fetch_hint_without_curl_or_wget_uses_python3(page: str, tmp_path: Path, monkeypatch) -> None:
    # A PATH with only python3 on it: what a minimal Debian has.
    (tmp_path / "python3").symlink_to(sys.executable)
    monkeypatch.setenv("PATH", str(tmp_path))
    command = fetch_command(page)
    assert command.startswith("python3 -c "), command
    run = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, timeout=30,
                         env={**os.environ, "PATH": str(tmp_path)})
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("hello from the test"), run.stdout
