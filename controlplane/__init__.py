"""Middle floor: a control-plane replica (`python -m controlplane`, `shoal controlplane`):
the Operator and AgentGateway APIs, authorization, the leader's controllers, the scheduler
and the ECS gateway.

Imports only the core (`shoal`); never `agent`, `autoscaler` or `shoalctl`."""

import shoal  # noqa: F401  (first: it sets how gRPC treats fork before grpc loads)
