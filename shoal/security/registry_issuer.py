"""Shoal as the cluster registry's token issuer: one signing key, sealed in etcd
(``/shoal/v1/pki/registry-issuer``) beside the CA, with a certificate the cluster CA signs.

The registry (CNCF distribution 2.8, ``auth.token``) trusts exactly that certificate
(``rootcertbundle``), never the whole CA: distribution accepts a token whose ``x5c`` chain
ends in a trusted root, and every node and operator holds a CA-signed key, so trusting the
CA would let any of them mint their own push token. Every replica reads the same key, so
a token or login credential made by one is good at every other.

Two kinds of ES256 JWT are signed with it: registry tokens (``aud`` the registry's service
name, ``access`` the granted actions; distribution's token format) and login credentials
(``aud`` ``LOGIN_AUDIENCE``; the password ``docker login`` sends to the token endpoint,
naming the Shoal identity it stands for).
"""

from __future__ import annotations

import base64
import datetime
import json
import secrets
import time
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding

from shoal.security import ca as ca_mod
from shoal.security.ca import CertificateAuthority
from shoal.security.sealing import Sealer
from shoal.store.base import Conflict, Store

ISSUER_KEY = "/shoal/v1/pki/registry-issuer"
ISSUER = "shoal"
LOGIN_AUDIENCE = "shoal-registry-login"
# What the registry presents when it posts its push notifications to /events.
EVENTS_AUDIENCE = "shoal-registry-events"
ISSUER_DAYS = 3650
# The registry accepts a token up to 60 s past its expiry (distribution's leeway).
REGISTRY_LEEWAY = 60


class TokenError(ValueError):
    """A JWT that is malformed, forged, expired or meant for someone else; says which."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        raise TokenError("token: not base64url") from None


@dataclass(frozen=True)
class Issuer:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    def cert_pem(self) -> bytes:
        return ca_mod.cert_pem(self.cert)

    def sign(self, claims: dict) -> str:
        header = {"typ": "JWT", "alg": "ES256",
                  "x5c": [base64.b64encode(self.cert.public_bytes(Encoding.DER)).decode()]}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        r, s = decode_dss_signature(self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        return f"{signing_input}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def verify(self, token: str, audience: str, now: float | None = None) -> dict:
        """The claims of a token this issuer signed for ``audience`` and still valid at
        ``now``; raises TokenError saying what is wrong."""
        parts = token.split(".")
        if len(parts) != 3:
            raise TokenError("token: not a JWT (want three dot-separated parts)")
        try:
            header, claims = json.loads(_unb64(parts[0])), json.loads(_unb64(parts[1]))
        except ValueError:
            raise TokenError("token: header or claims are not JSON") from None
        if not isinstance(header, dict) or header.get("alg") != "ES256" or not isinstance(claims, dict):
            raise TokenError("token: want an ES256 JWT")
        raw = _unb64(parts[2])
        if len(raw) != 64:
            raise TokenError("token: bad signature length")
        signature = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        try:
            self.key.public_key().verify(signature, f"{parts[0]}.{parts[1]}".encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise TokenError("token: signature does not verify (not issued by this cluster)") from None
        if claims.get("iss") != ISSUER or claims.get("aud") != audience:
            raise TokenError(f"token: issued for {claims.get('aud')!r}, not {audience!r}")
        now = time.time() if now is None else now
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or exp <= now:
            raise TokenError("token: expired; get a new one (`shoal registry login`)")
        return claims


def claims(subject: str, audience: str, ttl: float, now: float | None = None, **extra: object) -> dict:
    """A claim set valid from ``now`` for ``ttl`` seconds, with a fresh ``jti``."""
    now = time.time() if now is None else now
    return {"iss": ISSUER, "sub": subject, "aud": audience, "iat": int(now), "nbf": int(now) - 1,
            "exp": int(now + ttl), "jti": secrets.token_hex(16), **extra}


def create(ca: CertificateAuthority) -> Issuer:
    """A new issuer key and its certificate, signed by ``ca``."""
    key = ca_mod.new_key()
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "shoal-registry-token-issuer")]))
            .issuer_name(ca.cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - ca_mod.CLOCK_SKEW).not_valid_after(now + datetime.timedelta(days=ISSUER_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            # distribution wants digitalSignature on the certificate that signs its tokens.
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False),
                           critical=True)
            .sign(ca.key, hashes.SHA256()))
    return Issuer(key, cert)


def _decode(data: bytes) -> Issuer:
    doc = json.loads(data)
    return Issuer(ca_mod.load_key(doc["key"].encode()), ca_mod.load_cert(doc["cert"]))


def load_or_create(store: Store, sealer: Sealer, ca: CertificateAuthority) -> Issuer:
    """The cluster's issuer; the first caller creates it (create-only: a caller that loses
    the race reads the winner's)."""
    rec = store.get(ISSUER_KEY)
    if rec is not None:
        return _decode(sealer.unseal(rec.value, ISSUER_KEY))
    issuer = create(ca)
    doc = json.dumps({"key": ca_mod.key_pem(issuer.key).decode(), "cert": issuer.cert_pem().decode()}).encode()
    try:
        store.create(ISSUER_KEY, sealer.seal(doc, ISSUER_KEY))
    except Conflict:
        rec = store.get(ISSUER_KEY)
        assert rec is not None
        return _decode(sealer.unseal(rec.value, ISSUER_KEY))
    return issuer
