"""The cores the server may use: the affinity mask, capped by a container's CPU quota."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from qiskit_runtime_server.jobs.cpus import usable_cpus

AFFINITY = len(os.sched_getaffinity(0))


@pytest.mark.parametrize(
    ("cpu_max", "expected"),
    [
        ("max 100000\n", AFFINITY),  # no quota
        ("100000 100000\n", 1),
        ("150000 100000\n", min(AFFINITY, 2)),  # a part-core rounds up
        ("50000 100000\n", 1),  # never 0
        ("10000000 100000\n", AFFINITY),  # a quota above the mask changes nothing
        ("garbage\n", AFFINITY),
    ],
)
def test_a_cgroup_quota_caps_the_affinity_mask(tmp_path: Path, cpu_max: str, expected: int) -> None:
    path = tmp_path / "cpu.max"
    path.write_text(cpu_max)
    assert usable_cpus(path) == expected


def test_without_a_cgroup_file_the_affinity_mask_counts(tmp_path: Path) -> None:
    assert usable_cpus(tmp_path / "absent") == AFFINITY
