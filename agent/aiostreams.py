"""Every hollow node's gateway session on one asyncio event loop (grpc.aio), for a fleet.

A GatewayClient's own session (agent.connection) costs a node three threads that mostly
wait: the one reading the stream, gRPC's request-iterator consumer, and its channel's spin
thread, which polls the channel's completion queue five times a second. A thousand nodes
made the fleet, not the control plane, the thing a scale bench measured. Here one loop
holds every node's TLS channel (its own certificate, as before), registration and Connect
stream; the node's messages come from the same GatewayClient methods, so the control plane
sees what a real agent sends. An outbox wakes the loop when it has something
(`Outbox.on_ready`), and heartbeats are timers: nothing polls.

Connection attempts in flight are bounded (``connects``), each from its handshake to a held
stream or its failure, at boot and on every reconnect: a fleet coming back after a
control-plane restart does not stampede, and the reconnect backoff keeps its jitter."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator

import grpc

from agent.connection import KEEPALIVE, GatewayClient
from agent.outbox import CLOSED, Outbox
from shoal.security.channels import aio_client_channel
from shoal.v1 import agent_pb2, agent_pb2_grpc

log = logging.getLogger(__name__)


class StreamLoop:
    """One event-loop thread running gateway sessions. ``connects``: attempts in flight."""

    def __init__(self, connects: int) -> None:
        if connects < 1:
            raise ValueError(f"connects in flight: must be at least 1, got {connects}")
        self.loop = asyncio.new_event_loop()
        self._gate = asyncio.Semaphore(connects)
        self._thread = threading.Thread(target=self.loop.run_forever, name="fleet-streams", daemon=True)
        self._thread.start()
        self._shared: dict[str, grpc.aio.Channel] = {}

    def run(self, client: GatewayClient, share: str = "") -> concurrent.futures.Future:
        """Runs ``client``'s sessions until it is stopped. ``share``: clients with the same
        non-empty key share one plaintext connection (a fleet's --insecure mode)."""
        return asyncio.run_coroutine_threadsafe(self._run(client, share), self.loop)

    def stop(self, running: list[concurrent.futures.Future]) -> None:
        for future in running:
            future.cancel()

        async def close() -> None:
            for channel in self._shared.values():
                await channel.close()

        with_timeout = asyncio.run_coroutine_threadsafe(close(), self.loop)
        try:
            with_timeout.result(timeout=10)
        except (concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
            log.warning("shared channels did not close within 10s")
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)

    async def _run(self, client: GatewayClient, share: str) -> None:
        attempt = 0
        while not client.stopped:
            sentence = await self._session(client, client.endpoint(), share)
            if client.stopped:
                break
            attempt, delay = client.retry(attempt, sentence)
            await asyncio.sleep(delay)

    def _open(self, client: GatewayClient, endpoint: str, share: str) -> grpc.aio.Channel:
        if not share:
            return aio_client_channel(endpoint, client.tls, KEEPALIVE)
        key = f"{share}@{endpoint}"
        if key not in self._shared:
            # Each shared channel its own connection, as the fleet's sync channels were.
            self._shared[key] = aio_client_channel(endpoint, None, (("grpc.keepalive_time_ms", 20_000),
                                                                    ("grpc.use_local_subchannel_pool", 1)))
        return self._shared[key]

    async def _session(self, client: GatewayClient, endpoint: str, share: str) -> str:
        """One register + Connect, like GatewayClient.session; a sentence saying how it ended."""
        received = 0
        outbox = Outbox()
        wake = asyncio.Event()
        outbox.on_ready = lambda: self.loop.call_soon_threadsafe(wake.set)
        await self._gate.acquire()
        gated = True
        channel = self._open(client, endpoint, share)
        try:
            stub = agent_pb2_grpc.AgentGatewayStub(channel)
            client.registered(await stub.RegisterNode(client.registration(), timeout=10))
            # Live before the stream opens: a change racing the catch-up is sent twice, never lost.
            client.streaming(outbox)
            call = stub.Connect(self._requests(client, outbox, wake))
            self._gate.release()
            gated = False
            async for msg in call:
                received += client.handle(msg, outbox)
            return f"stream from {endpoint} ended after {received} assignment sets"
        except grpc.RpcError as exc:
            return client.broke(endpoint, received, exc)
        except ValueError as exc:
            return f"registration at {endpoint} refused: {exc}"
        finally:
            if gated:
                self._gate.release()
            client.ended(outbox, received)
            if not share:
                await channel.close()

    @staticmethod
    async def _requests(client: GatewayClient, outbox: Outbox,
                        wake: asyncio.Event) -> AsyncIterator[agent_pb2.AgentMessage]:
        for msg in client.opening():
            yield msg
        next_beat = 0.0
        while True:
            now = time.monotonic()
            if now >= next_beat:
                yield agent_pb2.AgentMessage(heartbeat=client.heartbeat())
                next_beat = now + client.heartbeat_interval
            # Cleared before looking, so a put between the look and the wait still wakes us.
            wake.clear()
            item = outbox.take(timeout=0)
            if item is CLOSED:
                return
            if item is not None:
                yield item
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), max(0.0, next_beat - time.monotonic()))
