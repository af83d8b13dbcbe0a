"""Deployments that shift traffic (ECS 2025's ``deploymentConfiguration.strategy``
BLUE_GREEN, CANARY and LINEAR): the new revision's tasks (green) come up in full beside the
old ones (blue), then production traffic moves to green through the load balancers — all at
once, a canary share then the rest, or in linear steps — then, after the bake time, blue is
stopped. Lifecycle hooks pause a stage until ContinueServiceDeployment: ECS's ``PAUSE``
hooks, and Shoal's ``HTTP`` hooks in place of ECS's Lambda ones (controlplane/http_hooks.py
POSTs the deployment's state to the hook's URL and continues or rolls back on the answer);
an HTTP hook's URL must name a host the operator allowed (``--hook-allow-host``).

Pure: the state is kept in the primary Deployment (``lifecycle_stage``, ``stage_started_at``,
``traffic_percent``, ``hooks``); the service controller calls ``advance`` each cycle, and the
routing table weighs each revision's servers by ``shares``."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from controlplane.errors import invalid
from shoal.v1 import resources_pb2 as r

ROLLING = "ROLLING"
SHIFTING = ("BLUE_GREEN", "CANARY", "LINEAR")
STRATEGIES = (ROLLING, *SHIFTING)
# The hook stages Shoal's deployments pass through (no test listener: no test traffic stages).
HOOK_STAGES = ("PRE_SCALE_UP", "POST_SCALE_UP", "PRE_PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT")
STAGES = ("PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP", "PRE_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT",
          "POST_PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME", "CLEAN_UP")
CLEAN_UP = "CLEAN_UP"
DEFAULT_HOOK_TIMEOUT_MINUTES = 60
MAX_MINUTES = 1440
HOOK_TYPES = ("PAUSE", "HTTP")


def url_refusal(url: str, allowed: frozenset[str]) -> str:
    """Why an HTTP hook may not call ``url`` ('' when it may): http(s) only, and only to a
    host the operator allowed, as ``host`` (any port) or ``host:port``. Closed by default."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"must be an http:// or https:// URL, not {url!r}"
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return f"has a bad port: {url!r}"
    host = parts.hostname.lower()
    if host not in allowed and f"{host}:{port}" not in allowed:
        return (f"host {host}:{port} is not one the control plane allows hooks to call "
                "(its --hook-allow-host list)")
    return ""


def check(dc: r.DeploymentConfiguration, has_load_balancers: bool, hook_hosts: frozenset[str] = frozenset()) -> None:
    """Refuses, naming the field, a strategy configuration Shoal cannot carry out."""
    where = "deploymentConfiguration"
    strategy = dc.strategy or ROLLING
    if strategy not in STRATEGIES:
        raise invalid(f"{where}.strategy: must be one of {', '.join(STRATEGIES)}, not {dc.strategy!r}")
    if strategy != ROLLING and not has_load_balancers:
        raise invalid(f"{where}.strategy: {strategy} shifts traffic through load balancers; the service has "
                      "no loadBalancers")
    if dc.HasField("canary_configuration") and strategy != "CANARY":
        raise invalid(f"{where}.canaryConfiguration: only with strategy CANARY")
    if dc.HasField("linear_configuration") and strategy != "LINEAR":
        raise invalid(f"{where}.linearConfiguration: only with strategy LINEAR")
    if dc.lifecycle_hooks and strategy == ROLLING:
        raise invalid(f"{where}.lifecycleHooks: only with strategy BLUE_GREEN, CANARY or LINEAR")
    _minutes(dc, "bake_time_in_minutes", f"{where}.bakeTimeInMinutes")
    canary, linear = dc.canary_configuration, dc.linear_configuration
    if strategy == "CANARY":
        if not canary.HasField("canary_percent") or not 0.1 <= canary.canary_percent <= 100:
            raise invalid(f"{where}.canaryConfiguration.canaryPercent: required, from 0.1 to 100")
        _minutes(canary, "canary_bake_time_in_minutes", f"{where}.canaryConfiguration.canaryBakeTimeInMinutes")
    if strategy == "LINEAR":
        if not linear.HasField("step_percent") or not 3 <= linear.step_percent <= 100:
            raise invalid(f"{where}.linearConfiguration.stepPercent: required, from 3 to 100")
        _minutes(linear, "step_bake_time_in_minutes", f"{where}.linearConfiguration.stepBakeTimeInMinutes")
    for i, hook in enumerate(dc.lifecycle_hooks):
        at = f"{where}.lifecycleHooks[{i}]"
        if hook.target_type not in HOOK_TYPES:
            raise invalid(f"{at}.targetType: Shoal runs PAUSE hooks (resumed by ContinueServiceDeployment) and "
                          f"HTTP hooks (a URL it POSTs to), not {hook.target_type or 'none'!r}")
        if hook.target_type == "HTTP" and (why := url_refusal(hook.hook_target_arn, hook_hosts)):
            raise invalid(f"{at}.hookTargetArn: {why}")
        if not hook.lifecycle_stages:
            raise invalid(f"{at}.lifecycleStages: required")
        for stage in hook.lifecycle_stages:
            if stage not in HOOK_STAGES:
                raise invalid(f"{at}.lifecycleStages: {stage!r} is not one of {', '.join(HOOK_STAGES)}")
        timeout = hook.timeout_configuration
        if timeout.HasField("timeout_in_minutes") and not 1 <= timeout.timeout_in_minutes <= 20160:
            raise invalid(f"{at}.timeoutConfiguration.timeoutInMinutes: from 1 to 20160")
        if timeout.action not in ("", "ROLLBACK", "CONTINUE"):
            raise invalid(f"{at}.timeoutConfiguration.action: ROLLBACK or CONTINUE, not {timeout.action!r}")


