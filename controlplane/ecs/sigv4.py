"""AWS Signature Version 4, the server's side: rebuild the canonical request from what
arrived, sign it with the secret of the access key it names, and compare. Follows the
algorithm as botocore's signer implements it (botocore/auth.py, SigV4Auth), since that is
what the aws CLI and the SDKs send; refusals carry the error codes AWS answers with."""

from __future__ import annotations

import calendar
import email.utils
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar
from urllib.parse import quote

from controlplane.ecs.errors import EcsError
from controlplane.ecs.replay import ReplayCache

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "ecs"
# A signed request is good for five minutes either side of our clock; replays inside that
# window are caught by the ReplayCache, so the window bounds what the cache must remember.
MAX_SKEW_SECONDS = 5 * 60
# Always signed: the endpoint, the operation, and when. Every other x-amz-* header that
# arrives (the content hash, a session token) must be signed too.
_ALWAYS_SIGNED = ("host", "x-amz-target")

_AUTH_HEADER = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+)\s*,\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+)\s*,\s*Signature=(?P<signature>[0-9a-fA-F]{64})\s*"
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


class Credential(Protocol):
    secret_access_key: str


K = TypeVar("K", bound=Credential)


def missing_token() -> EcsError:
    return EcsError("MissingAuthenticationTokenException", "Missing Authentication Token", 403)


def incomplete(message: str) -> EcsError:
    return EcsError("IncompleteSignatureException", message, 400)


def unrecognized() -> EcsError:
    return EcsError("UnrecognizedClientException", "The security token included in the request is invalid.", 400)


def bad_signature(message: str = SIGNATURE_MISMATCH) -> EcsError:
    return EcsError("InvalidSignatureException", message, 400)


def replayed(message: str) -> EcsError:
    """A signature seen before (writes only; see verify). SigV4 has no nonce: an SDK that
    sends two byte-identical writes within one second (same operation, body and timestamp)
    signs them alike, so
    the refusal is one the SDKs retry, and their retry is signed anew, at a later second;
    a replayer, who cannot sign, gets nothing from retrying."""
    return EcsError("ThrottlingException", message, 400)


def reads_by_target(prefix: str, operations: Iterable[str]) -> Callable[[Request], bool]:
    """The ``is_read`` of a JSON protocol: the X-Amz-Target (signed, and sent once) is exactly
    ``prefix`` and one of ``operations``, so the gateway dispatches it to that read and nothing
    else; any other spelling is not a read."""
    targets = frozenset(prefix + name for name in operations)
    return lambda req: req.header("x-amz-target") in targets


def verify(req: Request, lookup: Callable[[str], K | None], now: float | None = None,
           replays: ReplayCache | None = None, service: str = SERVICE,
           always_signed: Sequence[str] = _ALWAYS_SIGNED,
           is_read: Callable[[Request], bool] | None = None) -> K:
    """Returns the credential (from ``lookup`` by access key id) that signed ``req``; raises
    EcsError (the AWS error for the case, its message naming what is wrong) when the request
    is unsigned, malformed, leaves a header that matters unsigned, is outside the clock
    window, comes from an unknown key, does not match its signature, or was seen before.
    ``service`` is the signing scope's service (ECS's JSON or ELBv2's Query protocol: a
    signature made for one is refused by the other); ``always_signed`` the headers that
    name the operation and endpoint (ELBv2 names its Action in the signed body).

    Only requests that may change state go through ``replays``: ``is_read`` (asked of a
    request whose signature matched, so of signed content only) says which are known reads.
    A read sent again answers what anyone could ask now, and pollers (waiters, `aws ecs wait`)
    send byte-identical reads within one second, which sign alike; a write sent again would
    act twice. Without ``is_read`` every request is checked."""
    now = time.time() if now is None else now
    auth = req.header("authorization")
    if not auth:
        raise missing_token()
    match = _AUTH_HEADER.fullmatch(auth.strip())
    if match is None:
        if not auth.startswith(ALGORITHM):
            raise incomplete(f"Only {ALGORITHM} (Signature Version 4) is accepted")
        raise incomplete(
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' (64 hex digits) "
            "parameters, comma-separated"
        )
    scope_parts = match["credential"].split("/")
    if len(scope_parts) != 5 or scope_parts[4] != "aws4_request":
        raise incomplete("Credential must have the form <key id>/<yyyymmdd>/<region>/<service>/aws4_request")
    key_id, day, region, scoped_service, _ = scope_parts
    if scoped_service != service:
        raise bad_signature(f"Credential should be scoped to correct service: '{service}'.")
    signed = match["signed"].split(";")
    if signed != sorted(set(signed)) or any(name != name.lower() for name in signed):
        raise incomplete("SignedHeaders must be lower-case header names, sorted, each once")

    amz_date, date_header = _timestamp(req)
    _require_signed(req, signed, date_header, always_signed)
    if amz_date[:8] != day:
        raise bad_signature(f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
                            f"HTTP: '{day}' != '{amz_date[:8]}', from '{amz_date}'.")
    signed_at = calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))
    _check_clock(amz_date, signed_at, now)

    credential = lookup(key_id)
    if credential is None:
        raise unrecognized()
    # A session key (a task's role credentials) is valid only with its own session token; a
    # long-term key (no session_token field) only without one.
    token = req.header("x-amz-security-token") or ""
    if not hmac.compare_digest(token.encode(), getattr(credential, "session_token", "").encode()):
        raise unrecognized()

    # The payload hash in the canonical request is always the hash of the bytes received;
    # a declared hash that differs (UNSIGNED-PAYLOAD included) is refused by name.
    body_hash = hashlib.sha256(req.body).hexdigest()
    declared = req.header("x-amz-content-sha256")
    if declared is not None and declared != body_hash:
        raise bad_signature("The provided 'x-amz-content-sha256' header does not match what was computed: "
                            "the body is always signed")
    scope = f"{day}/{region}/{service}/aws4_request"
    expected = signature(credential.secret_access_key, amz_date, scope, canonical_request(req, signed, body_hash))
    given = match["signature"].lower()
    if not hmac.compare_digest(expected, given):
        raise bad_signature()
    if replays is None or (is_read is not None and is_read(req)):
        return credential
    refusal = replays.refusal(given, signed_at, now)
    if refusal is not None:
        raise replayed(f"Request replayed: signed at {amz_date}, {refusal}")
    return credential


