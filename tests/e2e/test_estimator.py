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
