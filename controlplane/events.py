"""Service events: a bounded, newest-first list on the service record, as ECS shows them."""

from __future__ import annotations

import time
import uuid

from shoal.v1 import resources_pb2 as r

MAX_EVENTS = 100


def add_event(svc: r.Service, message: str) -> None:
    if svc.events and svc.events[0].message == message:
        return  # ECS repeats a steady-state message only rarely; so do we
    svc.events.insert(0, r.ServiceEvent(id=uuid.uuid4().hex, created_at=time.time(), message=message))
    del svc.events[MAX_EVENTS:]
