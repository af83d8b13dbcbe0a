"""Single values of a task definition: task-level cpu and memory as ECS writes them, and
the small typed checks (container memory, string lists and maps, absolute paths)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from shoal.taskdef.fields import MAX_CPU_UNITS, MAX_MEMORY_MIB, MIN_CONTAINER_MEMORY_MIB, key_path
from shoal.validation import (
    MAX_TASKDEF_BYTES,
    ValidationError,
    expect_int,
    expect_list,
    expect_object,
    expect_string,
    quote,
    show,
)

_NUMBER = r"([0-9]{1,9}(?:\.[0-9]{1,6})?|\.[0-9]{1,6})"
_CPU_TEXT = re.compile(rf"\s*{_NUMBER}\s*(vcpus?)?\s*", re.IGNORECASE)
_MEMORY_TEXT = re.compile(rf"\s*{_NUMBER}\s*(mib|mb|gib|gb)?\s*", re.IGNORECASE)


def _whole(number: Decimal) -> int | None:
    return int(number) if number == number.to_integral_value() else None


def task_cpu(value: Any, field: str = "cpu") -> str:
    """Task-level CPU as ECS writes it (512, "512", "1 vCPU", "0.5 vcpu") -> CPU units as an
    integer string (1024 units = 1 vCPU)."""
    what = f'CPU units from 1 to {MAX_CPU_UNITS} (e.g. 256 or "256") or vCPUs (e.g. "0.25 vCPU")'
    if isinstance(value, str):
        match = _CPU_TEXT.fullmatch(value)
        if not match:
            raise ValidationError(field, f"must be {what}, got {show(value)}")
        number = Decimal(match.group(1))
        units = int((number * 1024).to_integral_value()) if match.group(2) else _whole(number)
        if units is None:
            raise ValidationError(field, f"CPU units must be a whole number, got {show(value)}")
        value = units
    return str(expect_int(value, field, 1, MAX_CPU_UNITS, what=what))


def task_memory(value: Any, field: str = "memory") -> str:
    """Task-level memory as ECS writes it (1024, "1024", "1GB", "2 GB", "512 MiB") -> MiB as
    an integer string. ECS's GB is 1024 MiB."""
    what = f'MiB from 1 to {MAX_MEMORY_MIB} (e.g. 512 or "512") or GB (e.g. "2 GB")'
    if isinstance(value, str):
        match = _MEMORY_TEXT.fullmatch(value)
        if not match:
            raise ValidationError(field, f"must be {what}, got {show(value)}")
        number = Decimal(match.group(1))
        unit = (match.group(2) or "mib").lower()
        mib = int((number * 1024).to_integral_value()) if unit in ("gb", "gib") else _whole(number)
        if mib is None:
            raise ValidationError(field, f"memory must be a whole number of MiB, got {show(value)}")
        value = mib
    return str(expect_int(value, field, 1, MAX_MEMORY_MIB, what=what))


def container_memory(value: Any, field: str) -> int:
    memory = expect_int(value, field, 1, 2**63, what="a positive integer (MiB)")
    if memory < MIN_CONTAINER_MEMORY_MIB:
        raise ValidationError(
            field, f"must be at least {MIN_CONTAINER_MEMORY_MIB} MiB (Docker's minimum), got {memory}"
        )
    if memory > MAX_MEMORY_MIB:
        raise ValidationError(field, f"must be at most {MAX_MEMORY_MIB} MiB, got {memory}")
    return memory


def string_list(value: Any, field: str, *, max_items: int = 1000) -> list[str]:
    items = expect_list(value, field, max_items=max_items)
    return [expect_string(item, f"{field}[{i}]", max_len=MAX_TASKDEF_BYTES) for i, item in enumerate(items)]


def string_map(value: Any, field: str) -> dict[str, str]:
    obj = expect_object(value, field)
    if len(obj) > 1000:
        raise ValidationError(field, f"at most 1000 entries are allowed, got {len(obj)}")
    out = {}
    for key, val in obj.items():
        path = key_path(field, key)
        expect_string(key, path, max_len=255, allow_empty=False)
        out[key] = expect_string(val, path, max_len=MAX_TASKDEF_BYTES)
    return out


def absolute_path(value: Any, field: str) -> str:
    path = expect_string(value, field, max_len=4096, allow_empty=False)
    if not path.startswith("/"):
        raise ValidationError(field, f"must be an absolute path, got {quote(path)}")
    return path
