"""The autoscaler's own /metrics, on a registry of its own (Ray's autoscaler exports the
same: loop time, loop errors, what it did)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

REGISTRY = CollectorRegistry()

LOOP_SECONDS = Histogram("shoal_autoscaler_loop_seconds", "Time one autoscaler cycle took.", registry=REGISTRY,
                         buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
LOOP_ERRORS = Counter("shoal_autoscaler_loop_errors_total", "Autoscaler cycles that failed.", registry=REGISTRY)
LEADER = Gauge("shoal_autoscaler_leader", "1 while this autoscaler holds leadership.", registry=REGISTRY)
ACTIONS = Counter("shoal_autoscaler_scaling_actions_total", "Scaling actions taken.",
                  ["kind", "direction", "status"], registry=REGISTRY)
METRIC_MISSING = Counter("shoal_autoscaler_metric_missing_total",
                         "Policy evaluations that found no usable metric (held, never scaled in).",
                         registry=REGISTRY)
RESERVATION = Gauge("shoal_autoscaler_capacity_provider_reservation_percent",
                    "CapacityProviderReservation: nodes needed / nodes running * 100.", ["capacity_provider"],
                    registry=REGISTRY)


def serve(host: str, port: int) -> int:
    server, _ = start_http_server(port, addr=host, registry=REGISTRY)
    return int(server.server_address[1])
