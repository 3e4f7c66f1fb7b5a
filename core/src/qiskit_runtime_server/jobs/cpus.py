"""The cores this server may use, which is what worker counts and thread shares divide.

``os.cpu_count()`` is the host's count: in a container limited to two CPUs on a 64-core host it
would start 64 workers that each think they own a core. The affinity mask (``taskset``,
``--cpuset-cpus``) and the cgroup v2 CPU quotas of this process's cgroup and its ancestors
(``docker --cpus``, a Kubernetes CPU limit, systemd's ``CPUQuota=``) all narrow it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
OWN_CGROUP = Path("/proc/self/cgroup")


def usable_cpus(cgroup_root: Path = CGROUP_ROOT, own_cgroup: Path = OWN_CGROUP) -> int:
    """The cores of the affinity mask, capped by the tightest quota (rounded up); at least 1."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    quotas = [q for d in _cgroup_dirs(cgroup_root, own_cgroup) if (q := _quota(d)) is not None]
    if quotas:
        cpus = min(cpus, math.ceil(min(quotas)))
    return max(1, cpus)


def _cgroup_dirs(root: Path, own_cgroup: Path) -> list[Path]:
    """This process's cgroup v2 directory and its ancestors up to the root."""
    try:
        lines = own_cgroup.read_text().splitlines()
    except OSError:
        return [root]
    path = next((line[3:] for line in lines if line.startswith("0::")), "/")
    directory = root / path.strip("/")
    return [directory, *(p for p in directory.parents if p.is_relative_to(root))]


def _quota(directory: Path) -> float | None:
    """Cores' worth of CPU time per period (``"200000 100000"`` is 2.0); None if unlimited."""
    try:
        quota, period = (directory / "cpu.max").read_text().split()[:2]
        if quota == "max":
            return None
        return int(quota) / int(period)
    except (OSError, ValueError, ZeroDivisionError):
        return None
