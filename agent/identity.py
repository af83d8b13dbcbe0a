"""The node's identity, kept in <state-dir>/node.json so a restarted agent is the same node
(and adopts the containers labelled with its id)."""

from __future__ import annotations

import json
import os
import tempfile

FILENAME = "node.json"


class IdentityError(Exception):
    pass


def load(state_dir: str) -> dict[str, str]:
    """{"node_id": ..., "cluster": ...}, or {} the first time."""
    path = os.path.join(state_dir, FILENAME)
    try:
        with open(path) as f:
            data = json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise IdentityError(f"{path}: cannot read the node identity: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("node_id", ""), str):
        raise IdentityError(f"{path}: node_id must be a string")
    return {k: str(v) for k, v in data.items()}


def save(state_dir: str, node_id: str, cluster: str) -> None:
    """Atomically: a crash mid-write must never leave a node without its identity."""
    os.makedirs(state_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=state_dir, prefix=".node.", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump({"node_id": node_id, "cluster": cluster}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, os.path.join(state_dir, FILENAME))
