"""Opt-in noise approximations: the Pauli twirl is right on known channels, and each
approximation's bias on Z and ZZ expectation values, computed exactly (density matrices, no
sampling), stays within what docs/simulation.md and the result metadata state.

Biases are measured before readout error, which every variant applies identically (and which
only shrinks differences), so they bound the bias a sampler would see.
"""

from __future__ import annotations

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit.library import efficient_su2
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel, depolarizing_error, thermal_relaxation_error
from qiskit_runtime_server.builtin.fake_devices import FakeDeviceDescription, fake_device_classes
from qiskit_runtime_server.circuits import without_idle_qubits
from qiskit_runtime_server_aer.approximation import (
    BIAS_BOUNDS,
    approximate,
    pauli_twirl,
    requested,
)
from qiskit_runtime_server_aer.noise import restrict
from qrs_test_plugins.circuits import ghz


def test_twirl_of_known_channels() -> None:
    twirled = pauli_twirl(depolarizing_error(0.1, 1))
    assert np.allclose(sorted(twirled.probabilities), [0.025, 0.025, 0.025, 0.925])
    t1 = thermal_relaxation_error(100e3, 150e3, 50)  # amplitude damping: p_X = p_Y = (1-e^-t/T1)/4
    probabilities = sorted(pauli_twirl(t1).probabilities)
    assert np.isclose(probabilities[-2], (1 - np.exp(-50 / 100e3)) / 4, rtol=1e-6)
    assert np.isclose(sum(pauli_twirl(depolarizing_error(0.05, 2)).probabilities), 1)


def test_unknown_approximation_is_refused() -> None:
    assert requested({}) is None
    assert requested({"experimental": {"noise_approximation": "pauli_twirl"}}) == "pauli_twirl"
    with pytest.raises(ValueError, match="must be one of"):
        requested({"experimental": {"noise_approximation": "magic"}})


def su2(n: int) -> QuantumCircuit:
    circuit = efficient_su2(n, reps=2)
    values = np.random.default_rng(1234).uniform(-np.pi, np.pi, circuit.num_parameters)
    return circuit.assign_parameters(values)


def z_and_zz(probabilities: np.ndarray, n: int) -> np.ndarray:
    outcomes = np.arange(2**n)
    signs = 1 - 2 * ((outcomes[:, None] >> np.arange(n)) & 1)
    z = probabilities @ signs
    zz = probabilities @ (signs[:, :-1] * signs[:, 1:])
    return np.concatenate([z, zz])


def exact(circuit: QuantumCircuit, model: NoiseModel | None) -> np.ndarray:
    compact, _ = without_idle_qubits(circuit)
    # Noise acts on physical qubits: give the model the compacted numbering.
    run = compact.copy()
    run.save_probabilities()
    simulator = AerSimulator(method="density_matrix", noise_model=model)
    probabilities = simulator.run(run).result().data(0)["probabilities"]
    return z_and_zz(np.asarray(probabilities), compact.num_qubits)


@pytest.mark.parametrize(
    ("device", "build"),
    [("fake_guadalupe", lambda: su2(8)), ("fake_kolkata", lambda: ghz(10, measure=False))],
)
def test_biases_are_within_the_documented_bounds(device: str, build: object) -> None:
    description = FakeDeviceDescription(
        next(c for c in fake_device_classes() if c.backend_name == device)
    )
    backend = description.backend()
    assert callable(build)
    isa = generate_preset_pass_manager(1, backend=backend, seed_transpiler=7).run(build())
    _compact, keep = without_idle_qubits(isa)
    mapping = {physical: index for index, physical in enumerate(keep)}
    full = restrict(
        NoiseModel.from_backend_properties(backend.properties(), dt=backend.dt),
        keep,
        None,
        mapping=mapping,
    )
    reference = exact(isa, full)
    for name, bound in BIAS_BOUNDS.items():
        bias = np.max(np.abs(exact(isa, approximate(full, name)) - reference))
        print(f"{device} {name}: max |bias| {bias:.4f}")
        assert bias <= bound, (name, bias)
    # The approximations are not no-ops: the full noise is visible against no noise at all.
    assert np.max(np.abs(exact(isa, None) - reference)) > 0.01