def _minutes(msg, field: str, name: str) -> None:
    if msg.HasField(field) and not 0 <= getattr(msg, field) <= MAX_MINUTES:
        raise invalid(f"{name}: from 0 to {MAX_MINUTES}")


def shifts(svc: r.Service) -> bool:
    return svc.deployment_configuration.strategy in SHIFTING and bool(svc.load_balancers)


def steps(dc: r.DeploymentConfiguration) -> list[tuple[float, float]]:
    """(green's share of production traffic in percent, seconds it holds before the next)."""
    if dc.strategy == "CANARY":
        c = dc.canary_configuration
        return [(c.canary_percent, c.canary_bake_time_in_minutes * 60.0), (100.0, 0.0)]
    if dc.strategy == "LINEAR":
        lin = dc.linear_configuration
        out: list[tuple[float, float]] = []
        share = lin.step_percent
        while share < 100:
            out.append((round(share, 6), lin.step_bake_time_in_minutes * 60.0))
            share += lin.step_percent
        return out + [(100.0, 0.0)]
    return [(100.0, 0.0)]


@dataclass
class Outcome:
    said: str = ""
    # Set when the deployment must roll back (a hook's ROLLBACK, or its timeout's).
    rollback: str = ""


def advance(dc: r.DeploymentConfiguration, d: r.Deployment, has_blue: bool, green_healthy: int, desired: int,
            now: float) -> Outcome:
    """Moves ``d`` (the primary deployment) through its stages as far as their conditions
    allow this cycle. ``has_blue``: other deployments still run tasks (the first deployment
    of a service has nothing to shift from and goes straight to clean-up)."""
    if not d.lifecycle_stage:
        if not has_blue:
            _enter(d, CLEAN_UP, now)
            d.traffic_percent = 100.0
            return Outcome(f"deployment {d.id}: nothing to shift traffic from")
        _enter(d, STAGES[0], now)
        d.traffic_percent = 0.0
    said: list[str] = []
    for _ in range(len(STAGES) + len(steps(dc))):
        stage = d.lifecycle_stage
        if stage in HOOK_STAGES:
            waiting = _hooks(dc, d, now)
            if isinstance(waiting, Outcome):
                if said and not waiting.rollback:
                    waiting.said = ", ".join(said + [waiting.said])
                return waiting
        if stage == "SCALE_UP" and green_healthy < desired:
            break
        if stage == "PRODUCTION_TRAFFIC_SHIFT":
            if not _shift(dc, d, now, said):
                break
            continue
        if stage == "BAKE_TIME" and now - d.stage_started_at < (dc.bake_time_in_minutes * 60.0):
            break
        if stage == CLEAN_UP:
            break
        nxt = STAGES[STAGES.index(stage) + 1]
        _enter(d, nxt, now)
        if nxt == "PRODUCTION_TRAFFIC_SHIFT":
            d.traffic_percent = steps(dc)[0][0]
            said.append(f"shifted {d.traffic_percent:g}% of traffic to deployment {d.id}")
        elif nxt != "PRE_SCALE_UP":
            said.append(f"deployment {d.id} at {nxt}")
    return Outcome(", ".join(said))


