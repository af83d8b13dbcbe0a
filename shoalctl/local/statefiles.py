"""The files a local cluster keeps in its state dir for the processes that come after the one
that started it: ``config.json`` (where the CLI finds the cluster), ``pids.json`` (what
`shoal down` stops) and each agent's ``node.json`` (which node it is)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from shoalctl.local import procs
from shoalctl.local.errors import ClusterError

CLUSTER = "default"


def config_path(state_dir: Path | str) -> Path:
    """``<state_dir>/config.json``, written by ``LocalCluster.start`` and removed by
    ``stop``/``stop_recorded``. Keys (all strings unless said):

    - ``endpoint``: the control plane's gRPC HOST:PORT (what ``--endpoint`` takes)
    - ``metrics``: the control plane's Prometheus metrics URL (``http://H:P/metrics``)
    - ``sd``: its Prometheus HTTP service discovery URL (``http://H:P/sd``)
    - ``prometheus``: Prometheus' base URL, or null when it is not running
    - ``etcd``: etcd's client URL (https)
    - ``etcd_ca``, ``etcd_cert``, ``etcd_key``: what a client of that etcd presents
    - ``cluster``: the cluster the agents joined ("default")
    - ``state_dir``: the absolute state dir
    - ``ca``, ``cert``, ``key``: the cluster CA bundle and the admin identity the CLI
      authenticates with (absent for a cluster started with --insecure)
    """
    return Path(state_dir) / "config.json"


def pids_path(state_dir: Path | str) -> Path:
    """``<state_dir>/pids.json``: {"version": 1, "cluster": ..., "processes": [ProcRecord...]}."""
    return Path(state_dir) / "pids.json"


def write_json(path: Path, data: dict) -> None:
    """Atomically: a reader never sees half a file."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def write_pids(state_dir: Path, runtime: str, records: list[procs.ProcRecord]) -> None:
    write_json(pids_path(state_dir), {
        "version": 1,
        "cluster": CLUSTER,
        "runtime": runtime,
        "owner_pid": os.getpid(),
        "processes": [r.to_json() for r in records],
    })


def recorded(state_dir: Path | str) -> list[procs.ProcRecord]:
    """The processes pids.json names (alive or not); [] when there is none."""
    path = pids_path(state_dir)
    try:
        data = json.loads(path.read_text())
        return [procs.ProcRecord.from_json(p) for p in data.get("processes", [])]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ClusterError(f"{path} is unreadable ({exc}); remove it after stopping the processes by hand") from exc


def recorded_runtime(state_dir: Path) -> str:
    try:
        return str(json.loads(pids_path(state_dir).read_text()).get("runtime", "docker"))
    except (OSError, ValueError):
        return "docker"


def running(state_dir: Path | str) -> list[procs.ProcRecord]:
    """The recorded processes that are still alive."""
    return [r for r in recorded(state_dir) if r.alive()]


def refuse_if_running(state_dir: Path) -> None:
    alive = running(state_dir)
    if alive:
        names = ", ".join(f"{r.name} (pid {r.pid})" for r in alive)
        raise ClusterError(
            f"a local cluster from {state_dir} is already running ({names}): "
            f"stop it with `shoal down --state-dir {state_dir}` first"
        )


def read_node_id(agent_state_dir: Path) -> str | None:
    """The id the control plane gave the agent whose state dir this is, once it registered."""
    try:
        data = json.loads((agent_state_dir / "node.json").read_text())
    except (OSError, ValueError):
        return None
    node_id = data.get("node_id") if isinstance(data, dict) else None
    return str(node_id) if node_id else None
