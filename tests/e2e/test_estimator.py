"""EstimatorV2 through the real client."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.primitives import PubResult, StatevectorEstimator
from qiskit.quantum_info import SparsePauliOp, Statevector
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_ibm_runtime import EstimatorV2, QiskitRuntimeService
from qiskit_ibm_runtime.executor.calculate_twirling_shots import calculate_twirling_shots
from qiskit_ibm_runtime.fake_provider import FakeManilaV2
from qiskit_runtime_server.testing.contract import check_ibm_schema


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
    estimator.options.resilience_level = 0  # IBM's default (1) would remove the readout error
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


@pytest.mark.parametrize("backend_name", ["ideal_simulator@aer", "fake_manila@aer"])
def test_results_have_ibms_form(service: QiskitRuntimeService, backend_name: str) -> None:
    """One observable gives 0-d arrays (``evs.shape == ()``), never Python floats; the
    metadata has what IBM's schema asks for, and every key local testing mode gives."""

    def pubs(backend: object) -> list[tuple[object, ...]]:
        isa = generate_preset_pass_manager(1, backend=backend, seed_transpiler=3).run(bell())
        isa.metadata = {"experiment": 3}
        zz = SparsePauliOp("ZZ").apply_layout(isa.layout)
        return [(isa, zz, None, 0.05), (isa, [[zz], [zz]], [(), (), ()], 0.05)]

    backend = service.backend(backend_name)
    result = EstimatorV2(mode=backend).run(pubs(backend)).result()
    check_ibm_schema(result, "estimator")
    local_device = FakeManilaV2()
    local = EstimatorV2(mode=local_device).run(pubs(local_device)).result()
    for index, shape in enumerate([(), (2, 3)]):
        ours, theirs = result[index], local[index]
        assert type(ours) is type(theirs) is PubResult
        assert list(ours.data) == ["evs", "stds", "ensemble_standard_error"]
        for name in ours.data:
            value = getattr(ours.data, name)
            assert isinstance(value, np.ndarray), (name, type(value))
            assert (value.shape, value.dtype) == (shape, np.float64), name
        if not backend_name.startswith("fake"):  # without twirling they are equal, as on IBM
            np.testing.assert_array_equal(ours.data.ensemble_standard_error, ours.data.stds)
        for key in theirs.metadata:  # target_precision, shots, circuit_metadata
            assert key in ours.metadata, key
        assert ours.metadata["target_precision"] == 0.05
        assert ours.metadata["circuit_metadata"] == {"experiment": 3}
        assert ours.metadata["resilience"] == {}
    assert result.metadata["version"] == 2
    assert result.metadata["dynamical_decoupling"]["enable"] is False
    if backend_name.startswith("fake"):
        # IBM's default (resilience level 1) on a noisy device: TREX with measurement twirling,
        # ceil(1 / 0.05^2) = 400 shots split into randomizations as the client splits them
        # (7 of 64 shots), counted as IBM counts them.
        assert result.metadata["resilience"] == {
            "measure_mitigation": True, "zne_mitigation": False, "pec_mitigation": False,
        }  # fmt: skip
        assert result.metadata["twirling"]["enable_measure"] is True
        randomizations, per_randomization = calculate_twirling_shots(400, "auto", "auto")
        assert result[0].metadata["shots"] == randomizations * per_randomization >= 400
        assert result[0].metadata["num_randomizations"] == randomizations
    else:
        # Nothing to mitigate on the ideal simulator, and the result says so.
        assert result.metadata["resilience"] == {
            "measure_mitigation": False, "zne_mitigation": False, "pec_mitigation": False,
        }  # fmt: skip
        assert result.metadata["twirling"]["enable_measure"] is False
        assert result[0].metadata["shots"] is None  # exact values: nothing was measured


def test_parameter_sets_of_a_circuit_without_parameters_broadcast(
    service: QiskitRuntimeService,
) -> None:
    """Observables of shape (3, 1) against parameter values of shape (5, 0): (3, 5) estimates,
    each within five precisions of the exact value, five independent draws per observable."""
    observables = [[SparsePauliOp("ZZ")], [SparsePauliOp("XX")], [SparsePauliOp("ZI")]]
    exact = np.array([[1.0], [1.0], [0.0]])
    precision = 0.02
    estimator = EstimatorV2(mode=service.backend("ideal_simulator@aer"))
    estimator.options.seed_estimator = 8
    pub = (bell(), observables, np.zeros((5, 0)), precision)
    data = estimator.run([pub]).result()[0].data
    reference = StatevectorEstimator().run([pub]).result()[0].data
    assert data.evs.shape == data.stds.shape == reference.evs.shape == (3, 5)
    assert np.all(np.abs(data.evs - exact) <= 5 * precision), data.evs
    for row in data.evs:
        assert len(set(row.tolist())) == 5, row
    empty = estimator.run([(bell(), observables, np.zeros((0, 0)), precision)]).result()[0]
    assert empty.data.evs.shape == (3, 0)
