"""The ``noise-learner`` program through the real client: ``NoiseLearner`` (v2) and
``NoiseLearnerV3`` on a noisy and a noiseless backend, and the learn-then-mitigate workflow of
the client-side ``Estimator`` (PEC with the learned layer noise)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
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


# One database is enough: this is about the simulation, not the storage.
@pytest.mark.parametrize("server", ["sqlite"], indirect=True)
def test_the_client_side_learner_measures_the_rates_the_server_computes(
    service: QiskitRuntimeService,
) -> None:
    """``executor_noise_learner.NoiseLearnerV3`` (client 0.51) runs IBM's learning experiment:
    twirled layer pairs at several depths, sent as an ``executor`` QuantumProgram and simulated
    here with fake_kolkata's noise; the client fits the decays. Its result must agree with what
    the ``noise-learner`` program computes from the same noise model. Only the products
    f(P) f(U P U^dagger) of each Pauli P and its image under the layer's CX are learnable (the
    rest is a gauge the client fixes by symmetry), so those are compared. Tolerance: 0.01,
    five times the largest difference seen in three runs at the learner's default settings
    (2.0e-3, no error bars come with the client's rates); a rate off by a factor 2 moves a
    product by 0.01-0.03."""
    import itertools

    from qiskit import QuantumRegister
    from qiskit.quantum_info import Clifford, Pauli, QubitSparsePauli
    from qiskit_ibm_runtime.executor_noise_learner import NoiseLearnerV3 as ClientSideLearner
    from samplomatic import Twirl

    backend = service.backend(KOLKATA)
    register = QuantumRegister(backend.num_qubits, "q")
    circuit = QuantumCircuit(register)
    with circuit.box([Twirl()]):
        circuit.cx(register[0], register[1])
    layer = circuit.data[0]
    measured = ClientSideLearner(backend).run([layer]).result().to_pauli_lindblad_maps()[0]
    computed = NoiseLearnerV3(backend).run([layer]).result().to_pauli_lindblad_maps()[0]

    cx = QuantumCircuit(2)
    cx.cx(0, 1)
    clifford = Clifford(cx)

    def product(model: object, label: str, image: str) -> float:
        first = model.pauli_fidelity(QubitSparsePauli.from_label(label))  # type: ignore[attr-defined]
        second = model.pauli_fidelity(QubitSparsePauli.from_label(image))  # type: ignore[attr-defined]
        return float(first * second)

    differences = {}
    for letters in itertools.product("IXYZ", repeat=2):
        label = "".join(letters)
        if label == "II":
            continue
        image = Pauli(label).evolve(clifford, frame="s").to_label().lstrip("-")
        differences[label] = product(measured, label, image) - product(computed, label, image)
    assert max(abs(d) for d in differences.values()) < 0.01, differences
