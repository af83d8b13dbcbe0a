"""The host as psutil sees it: capacity to register, usage to heartbeat."""

from __future__ import annotations

from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class HostSample:
    cpu_percent: float
    memory_used_bytes: int
    memory_total_bytes: int


class HostProbe:
    def __init__(self) -> None:
        # psutil measures CPU between calls; this first call starts the interval.
        psutil.cpu_percent(interval=None)

    @staticmethod
    def cpu_units() -> int:
        return (psutil.cpu_count() or 1) * 1024

    @staticmethod
    def memory_mib() -> int:
        return int(psutil.virtual_memory().total // (1024 * 1024))

    def sample(self) -> HostSample:
        vm = psutil.virtual_memory()
        return HostSample(psutil.cpu_percent(interval=None), int(vm.total - vm.available), int(vm.total))
