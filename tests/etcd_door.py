"""Knocking on etcd's client port the way a local user would: a raw range read over HTTP,
over TLS with no certificate, and over TLS with a given certificate."""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request

# Every way a refusal shows up to a client: a TLS alert, a reset, an HTTP error.
REFUSED = (ssl.SSLError, ConnectionError, urllib.error.URLError, OSError)


def range_read(client_url: str, ca: str | None = None, cert: tuple[str, str] | None = None,
               scheme: str | None = None) -> dict:
    """POST /v3/kv/range for every key under /shoal/; ``scheme`` overrides the URL's
    (``http`` tries plaintext on a TLS port). Returns etcd's JSON answer or raises."""
    host_port = client_url.split("://", 1)[1]
    url = f"{scheme or client_url.split('://', 1)[0]}://{host_port}/v3/kv/range"
    body = {"key": base64.b64encode(b"/shoal/").decode(), "range_end": base64.b64encode(b"/shoal0").decode()}
    context = None
    if url.startswith("https"):
        context = ssl.create_default_context(cafile=ca)
        if cert is not None:
            context.load_cert_chain(*cert)
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=5, context=context) as resp:
        return json.load(resp)
