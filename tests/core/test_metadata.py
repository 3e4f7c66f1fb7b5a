"""The server's block of every result's metadata: what ran the job, and what it did not
apply and why."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from qiskit.primitives import PrimitiveResult
from qiskit_runtime_server import __version__
from qiskit_runtime_server.metadata import add_server_metadata


def _task() -> Any:
    return cast(Any, SimpleNamespace(backend_name="fake_manila@aer", executor="aer"))


def test_ignored_options_stay_a_list_and_reasons_are_given_where_known() -> None:
    result = PrimitiveResult([], metadata={})
    ignored = ["execution.init_qubits", "resilience.layer_noise_learning.layer_pair_depths"]
    reasons = {
        "resilience.layer_noise_learning.layer_pair_depths": "no experiment is run",
        "twirling.strategy": "not ignored in this job, so not reported",
    }
    add_server_metadata(result, _task(), ignored, reasons)
    assert result.metadata["version"] == 2
    assert result.metadata["qiskit_runtime_server"] == {
        "version": __version__,
        "backend": "fake_manila@aer",
        "executor": "aer",
        "ignored_options": ignored,
        "ignored_option_reasons": {
            "resilience.layer_noise_learning.layer_pair_depths": "no experiment is run"
        },
    }


def test_callers_without_reasons_get_an_empty_mapping() -> None:
    result = PrimitiveResult([], metadata={"version": 2})
    add_server_metadata(result, _task(), ["execution.init_qubits"])
    server = result.metadata["qiskit_runtime_server"]
    assert server["ignored_options"] == ["execution.init_qubits"]
    assert server["ignored_option_reasons"] == {}
