"""The opt-in trajectory count's shared parts (trajectory_count.py): parsing and the shot split.
Both executors' behaviour with it: test_trajectories.py here, tests/plugins/custatevec/test_noise.py.
"""

from __future__ import annotations

import pytest
from qiskit_runtime_server_aer.trajectory_count import requested_trajectories, shots_per_trajectory


def test_option_is_validated() -> None:
    assert requested_trajectories({}) is None
    assert requested_trajectories({"experimental": {"trajectories": 32}}) == 32
    for bad in (0, -3, 2.5, "8", True):
        with pytest.raises(ValueError, match="positive integer"):
            requested_trajectories({"experimental": {"trajectories": bad}})


def test_shots_are_split_evenly_among_at_most_shots_trajectories() -> None:
    assert shots_per_trajectory(1001, 20).tolist() == [51] + [50] * 19
    assert shots_per_trajectory(5, 20).tolist() == [1] * 5
    assert shots_per_trajectory(0, 20).size == 0
