"""The cores this server may use, which is what worker counts and thread shares divide.

``os.cpu_count()`` is the host's count: in a container limited to two CPUs on a 64-core host it
would start 64 workers that each think they own a core. The affinity mask (``taskset``,
``--cpuset-cpus``) and a cgroup v2 CPU quota (``docker --cpus``, a Kubernetes CPU limit) both
narrow it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def usable_cpus(cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """The cores of the affinity mask, capped by the cgroup's quota (rounded up); at least 1."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    quota = _cgroup_quota(cpu_max)
    if quota is not None:
        cpus = min(cpus, math.ceil(quota))
    return max(1, cpus)


def _cgroup_quota(cpu_max: Path) -> float | None:
    """Cores' worth of CPU time per period (``"200000 100000"`` is 2.0); None if unlimited."""
    try:
        quota, period = cpu_max.read_text().split()[:2]
        if quota == "max":
            return None
        return int(quota) / int(period)
    except (OSError, ValueError, ZeroDivisionError):
        return None
