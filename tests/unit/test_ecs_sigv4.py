"""Signature V4 verification against botocore's own signer: what the SDKs sign passes,
and each kind of bad request (unsigned headers that matter, a body that is not the one
hashed, outside the clock window, replayed) gets the error AWS gives it, naming what is
wrong."""

from __future__ import annotations

import email.utils
import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from controlplane.ecs import appscaling, ecr, protocol, server, sigv4
from controlplane.ecs.elbv2 import gateway as elbv2
from controlplane.ecs.elbv2.actions import ACTIONS
from controlplane.ecs.errors import EcsError
from controlplane.ecs.replay import ReplayCache
from shoal.v1 import accesskeys_pb2 as ak
from shoal.v1 import roles_pb2 as ro

KEY = "AKSHAAAAAAAAAAAAAAAA"
SECRET = "s3cr3t/with+chars=="
TARGET = "AmazonEC2ContainerServiceV20141113.ListClusters"


CREDENTIAL = ak.AccessKey(access_key_id=KEY, secret_access_key=SECRET, user="alice", role="viewer")


def secrets(key_id: str) -> ak.AccessKey | None:
    return CREDENTIAL if key_id == KEY else None


def signed(body: dict | None = None, *, key: str = KEY, secret: str = SECRET, service: str = "ecs",
           url: str = "http://127.0.0.1:7480/", token: str | None = None, target: str = TARGET) -> AWSRequest:
    req = AWSRequest(method="POST", url=url, data=json.dumps(body or {}).encode(),
                     headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"})
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


def refused(req: sigv4.Request, now: float | None = None, replays: ReplayCache | None = None) -> EcsError:
    with pytest.raises(EcsError) as caught:
        sigv4.verify(req, secrets, now=now, replays=replays)
    return caught.value


def hand_signed(signed_headers: list[str], headers: dict[str, str], body: bytes = b"{}",
                at: float | None = None) -> sigv4.Request:
    """A request signed over exactly ``signed_headers`` (what a careless or hostile client
    could send; botocore always signs everything it sends)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if at is None else at))
    all_headers = {"host": "127.0.0.1:7480", **{k.lower(): v for k, v in headers.items()}}
    req = sigv4.Request("POST", "/", "", {k: [v] for k, v in all_headers.items()}, body)
    scope = f"{stamp[:8]}/us-east-1/ecs/aws4_request"
    sig = sigv4.signature(SECRET, stamp, scope,
                          sigv4.canonical_request(req, signed_headers, hashlib.sha256(body).hexdigest()))
    auth = f"AWS4-HMAC-SHA256 Credential={KEY}/{scope}, SignedHeaders={';'.join(signed_headers)}, Signature={sig}"
    return sigv4.Request("POST", "/", "", {**req.headers, "authorization": [auth]}, body)


def test_botocore_signed_request_verifies() -> None:
    assert sigv4.verify(as_received(signed({"maxResults": 5})), secrets) is CREDENTIAL


def test_query_string_and_path_are_part_of_the_signature() -> None:
    req = signed(url="http://127.0.0.1:7480/some/path?b=2&a=1&empty=")
    assert sigv4.verify(as_received(req), secrets) is CREDENTIAL


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


def test_session_token_with_a_long_term_key_is_refused() -> None:
    assert refused(as_received(signed(token="from-sts"))).ecs_type == "UnrecognizedClientException"


def test_session_key_needs_its_own_session_token() -> None:
    session = ro.TaskCredential(access_key_id="ASSHAAAAAAAAAAAAAAAA", secret_access_key=SECRET,
                                session_token="the-token")

    def lookup(key_id: str) -> ro.TaskCredential | None:
        return session if key_id == session.access_key_id else None

    good = as_received(signed(key=session.access_key_id, token="the-token"))
    assert sigv4.verify(good, lookup) is session
    for token in (None, "another-token"):
        with pytest.raises(EcsError) as caught:
            sigv4.verify(as_received(signed(key=session.access_key_id, token=token)), lookup)
        assert caught.value.ecs_type == "UnrecognizedClientException"


def test_tampered_body_or_target_fails() -> None:
    req = as_received(signed({"maxResults": 5}))
    tampered = sigv4.Request(req.method, req.path, req.query, req.headers, b'{"maxResults": 6}')
    assert refused(tampered).ecs_type == "InvalidSignatureException"
    other_op = as_received(signed(), **{"X-Amz-Target": "AmazonEC2ContainerServiceV20141113.DeleteCluster"})
    assert refused(other_op).ecs_type == "InvalidSignatureException"


def test_signature_for_another_service_is_refused() -> None:
    err = refused(as_received(signed(service="s3")))
    assert err.ecs_type == "InvalidSignatureException" and "ecs" in err.message


def test_clock_skew_up_to_5_minutes_is_tolerated() -> None:
    req = as_received(signed())
    signed_at = time.time()
    assert sigv4.verify(req, secrets, now=signed_at + 4 * 60) is CREDENTIAL
    assert sigv4.verify(req, secrets, now=signed_at - 4 * 60) is CREDENTIAL
    late = refused(req, now=signed_at + 6 * 60)
    assert late.ecs_type == "InvalidSignatureException" and "Signature expired" in late.message
    assert "5 min" in late.message
    early = refused(req, now=signed_at - 6 * 60)
    assert early.ecs_type == "InvalidSignatureException" and "not yet current" in early.message


def test_malformed_authorization_is_incomplete() -> None:
    assert refused(as_received(signed(), Authorization="AWS4-HMAC-SHA256 garbage")).ecs_type == (
        "IncompleteSignatureException")
    assert refused(as_received(signed(), Authorization="AWS AKID:sig")).ecs_type == "IncompleteSignatureException"
    no_date = as_received(signed())
    del no_date.headers["x-amz-date"]  # type: ignore[attr-defined]
    assert refused(no_date).ecs_type == "IncompleteSignatureException"


def test_signature_over_host_alone_cannot_be_turned_into_another_operation() -> None:
    """The attack seen: ListServices signed over `host` only, its target then rewritten."""
    listing = hand_signed(["host"], {"X-Amz-Target": TARGET.replace("ListClusters", "ListServices"),
                                     "X-Amz-Date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())})
    turned = sigv4.Request(listing.method, listing.path, listing.query,
                           {**listing.headers, "x-amz-target": [TARGET.replace("ListClusters", "DeleteCluster")]},
                           listing.body)
    for req in (listing, turned):
        err = refused(req)
        assert err.ecs_type == "IncompleteSignatureException"
        assert "SignedHeaders must include x-amz-target, x-amz-date" in err.message


def test_every_sent_x_amz_header_must_be_signed() -> None:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    body = b'{"cluster":"default"}'
    req = hand_signed(["host", "x-amz-date", "x-amz-target"],
                      {"X-Amz-Target": TARGET, "X-Amz-Date": stamp,
                       "X-Amz-Content-Sha256": hashlib.sha256(body).hexdigest()}, body)
    err = refused(req)
    assert err.ecs_type == "IncompleteSignatureException" and "x-amz-content-sha256" in err.message
    signed_all = hand_signed(["host", "x-amz-content-sha256", "x-amz-date", "x-amz-target"],
                             {"X-Amz-Target": TARGET, "X-Amz-Date": stamp,
                              "X-Amz-Content-Sha256": hashlib.sha256(body).hexdigest()}, body)
    assert sigv4.verify(signed_all, secrets) is CREDENTIAL


def test_body_is_always_hashed_whatever_the_content_hash_header_says() -> None:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for declared in ("UNSIGNED-PAYLOAD", hashlib.sha256(b"something else").hexdigest()):
        req = hand_signed(["host", "x-amz-content-sha256", "x-amz-date", "x-amz-target"],
                          {"X-Amz-Target": TARGET, "X-Amz-Date": stamp, "X-Amz-Content-Sha256": declared})
        err = refused(req)
        assert err.ecs_type == "InvalidSignatureException" and "x-amz-content-sha256" in err.message
    # Signed with the real hash, then the body swapped: the server hashes what arrived.
    good = hand_signed(["host", "x-amz-date", "x-amz-target"], {"X-Amz-Target": TARGET, "X-Amz-Date": stamp},
                       b'{"cluster":"a"}')
    swapped = sigv4.Request(good.method, good.path, good.query, good.headers, b'{"cluster":"b"}')
    assert sigv4.verify(good, secrets) is CREDENTIAL
    assert refused(swapped).ecs_type == "InvalidSignatureException"


def test_http_date_header_can_stand_in_for_x_amz_date_when_signed() -> None:
    date = email.utils.formatdate(usegmt=True)
    req = hand_signed(["date", "host", "x-amz-target"], {"X-Amz-Target": TARGET, "Date": date})
    assert sigv4.verify(req, secrets) is CREDENTIAL
    unsigned_date = hand_signed(["host", "x-amz-target"], {"X-Amz-Target": TARGET, "Date": date})
    err = refused(unsigned_date)
    assert err.ecs_type == "IncompleteSignatureException" and "include date" in err.message
    stale = email.utils.formatdate(time.time() - 600, usegmt=True)
    old = hand_signed(["date", "host", "x-amz-target"], {"X-Amz-Target": TARGET, "Date": stale}, at=time.time() - 600)
    assert "Signature expired" in refused(old).message


def test_signed_headers_must_be_sorted_lower_case() -> None:
    req = as_received(signed())
    auth = req.header("authorization")
    scrambled = auth.replace("SignedHeaders=content-type;host;x-amz-date;x-amz-target",
                             "SignedHeaders=host;content-type;x-amz-date;x-amz-target")
    assert scrambled != auth
    assert refused(as_received(signed(), Authorization=scrambled)).ecs_type == "IncompleteSignatureException"


def test_replayed_request_is_refused_within_the_window() -> None:
    replays = ReplayCache(sigv4.MAX_SKEW_SECONDS)
    req = as_received(signed({"maxResults": 5}))
    assert sigv4.verify(req, secrets, replays=replays) is CREDENTIAL
    # Told nothing about reads, the check covers every request.
    err = refused(req, replays=replays)
    assert err.ecs_type == "ThrottlingException" and "Request replayed" in err.message
    # A failed signature is not remembered: it cannot fill the cache or block the real one.
    other = as_received(signed({"maxResults": 6}))
    bad = sigv4.Request(other.method, other.path, other.query, other.headers, b'{"maxResults": 7}')
    assert refused(bad, replays=replays).ecs_type == "InvalidSignatureException"
    assert sigv4.verify(other, secrets, replays=replays) is CREDENTIAL
    assert len(replays) == 2


ECS_READ = sigv4.reads_by_target(protocol.TARGET_PREFIX, server.READS)
DELETE = TARGET.replace("ListClusters", "DeleteCluster")


def replay_refused(req: sigv4.Request, replays: ReplayCache,
                   is_read: Callable[[sigv4.Request], bool] = ECS_READ, **kw: Any) -> EcsError:
    with pytest.raises(EcsError) as caught:
        sigv4.verify(req, secrets, replays=replays, is_read=is_read, **kw)
    return caught.value


def test_an_identical_read_twice_in_one_second_is_served_both_times() -> None:
    replays = ReplayCache(sigv4.MAX_SKEW_SECONDS)
    poll = as_received(signed({"clusters": ["default"]}, target=TARGET.replace("ListClusters", "DescribeClusters")))
    for _ in range(3):
        assert sigv4.verify(poll, secrets, replays=replays, is_read=ECS_READ) is CREDENTIAL
    assert len(replays) == 0
    # The clock window still holds for reads.
    assert "Signature expired" in replay_refused(poll, replays, now=time.time() + 400).message


def test_an_identical_write_twice_is_refused_the_second_time() -> None:
    replays = ReplayCache(sigv4.MAX_SKEW_SECONDS)
    delete = as_received(signed({"cluster": "old"}, target=DELETE))
    assert sigv4.verify(delete, secrets, replays=replays, is_read=ECS_READ) is CREDENTIAL
    err = replay_refused(delete, replays)
    assert err.ecs_type == "ThrottlingException" and "Request replayed" in err.message


def test_a_replayed_write_cannot_pass_for_a_read() -> None:
    """Whoever holds a captured DeleteCluster can change only what the signature does not
    cover; each way of making the gateway take it for a ListClusters fails."""
    replays = ReplayCache(sigv4.MAX_SKEW_SECONDS)
    captured = signed({"cluster": "prod"}, target=DELETE)
    original = as_received(captured)
    assert sigv4.verify(original, secrets, replays=replays, is_read=ECS_READ) is CREDENTIAL

    def sent(**headers: list[str]) -> sigv4.Request:
        return sigv4.Request(original.method, original.path, original.query, {**original.headers, **headers},
                             original.body)

    # The target rewritten: it is signed.
    assert replay_refused(sent(**{"x-amz-target": [TARGET]}), replays).ecs_type == "InvalidSignatureException"
    # A read target beside the signed one, before or after it: a header is sent once.
    for targets in ([TARGET, DELETE], [DELETE, TARGET]):
        err = replay_refused(sent(**{"x-amz-target": targets}), replays)
        assert err.ecs_type == "IncompleteSignatureException" and "x-amz-target: sent more than once" in err.message
    # Spacing the signature ignores, unsigned headers, a path spelled another way: the same
    # signature, still the write, still refused.
    for variant in (sent(**{"x-amz-target": [f"  {DELETE} "]}), sent(**{"user-agent": ["aws-cli/2 waiter"]}),
                    sigv4.Request(original.method, "/./", original.query, original.headers, original.body)):
        err = replay_refused(variant, replays)
        assert err.ecs_type == "ThrottlingException" and "Request replayed" in err.message
    # An Action in the URL is signed too (and names nothing to a JSON protocol).
    relabelled = sigv4.Request(original.method, original.path, "Action=ListClusters", original.headers, original.body)
    assert replay_refused(relabelled, replays).ecs_type == "InvalidSignatureException"


def signed_form(body: str, url: str = "http://127.0.0.1:7480/clusters/default") -> sigv4.Request:
    req = AWSRequest(method="POST", url=url, data=body.encode(),
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials(KEY, SECRET), elbv2.SERVICE, "us-east-1").add_auth(req)
    return as_received(req)


def test_query_protocol_reads_are_the_actions_the_signed_body_names() -> None:
    replays = ReplayCache(sigv4.MAX_SKEW_SECONDS)
    form = {"service": elbv2.SERVICE, "always_signed": elbv2.ALWAYS_SIGNED,
            "is_read": lambda req: elbv2.Form(req.body).is_read(req)}
    describe = signed_form("Action=DescribeLoadBalancers&Version=2015-12-01")
    for _ in range(2):
        assert sigv4.verify(describe, secrets, replays=replays, **form) is CREDENTIAL
    delete = signed_form("Action=DeleteLoadBalancer&Version=2015-12-01&LoadBalancerArn=arn")
    assert sigv4.verify(delete, secrets, replays=replays, **form) is CREDENTIAL
    assert replay_refused(delete, replays, **form).ecs_type == "ThrottlingException"
    # The captured write with a read's Action added to the URL or the body: both are signed.
    for query, body in (("Action=DescribeLoadBalancers", delete.body),
                        ("", b"Action=DescribeLoadBalancers&" + delete.body)):
        tampered = sigv4.Request(delete.method, delete.path, query, delete.headers, body)
        assert replay_refused(tampered, replays, **form).ecs_type == "InvalidSignatureException"
    # Signed so by a key holder, a read Action in the URL does not make the body's write a
    # read (the body's is the one acted on), nor does a second Action in the body.
    for req in (signed_form("Action=DeleteLoadBalancer&Version=2015-12-01&LoadBalancerArn=arn2",
                            url="http://127.0.0.1:7480/clusters/default?Action=DescribeLoadBalancers"),
                signed_form("Action=DescribeLoadBalancers&Version=2015-12-01&Action=DeleteLoadBalancer")):
        assert sigv4.verify(req, secrets, replays=replays, **form) is CREDENTIAL
        assert replay_refused(req, replays, **form).ecs_type == "ThrottlingException"


@pytest.mark.parametrize("served, reads", [
    (server.ACTIONS, server.READS), (ecr.OPERATIONS, ecr.READS), (appscaling.OPERATIONS, appscaling.READS),
    (ACTIONS, elbv2.READS),
])
def test_each_gateway_names_its_reads(served: dict, reads: frozenset[str]) -> None:
    # A read missing from the list is replay-checked (pollers get Throttling); a write in it
    # could be replayed: every served read-named operation is listed, and nothing else.
    named_as_reads = {name for name in served if name.startswith(("Describe", "List", "Get", "BatchGet"))}
    # GetAuthorizationToken mints a registry login: not a read.
    assert reads == named_as_reads - {"GetAuthorizationToken"}


def test_replay_cache_is_bounded_and_refuses_what_it_forgot() -> None:
    cache = ReplayCache(window_seconds=300, capacity=2)
    now = 1_000_000.0
    assert cache.refusal("a", now - 30, now) is None
    assert cache.refusal("b", now - 20, now) is None
    assert cache.refusal("c", now - 10, now) is None  # "a" dropped: its time is the floor
    assert len(cache) == 2 and cache.floor == now - 30
    assert "replay cache is full" in cache.refusal("a", now - 30, now)
    assert "already used" in cache.refusal("b", now - 20, now)
    # Entries leave once their time is out of the window (the clock check refuses them anyway).
    later = now + 300 - 15
    assert cache.refusal("d", later, later) is None and len(cache) == 2


def test_a_signature_counts_only_for_the_service_it_was_scoped_to() -> None:
    # ECR and ECS share the gateway: a signature made for one is not accepted for the other.
    ecs = as_received(signed(service="ecs"))
    assert sigv4.verify(ecs, secrets) is CREDENTIAL
    with pytest.raises(EcsError, match="scoped to correct service: 'ecr'"):
        sigv4.verify(ecs, secrets, service="ecr")
    assert sigv4.verify(as_received(signed(service="ecr")), secrets, service="ecr") is CREDENTIAL
