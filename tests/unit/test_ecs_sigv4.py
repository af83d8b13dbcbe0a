"""Signature V4 verification against botocore's own signer: what the SDKs sign passes,
and each kind of bad request gets the error AWS gives it."""

from __future__ import annotations

import json
import time

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from controlplane.ecs import sigv4
from controlplane.ecs.errors import EcsError

KEY = "AKSHAAAAAAAAAAAAAAAA"
SECRET = "s3cr3t/with+chars=="
TARGET = "AmazonEC2ContainerServiceV20141113.ListClusters"


def secrets(key_id: str) -> str | None:
    return SECRET if key_id == KEY else None


def signed(body: dict | None = None, *, key: str = KEY, secret: str = SECRET, service: str = "ecs",
           url: str = "http://127.0.0.1:7480/", token: str | None = None) -> AWSRequest:
    req = AWSRequest(method="POST", url=url, data=json.dumps(body or {}).encode(),
                     headers={"X-Amz-Target": TARGET, "Content-Type": "application/x-amz-json-1.1"})
    SigV4Auth(Credentials(key, secret, token), service, "us-east-1").add_auth(req)
    return req


def as_received(req: AWSRequest, **header_overrides: str) -> sigv4.Request:
    """What the server sees: the signed request's method, path, query, headers and body."""
    path, _, query = req.url.split("//", 1)[1].partition("/")[2].partition("?")
    headers: dict[str, list[str]] = {}
    for name, value in req.headers.items():
        headers.setdefault(name.lower(), []).append(value)
    headers.setdefault("host", [req.url.split("//", 1)[1].split("/", 1)[0]])
    for name, value in header_overrides.items():
        headers[name.lower()] = [value]
    return sigv4.Request(req.method, "/" + path, query, headers, req.body)


def refused(req: sigv4.Request, now: float | None = None) -> EcsError:
    with pytest.raises(EcsError) as caught:
        sigv4.verify(req, secrets, now=now)
    return caught.value


def test_botocore_signed_request_verifies() -> None:
    assert sigv4.verify(as_received(signed({"maxResults": 5})), secrets) == KEY


def test_query_string_and_path_are_part_of_the_signature() -> None:
    req = signed(url="http://127.0.0.1:7480/some/path?b=2&a=1&empty=")
    assert sigv4.verify(as_received(req), secrets) == KEY


def test_unsigned_request_is_missing_its_token() -> None:
    req = as_received(signed())
    del req.headers["authorization"]  # type: ignore[attr-defined]
    err = refused(req)
    assert (err.ecs_type, err.status) == ("MissingAuthenticationTokenException", 403)


def test_wrong_secret_is_a_signature_mismatch() -> None:
    err = refused(as_received(signed(secret="not-the-secret")))
    assert (err.ecs_type, err.status) == ("InvalidSignatureException", 400)
    assert "signature we calculated does not match" in err.message


def test_unknown_key_is_unrecognized() -> None:
    err = refused(as_received(signed(key="AKSHBBBBBBBBBBBBBBBB")))
    assert err.ecs_type == "UnrecognizedClientException"


def test_session_token_is_refused() -> None:
    assert refused(as_received(signed(token="from-sts"))).ecs_type == "UnrecognizedClientException"


def test_tampered_body_or_target_fails() -> None:
    req = as_received(signed({"maxResults": 5}))
    tampered = sigv4.Request(req.method, req.path, req.query, req.headers, b'{"maxResults": 6}')
    assert refused(tampered).ecs_type == "InvalidSignatureException"
    other_op = as_received(signed(), **{"X-Amz-Target": "AmazonEC2ContainerServiceV20141113.DeleteCluster"})
    assert refused(other_op).ecs_type == "InvalidSignatureException"


def test_signature_for_another_service_is_refused() -> None:
    err = refused(as_received(signed(service="s3")))
    assert err.ecs_type == "InvalidSignatureException" and "ecs" in err.message


def test_clock_skew_up_to_15_minutes_is_tolerated() -> None:
    req = as_received(signed())
    signed_at = time.time()
    assert sigv4.verify(req, secrets, now=signed_at + 14 * 60) == KEY
    assert sigv4.verify(req, secrets, now=signed_at - 14 * 60) == KEY
    late = refused(req, now=signed_at + 16 * 60)
    assert late.ecs_type == "InvalidSignatureException" and "Signature expired" in late.message
    early = refused(req, now=signed_at - 16 * 60)
    assert early.ecs_type == "InvalidSignatureException" and "not yet current" in early.message


def test_malformed_authorization_is_incomplete() -> None:
    assert refused(as_received(signed(), Authorization="AWS4-HMAC-SHA256 garbage")).ecs_type == (
        "IncompleteSignatureException")
    assert refused(as_received(signed(), Authorization="AWS AKID:sig")).ecs_type == "IncompleteSignatureException"
    no_date = as_received(signed())
    del no_date.headers["x-amz-date"]  # type: ignore[attr-defined]
    assert refused(no_date).ecs_type == "IncompleteSignatureException"
