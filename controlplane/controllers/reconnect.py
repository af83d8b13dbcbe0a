"""Keep the better copy (a service's replaceOnDisconnect, Nomad's max_client_disconnect with
replacement): a lost node's tasks were replaced at once; when the node returns within the
disconnect tolerance, each returning original is paired with one replacement and one of the
two is stopped. The rule, pure so it can be tested on its own:

- a copy is *good* when it is RUNNING and not reported UNHEALTHY;
- the good copy is kept; when both are good, or neither, the original is kept (Nomad keeps
  the original: it has its state and nothing moves);
- a copy is stopped only while the service has more live tasks than it desires, so a
  reconnect never takes the service below its desired count.

The node controller applies the answer; the agents stop the losers they are assigned."""

from __future__ import annotations

from dataclasses import dataclass

from shoal.v1 import resources_pb2 as r


@dataclass(frozen=True)
class Stop:
    task_id: str
    reason: str


def good(task: r.Task) -> bool:
    return task.last_status == "RUNNING" and task.health_status != "UNHEALTHY"


def keep_better(returning: list[r.Task], others: list[r.Task], desired: int) -> list[Stop]:
    """``returning``: the service's tasks whose node is back (status as now known), each with
    the ``disconnected_at`` of its loss; ``others``: the service's other live tasks (desired
    RUNNING). Answers which to stop, at most as many as the service has above ``desired``."""
    surplus = len(returning) + len(others) - desired
    # A replacement is a task created after its original's node was judged lost; the newest
    # first are paired, the copies started for that very loss.
    candidates = sorted((t for t in others if t.created_at), key=lambda t: t.created_at, reverse=True)
    stops: list[Stop] = []
    for original in sorted(returning, key=lambda t: (t.disconnected_at, t.id)):
        if surplus <= 0:
            break
        partner = next((t for t in candidates if t.created_at >= original.disconnected_at), None)
        if partner is None:
            continue
        candidates.remove(partner)
        if good(partner) and not good(original):
            stops.append(Stop(original.id, f"Task stopped on reconnect: its node returned within the service's "
                                            f"disconnect tolerance and its replacement {partner.id} is "
                                            f"{_state(partner)} while this copy is {_state(original)}"))
        else:
            stops.append(Stop(partner.id, f"Task stopped on reconnect: the task {original.id} it replaced "
                                          f"came back with its node within the service's disconnect tolerance "
                                          f"({_state(original)}; the original is kept unless only its "
                                          f"replacement is running and healthy)"))
        surplus -= 1
    return stops


def _state(task: r.Task) -> str:
    health = f", {task.health_status}" if task.health_status and task.health_status != "UNKNOWN" else ""
    return f"{task.last_status}{health}"
