"""Where a task reaches the host: on Docker's default bridge, for tests and benches that serve
something to their tasks from the host (tests/load_switch.py, the ECS gateway); on a network
of the test's own, for the DNS tests, whose responder takes port 53 on that host address."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import docker

from agent.docker_runtime import DockerRuntime


def bridge_gateway() -> str:
    """The host's address on the default bridge, read as the agent reads it: some engines
    leave Gateway out of the bridge's IPAM, and the agent then falls back to the bridge
    interface's own address, which the subnet's first address need not be."""
    runtime = DockerRuntime()
    try:
        gateway = runtime.bridge_gateway()
    finally:
        runtime.close()
    if not gateway:
        raise RuntimeError("Docker's default bridge has no host address (is dockerd running with its bridge?)")
    return gateway


@contextmanager
def own_network(client: docker.DockerClient) -> Iterator[str]:
    """A bridge network of the test's own, removed after; yields its gateway, a host address
    nobody else binds."""
    network = client.networks.create(f"shoal-dnstest-{uuid.uuid4().hex[:8]}", driver="bridge",
                                      labels={"shoal.test": "dns"})
    try:
        network.reload()
        yield network.attrs["IPAM"]["Config"][0]["Gateway"]
    finally:
        network.remove()
