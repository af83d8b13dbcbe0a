"""Where a task on Docker's default bridge reaches the host, for tests and benches that serve
something to their tasks from the host (tests/load_switch.py, the ECS gateway)."""

from __future__ import annotations

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
