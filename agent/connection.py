"""The agent's side of AgentGateway: register, then hold one Connect stream (Hello, a
catch-up state change per known task, heartbeats, state changes and log chunks up;
assignment sets and log requests down). Heartbeats go when due and state changes before any
log chunk (agent.outbox), so a log never delays what keeps the node alive and its tasks
known. A broken stream leaves the tasks as they are and reconnects with backoff and jitter,
rotating through the endpoints."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import grpc

import shoal.logs
from agent import identity
from agent.agent import Agent
from agent.execs import ExecRelay
from agent.host import HostProbe
from agent.logs import LogRelay
from agent.outbox import CLOSED, Outbox
from shoal.endpoints import Connection
from shoal.refusals import DEREGISTERED, REASON_TRAILER
from shoal.retry import backoff
from shoal.security import joining
from shoal.security.channels import ClientTLS
from shoal.v1 import (
    agent_pb2,
    agent_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    roles_pb2,
    roles_pb2_grpc,
    security_pb2,
    security_pb2_grpc,
    traffic_pb2,
)
from shoal.v1 import resources_pb2 as r

_Reply = TypeVar("_Reply")

log = logging.getLogger(__name__)

AGENT_VERSION = "0.1.0"
BACKOFF_BASE = 0.2
BACKOFF_CAP = 5.0
# A replica that vanishes without closing the connection (frozen, cut off) is noticed
# within about 15 s by keepalive pings, instead of when TCP gives up many minutes later;
# the agent then moves to the next endpoint. The server allows pings this often.
KEEPALIVE: tuple[tuple[str, object], ...] = (
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
)


@dataclass
class Registration:
    cluster: str
    hostname: str
    cpu_units: int
    memory_mib: int
    attributes: dict[str, str] = field(default_factory=dict)
    address: str = "127.0.0.1"
    metrics_port: int = 0
    state_dir: str = ""
    dynamic_ports: tuple[int, int] = (0, 0)
    # The node proxy's Prometheus exporter port (0: no proxy on this node).
    proxy_metrics_port: int = 0


class GatewayClient:
    def __init__(self, endpoints: list[str], reg: Registration, agent: Agent, host: HostProbe,
                 on_node_id: Callable[[str], None] | None = None,
                 channel: grpc.Channel | None = None, tls: ClientTLS | None = None, insecure: bool = False,
                 tls_later: bool = False) -> None:
        """``channel``: one shared with other clients in this process (a hollow fleet puts
        many agents on one connection); it is used for every endpoint and never closed here.
        ``tls``: the node's certificate; None is plaintext, refused unless ``insecure`` (an
        --insecure control plane). ``tls_later``: the certificate comes through ``use_tls``
        before the first session (a hollow fleet joins after building its clients)."""
        if not endpoints:
            raise ValueError("endpoint: at least one HOST:PORT is required")
        self.endpoints = endpoints
        self._conn = None if channel is not None or tls_later else Connection(endpoints, tls, insecure=insecure,
                                                                              options=KEEPALIVE)
        self.reg = reg
        self.agent = agent
        self.host = host
        self.on_node_id = on_node_id
        self.heartbeat_interval = 5.0
        # The control plane's lease TTL, once a registration told us: reconnect attempts
        # never wait longer than a third of it (see ``run``).
        self.lease_ttl = 0.0
        self.connected = threading.Event()
        self._index = 0
        self._last_received = 0
        self._move_on = False
        # Set when the control plane says this node was deregistered: a terminal refusal.
        self.deregistered = threading.Event()
        self.on_deregistered: Callable[[], None] | None = None
        # Told of the node's pre-pull intents with each assignment set (agent/prepull.py).
        self.on_prepull: Callable[[Sequence[r.PrePull]], object] | None = None
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._outbox: Outbox | None = None
        self._call: grpc.Future | None = None
        self._channel: grpc.Channel | None = None
        self._thread: threading.Thread | None = None
        self._shared_channel = channel
        agent.listeners.append(self._on_change)
        self.logs = LogRelay(agent)
        self.execs = ExecRelay(self.logs)

    def use_tls(self, tls: ClientTLS) -> None:
        """The node certificate, once had (see ``tls_later``); before the first session only."""
        self._conn = Connection(self.endpoints, tls, options=KEEPALIVE)

    @property
    def outbox(self) -> Outbox | None:
        """What the open stream has yet to send; None between streams."""
        return self._outbox

    # ---- registration ----------------------------------------------------------------

    def registration(self) -> agent_pb2.RegisterNodeRequest:
        """What RegisterNode is sent (by this client's session, or a fleet's event loop)."""
        return agent_pb2.RegisterNodeRequest(
            cluster=self.reg.cluster,
            node_id=self.agent.node_id,
            hostname=self.reg.hostname,
            cpu_units=self.reg.cpu_units,
            memory_mib=self.reg.memory_mib,
            attributes=[r.Attribute(name=k, value=v) for k, v in sorted(self.reg.attributes.items())],
            address=self.reg.address,
            metrics_port=self.reg.metrics_port,
            agent_version=AGENT_VERSION,
            dynamic_port_low=self.reg.dynamic_ports[0],
            dynamic_port_high=self.reg.dynamic_ports[1],
            proxy_metrics_port=self.reg.proxy_metrics_port,
        )

    def _register(self, stub: agent_pb2_grpc.AgentGatewayStub) -> agent_pb2.RegisterNodeResponse:
        return self.registered(stub.RegisterNode(self.registration(), timeout=10))

    def registered(self, resp: agent_pb2.RegisterNodeResponse) -> agent_pb2.RegisterNodeResponse:
        """Takes in RegisterNode's answer: the node id (saved), heartbeat interval, lease
        TTL. Raises ValueError if the answer has no node id."""
        if not resp.node_id:
            raise ValueError("RegisterNode returned an empty node_id")
        if self.agent.node_id and resp.node_id != self.agent.node_id:
            # Our containers carry the old id; the new identity starts from nothing.
            log.error("control plane gave this node a new id; containers of the old one are left alone",
                      extra=shoal.logs.kv(old=self.agent.node_id, new=resp.node_id))
        if resp.node_id != self.agent.node_id:
            self.agent.config.node_id = resp.node_id
            if self.reg.state_dir:
                identity.save(self.reg.state_dir, resp.node_id, self.reg.cluster)
            if self.on_node_id:
                self.on_node_id(resp.node_id)
        if resp.heartbeat_interval_seconds > 0:
            self.heartbeat_interval = resp.heartbeat_interval_seconds
        if resp.lease_ttl_seconds > 0:
            self.lease_ttl = resp.lease_ttl_seconds
        return resp

    def register_until_done(self) -> str:
        """Blocks until one RegisterNode succeeds (first boot: no node id to restore under
        yet); returns the node id, or "" if stopped first."""
        attempt = 0
        while not self._stopped.is_set():
            endpoint = self.endpoints[self._index % len(self.endpoints)]
            channel = self._open(endpoint)
            try:
                resp = self._register(agent_pb2_grpc.AgentGatewayStub(channel))
                log.info("registered", extra=shoal.logs.kv(node=resp.node_id, endpoint=endpoint))
                return resp.node_id
            except (grpc.RpcError, ValueError) as exc:
                if isinstance(exc, grpc.RpcError) and self._check_deregistered(exc):
                    return ""
                log.warning("registration failed", extra=shoal.logs.kv(endpoint=endpoint, error=_short(exc)))
                self._index += 1
            finally:
                self._close(channel)
            self._stopped.wait(backoff(attempt, BACKOFF_BASE, BACKOFF_CAP))
            attempt += 1
        return ""

    @property
    def tls(self) -> ClientTLS | None:
        return self._conn.tls if self._conn is not None else None

    def renew_certificate(self, state_dir: str) -> bool:
        """Renews the node certificate through the current endpoint; the next connection
        uses the new one (the open stream keeps the TLS session it has). Returns whether it
        worked; logs what happened."""
        endpoint = self.endpoints[self._index % len(self.endpoints)]
        channel = self._open(endpoint)
        try:
            creds = joining.renew(channel, state_dir, self.agent.node_id)
        except (grpc.RpcError, joining.JoinError) as exc:
            if not (isinstance(exc, grpc.RpcError) and self._check_deregistered(exc)):
                log.warning("could not renew the node certificate", extra=shoal.logs.kv(
                    node=self.agent.node_id, endpoint=endpoint, error=_short(exc)))
            return False
        finally:
            self._close(channel)
        self._conn = Connection(self.endpoints, creds.tls, options=KEEPALIVE)
        log.info("renewed the node certificate", extra=shoal.logs.kv(
            node=self.agent.node_id, endpoint=endpoint, renew_at=joining.renewal_due(creds.tls).isoformat()))
        return True

    def _check_deregistered(self, exc: grpc.RpcError) -> bool:
        """True (and the client stops) if ``exc`` says this node was deregistered."""
        trailers = exc.trailing_metadata() if hasattr(exc, "trailing_metadata") else None
        if not any(k == REASON_TRAILER and v == DEREGISTERED for k, v in trailers or ()):
            return False
        log.error("this node was deregistered; stopping (join with a new token to come back)",
                  extra=shoal.logs.kv(node=self.agent.node_id, error=_short(exc)))
        self.deregistered.set()
        self._stopped.set()
        if self.on_deregistered is not None:
            self.on_deregistered()
        return True

    # ---- the stream ------------------------------------------------------------------

    def _on_change(self, change: agent_pb2.TaskStateChange) -> None:
        outbox = self._outbox
        if outbox is not None:
            outbox.put(agent_pb2.AgentMessage(task_state=change))

    def opening(self) -> Iterator[agent_pb2.AgentMessage]:
        """A stream's first messages: Hello, then a catch-up state change per known task."""
        yield agent_pb2.AgentMessage(hello=agent_pb2.Hello(cluster=self.reg.cluster, node_id=self.agent.node_id))
        # The outbox is already live, so a change racing this snapshot is sent twice, never lost.
        for change in self.agent.snapshot():
            yield agent_pb2.AgentMessage(task_state=change)

    def _requests(self, outbox: Outbox) -> Iterator[agent_pb2.AgentMessage]:
        yield from self.opening()
        next_beat = 0.0
        while True:
            now = time.monotonic()
            if now >= next_beat:
                yield agent_pb2.AgentMessage(heartbeat=self.heartbeat())
                next_beat = now + self.heartbeat_interval
            item = outbox.take(timeout=max(0.0, next_beat - time.monotonic()))
            if item is CLOSED:
                return
            if item is not None:
                yield item

    def heartbeat(self) -> agent_pb2.Heartbeat:
        s = self.host.sample()
        return agent_pb2.Heartbeat(cpu_percent=s.cpu_percent, memory_used_bytes=s.memory_used_bytes,
                                   memory_total_bytes=s.memory_total_bytes,
                                   running_containers=self.agent.running_containers())

    def session(self, endpoint: str) -> str:
        """One register + Connect; returns a sentence saying how it ended."""
        channel = self._open(endpoint)
        outbox = Outbox()
        with self._lock:
            self._channel = channel
        received = 0
        self._move_on = False
        try:
            stub = agent_pb2_grpc.AgentGatewayStub(channel)
            self._register(stub)
            self._outbox = outbox
            call = stub.Connect(self._requests(outbox))
            with self._lock:
                self._call = call
            if self._stopped.is_set():
                call.cancel()
            self.streaming(outbox)
            log.info("connected", extra=shoal.logs.kv(node=self.agent.node_id, endpoint=endpoint))
            for msg in call:
                received += self.handle(msg, outbox)
            return f"stream from {endpoint} ended after {received} assignment sets"
        except grpc.RpcError as exc:
            return self.broke(endpoint, received, exc)
        except ValueError as exc:
            return f"registration at {endpoint} refused: {exc}"
        finally:
            self.ended(outbox, received)
            with self._lock:
                self._call = None
                self._channel = None
            self._close(channel)

    def streaming(self, outbox: Outbox) -> None:
        """A session's stream is open and ``outbox`` feeds it."""
        self._outbox = outbox
        self.connected.set()

    def handle(self, msg: agent_pb2.ControlMessage, outbox: Outbox) -> int:
        """One message down the stream; returns 1 for an assignment set, else 0."""
        if msg.HasField("assignments"):
            sentence = self.agent.apply_assignments(msg.assignments)
            if self.on_prepull is not None:
                self.on_prepull(msg.assignments.prepull)
            log.debug(sentence, extra=shoal.logs.kv(node=self.agent.node_id))
            return 1
        if msg.HasField("routing"):
            sentence = self.agent.apply_routing(msg.routing)
            # A node without a proxy or DNS (a hollow one of a thousand) has nothing to say.
            log.log(logging.INFO if self.agent.routing_consumers else logging.DEBUG, sentence,
                    extra=shoal.logs.kv(node=self.agent.node_id, revision=msg.routing.revision))
        else:
            self.execs.handle(msg, outbox) or self.logs.handle(msg, outbox)
        return 0

    def broke(self, endpoint: str, received: int, exc: grpc.RpcError) -> str:
        """How a session ended on an RPC error, deciding whether to move to the next endpoint."""
        if self._check_deregistered(exc):
            return f"node deregistered at {endpoint}: {_short(exc)}"
        # UNAVAILABLE: the replica went away or sent us away (cut off from etcd); another
        # replica must take the stream before our liveness key expires.
        self._move_on = hasattr(exc, "code") and exc.code() == grpc.StatusCode.UNAVAILABLE
        return f"stream to {endpoint} broke after {received} assignment sets: {_short(exc)}"

    def ended(self, outbox: Outbox, received: int) -> None:
        """A session is over, however it ended."""
        self.connected.clear()
        self._outbox = None
        # Their readers were on this stream: nobody is left to read them.
        self.logs.cancel_all()
        self.execs.cancel_all()
        outbox.close()
        self._last_received = received

    def _open(self, endpoint: str) -> grpc.Channel:
        if self._shared_channel is not None:
            return self._shared_channel
        assert self._conn is not None
        return self._conn.open(endpoint)

    def _close(self, channel: grpc.Channel) -> None:
        if channel is not self._shared_channel:
            channel.close()

    def _ask(self, call: Callable[[grpc.Channel], _Reply]) -> _Reply:
        """``call`` made on the endpoint the stream is on (or a channel of its own to the
        current endpoint when there is no stream). Raises RuntimeError saying why it failed."""
        with self._lock:
            channel = self._channel
        own = channel is None
        if own:
            channel = self._open(self.endpoints[self._index % len(self.endpoints)])
        try:
            return call(channel)
        except grpc.RpcError as exc:
            raise RuntimeError(_short(exc)) from None
        finally:
            if own:
                self._close(channel)

    def task_secrets(self, task: r.Task) -> dict[str, dict[str, str]]:
        """The values of a task's secrets, {container: {env var: value}}, asked of the
        endpoint the stream is on (or the first one). Raises RuntimeError saying why not."""
        resp = self._ask(lambda ch: security_pb2_grpc.SecurityStub(ch).GetTaskSecrets(
            security_pb2.GetTaskSecretsRequest(cluster=task.cluster, task_id=task.id), timeout=15))
        return {c.container_name: dict(c.values) for c in resp.containers}

    def task_pull_credentials(self, task: r.Task) -> dict[str, dict[str, str]]:
        """{image: Docker AuthConfig} for a task's images that need credentials, asked of
        the endpoint the stream is on (or the first one). Raises RuntimeError saying why not."""
        resp = self._ask(lambda ch: registry_pb2_grpc.RegistryStub(ch).GetTaskPullCredentials(
            registry_pb2.GetTaskPullCredentialsRequest(cluster=task.cluster, task_id=task.id), timeout=15))
        return {c.image: ({"registrytoken": c.registry_token} if c.registry_token
                          else {"username": c.username, "password": c.password}) for c in resp.credentials}

    def prepull_credentials(self, intent: r.PrePull) -> dict[str, dict[str, str]]:
        """Like ``task_pull_credentials``, for the images of one of this node's pre-pull intents."""
        resp = self._ask(lambda ch: registry_pb2_grpc.RegistryStub(ch).GetTaskPullCredentials(
            registry_pb2.GetTaskPullCredentialsRequest(cluster=intent.cluster,
                                                       prepull_deployment_id=intent.deployment_id), timeout=15))
        return {c.image: ({"registrytoken": c.registry_token} if c.registry_token
                          else {"username": c.username, "password": c.password}) for c in resp.credentials}

    def send_prepull_report(self, report: agent_pb2.PrePullReport) -> None:
        """Queued on the stream if there is one (a report lost with a stream is only a log line)."""
        outbox = self._outbox
        if outbox is not None:
            outbox.put(agent_pb2.AgentMessage(prepull_report=report))

    def send_proxy_checks(self, report: traffic_pb2.NodeProxyChecks) -> None:
        """Queued on the stream if there is one (the proxy driver sends its checks again
        within ``CHECKS_RESEND``)."""
        outbox = self._outbox
        if outbox is not None:
            outbox.put(agent_pb2.AgentMessage(proxy_checks=report))

    def task_role_credentials(self, task: r.Task) -> roles_pb2.TaskRoleCredentials:
        """Fresh credentials for a task's role, asked of the endpoint the stream is on (or
        the first one). Raises RuntimeError saying why not."""
        return self._ask(lambda ch: roles_pb2_grpc.RolesStub(ch).GetTaskRoleCredentials(
            roles_pb2.GetTaskRoleCredentialsRequest(cluster=task.cluster, task_id=task.id), timeout=15))

    def run(self) -> None:
        attempt = 0
        while not self._stopped.is_set():
            sentence = self.session(self.endpoint())
            if self._stopped.is_set():
                break
            attempt, delay = self.retry(attempt, sentence)
            self._stopped.wait(delay)

    def endpoint(self) -> str:
        """Where the next session goes."""
        return self.endpoints[self._index % len(self.endpoints)]

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def retry(self, attempt: int, sentence: str) -> tuple[int, float]:
        """After a session that ended with ``sentence``: the next attempt's number and the
        seconds to wait before it (moving to the next endpoint when this one failed)."""
        if self._last_received:
            attempt = 0
        if not self._last_received or self._move_on:
            self._index += 1
        # Capped under the TTL: after a control-plane restart a new leader judges nodes
        # one TTL after it starts leading, and an agent still backing off by then would
        # see its tasks replaced for nothing.
        cap = min(BACKOFF_CAP, max(0.5, self.lease_ttl / 3)) if self.lease_ttl else BACKOFF_CAP
        delay = backoff(attempt, BACKOFF_BASE, cap)
        log.warning(f"{sentence}; keeping tasks as they are, reconnecting in {delay:.1f}s",
                    extra=shoal.logs.kv(node=self.agent.node_id))
        return attempt + 1, delay

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="gateway", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        with self._lock:
            call, channel = self._call, self._channel
        if call is not None:
            call.cancel()
        elif channel is not None:
            self._close(channel)
        if self._thread is not None:
            self._thread.join(timeout=5)


def _short(exc: Exception) -> str:
    if isinstance(exc, grpc.RpcError) and hasattr(exc, "code"):
        try:
            return f"{exc.code().name}: {exc.details()}"
        except Exception:
            return str(exc)
    return str(exc)
