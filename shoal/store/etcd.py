"""``Store`` over etcd v3 (pyetcd, gRPC): the production store.

Every pyetcd and gRPC error comes out as ``StoreError``; a lost compare as ``Conflict``.
With several endpoints the client fails over: a connection error marks the endpoint failed
and the next call goes to another one.

An etcd leader election (UNAVAILABLE "no leader" / "leader changed" from every member for a
second or three) or a dead member is ridden out, not surfaced: every call, writes included,
is retried on transient errors with Shoal's backoff while the next try would start within
``retry_window`` seconds of the first failure (``shoal.store.etcd_retry``), moving between
the configured endpoints. A conditional write (create, cas, delete on revision, txn) whose
reply was lost may have been applied, so its retry can lose its compare to itself; such a
``Conflict`` after a lost reply is checked by reading the keys back: if every key put holds
exactly the value and lease written, all at one revision, and every key deleted is gone,
the write is reported as applied at that revision (see ``store/base.py``). An
unconditional delete retried after a lost reply answers False (the key was already gone);
a retried grant may leave an unused lease that expires on its own.

Watches run on pyetcd's watch stream; their batches reach callbacks through a dispatcher
thread of ours, so a callback may call the store (even watch again) without deadlocking
pyetcd. When the stream breaks, or the start revision was compacted, each callback gets
one empty batch and the watch ends.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

import grpc
import pyetcd
from pyetcd import exceptions as etcd_exc
from pyetcd import transactions as etcd_txn
from pyetcd import utils as etcd_utils
from pyetcd import watch as etcd_watch
from pyetcd.events import DeleteEvent

from shoal import logs
from shoal.store.base import (
    KV,
    Compare,
    Conflict,
    Delete,
    Event,
    Listing,
    Put,
    Store,
    StoreError,
    WatchCallback,
)
from shoal.store.dispatch import WatchDispatcher, WatchHandle, lease_seconds
from shoal.store.etcd_retry import DEFAULT_RETRY_WINDOW, GaveUp, Retrier

log = logging.getLogger(__name__)

T = TypeVar("T")

# A failed endpoint is tried again after this long (pyetcd's default is 300 s, which would
# leave a single-endpoint store dead for five minutes after one blip).
_ENDPOINT_RETRY_SECONDS = 2.0

# gRPC's default 4 MiB reply limit fails a listing of ~5,000 tasks; etcd itself sends up
# to 2 GiB. Listings are bounded by what the cluster holds, not by a message size.
_CHANNEL_OPTIONS = [("grpc.max_receive_message_length", 512 * 1024 * 1024)]


def parse_endpoints(endpoints: str | Sequence[str]) -> list[tuple[str, int, bool]]:
    """ "http://h:2379,https://h2:2379" or a list of them -> [(host, port, secure)];
    raises ValueError naming the bad endpoint."""
    items = endpoints.split(",") if isinstance(endpoints, str) else list(endpoints)
    parsed = []
    for raw in items:
        text = raw.strip()
        if not text:
            continue
        url = urlsplit(text if "://" in text else f"http://{text}")
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"etcd endpoint {text!r}: want http://HOST:PORT or https://HOST:PORT")
        try:
            port = url.port or 2379
        except ValueError:
            raise ValueError(f"etcd endpoint {text!r}: port must be 1-65535") from None
        parsed.append((url.hostname, port, url.scheme == "https"))
    if not parsed:
        raise ValueError("etcd endpoints: none given")
    return parsed


class _Watcher(etcd_watch.Watcher):
    """pyetcd's watcher drops a server-side cancel that has no events (e.g. etcd cancelling
    a slow or compacted watch), which would leave our watch silently dead; pass it on as an
    error instead."""

    def _handle_response(self, rs: Any) -> None:
        if rs.created and rs.compact_revision != 0:
            # pyetcd records this error without waking add_callback, which then waits out
            # its whole timeout before raising it.
            with self._lock:
                if self._new_watch is not None:
                    self._new_watch.err = etcd_exc.RevisionCompactedError(rs.compact_revision)
                    self._new_watch_cond.notify_all()
            return
        if rs.canceled and not rs.created and not rs.events and rs.compact_revision == 0:
            with self._lock:
                callback = self._callbacks.pop(rs.watch_id, None)
            if callback is not None:
                etcd_watch._safe_callback(
                    callback, etcd_exc.Etcd3Exception(f"watch canceled: {rs.cancel_reason}")
                )
            return
        super()._handle_response(rs)


class _Client(pyetcd.MultiEndpointEtcd3Client):
    def get_watcher(self) -> etcd_watch.Watcher:
        return _Watcher(
            pyetcd.etcdrpc.WatchStub(self.channel),
            timeout=self.timeout,
            call_credentials=self.call_credentials,
            metadata=self.metadata,
        )


class EtcdStore(Store):
    def __init__(
        self,
        endpoints: str | Sequence[str],
        timeout: float = 5.0,
        ca_cert: str | None = None,
        cert_key: str | None = None,
        cert_cert: str | None = None,
        retry_window: float = DEFAULT_RETRY_WINDOW,
    ) -> None:
        """``timeout``: seconds one gRPC call may take. ``retry_window``: seconds a call keeps
        retrying transient errors (an election, a dead member) before ``StoreError``."""
        if (cert_key is None) != (cert_cert is None):
            raise ValueError("cert_key and cert_cert must be given together")
        parsed = parse_endpoints(endpoints)
        creds = None
        if any(secure for _, _, secure in parsed):
            if ca_cert is None:
                raise ValueError("ca_cert is required for https etcd endpoints")
            creds = pyetcd.MultiEndpointEtcd3Client.get_secure_creds(ca_cert, cert_key, cert_cert)
        eps = [
            pyetcd.Endpoint(
                host, port, secure=secure, creds=creds if secure else None, time_retry=_ENDPOINT_RETRY_SECONDS,
                opts=_CHANNEL_OPTIONS,
            )
            for host, port, secure in parsed
        ]
        self._endpoints = eps
        self._client = _Client(endpoints=eps, timeout=timeout, failover=True)
        self._retrier = Retrier(retry_window, on_exhausted=self._forget_failures, where=lambda: _where(self._client))
        self._dispatcher = WatchDispatcher("etcd-store-watch")
        self._closed = False
        self._close_lock = threading.Lock()

    @property
    def current_endpoint(self) -> str:
        """host:port of the endpoint calls go to now (changes on failover)."""
        return _where(self._client)

    # -- reads ---------------------------------------------------------------------------

    def get(self, key: str) -> KV | None:
        resp = self._call(lambda: self._client.get_response(key))
        return _kv(resp.kvs[0]) if resp.kvs else None

    def list(self, prefix: str) -> Listing:
        start, end = _range(prefix)
        resp = self._call(
            lambda: self._client.get_range_response(start, end, sort_order="ascend")
        )
        return Listing(kvs=[_kv(kv) for kv in resp.kvs], revision=resp.header.revision)

    # -- writes --------------------------------------------------------------------------

    def put(self, key: str, value: bytes, lease: int = 0) -> int:
        resp = self._call(lambda: self._client.put(key, bytes(value), lease=lease or None))
        return resp.header.revision

    def create(self, key: str, value: bytes, lease: int = 0) -> int:
        return self.txn([Compare(key, 0, on_create=True)], [Put(key, value, lease)])

    def cas(self, key: str, value: bytes, mod_revision: int, lease: int = 0) -> int:
        return self.txn([Compare(key, mod_revision)], [Put(key, value, lease)])

    def delete(self, key: str, mod_revision: int | None = None) -> bool:
        if mod_revision is None:
            resp = self._call(lambda: self._client.delete(key, return_response=True))
            return resp.deleted > 0
        _, deleted = self._txn([Compare(key, mod_revision)], [Delete(key)])
        # A delete whose lost reply is confirmed by the key being gone did delete it.
        return deleted is None or deleted > 0

    def txn(self, compares: Sequence[Compare], ops: Sequence[Put | Delete]) -> int:
        return self._txn(compares, ops)[0]

    # -- leases --------------------------------------------------------------------------

    def grant_lease(self, ttl: float) -> int:
        seconds = lease_seconds(ttl)
        # A retried grant may leave an unused lease behind; it expires on its own.
        lease = self._call(lambda: self._client.lease(seconds))
        return int(lease.id)

    def refresh_lease(self, lease: int) -> bool:
        responses = self._call(lambda: list(self._client.refresh_lease(lease)))
        # etcd answers a keepalive for an unknown or expired lease with TTL 0.
        return bool(responses) and responses[0].TTL > 0

    def revoke_lease(self, lease: int) -> None:
        try:
            self._call(lambda: self._client.revoke_lease(lease))
        except StoreError as exc:
            if isinstance(exc.__cause__, grpc.RpcError) and exc.__cause__.code() == grpc.StatusCode.NOT_FOUND:
                return
            raise

    # -- watches -------------------------------------------------------------------------

    def watch(self, prefix: str, start_revision: int, callback: WatchCallback) -> Callable[[], None]:
        """As ``Store.watch``; raises ``StoreError`` if no endpoint accepts the watch."""
        handle = WatchHandle(callback)
        start, end = _range(prefix)
        kwargs: dict[str, Any] = {"range_end": end}
        if start_revision > 0:
            kwargs["start_revision"] = start_revision

        def on_response(resp: Any) -> None:
            if isinstance(resp, etcd_watch.WatchResponse):
                events = [_event(e) for e in resp.events]
                if events:
                    self._dispatcher.submit(handle, events)
                return
            # An exception (stream broke, compaction) or None (stream closed on failover).
            if self._closed:
                return  # the owner closed the store; nobody will re-list
            if not handle.stopped:
                log.info("watch ended; watcher must re-list", extra=logs.kv(prefix=prefix, why=resp))
            self._dispatcher.submit(handle, [])

        try:
            watch_id = self._call(
                lambda: self._client.add_watch_callback(start, on_response, **kwargs)
            )
        except StoreError as exc:
            if isinstance(exc.__cause__, etcd_exc.RevisionCompactedError):
                self._dispatcher.submit(handle, [])
                return handle.stop
            raise

        def cancel() -> None:
            if handle.stopped:
                return
            handle.stop()
            try:
                self._client.cancel_watch(watch_id)
            except Exception as exc:  # the stream may already be gone; nothing left to cancel
                log.debug("cancel watch failed", extra=logs.kv(prefix=prefix, error=exc))

        return cancel

    def close(self) -> None:
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        try:
            self._client.close()
        finally:
            self._dispatcher.close()

    # -- internals -----------------------------------------------------------------------

    def _txn(self, compares: Sequence[Compare], ops: Sequence[Put | Delete]) -> tuple[int, int | None]:
        """(revision, keys the first op deleted) of an applied transaction; the count is
        None when a lost reply was confirmed by reading the keys back."""
        tx = self._client.transactions
        conds = [(tx.create(c.key) if c.on_create else tx.mod(c.key)) == c.revision for c in compares]
        success = [_op(op) for op in ops]
        # pyetcd's transaction() drops the header; build the request through its helpers
        # and call the stub so the revision comes back.
        req = pyetcd.etcdrpc.TxnRequest(
            compare=[c.build_message() for c in conds],
            success=self._client._ops_to_requests(success),
            failure=[],
        )
        lost_reply = False

        def note(_: BaseException) -> None:
            nonlocal lost_reply
            lost_reply = True

        resp = self._call(lambda: _with_grpc_errors(self._client, lambda: self._send_txn(req)), on_transient=note)
        if resp.succeeded:
            deleted = resp.responses[0].response_delete_range.deleted if resp.responses else 0
            return resp.header.revision, deleted
        if lost_reply:
            revision = self._applied_at(ops)
            if revision:
                log.info("a retried etcd write lost its compare to its own first try; reported as applied",
                         extra=logs.kv(keys=[op.key for op in ops], revision=revision))
                return revision, None
        keys = ", ".join(c.key for c in compares)
        raise Conflict(f"compare failed on {keys}")

    def _send_txn(self, req: Any) -> Any:
        """The one Txn call on the wire (tests lose its reply here to act out a cut link)."""
        return self._client.kvstub.Txn(
            req,
            self._client.timeout,
            credentials=self._client.call_credentials,
            metadata=self._client.metadata,
        )

    def _applied_at(self, ops: Sequence[Put | Delete]) -> int:
        """A revision by which ``ops`` were applied, if what the store holds now proves it,
        else 0: every key put holds its value and lease, all at one revision (that one);
        every key deleted is gone (for a transaction of deletes only, the revision read at:
        the delete landed at or before it). A prefix delete proves nothing: 0."""
        revisions = set()
        read_at = 0
        for op in ops:
            resp = self._call(lambda key=op.key: self._client.get_response(key))
            read_at = max(read_at, resp.header.revision)
            kv = _kv(resp.kvs[0]) if resp.kvs else None
            if isinstance(op, Delete):
                if op.prefix or kv is not None:
                    return 0
            elif kv is None or kv.value != bytes(op.value) or kv.lease != op.lease:
                return 0
            else:
                revisions.add(kv.mod_revision)
        if len(revisions) > 1:
            return 0
        return revisions.pop() if revisions else read_at

    def _forget_failures(self) -> None:
        # Every endpoint failed recently: rather than refuse for pyetcd's retry time, let the
        # next try go to them all again.
        for ep in self._endpoints:
            ep.last_failed = 0

    def _call(self, fn: Callable[[], T], on_transient: Callable[[BaseException], None] = lambda _: None) -> T:
        if self._closed:
            raise StoreError("store is closed")
        try:
            return self._retrier.run(fn, on_transient)
        except GaveUp as exc:
            raise StoreError(f"etcd unreachable ({_where(self._client)}): {exc}") from exc.last
        except etcd_exc.Etcd3Exception as exc:
            raise StoreError(f"etcd error: {exc.__class__.__name__} {exc}") from exc
        except grpc.RpcError as exc:
            raise StoreError(f"etcd error: {exc.code().name}: {exc.details()}") from exc  # type: ignore[attr-defined]
        except ValueError as exc:
            # pyetcd raises ValueError when asked to use an endpoint it marked failed.
            raise StoreError(f"etcd error: {exc}") from exc


def _with_grpc_errors(client: pyetcd.MultiEndpointEtcd3Client, fn: Callable[[], T]) -> T:
    """Runs a raw stub call with pyetcd's error handling (marks the endpoint failed on a
    connection error, maps gRPC codes to pyetcd exceptions)."""
    try:
        return fn()
    except grpc.RpcError as exc:
        client._manage_grpc_errors(exc)
        raise


def _where(client: pyetcd.MultiEndpointEtcd3Client) -> str:
    label = getattr(client, "_current_ep_label", None)
    return str(label or "?")


def _range(prefix: str) -> tuple[bytes, bytes]:
    if not prefix:
        # etcd's spelling of "every key": from \0 to the end of the keyspace.
        return b"\0", b"\0"
    start = prefix.encode()
    return start, etcd_utils.prefix_range_end(start)


def _op(op: Put | Delete) -> Any:
    if isinstance(op, Put):
        return etcd_txn.Put(op.key, bytes(op.value), lease=op.lease or None)
    if isinstance(op, Delete):
        if op.prefix:
            start, end = _range(op.key)
            return etcd_txn.Delete(start, range_end=end)
        return etcd_txn.Delete(op.key)
    raise StoreError(f"txn op must be Put or Delete, got {type(op).__name__}")


def _kv(kv: Any) -> KV:
    return KV(
        key=kv.key.decode(),
        value=bytes(kv.value),
        mod_revision=kv.mod_revision,
        create_revision=kv.create_revision,
        lease=kv.lease,
    )


def _event(e: Any) -> Event:
    if isinstance(e, DeleteEvent):
        return Event(
            "delete", KV(key=e.key.decode(), value=b"", mod_revision=e.mod_revision, create_revision=0)
        )
    return Event(
        "put",
        KV(
            key=e.key.decode(),
            value=bytes(e.value),
            mod_revision=e.mod_revision,
            create_revision=e.create_revision,
            lease=e.lease,
        ),
    )
