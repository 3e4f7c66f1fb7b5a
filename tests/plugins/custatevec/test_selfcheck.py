"""The GPU self-check and benchmark command runs (here on the NumPy kernel, small sizes)."""

from __future__ import annotations

import pytest
from qiskit_runtime_server_custatevec.selfcheck import main


def test_quick_selfcheck_on_cpu(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--kernel", "numpy", "--quick", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out
    assert out.count("PASS") == 11  # 5 checks in each precision, the noisy trajectories
    assert "| layered depth 10 | 10 | single | 5 |" in out
    assert "100-point sweep" in out


@pytest.mark.slow
def test_the_server_table_runs_on_cpu(capsys: pytest.CaptureFixture[str]) -> None:
    """``--server`` (issue 17's GPU table) through a real server and client, small sizes on the
    NumPy kernel: it checks the command's steps (noisy jobs, a cancel, the memory report), not a
    GPU's numbers."""
    assert main(["--kernel", "numpy", "--quick", "--no-benchmark", "--server"]) == 0
    out = capsys.readouterr().out
    assert "| noisy efficient_su2(6, reps=2), fake_kolkata, 64 shots |" in out
    assert "| the same with experimental.trajectories=8 (correlated shots) |" in out
    assert "8 trajectories x 8 shots;" in out
    assert "first job after a cancel" in out
    assert "idle device memory" in out
