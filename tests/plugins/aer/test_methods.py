"""The method the aer executor picks for a noisy sampler PUB is exact: its marginals match an
independent reference (a density-matrix run with the full, unrestricted, unrenumbered device
noise model, 200,000 shots) within 4.5 combined standard errors, observable by observable.

MPS and statevector trajectories are forced here on circuits small enough for the
density-matrix reference; the planner's own choice is checked on the 20-qubit circuits it exists
for. (Aer's shot branching failed exactly this check, see method.py.)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit.library import efficient_su2
from qiskit.circuit.random import random_circuit
from qiskit.primitives import BackendEstimatorV2
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel
from qiskit_runtime_server import EstimatorTask, SamplerTask, TaskOptions
from qiskit_runtime_server.builtin.fake_devices import FakeDeviceDescription, fake_device_classes
from qiskit_runtime_server_aer import method
from qiskit_runtime_server_aer.primitives import AerPrimitives

SHOTS = 4000
REFERENCE_SHOTS = 200_000
SIGMAS = 4.5


def description(name: str) -> FakeDeviceDescription:
    return FakeDeviceDescription(next(c for c in fake_device_classes() if c.backend_name == name))


def ghz_chain(n: int) -> QuantumCircuit:
    circuit = QuantumCircuit(n)
    circuit.h(0)
    for qubit in range(n - 1):
        circuit.cx(qubit, qubit + 1)
    circuit.measure_all()
    return circuit


def su2(n: int) -> QuantumCircuit:
    circuit = efficient_su2(n, reps=2)
    rng = np.random.default_rng(1234)
    circuit = circuit.assign_parameters(rng.uniform(-np.pi, np.pi, circuit.num_parameters))
    circuit.measure_all()
    return circuit


def small_random() -> QuantumCircuit:
    return random_circuit(5, 6, max_operands=2, seed=5, measure=True)


def mid_circuit() -> QuantumCircuit:
    circuit = QuantumCircuit(4, 6)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure(1, 4)
    circuit.reset(1)
    circuit.cx(0, 1)
    circuit.cx(1, 2)
    circuit.sx(3)
    circuit.cx(2, 3)
    circuit.measure(0, 5)
    circuit.measure([0, 1, 2, 3], [0, 1, 2, 3])
    return circuit


def bit_expectations(counts: dict[str, int]) -> np.ndarray:
    """<Z_i> for every bit and <Z_i Z_i+1> for neighbouring bits."""
    width = len(next(iter(counts)))
    total = sum(counts.values())
    z = np.zeros(width)
    zz = np.zeros(width - 1)
    for bitstring, count in counts.items():
        signs = np.array([1 - 2 * int(b) for b in reversed(bitstring)])
        z += count * signs
        zz += count * signs[:-1] * signs[1:]
    return np.concatenate([z, zz]) / total


def reference_counts(circuit: QuantumCircuit, device: FakeDeviceDescription) -> dict[str, int]:
    backend = device.backend()
    model = NoiseModel.from_backend_properties(backend.properties(), dt=backend.dt)
    simulator = AerSimulator(method="density_matrix", noise_model=model, seed_simulator=99)
    counts: dict[str, int] = simulator.run(circuit, shots=REFERENCE_SHOTS).result().get_counts()
    return counts


FAMILIES: dict[str, tuple[str, Callable[[], QuantumCircuit]]] = {
    "ghz chain 8 on fake_kolkata": ("fake_kolkata", lambda: ghz_chain(8)),
    "efficient_su2 6 on fake_guadalupe": ("fake_guadalupe", lambda: su2(6)),
    "random 5 on fake_manila": ("fake_manila", small_random),
    "mid-circuit measurement on fake_lima": ("fake_lima", mid_circuit),
}


@pytest.mark.parametrize("forced", ["matrix_product_state", "statevector"])
@pytest.mark.parametrize("family", list(FAMILIES))
def test_forced_method_matches_the_density_matrix_reference(
    family: str, forced: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    device_name, build = FAMILIES[family]
    device = description(device_name)
    isa = generate_preset_pass_manager(1, backend=device.backend(), seed_transpiler=7).run(build())
    bond = 64 if forced == "matrix_product_state" else 1
    monkeypatch.setattr(method, "largest_useful_bond", lambda qubits: bond)
    monkeypatch.setattr(method, "DENSITY_MATRIX_MAX_QUBITS", 0)
    task = SamplerTask(
        job_id="fidelity",
        executor="aer",
        backend_name=f"{device_name}@aer",
        backend=device,
        options=TaskOptions(seed_simulator=17),
        pubs=(SamplerPub.coerce((isa, None, SHOTS)),),
    )
    result = AerPrimitives().run(task)
    assert result[0].metadata["simulator"]["method"] == forced
    counts = result[0].join_data().get_counts()
    measured = bit_expectations(counts)
    expected = bit_expectations(reference_counts(isa, device))
    sigma = np.sqrt(
        np.clip(1 - measured**2, 1e-3, None) / SHOTS
        + np.clip(1 - expected**2, 1e-3, None) / REFERENCE_SHOTS
    )
    worst = np.max(np.abs(measured - expected) / sigma)
    assert worst < SIGMAS, (family, np.round(measured - expected, 4))


def transpiled_for_kolkata(circuit: QuantumCircuit) -> QuantumCircuit:
    device = description("fake_kolkata")
    return generate_preset_pass_manager(1, backend=device.backend(), seed_transpiler=7).run(circuit)


def test_the_20_qubit_su2_circuit_runs_as_mps_along_its_chain() -> None:
    plan = method.plan_noisy_sampler_pub(
        SamplerPub.coerce((transpiled_for_kolkata(su2(20)), None, 1024))
    )
    assert plan.method == "matrix_product_state"
    assert plan.bond_dimension is not None
    assert plan.bond_dimension <= 8
    assert len(plan.physical_order) == 20


def test_a_highly_entangling_circuit_falls_back_to_statevector_trajectories() -> None:
    circuit = random_circuit(16, 30, max_operands=2, seed=3, measure=True)
    plan = method.plan_noisy_sampler_pub(
        SamplerPub.coerce((transpiled_for_kolkata(circuit), None, 1024))
    )
    assert plan.method == "statevector"
    options = plan.simulator_options()
    assert options["method"] == "statevector"
    assert not any(name.startswith("shot_branching") for name in options)


def test_small_circuits_with_many_shots_use_the_density_matrix() -> None:
    plan = method.plan_noisy_sampler_pub(
        SamplerPub.coerce((transpiled_for_kolkata(ghz_chain(4)), None, 1024))
    )
    assert plan.method == "density_matrix"


def test_forced_mps_estimator_matches_the_density_matrix_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    device = description("fake_guadalupe")
    circuit = su2(5).remove_final_measurements(inplace=False)
    isa = generate_preset_pass_manager(1, backend=device.backend(), seed_transpiler=7).run(circuit)
    layout = isa.layout.final_index_layout()
    labels = ["ZIIII", "IIXZI", "YYIII", "IIIZZ", "XIIIX"]
    observables = [SparsePauliOp(label).apply_layout(isa.layout) for label in labels]
    # An idle qubit's Z term: measured, so its readout error shows.
    idle = next(q for q in range(isa.num_qubits) if q not in layout)
    observables.append(SparsePauliOp.from_sparse_list([("Z", [idle], 1.0)], isa.num_qubits))
    monkeypatch.setattr(method, "largest_useful_bond", lambda qubits: 64)
    monkeypatch.setattr(method, "DENSITY_MATRIX_MAX_QUBITS", 0)
    pub = EstimatorPub.coerce((isa, observables), precision=0.01)
    task = EstimatorTask(
        job_id="fidelity",
        executor="aer",
        backend_name="fake_guadalupe@aer",
        backend=device,
        options=TaskOptions(seed_estimator=5),
        pubs=(pub,),
    )
    result = AerPrimitives().run(task)[0]
    assert result.metadata["simulator"]["method"] == "matrix_product_state"
    # Local testing mode's noise model, on a density matrix (exact, no trajectories).
    backend = device.backend()
    model = NoiseModel.from_backend_properties(backend.properties(), dt=backend.dt)
    reference = BackendEstimatorV2(
        backend=AerSimulator.from_backend(backend, method="density_matrix", noise_model=model),
        options={"seed_simulator": 3},
    )
    expected = reference.run([(isa, observables)], precision=0.002).result()[0].data
    measured = result.data
    sigma = np.sqrt(measured.stds**2 + expected.stds**2)
    assert np.all(np.abs(measured.evs - expected.evs) < SIGMAS * sigma), (
        measured.evs,
        expected.evs,
    )
    assert expected.evs[-1] < 0.999  # the idle qubit's readout error is visible
