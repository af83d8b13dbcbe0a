"""Middle floor: a control-plane replica (`python -m controlplane`, `shoal controlplane`):
the Operator and AgentGateway APIs, authorization, the leader's controllers, the scheduler
and the ECS gateway.

Imports only the core (`shoal`); never `agent`, `autoscaler` or `shoalctl`."""
