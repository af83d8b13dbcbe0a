"""A small client for Prometheus' instant-query HTTP API (/api/v1/query). Every failure —
Prometheus unreachable or slow, a query error, no series, NaN or ±Inf (a division by zero
reservation) — comes back as None with the reason kept in ``last_error``: to the
autoscaler, missing data is a reason to hold, never to scale in.

Stale series need no extra check: Prometheus writes a staleness marker when a target
disappears or a series stops being exported, after which instant queries no longer see it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import requests

log = logging.getLogger(__name__)


class PromError(Exception):
    pass


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float


class PromClient:
    def __init__(self, url: str, timeout: float = 5.0, session: requests.Session | None = None) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        self.last_error = ""

    def query(self, expr: str) -> list[Sample]:
        """The instant vector (or scalar, as one unlabelled sample) ``expr`` evaluates to
        now. Raises PromError with a sentence saying what went wrong."""
        try:
            resp = self.session.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=self.timeout)
        except requests.RequestException as exc:
            raise PromError(f"Prometheus at {self.url} unreachable: {exc.__class__.__name__}") from exc
        try:
            body = resp.json()
        except ValueError as exc:
            raise PromError(f"Prometheus answered HTTP {resp.status_code} without JSON") from exc
        if body.get("status") != "success":
            raise PromError(f"query failed ({body.get('errorType', resp.status_code)}): {body.get('error', '')}")
        data = body.get("data") or {}
        kind, result = data.get("resultType"), data.get("result")
        if kind == "scalar":
            return [Sample({}, float(result[1]))]
        if kind == "vector":
            return [Sample(dict(r.get("metric") or {}), float(r["value"][1])) for r in result or []]
        raise PromError(f"query returned a {kind}, not an instant vector or scalar")

    def value(self, expr: str) -> float | None:
        """One finite number, or None (reason in ``last_error``). A result of several series
        is refused rather than summed: it means the query matches more than was meant."""
        try:
            samples = self.query(expr)
        except PromError as exc:
            self.last_error = str(exc)
            return None
        if not samples:
            self.last_error = "no data (no series matched, or they are stale)"
            return None
        if len(samples) > 1:
            self.last_error = f"the query returned {len(samples)} series; it must aggregate to one"
            return None
        v = samples[0].value
        if not math.isfinite(v):
            self.last_error = f"the query returned {v} (nothing reserved, or a division by zero)"
            return None
        self.last_error = ""
        return v

    def ready(self) -> bool:
        try:
            return self.session.get(f"{self.url}/-/ready", timeout=self.timeout).status_code == 200
        except requests.RequestException:
            return False

    def close(self) -> None:
        self.session.close()
