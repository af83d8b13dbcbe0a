"""The runtime-API steps that turn one server set into another (pure): add a server in
maintenance then put it in rotation or drain, move a server to a new address, drain one,
and take a removed one out (maintenance, then delete once it holds no connection); a
server's weight follows a deployment shifting traffic."""

from __future__ import annotations

from dataclasses import dataclass

from agent.proxy.config import Server

Key = tuple[str, str]


@dataclass(frozen=True)
class Step:
    command: str
    # What a successful answer holds ("" when success is an empty answer).
    expect: str = ""
    # A refused step that does not matter now: a delete of a server that still holds
    # connections is retried later (the server is in maintenance already).
    retry_later: bool = False


def state(active: bool) -> str:
    return "ready" if active else "drain"


def plan(current: dict[Key, Server], desired: dict[Key, Server], parked: set[Key]) -> list[Step]:
    """Steps from ``current`` (what the running proxy holds, in rotation or draining) to
    ``desired``. ``parked``: servers removed earlier, still present in maintenance because
    they held connections; they are reused if wanted again, else their delete is retried."""
    steps: list[Step] = []
    for key, want in desired.items():
        ref = f"{want.backend}/{want.name}"
        have = current.get(key)
        if have is None and key not in parked:
            # A new dynamic server starts in maintenance; it is enabled once it exists.
            steps.append(Step(f"add server {ref} {want.options()}", expect="New server registered"))
            if want.checked:
                # A dynamic server's checks start disabled.
                steps.append(Step(f"enable health {ref}"))
            steps.append(Step(f"set server {ref} state {state(want.active)}"))
            continue
        if have is None or (have.address, have.port) != (want.address, want.port):
            # Answered "... changed from ..." or, for a parked server at the same place, "no need to change".
            steps.append(Step(f"set server {ref} addr {want.address} port {want.port}", expect="change"))
        if (have is None and want.weight is not None) or (have is not None and have.weight != want.weight):
            # A deployment shifting traffic (None: back to HAProxy's default weight).
            steps.append(Step(f"set server {ref} weight {1 if want.weight is None else want.weight}"))
        if have is None or have.active != want.active or (have.address, have.port) != (want.address, want.port):
            steps.append(Step(f"set server {ref} state {state(want.active)}"))
    for key in sorted(set(current) - set(desired)):
        steps.append(Step(f"set server {key[0]}/{key[1]} state maint"))
    for key in sorted((set(current) | parked) - set(desired)):
        steps.append(Step(f"del server {key[0]}/{key[1]}", expect="Server deleted", retry_later=True))
    return steps
