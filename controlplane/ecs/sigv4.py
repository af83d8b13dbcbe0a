"""AWS Signature Version 4, the server's side: rebuild the canonical request from what
arrived, sign it with the secret of the access key it names, and compare. Follows the
algorithm as botocore's signer implements it (botocore/auth.py, SigV4Auth), since that is
what the aws CLI and the SDKs send; refusals carry the error codes AWS answers with."""

from __future__ import annotations

import calendar
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from controlplane.ecs.errors import EcsError

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "ecs"
# AWS refuses a request dated more than 15 minutes away from its own clock.
MAX_SKEW_SECONDS = 15 * 60

_AUTH_HEADER = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+)\s*,\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+)\s*,\s*Signature=(?P<signature>[0-9a-fA-F]+)\s*"
)
_AMZ_DATE = re.compile(r"\d{8}T\d{6}Z")

SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
    "Access Key and signing method. Consult the service documentation for details."
)


@dataclass(frozen=True)
class Request:
    """What the signature covers. ``headers`` maps lower-case names to every value
    received under that name; ``path`` and ``query`` are as they arrived, still encoded."""

    method: str
    path: str
    query: str
    headers: Mapping[str, Sequence[str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.headers.get(name)
        return values[0] if values else None


def missing_token() -> EcsError:
    return EcsError("MissingAuthenticationTokenException", "Missing Authentication Token", 403)


def incomplete(message: str) -> EcsError:
    return EcsError("IncompleteSignatureException", message, 400)


def unrecognized() -> EcsError:
    return EcsError("UnrecognizedClientException", "The security token included in the request is invalid.", 400)


def bad_signature(message: str = SIGNATURE_MISMATCH) -> EcsError:
    return EcsError("InvalidSignatureException", message, 400)


def verify(req: Request, secret_for: Callable[[str], str | None], now: float | None = None) -> str:
    """Returns the access key id that signed ``req``; raises EcsError (the AWS error for
    the case) when the request is unsigned, malformed, stale, from an unknown key, or its
    signature does not match."""
    auth = req.header("authorization")
    if not auth:
        raise missing_token()
    match = _AUTH_HEADER.fullmatch(auth.strip())
    if match is None:
        if not auth.startswith(ALGORITHM):
            raise incomplete(f"Only {ALGORITHM} (Signature Version 4) is accepted")
        raise incomplete(
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters, "
            "comma-separated"
        )
    scope_parts = match["credential"].split("/")
    if len(scope_parts) != 5 or scope_parts[4] != "aws4_request":
        raise incomplete("Credential must have the form <key id>/<yyyymmdd>/<region>/<service>/aws4_request")
    key_id, day, region, service, _ = scope_parts
    if service != SERVICE:
        raise bad_signature(f"Credential should be scoped to correct service: '{SERVICE}'.")
    signed = match["signed"].split(";")
    if "host" not in signed:
        raise incomplete("'Host' must be a signed header")

    amz_date = req.header("x-amz-date")
    if not amz_date or not _AMZ_DATE.fullmatch(amz_date):
        raise incomplete("Authorization requires an X-Amz-Date header of the form yyyymmddThhmmssZ")
    if amz_date[:8] != day:
        raise bad_signature(f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
                            f"HTTP: '{day}' != '{amz_date[:8]}', from '{amz_date}'.")
    _check_clock(amz_date, time.time() if now is None else now)

    if req.header("x-amz-security-token"):
        # Shoal issues long-term keys only; a session token belongs to someone else's STS.
        raise unrecognized()
    secret = secret_for(key_id)
    if secret is None:
        raise unrecognized()

    body_hash = hashlib.sha256(req.body).hexdigest()
    declared = req.header("x-amz-content-sha256")
    if declared and declared != body_hash:
        raise bad_signature("The provided 'x-amz-content-sha256' header does not match what was computed.")
    scope = f"{day}/{region}/{service}/aws4_request"
    expected = signature(secret, amz_date, scope, canonical_request(req, signed, declared or body_hash))
    if not hmac.compare_digest(expected, match["signature"].lower()):
        raise bad_signature()
    return key_id


def _check_clock(amz_date: str, now: float) -> None:
    signed_at = calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))
    if signed_at < now - MAX_SKEW_SECONDS:
        limit = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now - MAX_SKEW_SECONDS))
        raise bad_signature(f"Signature expired: {amz_date} is now earlier than {limit} "
                            f"({_stamp(now)} - 15 min.)")
    if signed_at > now + MAX_SKEW_SECONDS:
        limit = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now + MAX_SKEW_SECONDS))
        raise bad_signature(f"Signature not yet current: {amz_date} is still later than {limit} "
                            f"({_stamp(now)} + 15 min.)")


def _stamp(t: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t))


def canonical_request(req: Request, signed_headers: Sequence[str], payload_hash: str) -> str:
    headers = []
    for name in signed_headers:
        values = req.headers.get(name, ())
        headers.append(f"{name}:{','.join(' '.join(v.split()) for v in values)}")
    return "\n".join([
        req.method.upper(),
        _canonical_path(req.path),
        _canonical_query(req.query),
        "\n".join(headers) + "\n",
        ";".join(signed_headers),
        payload_hash,
    ])


def _canonical_path(path: str) -> str:
    # botocore removes dot segments and repeated slashes from the (already encoded) path,
    # then encodes it once more.
    if not path:
        return "/"
    parts = []
    for segment in path.split("/"):
        if segment == "..":
            if parts:
                parts.pop()
        elif segment and segment != ".":
            parts.append(segment)
    normalized = ("/" if path.startswith("/") else "") + "/".join(parts) + ("/" if path.endswith("/") and parts else "")
    return quote(normalized, safe="/~")


def _canonical_query(query: str) -> str:
    # The pairs as they arrived (still encoded), sorted: what botocore signs for a URL query.
    if not query:
        return ""
    pairs = [pair.partition("=") for pair in query.split("&")]
    return "&".join(f"{k}={v}" for k, _, v in sorted(pairs))


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def signature(secret: str, amz_date: str, scope: str, canonical: str) -> str:
    day, region, service, terminator = scope.split("/")
    key = _hmac(("AWS4" + secret).encode(), day)
    for part in (region, service, terminator):
        key = _hmac(key, part)
    string_to_sign = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
