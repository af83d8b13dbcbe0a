"""Middle floor: the node agent (`python -m agent`, `shoal agent`) and the hollow fleet for
scale tests (`python -m agent.fleet`).

Imports only the core (`shoal`); never `controlplane`, `autoscaler` or `shoalctl`."""