def _shift(dc: r.DeploymentConfiguration, d: r.Deployment, now: float, said: list[str]) -> bool:
    """One step of the shift when the current one has held long enough; True when it moved
    (to the next share, or past the shift)."""
    plan = steps(dc)
    at = next((i for i, (share, _) in enumerate(plan) if share >= d.traffic_percent), len(plan) - 1)
    if d.traffic_percent >= 100:
        _enter(d, "POST_PRODUCTION_TRAFFIC_SHIFT", now)
        said.append(f"deployment {d.id} takes all traffic")
        return True
    if now - d.stage_started_at < plan[at][1]:
        return False
    d.traffic_percent = plan[at + 1][0]
    d.stage_started_at = now
    said.append(f"shifted {d.traffic_percent:g}% of traffic to deployment {d.id}")
    return True


def _enter(d: r.Deployment, stage: str, now: float) -> None:
    d.lifecycle_stage, d.stage_started_at = stage, now


def hook_id(d: r.Deployment, stage: str, index: int) -> str:
    return f"{d.id.rsplit('/', 1)[-1]}-{stage.lower()}-{index}"


def _hooks(dc: r.DeploymentConfiguration, d: r.Deployment, now: float) -> Outcome | None:
    """None when every hook of the current stage has been continued; else what holds it."""
    stage = d.lifecycle_stage
    for i, hook in enumerate(dc.lifecycle_hooks):
        if stage not in hook.lifecycle_stages:
            continue
        hid = hook_id(d, stage, i)
        detail = next((h for h in d.hooks if h.hook_id == hid), None)
        if detail is None:
            minutes = hook.timeout_configuration.timeout_in_minutes if \
                hook.timeout_configuration.HasField("timeout_in_minutes") else DEFAULT_HOOK_TIMEOUT_MINUTES
            detail = d.hooks.add(hook_id=hid, target_type=hook.target_type or "PAUSE", target_arn=hook.hook_target_arn,
                                 status="AWAITING_ACTION", stage=stage,
                                 expires_at=now + minutes * 60.0,
                                 timeout_action=hook.timeout_configuration.action or "ROLLBACK")
        if detail.status == "AWAITING_ACTION" and now >= detail.expires_at:
            detail.status = "TIMED_OUT"
        if (detail.status == "TIMED_OUT" and detail.timeout_action == "ROLLBACK") or detail.status == "FAILED":
            return Outcome(f"hook {hid} at {stage}: rolling back", rollback=f"Lifecycle hook {hid} at {stage} "
                           + ("timed out." if detail.status == "TIMED_OUT" else "asked for a rollback."))
        if detail.status == "AWAITING_ACTION":
            return Outcome(f"deployment {d.id} waits at {stage} for hook {hid} (ContinueServiceDeployment)")
    return None


def continue_hook(d: r.Deployment, hid: str, action: str, now: float) -> str:
    """ContinueServiceDeployment on ``d``: the hook's new status, or raises naming why not."""
    detail = next((h for h in d.hooks if h.hook_id == hid), None)
    if detail is None:
        raise invalid(f"hookId: no hook {hid!r} is waiting in this service deployment")
    if detail.status != "AWAITING_ACTION":
        raise invalid(f"hookId: hook {hid!r} is {detail.status}, not AWAITING_ACTION")
    if now >= detail.expires_at:
        raise invalid(f"hookId: hook {hid!r} timed out; its timeout action ({detail.timeout_action}) applies")
    detail.status = "SUCCEEDED" if action == "CONTINUE" else "FAILED"
    return detail.status


def shares(svc: r.Service) -> dict[str, float]:
    """Production traffic share (percent) per deployment id while traffic shifts; {} when
    the service's load balancers weigh its targets equally."""
    primary = next((d for d in svc.deployments if d.status == "PRIMARY"), None)
    if not shifts(svc) or primary is None or not primary.HasField("traffic_percent"):
        return {}
    others = [d.id for d in svc.deployments if d is not primary]
    rest = (100.0 - primary.traffic_percent) / len(others) if others else 0.0
    return {primary.id: primary.traffic_percent, **dict.fromkeys(others, rest)}


def weights(share_by_server: dict[str, tuple[str, float]], most: int = 256) -> dict[str, int]:
    """HAProxy weights (0..``most``) for one backend's servers, given each server's
    (deployment id, share of its deployment): each deployment's servers together take
    its share of new requests."""
    count: dict[str, int] = {}
    for dep, _ in share_by_server.values():
        count[dep] = count.get(dep, 0) + 1
    raw = {name: share / count[dep] for name, (dep, share) in share_by_server.items()}
    top = max(raw.values(), default=0.0)
    if top <= 0:
        return dict.fromkeys(raw, 0)
    return {name: round(value * most / top) for name, value in raw.items()}
