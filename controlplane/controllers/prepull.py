"""Keeps the pre-pull intents (``prepull/<node>/<deployment>``) equal to what the pure
decision (controlplane/prepull.py) wants now: new ones written, stale ones (deployment done,
failed or replaced, node no longer a likely pick) withdrawn. The agents hear of them with
their assignment sets (controlplane/assignments.py) and pull ahead of their tasks."""

from __future__ import annotations

from controlplane.controllers.view import View, Writer
from controlplane.prepull import MAX_NODES, wanted

# Keys per transaction: far under etcd's default limit of 128 operations.
_CHUNK = 64


class PrePullController:
    def __init__(self, writer: Writer, max_nodes: int = MAX_NODES) -> None:
        self.writer = writer
        self.max_nodes = max_nodes

    def reconcile(self, view: View) -> str:
        want = wanted((rec.msg for rec in view.services), (rec.msg for rec in view.nodes.values()),
                      (rec.msg for rec in view.tasks.values()), view.alive, view.taskdefs, self.max_nodes,
                      view.fargate)
        puts = [(k, m) for k, m in want.items() if view.prepulls.get(k) != m]
        deletes = [k for k in view.prepulls if k not in want]
        if not puts and not deletes:
            return ""
        for i in range(0, len(puts), _CHUNK):
            self.writer.commit([], puts[i:i + _CHUNK])
        for i in range(0, len(deletes), _CHUNK):
            self.writer.commit([], [], deletes[i:i + _CHUNK])
        said = []
        if puts:
            told = [f"{m.node_id[:12]} pulls {' '.join(m.images)} for {m.service}" for _, m in puts[:5]]
            more = f" (+{len(puts) - 5} more)" if len(puts) > 5 else ""
            said.append("pre-pull: " + ", ".join(told) + more)
        if deletes:
            said.append(f"withdrew {len(deletes)} pre-pull intent(s)")
        return "; ".join(said)
