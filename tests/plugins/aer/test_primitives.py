"""How many threads the aer executor gives Aer: the job's own cores always, the idle cores
only for trajectories (independent shots), one thread for tiny circuits."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pytest
from qiskit import QuantumCircuit
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_aer import AerSimulator
from qiskit_runtime_server import SamplerTask, TaskOptions
from qiskit_runtime_server.backend_description import BackendDescription
from qiskit_runtime_server.builtin.ideal_simulator import (
    IDEAL_SIMULATOR_NAME,
    ideal_configuration,
)
from qiskit_runtime_server.document_backend import DocumentDescription
from qiskit_runtime_server_aer.primitives import AerPrimitives
from qrs_test_plugins.circuits import fake_device, ghz

fusion_thresholds: list[int] = []


@contextmanager
def aer_threads() -> Iterator[list[tuple[str, int]]]:
    """(method, max_parallel_threads) of every 100-shot Aer run inside the block; the fusion
    threshold of each in ``fusion_thresholds``."""
    runs: list[tuple[str, int]] = []
    fusion_thresholds.clear()
    original = AerSimulator.run

    def spy(self: AerSimulator, circuits: object, **options: object) -> object:
        if options.get("shots") == 100:
            runs.append((self.options.method, self.options.max_parallel_threads))
            fusion_thresholds.append(self.options.fusion_threshold)
        return original(self, circuits, **options)

    with mock.patch.object(AerSimulator, "run", spy):
        yield runs


def run(
    backend: BackendDescription,
    name: str,
    circuit: QuantumCircuit,
    raw: dict[str, Any] | None = None,
) -> None:
    task = SamplerTask(
        job_id="threads", executor="aer", backend_name=f"{name}@aer", backend=backend,
        options=TaskOptions(seed_simulator=1, raw=raw or {}),
        pubs=(SamplerPub.coerce((circuit, None, 100)),), threads=2, idle_threads=3,
    )  # fmt: skip
    AerPrimitives().run(task)


def test_noisy_trajectories_use_the_idle_cores_too() -> None:
    device = fake_device("fake_guadalupe")
    isa = generate_preset_pass_manager(1, backend=device.backend(), seed_transpiler=1).run(
        ghz(8, measure=True)
    )
    with aer_threads() as runs:
        run(device, "fake_guadalupe", isa)
    assert runs
    assert all(method != "density_matrix" and threads == 5 for method, threads in runs), runs


def test_readout_errors_alone_are_one_state_sampled() -> None:
    device = fake_device("fake_guadalupe")
    isa = generate_preset_pass_manager(1, backend=device.backend(), seed_transpiler=1).run(
        ghz(8, measure=True)
    )
    preview = {"experimental": {"noise_approximation": "readout_only"}}
    with aer_threads() as runs:
        run(device, "fake_guadalupe", isa, preview)
    assert runs
    assert all(threads == 2 for _, threads in runs), runs
    assert fusion_thresholds
    assert 1 not in fusion_thresholds  # Aer's own fusion: this is not a trajectory run


@pytest.mark.parametrize(("qubits", "threads"), [(8, 2), (3, 1)])
def test_one_state_keeps_to_the_jobs_own_cores(qubits: int, threads: int) -> None:
    with aer_threads() as runs:
        ideal = DocumentDescription(IDEAL_SIMULATOR_NAME, ideal_configuration())
        run(ideal, IDEAL_SIMULATOR_NAME, ghz(qubits, measure=True))
    assert runs == [("automatic", threads)]
