"""The GPU self-check and benchmark command runs (here on the NumPy kernel, small sizes)."""

from __future__ import annotations

import pytest
from qiskit_runtime_server_custatevec.selfcheck import main


def test_quick_selfcheck_on_cpu(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--kernel", "numpy", "--quick", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out
    assert out.count("PASS") == 10
    assert "| layered depth 10 | 10 | single | 5 |" in out
    assert "100-point sweep" in out
