"""The cores the server may use: the affinity mask, capped by its cgroups' CPU quotas."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from qiskit_runtime_server.jobs.cpus import usable_cpus

AFFINITY = len(os.sched_getaffinity(0))


def cgroups(tmp_path: Path, own: str, quotas: dict[str, str]) -> tuple[Path, Path]:
    """A cgroup v2 tree with ``cpu.max`` files, and a /proc/self/cgroup naming ``own``."""
    root = tmp_path / "cgroup"
    for directory, cpu_max in quotas.items():
        (root / directory).mkdir(parents=True, exist_ok=True)
        (root / directory / "cpu.max").write_text(cpu_max)
    own_file = tmp_path / "self-cgroup"
    own_file.write_text(f"0::{own}\n")
    return root, own_file


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
    assert usable_cpus(*cgroups(tmp_path, "/", {".": cpu_max})) == expected


def test_the_tightest_quota_of_the_cgroup_and_its_ancestors_counts(tmp_path: Path) -> None:
    quotas = {"system.slice": "100000 100000", "system.slice/qrs.service": "max 100000"}
    assert usable_cpus(*cgroups(tmp_path, "/system.slice/qrs.service", quotas)) == 1
    elsewhere = {"other.slice": "100000 100000", "mine": "max 100000"}
    assert usable_cpus(*cgroups(tmp_path / "b", "/mine", elsewhere)) == AFFINITY


def test_without_cgroup_files_the_affinity_mask_counts(tmp_path: Path) -> None:
    assert usable_cpus(tmp_path / "absent", tmp_path / "absent-too") == AFFINITY
