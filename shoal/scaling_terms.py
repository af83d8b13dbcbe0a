"""The words a scaling policy is written in: the predefined metrics (with their PromQL), the
alarm comparisons and the adjustment types. The control plane refuses a policy that uses
other words; the autoscaler evaluates them (autoscaler/policies.py)."""

from __future__ import annotations

CPU = "ECSServiceAverageCPUUtilization"
MEMORY = "ECSServiceAverageMemoryUtilization"
# Used ÷ reserved, in percent, over the service's tasks (ECS's definition). {sel} is the
# label selector, {window} the rate window. The agent's counter shoal_task_cpu_seconds is
# exposed as shoal_task_cpu_seconds_total, as Prometheus names counters.
PREDEFINED = {
    CPU: ("sum(rate(shoal_task_cpu_seconds_total{{{sel}}}[{window}])) * 1024"
          " / sum(shoal_task_cpu_reserved_units{{{sel}}}) * 100"),
    MEMORY: ("sum(shoal_task_memory_bytes{{{sel}}})"
             " / sum(shoal_task_memory_reserved_bytes{{{sel}}}) * 100"),
}
COMPARISONS = {
    "GreaterThanThreshold": lambda v, t: v > t,
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}
ADJUSTMENT_TYPES = ("ChangeInCapacity", "PercentChangeInCapacity", "ExactCapacity")