def _timestamp(req: Request) -> tuple[str, str]:
    """(the request's time as yyyymmddThhmmssZ, the header it came from): X-Amz-Date, or
    the HTTP Date header when there is none, as AWS reads them."""
    amz_date = req.header("x-amz-date")
    if amz_date is not None:
        if not _AMZ_DATE.fullmatch(amz_date):
            raise incomplete(f"X-Amz-Date must have the form yyyymmddThhmmssZ, got {amz_date[:40]!r}")
        return amz_date, "x-amz-date"
    date = req.header("date")
    if date is None:
        raise incomplete("Authorization requires an X-Amz-Date header of the form yyyymmddThhmmssZ (or a Date "
                         "header)")
    try:
        parsed = email.utils.parsedate_to_datetime(date)
    except (TypeError, ValueError):
        raise incomplete(f"Date header is not an HTTP date: {date[:40]!r}") from None
    if parsed.tzinfo is None:
        raise incomplete(f"Date header must name its time zone (GMT): {date[:40]!r}")
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(parsed.timestamp())), "date"


def _require_signed(req: Request, signed: Sequence[str], date_header: str, always: Sequence[str]) -> None:
    """A signature proves only what it covers: the host, the operation (X-Amz-Target), the
    timestamp it is judged by and every x-amz-* header sent must be among SignedHeaders, or
    someone on the path could turn a signed ListServices into a DeleteCluster."""
    needed = [*always, date_header]
    needed += sorted(name for name in req.headers if name.startswith("x-amz-") and name not in needed)
    # Sent twice, a header is signed as both values joined but read as the first: which
    # operation a request names (and so whether it is a read) must have one answer.
    repeated = [name for name in needed if len(req.headers.get(name, ())) > 1]
    if repeated:
        raise incomplete(f"{', '.join(repeated)}: sent more than once; send each signed header once")
    missing = [name for name in needed if name not in signed]
    if missing:
        raise incomplete(f"SignedHeaders must include {', '.join(missing)} (signed: {';'.join(signed)})")


def _check_clock(amz_date: str, signed_at: float, now: float) -> None:
    minutes = MAX_SKEW_SECONDS // 60
    if signed_at < now - MAX_SKEW_SECONDS:
        raise bad_signature(f"Signature expired: {amz_date} is now earlier than {_stamp(now - MAX_SKEW_SECONDS)} "
                            f"({_stamp(now)} - {minutes} min.)")
    if signed_at > now + MAX_SKEW_SECONDS:
        raise bad_signature(f"Signature not yet current: {amz_date} is still later than "
                            f"{_stamp(now + MAX_SKEW_SECONDS)} ({_stamp(now)} + {minutes} min.)")


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
