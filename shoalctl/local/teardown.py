"""`shoal down`: stopping a local cluster another process started, from what it recorded in
its state dir, and removing the containers of its nodes."""

from __future__ import annotations

import contextlib
from pathlib import Path

import docker
import docker.errors

from shoalctl.local import autoscaler as localup
from shoalctl.local import procs
from shoalctl.local.errors import ClusterError
from shoalctl.local.statefiles import CLUSTER, config_path, pids_path, read_node_id, recorded, recorded_runtime

# Stop order: what depends on the others first, etcd last.
STOP_ORDER = ("autoscaler", "prometheus", "agent", "controlplane", "etcd")


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


def remove_node_containers(node_ids: set[str], cluster: str = CLUSTER) -> str:
    """Force-removes the containers labelled ``shoal.node`` with one of ``node_ids`` (and
    ``shoal.cluster`` = ``cluster`` when the label is set). Returns what it did; never
    raises for an unreachable dockerd (there is then nothing it could remove)."""
    if not node_ids:
        return "no nodes registered: no containers to remove"
    try:
        client = docker.from_env(timeout=60)
    except docker.errors.DockerException as exc:
        return f"did not remove containers: dockerd is not reachable ({exc})"
    removed = 0
    try:
        for node_id in sorted(node_ids):
            for c in client.containers.list(all=True, filters={"label": f"shoal.node={node_id}"}):
                if c.labels.get("shoal.cluster", cluster) != cluster:
                    continue
                with contextlib.suppress(docker.errors.NotFound):
                    c.remove(force=True)
                    removed += 1
    except docker.errors.DockerException as exc:
        return f"removed {removed} containers, then dockerd failed: {exc}"
    finally:
        client.close()
    return f"removed {removed} containers of {len(node_ids)} nodes"
