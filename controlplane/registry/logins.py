"""Registry logins judged against the current IAM state on every use. A login credential
(``GetLoginCredential``, ECR's GetAuthorizationToken) lives up to 12 hours and the registry
tokens made from it 5 minutes; one made with an access key names the key (``key``), and
both the token endpoint and the registry front refuse it once that key is deleted or made
inactive, or no longer stands for the same user and role. The key is read from the store at
most every ``CACHE_SECONDS`` per key, so a revocation stops pushes and pulls within that.

A login made with a certificate names when that certificate was issued (``cert``), and so
does each registry token made from it: both are refused once the user's certificates issued
then are revoked (`shoal user revoke`, controlplane/revocations.py), as the gRPC calls are."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

from controlplane.revocations import is_revoked
from shoal.security.ca import parse_identity
from shoal.security.registry_issuer import Issuer, TokenError
from shoal.v1 import accesskeys_pb2 as ak

# The claim naming the access key a login (and each registry token made from it) came from.
KEY_CLAIM = "key"
# The claim naming when the certificate a login was made with was issued (epoch seconds).
CERT_CLAIM = "cert"
CACHE_SECONDS = 2.0

# An access key id -> the Active key with its owner, or None (unknown, deleted, inactive).
KeyLookup = Callable[[str], "ak.AccessKey | None"]
# An operator's name -> the second its certificates count from (revocations.Revocations.cutoff).
RevokedSince = Callable[[str], "int | None"]


class Logins:
    def __init__(self, lookup: KeyLookup, clock: Callable[[], float] = time.monotonic,
                 cache_seconds: float = CACHE_SECONDS, revoked_since: RevokedSince = lambda name: None) -> None:
        self._lookup = lookup
        self._revoked_since = revoked_since
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, ak.AccessKey | None]] = {}
        self._lock = threading.Lock()

    def refusal(self, claims: dict) -> str | None:
        """Why the login or registry token with ``claims`` no longer stands, or None."""
        key_id = claims.get(KEY_CLAIM)
        if not key_id:
            return self._certificate_refusal(claims)
        key = self._key(str(key_id))
        if key is None:
            return (f"access key {key_id} was deleted or made inactive, and its registry logins with it: "
                    "log in again with a current key")
        who = parse_identity(str(claims.get("sub", "")))
        if who is None or (who.role, who.name) != (key.role, key.user):
            return (f"access key {key_id} stands for shoal:{key.role}:{key.user} now, not {claims.get('sub')!s:.80}: "
                    "log in again")
        return None

    def _certificate_refusal(self, claims: dict) -> str | None:
        issued = claims.get(CERT_CLAIM)
        who = parse_identity(str(claims.get("sub", "")))
        if not isinstance(issued, int | float) or who is None:
            return None
        if not is_revoked(replace(who, issued=float(issued)), self._revoked_since(who.name)):
            return None
        return (f"the certificates of {who} were revoked, and their registry logins with them: "
                "log in again with a new certificate (`shoal user create`)")

    def bearer_refusal(self, issuer: Issuer, service: str, authorization: str) -> str | None:
        """Why the registry token in ``authorization`` (a request to the registry) no longer
        stands, or None. A missing, forged or expired token is the registry's to refuse."""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        try:
            claims = issuer.verify(token.strip(), service)
        except TokenError:
            return None
        return self.refusal(claims)

    def _key(self, key_id: str) -> ak.AccessKey | None:
        now = self._clock()
        with self._lock:
            held = self._cache.get(key_id)
            if held is not None and held[0] > now:
                return held[1]
        key = self._lookup(key_id)
        with self._lock:
            # Expired entries go as new ones come: the cache holds the keys of the last few seconds.
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            self._cache[key_id] = (now + self._cache_seconds, key)
        return key
