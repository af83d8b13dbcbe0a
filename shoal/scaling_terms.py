"""The words a scaling policy is written in: the predefined metrics (with their PromQL), the
alarm comparisons and the adjustment types. The control plane refuses a policy that uses
other words; the autoscaler evaluates them (autoscaler/policies.py)."""

from __future__ import annotations

CPU = "ECSServiceAverageCPUUtilization"
MEMORY = "ECSServiceAverageMemoryUtilization"
REQUESTS = "ALBRequestCountPerTarget"
# Used ÷ reserved, in percent, over the service's tasks (ECS's definition). {sel} is the
# label selector, {window} the rate window. The agent's counter shoal_task_cpu_seconds is
# exposed as shoal_task_cpu_seconds_total, as Prometheus names counters.
PREDEFINED = {
    CPU: ("sum(rate(shoal_task_cpu_seconds_total{{{sel}}}[{window}])) * 1024"
          " / sum(shoal_task_cpu_reserved_units{{{sel}}}) * 100"),
    MEMORY: ("sum(shoal_task_memory_bytes{{{sel}}})"
             " / sum(shoal_task_memory_reserved_bytes{{{sel}}}) * 100"),
    # ECS's RequestCountPerTarget: requests to the target group per minute, summed over every
    # node's proxy, divided by its healthy targets. {backend} is the target group's id (the
    # HAProxy backend's name). Every node's proxy holds the same servers, so the healthy count
    # is the largest any proxy reports (a node whose table lags must not lower it); servers the
    # agent found unhealthy or that drain are not active in HAProxy, so they are not counted.
    REQUESTS: ('sum(rate(haproxy_backend_http_requests_total{{proxy="{backend}"}}[{window}])) * 60'
               ' / max(haproxy_backend_active_servers{{proxy="{backend}"}})'),
}
# The predefined metrics measured on a service's load balancer target group.
NEEDS_TARGET_GROUP = (REQUESTS,)
COMPARISONS = {
    "GreaterThanThreshold": lambda v, t: v > t,
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}
ADJUSTMENT_TYPES = ("ChangeInCapacity", "PercentChangeInCapacity", "ExactCapacity")
