"""The catalogue's availability: an executor unavailable on this host is available through a
scheduler that runs it (a Ray cluster's GPU node), and says why it is not otherwise."""

from __future__ import annotations

import pytest
from qiskit_runtime_server.catalogue import Catalogue, Reach
from qiskit_runtime_server.plugins import PluginHost


@pytest.fixture
def catalogue(monkeypatch: pytest.MonkeyPatch) -> Catalogue:
    monkeypatch.delenv("QRS_TEST_GPU_LIKE", raising=False)
    plugins = PluginHost.load(
        entry_points=False,
        plugin_paths=["qrs_test_plugins.testkit", "qrs_test_plugins.gpu_like"],
    )
    return Catalogue(plugins, Reach())


def test_an_executor_run_elsewhere_makes_its_backends_available(catalogue: Catalogue) -> None:
    gpu = catalogue.get("ideal_simulator@gpulike")
    mock = catalogue.get("mock_simulator@gpulike")
    assert gpu is not None
    assert mock is not None
    assert not gpu.available
    assert "QRS_TEST_GPU_LIKE" in (gpu.unavailable_reason or "")
    assert gpu.max_qubits == 1  # this host's own limit, without the device
    catalogue.reach.update(["testkit", "gpulike"], {"testkit": 8, "gpulike": 8})
    assert gpu.available
    assert mock.available
    assert gpu.unavailable_reason is None
    assert gpu.max_qubits == 8  # the nodes' limit
    catalogue.reach.update(["testkit"])  # the GPU node left
    assert not gpu.available


def test_an_executor_available_here_needs_no_scheduler_elsewhere(catalogue: Catalogue) -> None:
    backend = catalogue.get("ideal_simulator@testkit")
    assert backend is not None
    assert backend.available
