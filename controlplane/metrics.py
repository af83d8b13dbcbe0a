"""The control plane's Prometheus metrics, on a registry of its own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry()

API_LATENCY = Histogram(
    "shoal_api_request_seconds", "Operator API latency by method", ["method"], registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
PLACEMENT_LATENCY = Histogram(
    "shoal_placement_seconds", "Time to decide where one batch of tasks goes", registry=REGISTRY,
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
)
PENDING_PLACEMENTS = Gauge("shoal_pending_placements", "Tasks waiting for a node", registry=REGISTRY)
IS_LEADER = Gauge("shoal_leader", "1 while this replica runs the controllers", registry=REGISTRY)
CONNECTED_AGENTS = Gauge("shoal_connected_agents", "Agent streams held by this replica", registry=REGISTRY)
RECONCILE_SECONDS = Histogram(
    "shoal_reconcile_seconds", "One controller cycle", registry=REGISTRY,
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5),
)
PREPULLS = Counter("shoal_prepulls_total", "Pre-pulls the agents reported, by result (ok | failed)", ["result"],
                   registry=REGISTRY)
CONTROLLER_ERRORS = Counter("shoal_controller_errors_total", "Controller cycles that failed", registry=REGISTRY)
