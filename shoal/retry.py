"""How long to wait before trying again: one exponential backoff with jitter for every
client that retries (the CLI and autoscaler over control-plane replicas, agents
reconnecting and joining, the Docker event watch)."""

from __future__ import annotations

import random


def backoff(attempt: int, base: float, cap: float) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): ``base`` doubled per attempt up
    to ``cap``, drawn from the upper half so a crowd of clients coming back spreads out."""
    ceiling = min(cap, base * (2 ** min(attempt, 16)))
    return random.uniform(ceiling / 2, ceiling)
