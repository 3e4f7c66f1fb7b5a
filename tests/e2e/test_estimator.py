"""EstimatorV2 through the real client."""

from __future__ import annotations

import numpy as np
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp, Statevector
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_ibm_runtime import EstimatorV2, QiskitRuntimeService


def bell() -> QuantumCircuit:
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    return circuit


def test_ideal_values_are_exact_within_precision(service: QiskitRuntimeService) -> None:
    circuit = QuantumCircuit(3)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.ry(0.7, 2)
    circuit.cz(1, 2)
    observables = [SparsePauliOp(label) for label in ("ZZI", "IXX", "ZII", "XXX")]
    exact = [Statevector(circuit).expectation_value(obs).real for obs in observables]
    precision = 0.005
    estimator = EstimatorV2(mode=service.backend("ideal_simulator@aer"))
    estimator.options.default_precision = precision
    result = estimator.run([(circuit, observables)]).result()
    evs = result[0].data.evs
    assert evs.shape == (4,)
    assert np.all(np.abs(evs - exact) <= 5 * precision), (evs, exact)
    assert np.allclose(result[0].data.stds, precision)


def test_noise_is_visible_on_a_fake_device(service: QiskitRuntimeService) -> None:
    backend = service.backend("fake_manila@aer")
    isa = generate_preset_pass_manager(1, backend=backend, seed_transpiler=3).run(bell())
    observable = SparsePauliOp("ZZ").apply_layout(isa.layout)
    estimator = EstimatorV2(mode=backend)
    estimator.options.default_precision = 0.01
    estimator.options.seed_estimator = 5
    result = estimator.run([(isa, observable)]).result()
    value, std = float(result[0].data.evs), float(result[0].data.stds)
    # Ideal <ZZ> is 1; gate and readout errors of fake_manila pull it down by a few percent.
    assert 0.7 < value < 1 - 3 * std, (value, std)
    assert 0 < std <= 0.015


def test_trajectory_expectations_through_the_client(service: QiskitRuntimeService) -> None:
    """The opt-in estimator of exact values per noisy trajectory, with a parameter sweep: one
    value and one standard error per parameter set, stated in the metadata."""
    from qiskit.circuit import Parameter

    backend = service.backend("fake_manila@aer")
    theta = Parameter("theta")
    circuit = QuantumCircuit(5)
    circuit.ry(theta, 0)
    for qubit in range(4):
        circuit.cx(qubit, qubit + 1)
    isa = generate_preset_pass_manager(1, backend=backend, seed_transpiler=3).run(circuit)
    observable = SparsePauliOp("ZZIII").apply_layout(isa.layout)
    estimator = EstimatorV2(
        mode=backend, options={"experimental": {"trajectory_expectations": True}}
    )
    # 25 trajectories: fewer than 2^5, so not the density matrix (which would be exact).
    estimator.options.default_precision = 0.2
    estimator.options.seed_estimator = 11
    angles = np.array([[0.0], [np.pi / 2], [np.pi]])
    result = estimator.run([(isa, observable, angles)]).result()
    evs, stds = result[0].data.evs, result[0].data.stds
    assert evs.shape == stds.shape == (3,)
    # Ideal <Z3 Z4> is 1 at every angle (the chain copies qubit 0); noise can only lower it, and
    # 25 trajectories may well see no error at all. The statistics are tested in
    # tests/plugins/aer/test_expectations.py.
    assert np.all((evs > 0.7) & (evs <= 1 + 1e-9)), evs
    assert np.all((stds >= 0) & (stds <= 0.2)), stds
    metadata = result[0].metadata["simulator"]
    assert metadata["method"] != "density_matrix"
    assert metadata["trajectories"] == 25
    assert "no readout error" in metadata["expectations"]
