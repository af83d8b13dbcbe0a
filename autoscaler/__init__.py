"""Middle floor: the service and cluster autoscaler (`python -m autoscaler`, `shoal
autoscaler`) and its node providers.

Imports only the core (`shoal`); never `controlplane`, `agent` or `shoalctl`."""

import shoal  # noqa: F401  (first: it sets how gRPC treats fork before grpc loads)
