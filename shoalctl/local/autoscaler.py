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
from shoalctl.local.statefiles import write_json

STATE = "autoscaler"
PROFILES = "providers.json"


def argv(endpoint: str, prometheus_url: str, etcd_url: str, state_dir: Path, log_level: str = "INFO",
         interval: float = 5.0, providers_config: Path | None = None) -> list[str]:
    out = [sys.executable, "-m", "autoscaler", "--endpoint", endpoint, "--prometheus", prometheus_url,
           "--etcd", etcd_url, "--interval", str(interval), "--state-dir", str(Path(state_dir) / STATE),
           "--name", "autoscaler", "--log-level", log_level]
    return out + (["--providers-config", str(providers_config)] if providers_config else [])


def write_profiles(state_dir: Path, policy_flags: list[str]) -> Path:
    """The autoscaler's providers config for this cluster: the built-in ``local`` profile
    with the cluster's --allow-* flags, so the nodes it adds enforce the policy the other
    nodes do (no wider: the API cannot set a profile's ``allow``; no narrower: tasks that
    rely on an opened door run there too)."""
    path = Path(state_dir) / STATE / PROFILES
    path.parent.mkdir(parents=True, exist_ok=True)
    config = {"allow": policy_flags} if policy_flags else {}
    write_json(path, {"profiles": {"local": {"type": "local", "config": config}}})
    return path


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
