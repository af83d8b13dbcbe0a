"""What this node's HAProxy's own health checks say of the registered addresses it routes
to, in ELBv2's words (pure): read from the runtime API's ``show stat`` — the server's
status (UP, "UP 1/2" going down, DOWN, "DOWN 1/2" going up) and its last check's status
(INI before the first result, L4OK/L7OK, L4CON, L4TOUT/L7TOUT, L7STS with the HTTP code).

HAProxy counts rise and fall by the target group's thresholds, so UP is ELBv2's healthy
and DOWN its unhealthy; a server whose first check has not ended is ``initial``. Servers out
of rotation (draining, maintenance) are not judged: DescribeTargetHealth says draining."""

from __future__ import annotations

from collections.abc import Iterable

from agent.proxy.config import Server
from shoal.v1 import resources_pb2 as r
from shoal.v1 import traffic_pb2 as t

INITIAL = ("initial", "Elb.InitialHealthChecking", "Initial health checking in progress")


def rows(show_stat: str) -> dict[tuple[str, str], dict[str, str]]:
    """``show stat``'s CSV, by (proxy name, server name)."""
    lines = show_stat.splitlines()
    if not lines or not lines[0].startswith("#"):
        return {}
    header = lines[0].lstrip("# ").split(",")
    out = {}
    for line in lines[1:]:
        row = dict(zip(header, line.split(","), strict=False))
        if row.get("pxname") and row.get("svname"):
            out[(row["pxname"], row["svname"])] = row
    return out


def verdict(row: dict[str, str]) -> r.TargetHealth | None:
    """One server's row as ELBv2's health, or None when it is not checked in rotation."""
    status = row.get("status", "")
    check = row.get("check_status", "").removeprefix("* ").strip()
    if not (status.startswith("UP") or status.startswith("DOWN")):
        return None  # MAINT, DRAIN, NOLB, "no check"
    if check in ("", "INI"):
        return r.TargetHealth(state=INITIAL[0], reason=INITIAL[1], description=INITIAL[2])
    if status.startswith("UP"):
        return r.TargetHealth(state="healthy")
    if check == "L7STS":
        return r.TargetHealth(state="unhealthy", reason="Target.ResponseCodeMismatch",
                              description=f"Health checks failed with these codes: [{row.get('check_code', '')}]")
    if check.endswith("TOUT"):
        return r.TargetHealth(state="unhealthy", reason="Target.Timeout", description="Request timed out")
    why = row.get("check_desc", "") or check
    return r.TargetHealth(state="unhealthy", reason="Target.FailedHealthChecks",
                          description=f"Health checks failed: {why}")


def results(show_stat: str, servers: Iterable[Server]) -> list[t.ProxyCheckResult]:
    """The verdicts on the checked servers among ``servers``, sorted."""
    by_key = rows(show_stat)
    out = []
    for s in sorted(servers, key=lambda s: s.key):
        row = by_key.get(s.key)
        if not s.checked or not s.active or row is None:
            continue
        h = verdict(row)
        if h is not None:
            out.append(t.ProxyCheckResult(target_group_id=s.backend, address=s.address, port=s.port, health=h))
    return out
