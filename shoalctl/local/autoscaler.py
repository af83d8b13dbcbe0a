"""The autoscaler in a local cluster (`shoal up`): started after Prometheus, stopped first,
and on the way down the nodes its `local` capacity providers started are stopped too and
their containers removed (the autoscaler leaves its nodes running when it stops, as a
cloud autoscaler leaves its machines)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from autoscaler.providers import local as local_provider
from shoalctl.local import procs
from shoalctl.local.containers import remove_node_containers

STATE = "autoscaler"


def argv(endpoint: str, prometheus_url: str, etcd_url: str, state_dir: Path, log_level: str = "INFO",
         interval: float = 5.0) -> list[str]:
    return [sys.executable, "-m", "autoscaler", "--endpoint", endpoint, "--prometheus", prometheus_url,
            "--etcd", etcd_url, "--interval", str(interval), "--state-dir", str(Path(state_dir) / STATE),
            "--name", "autoscaler", "--log-level", log_level]


def stop_nodes(state_dir: Path, remove_containers: bool = True) -> list[str]:
    """Stops the local capacity-provider nodes under ``state_dir`` and removes their
    containers. Call once the autoscaler has exited (it would otherwise replace them)."""
    root = Path(state_dir) / STATE
    if not root.is_dir():
        return []
    ids = local_provider.node_ids(root)
    said = local_provider.stop_all(root)
    if remove_containers and ids:
        said.append(remove_node_containers(ids))
    return said


def spawn(args: list[str], log_path: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return procs.spawn(args, log_path, env=env)
