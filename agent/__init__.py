"""Middle floor: the node agent (`python -m agent`, `shoal agent`) and the hollow fleet for
scale tests (`python -m agent.fleet`).

Imports only the core (`shoal`); never `controlplane`, `autoscaler` or `shoalctl`."""

import shoal  # noqa: F401  (first: it sets how gRPC treats fork before grpc loads)
