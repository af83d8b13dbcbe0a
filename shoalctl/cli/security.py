"""`shoal token create|list|revoke`, `shoal user create|revoke|list`, `shoal secret put|list|delete`,
`shoal ca rotate|show` and `shoal whoami`: who may join and act, over the Security API."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from shoal.durations import parse_duration
from shoal.security import ca as ca_mod
from shoal.security.sealing import write_private
from shoal.security.tokens import state
from shoal.v1 import security_pb2 as sec
from shoal.v1 import security_pb2_grpc
from shoalctl.cli.client import Client, add_verb, connect, endpoint
from shoalctl.cli.errors import CliError
from shoalctl.cli.output import ago, print_json, table


def _client(a) -> Client:
    return connect(a, security_pb2_grpc.SecurityStub)


def _when(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(epoch)) if epoch else "never"


def _second(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


# ---- tokens -----------------------------------------------------------------------------

def token_create(a) -> None:
    resp = _client(a).CreateJoinToken(sec.CreateJoinTokenRequest(
        ttl_seconds=parse_duration(a.ttl, "--ttl"), max_uses=a.uses, description=a.description, cluster=a.cluster))
    if a.output == "json":
        print_json({"token": resp.token, "id": resp.info.id, "cluster": resp.info.cluster,
                    "expiresAt": resp.info.expires_at, "maxUses": resp.info.max_uses})
        return
    print(resp.token)
    uses = f"{resp.info.max_uses} join(s)" if resp.info.max_uses else "unlimited joins"
    print(f"# cluster {resp.info.cluster}, expires {_when(resp.info.expires_at)}, {uses}; shown only now. "
          "On the new node:", file=sys.stderr)
    print(f"#   SHOAL_JOIN_TOKEN=<token> shoal agent --join {endpoint(a.endpoint).split(',')[0]} "
          f"--cluster {resp.info.cluster}", file=sys.stderr)


def token_list(a) -> None:
    tokens = _client(a).ListJoinTokens(sec.ListJoinTokensRequest()).tokens
    if a.output == "json":
        print_json(list(tokens))
        return
    now = time.time()
    table(["ID", "CLUSTER", "STATE", "USED", "EXPIRES", "AGE", "DESCRIPTION"],
          [[t.id, t.cluster or "default", state(t, now), f"{t.used}/{t.max_uses or '∞'}", _when(t.expires_at),
            ago(t.created_at), t.description or "-"] for t in tokens])


def token_revoke(a) -> None:
    t = _client(a).RevokeJoinToken(sec.RevokeJoinTokenRequest(id=a.id))
    print(f"revoked token {t.id}")


# ---- operators --------------------------------------------------------------------------

def user_create(a) -> None:
    try:
        ca_mod.check_identity_name(a.name, "NAME")
    except ca_mod.CertError as exc:
        raise CliError(str(exc)) from None
    grants = [g.strip() for g in (a.grant or []) for g in g.split(",") if g.strip()]
    try:
        ca_mod.check_grants(grants, "--grant")
    except ca_mod.CertError as exc:
        raise CliError(str(exc)) from None
    if grants and a.role != "viewer":
        raise CliError("--grant: only a viewer takes grants (an admin may do everything)")
    out = Path(a.out or f"./shoal-{a.name}")
    key = ca_mod.new_key()
    resp = _client(a).IssueOperatorCertificate(sec.IssueOperatorCertificateRequest(
        name=a.name, role=a.role, csr_pem=ca_mod.make_csr(key).decode(), grants=grants,
        ttl_seconds=parse_duration(a.ttl, "--ttl")))
    try:
        out.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_private(out / f"{a.name}.key", ca_mod.key_pem(key))
        write_private(out / f"{a.name}.crt", resp.cert_pem.encode())
        write_private(out / "ca.crt", resp.ca_bundle_pem.encode())
    except OSError as exc:
        raise CliError(f"--out {out}: {exc}") from None
    d = out.resolve()
    granted = f" granted {', '.join(grants)}" if grants else ""
    print(f"# {resp.identity}{granted}: key, certificate and CA bundle in {d} (the key never left this machine)")
    print(f"export SHOAL_CA={d / 'ca.crt'} SHOAL_CERT={d / f'{a.name}.crt'} SHOAL_KEY={d / f'{a.name}.key'}")


def user_revoke(a) -> None:
    try:
        ca_mod.check_identity_name(a.name, "NAME")
    except ca_mod.CertError as exc:
        raise CliError(str(exc)) from None
    r = _client(a).RevokeOperatorCertificates(sec.RevokeOperatorCertificatesRequest(name=a.name)).revoked
    print(f"revoked every certificate and access key issued to {r.name} before {_second(r.not_before)}; "
          f"`shoal user create {r.name}` issues a new certificate")


def user_list(a) -> None:
    revoked = _client(a).ListRevokedOperators(sec.ListRevokedOperatorsRequest()).revoked
    if a.output == "json":
        print_json(list(revoked))
        return
    table(["NAME", "CERTIFICATES ISSUED BEFORE THIS ARE REVOKED"], [[r.name, _second(r.not_before)] for r in revoked])


def whoami(a) -> None:
    who = _client(a).WhoAmI(sec.WhoAmIRequest())
    extra = [f"cluster {who.cluster}"] if who.cluster else []
    extra += [f"granted {', '.join(who.grants)}"] if who.grants else []
    print(" ".join([who.identity or "anonymous", *(f"({e})" for e in extra)]))


def ca_rotate(a) -> None:
    resp = _client(a).RotateCA(sec.RotateCARequest())
    print(f"new CA {resp.new_fingerprint}")
    print(f"trusted: {', '.join(f[:16] for f in resp.trusted_fingerprints)}")
    print("# existing certificates keep working; replicas pick the new CA up within 15 s. Join tokens "
          "made before now name the old CA: create new ones.")


# ---- secrets ----------------------------------------------------------------------------

def secret_put(a) -> None:
    if a.value is not None and a.value_from_stdin:
        raise CliError("give --value or --value-from-stdin, not both")
    if a.value is None and not a.value_from_stdin:
        raise CliError("give the value with --value-from-stdin (keeps it out of shell history) or --value")
    value = sys.stdin.read() if a.value_from_stdin else a.value
    if a.value_from_stdin and value.endswith("\n") and not a.keep_newline:
        value = value[:-1]
    info = _client(a).PutSecret(sec.PutSecretRequest(name=a.name, value=value, description=a.description))
    print(f"stored secret {info.name} (version {info.version})")


def secret_list(a) -> None:
    secrets = _client(a).ListSecrets(sec.ListSecretsRequest()).secrets
    if a.output == "json":
        print_json(list(secrets))
        return
    table(["NAME", "VERSION", "UPDATED", "DESCRIPTION"],
          [[s.name, s.version, ago(s.updated_at), s.description or "-"] for s in secrets])


def secret_delete(a) -> None:
    info = _client(a).DeleteSecret(sec.DeleteSecretRequest(name=a.name))
    print(f"deleted secret {info.name}")


# ---- wiring -----------------------------------------------------------------------------


def register(sub) -> None:
    noun = sub.add_parser("token", help="join tokens: what a new node needs to join the cluster")
    verbs = noun.add_subparsers(dest="verb", metavar="VERB", required=True)
    p = add_verb(verbs, "create", token_create, "print a new join token (shown only once)", output=True)
    p.add_argument("--ttl", default="1h", help="lifetime: 90s, 30m, 1h, 7d; 0 never expires (default 1h)")
    p.add_argument("--uses", type=int, default=1, help="how many nodes may join with it; 0 unlimited (default 1)")
    p.add_argument("--description", default="", help="what the token is for")
    p.add_argument("--cluster", default="default",
                   help="the cluster its nodes join; they may register into no other (default: default)")
    add_verb(verbs, "list", token_list, "list tokens (never their secrets)", output=True)
    p = add_verb(verbs, "revoke", token_revoke, "revoke a token: no more joins with it")
    p.add_argument("id", metavar="ID")

    noun = sub.add_parser("user", help="operator identities (client certificates)")
    verbs = noun.add_subparsers(dest="verb", metavar="VERB", required=True)
    p = add_verb(verbs, "create", user_create, "issue an operator certificate: admin, or read-only viewer")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--role", choices=("admin", "viewer"), default="viewer")
    p.add_argument("--grant", action="append", metavar="PERMISSION",
                   help="viewer only: also allow logs (stream task logs), secrets (list secrets) or exec "
                        "(shoal exec); repeat or comma-separate")
    p.add_argument("--out", help="directory for NAME.key, NAME.crt and ca.crt (default ./shoal-NAME)")
    p.add_argument("--ttl", default="365d", help="validity (default 365d, at most 5 years)")
    p = add_verb(verbs, "revoke", user_revoke,
                 "revoke every certificate issued to NAME so far, at once on every replica (admin)")
    p.add_argument("name", metavar="NAME")
    add_verb(verbs, "list", user_list, "operators whose certificates were revoked, and since when", output=True)

    add_verb(sub, "whoami", whoami, "the identity the control plane sees for you")

    noun = sub.add_parser("ca", help="the cluster CA")
    verbs = noun.add_subparsers(dest="verb", metavar="VERB", required=True)
    add_verb(verbs, "rotate", ca_rotate, "sign with a new CA from now on; the old one stays trusted")

    noun = sub.add_parser("secret", help="secrets for task definitions (containerDefinitions[].secrets)")
    verbs = noun.add_subparsers(dest="verb", metavar="VERB", required=True)
    p = add_verb(verbs, "put", secret_put, "store or replace a secret (encrypted at rest)")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--value", help="the value (visible in shell history: prefer --value-from-stdin)")
    p.add_argument("--value-from-stdin", action="store_true", help="read the value from stdin")
    p.add_argument("--keep-newline", action="store_true", help="keep a trailing newline read from stdin")
    p.add_argument("--description", default="")
    add_verb(verbs, "list", secret_list, "list secrets (names only, never values)", output=True)
    p = add_verb(verbs, "delete", secret_delete, "delete a secret")
    p.add_argument("name", metavar="NAME")
