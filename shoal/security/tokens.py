"""Join tokens, as kubeadm and k3s make them: ``SHL10<ca-sha256>::<id>.<secret>``.

- ``<ca-sha256>``: the cluster CA's fingerprint, so a joining node trusts the control plane
  it reaches only if it presents that CA (and sends the token to nobody else);
- ``<id>``: 6 characters [a-z0-9], the record's name (``/shoal/v1/tokens/<id>``), shown by
  `shoal token list`;
- ``<secret>``: 16 characters [a-z0-9] (82 bits), stored only as its SHA-256 (a slow hash
  buys nothing for a random secret this long).

A token expires (``expires_at``; 0 never), allows ``max_uses`` joins (0 unlimited) and can
be revoked. Each join consumes one use with a compare-and-set on the record, so two nodes
racing for a token's last use cannot both win.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from shoal.store.base import Conflict, Store
from shoal.v1 import security_pb2 as sec

PREFIX = "SHL10"
TOKENS = "/shoal/v1/tokens/"
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_TOKEN = re.compile(r"SHL10(?P<ca>[0-9a-f]{64})::(?P<id>[a-z0-9]{6})\.(?P<secret>[a-z0-9]{16})")
_ID = re.compile(r"[a-z0-9]{6}")
MAX_DESCRIPTION = 256
MAX_TTL = 10 * 365 * 86400.0
_ATTEMPTS = 10


class TokenError(ValueError):
    """A token is malformed or cannot be used; ``reason`` is a short label for metrics."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class ParsedToken:
    ca_fingerprint: str
    token_id: str
    secret: str

    def __str__(self) -> str:
        return f"{PREFIX}{self.ca_fingerprint}::{self.token_id}.{self.secret}"


def parse(text: str) -> ParsedToken:
    m = _TOKEN.fullmatch(text.strip())
    if m is None:
        raise TokenError("token: want SHL10<64 hex digits>::<6 characters>.<16 characters> "
                         "(as `shoal token create` prints it)", "malformed")
    return ParsedToken(m["ca"], m["id"], m["secret"])


def key(token_id: str) -> str:
    return f"{TOKENS}{token_id}"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _random(n: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(n))


def create(store: Store, ca_fingerprint: str, ttl: float = 0, max_uses: int = 0, description: str = "",
           now: float | None = None) -> tuple[str, sec.JoinToken]:
    """A new token; returns (the whole token, its record). The token is never stored."""
    if not 0 <= ttl <= MAX_TTL:
        raise TokenError(f"ttlSeconds: must be between 0 (never expires) and {MAX_TTL:.0f}", "bad_request")
    if not 0 <= max_uses <= 1_000_000:
        raise TokenError("maxUses: must be between 0 (unlimited) and 1000000", "bad_request")
    if len(description) > MAX_DESCRIPTION or any(not ch.isprintable() for ch in description):
        raise TokenError(f"description: at most {MAX_DESCRIPTION} printable characters", "bad_request")
    now = time.time() if now is None else now
    for _ in range(_ATTEMPTS):
        parsed = ParsedToken(ca_fingerprint, _random(6), _random(16))
        record = sec.JoinToken(id=parsed.token_id, secret_sha256=_hash(parsed.secret), created_at=now,
                               expires_at=now + ttl if ttl else 0, max_uses=max_uses, description=description)
        try:
            store.create(key(parsed.token_id), record.SerializeToString())
        except Conflict:
            continue
        return str(parsed), record
    raise TokenError("token: could not allocate a unique id; try again", "bad_request")


def _decode(data: bytes) -> sec.JoinToken:
    record = sec.JoinToken()
    record.ParseFromString(data)
    return record


def list_(store: Store) -> list[sec.JoinToken]:
    out = []
    for kv in store.list(TOKENS).kvs:
        record = _decode(kv.value)
        record.secret_sha256 = ""
        out.append(record)
    return out


def revoke(store: Store, token_id: str) -> sec.JoinToken:
    if not _ID.fullmatch(token_id):
        raise TokenError(f"id: {token_id[:40]!r} is not a token id (6 characters a-z0-9)", "bad_request")
    for _ in range(_ATTEMPTS):
        kv = store.get(key(token_id))
        if kv is None:
            raise TokenError(f"id: no join token {token_id}", "unknown")
        record = _decode(kv.value)
        record.revoked = True
        try:
            store.cas(kv.key, record.SerializeToString(), kv.mod_revision)
        except Conflict:
            continue
        record.secret_sha256 = ""
        return record
    raise TokenError("id: the token changed concurrently; try again", "conflict")


def state(record: sec.JoinToken, now: float) -> str:
    """valid | revoked | expired | used up."""
    if record.revoked:
        return "revoked"
    if record.expires_at and now >= record.expires_at:
        return "expired"
    if record.max_uses and record.used >= record.max_uses:
        return "used up"
    return "valid"


def consume(store: Store, token: ParsedToken, now: float | None = None) -> sec.JoinToken:
    """Checks the token and uses it up by one, atomically; raises TokenError saying why not."""
    for _ in range(_ATTEMPTS):
        t = time.time() if now is None else now
        kv = store.get(key(token.token_id))
        record = _decode(kv.value) if kv is not None else None
        # Unknown id and wrong secret read the same, so the answer does not reveal which ids exist.
        if record is None or not hmac.compare_digest(record.secret_sha256, _hash(token.secret)):
            raise TokenError("token: not valid (unknown token or wrong secret)", "bad_token")
        status = state(record, t)
        if status != "valid":
            raise TokenError(f"token: {token.token_id} is {status}; create a new one with `shoal token create`",
                             status.replace(" ", "_"))
        record.used += 1
        record.last_used_at = t
        try:
            store.cas(kv.key, record.SerializeToString(), kv.mod_revision)
        except Conflict:
            continue
        return record
    raise TokenError("token: too many concurrent joins with this token; try again", "conflict")
