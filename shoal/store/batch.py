"""Packing many independent writes into transactions etcd accepts.

A write here is a group that must land whole (a task and its assignment, say); groups are
packed into transactions of at most ``MAX_TXN_OPS`` compares and ops and ``TXN_BYTES`` of
keys and values, and never with the same key twice. A group is never split: each
transaction is all-or-nothing over whole groups, so every chunk has a meaning of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from shoal.store.base import MAX_REQUEST_BYTES, MAX_TXN_OPS, Delete, Put

T = TypeVar("T")

# Under etcd's limit with room for the request's own framing (etcd counts the whole request).
TXN_BYTES = MAX_REQUEST_BYTES * 2 // 3


@dataclass(frozen=True)
class Size:
    """What one group adds to a transaction."""

    compares: int
    keys: Sequence[str]  # every key it puts or deletes
    nbytes: int


def chunks(groups: Sequence[T], size: Callable[[T], Size], reserved_compares: int = 0) -> list[list[int]]:
    """Indices of ``groups``, in order, split into transactions under the limits.
    ``reserved_compares``: compares every transaction carries besides the groups' own (a
    leader's fence). A group over the limits on its own gets a transaction to itself, for
    the store to take (our byte budget is below etcd's) or refuse."""
    max_compares = MAX_TXN_OPS - reserved_compares
    out: list[list[int]] = []
    current: list[int] = []
    compares = ops = nbytes = 0
    seen: set[str] = set()
    for i, group in enumerate(groups):
        s = size(group)
        if current and (compares + s.compares > max_compares or ops + len(s.keys) > MAX_TXN_OPS
                        or nbytes + s.nbytes > TXN_BYTES or any(k in seen for k in s.keys)):
            out.append(current)
            current, compares, ops, nbytes, seen = [], 0, 0, 0, set()
        current.append(i)
        compares += s.compares
        ops += len(s.keys)
        nbytes += s.nbytes
        seen.update(s.keys)
    if current:
        out.append(current)
    return out


def op_size(op: Put | Delete) -> Size:
    """A single unconditional put or delete as a group."""
    return Size(0, (op.key,), len(op.key) + (len(op.value) if isinstance(op, Put) else 0))
