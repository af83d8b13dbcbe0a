"""`shoal down`: stopping a local cluster another process started, from what it recorded in
its state dir, and removing the containers of its nodes."""

from __future__ import annotations

import contextlib
from pathlib import Path

from shoalctl.local import autoscaler as localup
from shoalctl.local import procs
from shoalctl.local.agents import stop_proxies
from shoalctl.local.containers import remove_node_containers
from shoalctl.local.errors import ClusterError
from shoalctl.local.registry import remove_trust
from shoalctl.local.statefiles import config_path, pids_path, read_node_id, recorded, recorded_runtime

# Stop order: what depends on the others first, etcd last.
STOP_ORDER = ("autoscaler", "prometheus", "agent", "registry", "controlplane", "etcd")


def stop_recorded(state_dir: Path | str, timeout: float = 10) -> list[str]:
    """Stops every process pids.json names (Prometheus and agents, then the control plane,
    then etcd), removes the containers of the cluster's nodes, and removes pids.json and
    config.json. Data (etcd, agent identities) stays for the next `shoal up`. Returns one
    sentence per step."""
    state_dir = Path(state_dir)
    records = recorded(state_dir)
    done: list[str] = []
    for role in STOP_ORDER:
        for rec in records:
            if rec.role == role:
                done.append(procs.stop_record(rec, timeout))
    done.append(remove_trust(state_dir / "registry"))
    done += stop_proxies(state_dir)
    runtime = recorded_runtime(state_dir)
    done += localup.stop_nodes(state_dir, runtime != "hollow")
    if runtime != "hollow":
        node_ids = {nid for d in sorted((state_dir / "agents").glob("agent-*")) if (nid := read_node_id(d))}
        done.append(remove_node_containers(node_ids))
    survivors = [r.name for r in records if r.alive()]
    if survivors:
        raise ClusterError(f"could not stop {', '.join(survivors)}; pids.json kept in {state_dir}")
    for path in (pids_path(state_dir), config_path(state_dir)):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return done


