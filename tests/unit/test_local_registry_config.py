"""The local registry's config: TLS on the address nodes reach, plain HTTP only on loopback
behind Shoal's front."""

from __future__ import annotations

import json
from pathlib import Path

from shoalctl.local.registry import render_config


def test_the_registry_serving_its_own_address_uses_tls() -> None:
    http = json.loads(render_config(Path("/r"), "192.0.2.2:5000", "https://192.0.2.2:5001/token", "t"))["http"]
    assert http == {"addr": "192.0.2.2:5000", "tls": {"certificate": "/r/tls.crt", "key": "/r/tls.key"}}


def test_the_registry_behind_the_front_is_plain_http_on_loopback() -> None:
    http = json.loads(render_config(Path("/r"), "127.0.0.1:5002", "https://192.0.2.2:5001/token", "t",
                                    tls=False))["http"]
    assert http == {"addr": "127.0.0.1:5002"}
