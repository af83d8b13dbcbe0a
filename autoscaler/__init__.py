"""Middle floor: the service and cluster autoscaler (`python -m autoscaler`, `shoal
autoscaler`) and its node providers.

Imports only the core (`shoal`); never `controlplane`, `agent` or `shoalctl`."""
