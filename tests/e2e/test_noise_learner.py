"""The ``noise-learner`` program through the real client: ``NoiseLearner`` (v2) and
``NoiseLearnerV3`` on a noisy and a noiseless backend, and the learn-then-mitigate workflow of
the client-side ``Estimator`` (PEC with the learned layer noise)."""

from __future__ import annotations

import json
import warnings

import numpy as np
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_ibm_runtime import QiskitRuntimeService
from qiskit_ibm_runtime.executor_estimator import Estimator
from qiskit_ibm_runtime.noise_learner import NoiseLearner
from qiskit_ibm_runtime.noise_learner_v3 import NoiseLearnerV3
from qiskit_ibm_runtime.options import NoiseLearnerOptions
from qiskit_ibm_runtime.results import NoiseLearnerResult, NoiseLearnerV3Results

KOLKATA = "fake_kolkata@aer"
IDEAL = "ideal_simulator@aer"


def chain(num_qubits: int) -> QuantumCircuit:
    circuit = QuantumCircuit(num_qubits)
    circuit.h(0)
    for q in range(num_qubits - 1):
        circuit.cx(q, q + 1)
    return circuit


def isa(service: QiskitRuntimeService, name: str, circuit: QuantumCircuit) -> QuantumCircuit:
    backend = service.backend(name)
    manager = generate_preset_pass_manager(
        backend=backend, optimization_level=1, initial_layout=list(range(circuit.num_qubits))
    )
    return manager.run(circuit)


def test_noise_learner_v2_on_a_noisy_device(service: QiskitRuntimeService) -> None:
    backend = service.backend(KOLKATA)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        learner = NoiseLearner(backend, NoiseLearnerOptions(max_layers_to_learn=2))
    job = learner.run([isa(service, KOLKATA, chain(4))])
    result = job.result()
    assert isinstance(result, NoiseLearnerResult)
    assert 1 <= len(result.data) <= 2
    for layer in result.data:
        assert layer.error is not None
        assert layer.error.num_qubits == len(layer.qubits)
        assert np.all(layer.error.rates >= 0)
        assert np.max(layer.error.rates) > 1e-4
    assert result.metadata["backend"] == KOLKATA
    assert "not learned from sampled circuits" in json.dumps(result.metadata)


def test_noise_learner_v3_gates_and_measurements(service: QiskitRuntimeService) -> None:
    backend = service.backend(KOLKATA)
    circuit = isa(service, KOLKATA, chain(3))
    observable = SparsePauliOp("ZZZ").apply_layout(circuit.layout)
    estimator = Estimator(mode=backend)
    estimator.options.resilience.pec_mitigation = True
    layers = estimator.find_unique_layers([(circuit, observable)], types="all")
    result = NoiseLearnerV3(backend).run(layers).result()
    assert isinstance(result, NoiseLearnerV3Results)
    assert len(result) == len(layers)
    protocols = {datum.metadata["learning_protocol"] for datum in result}
    assert protocols == {"lindblad", "trex"}
    for datum in result:
        assert np.all(datum._rates_std == 0)
        assert np.max(datum._rates) > 1e-5


def test_noise_learner_v3_on_a_noiseless_backend(service: QiskitRuntimeService) -> None:
    backend = service.backend(IDEAL)
    circuit = isa(service, IDEAL, chain(3))
    observable = SparsePauliOp("ZZZ").apply_layout(circuit.layout)
    estimator = Estimator(mode=backend)
    estimator.options.resilience.pec_mitigation = True
    layers = estimator.find_unique_layers([(circuit, observable)])
    assert layers
    result = NoiseLearnerV3(backend).run(layers).result()
    assert len(result) == len(layers)
    for datum in result:
        assert len(datum) > 0
        assert np.all(datum._rates == 0)


def test_learned_noise_feeds_pec(service: QiskitRuntimeService) -> None:
    """The workflow of the client's documentation: find the layers, learn them, hand the maps
    to the Estimator's PEC, run to completion. The mitigated value of a GHZ correlator is
    closer to the ideal 1 than the unmitigated one, or within its error bars of it."""
    backend = service.backend(KOLKATA)
    circuit = isa(service, KOLKATA, chain(3))
    observable = SparsePauliOp("ZZI").apply_layout(circuit.layout)
    pubs = [(circuit, observable)]
    estimator = Estimator(mode=backend)
    estimator.options.resilience.pec_mitigation = True
    estimator.options.resilience.measure_mitigation = False
    layers = estimator.find_unique_layers(pubs)
    learned = NoiseLearnerV3(backend).run(layers).result()
    estimator.options.resilience.layer_noise_model = zip(
        layers, learned.to_pauli_lindblad_maps(), strict=True
    )
    result = estimator.run(pubs).result()
    value = float(result[0].data.evs)
    std = float(result[0].data.stds)
    assert np.isfinite(value)
    assert abs(value - 1) < max(5 * std, 0.1)
