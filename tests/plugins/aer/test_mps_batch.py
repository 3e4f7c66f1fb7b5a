"""Batched MPS trajectories (mps_batch.py) against exact density-matrix references.

Every fidelity test draws 4000 seeded shots and compares their counts with the exact noisy
outcome distribution: Aer's density matrix of the same circuit with the same noise model, the
readout errors applied to it exactly. Pearson's chi-square p-value must stay above 1e-5 (a
correct sampler fails that about once in 100,000 runs; each test also passed with other seeds,
and failed when a channel was applied on the wrong site, a two-qubit gate in Qiskit's qubit
order, or the readout errors skipped).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.primitives.containers.bindings_array import BindingsArray
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit.quantum_info import Kraus, Operator, SparsePauliOp, random_unitary
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_aer import AerSimulator
from qiskit_aer.noise import (
    NoiseModel,
    QuantumError,
    ReadoutError,
    depolarizing_error,
    pauli_error,
    thermal_relaxation_error,
)
from qiskit_runtime_server import EstimatorTask, SamplerTask, TaskOptions
from qiskit_runtime_server_aer import capacity, mps_batch
from qiskit_runtime_server_aer.method import BATCHED_TRAJECTORIES
from qiskit_runtime_server_aer.noise import NoiseModelCache
from qiskit_runtime_server_aer.primitives import AerPrimitives
from qiskit_runtime_server_aer.translation import for_aer
from qrs_test_plugins.circuits import fake_device
from qrs_test_plugins.statistics import chi_square_p_value
from scipy.stats import chi2_contingency

SHOTS = 4000
P_VALUE_FLOOR = 1e-5
MANILA = fake_device("fake_manila")  # a line of 5 qubits: 0-1-2-3-4


def brickwork(qubits: int, depth: int, seed: int) -> QuantumCircuit:
    """Random single-qubit rotations and CX on alternating neighbours, in both directions."""
    rng = np.random.default_rng(seed)
    circuit = QuantumCircuit(qubits)
    for layer in range(depth):
        for qubit in range(qubits):
            circuit.u(*rng.uniform(0, 2 * np.pi, 3), qubit)
        for qubit in range(layer % 2, qubits - 1, 2):
            if rng.random() < 0.5:
                circuit.cx(qubit, qubit + 1)
            else:
                circuit.cx(qubit + 1, qubit)
    return circuit


def on_manila(circuit: QuantumCircuit) -> QuantumCircuit:
    """``circuit`` in fake_manila's basis on its own qubits (the line keeps neighbours)."""
    manager = generate_preset_pass_manager(
        optimization_level=1,
        backend=MANILA.backend(),
        initial_layout=list(range(circuit.num_qubits)),
        seed_transpiler=1,
    )
    return for_aer(manager.run(circuit))


def manila_noise(circuit: QuantumCircuit) -> NoiseModel:
    noise = NoiseModelCache().for_circuits(MANILA, [circuit])
    assert noise is not None
    return noise


def exact_distribution(circuit: QuantumCircuit, noise: NoiseModel) -> NDArray[np.float64]:
    """P(clbit values) of ``circuit`` (final measurements only) with ``noise``: the density
    matrix's probabilities of every qubit, then each measurement's readout error."""
    unitary, measurements = split(circuit)
    unitary.save_probabilities(list(range(circuit.num_qubits)))
    simulator = AerSimulator(method="density_matrix", noise_model=noise)
    states = simulator.run(unitary).result().data()["probabilities"]
    confusion = {}
    for qubit, _ in measurements:
        error = noise._local_readout_errors.get((qubit,), noise._default_readout_error)
        confusion[qubit] = np.eye(2) if error is None else np.asarray(error.probabilities)
    clbits = circuit.num_clbits
    out = np.zeros(2**clbits)
    for state, p in enumerate(states):
        if p < 1e-15:
            continue
        for read in itertools.product((0, 1), repeat=len(measurements)):
            weight = p
            index = 0
            for (qubit, clbit), bit in zip(measurements, read, strict=True):
                weight *= confusion[qubit][(state >> qubit) & 1, bit]
                index |= bit << clbit
            out[index] += weight
    return out


def split(circuit: QuantumCircuit) -> tuple[QuantumCircuit, list[tuple[int, int]]]:
    unitary = circuit.copy_empty_like()
    measurements = []
    for instruction in circuit.data:
        if instruction.operation.name == "measure":
            measurements.append(
                (
                    circuit.find_bit(instruction.qubits[0]).index,
                    circuit.find_bit(instruction.clbits[0]).index,
                )
            )
        else:
            unitary.append(instruction)
    return unitary, measurements


def batched_counts(
    circuit: QuantumCircuit,
    noise: NoiseModel,
    seed: int,
    parameter_values: BindingsArray | None = None,
    threads: int = 2,
) -> NDArray[np.int64]:
    """Counts per clbit-value index of each parameter set (rows)."""
    compiled = mps_batch.compile_pub(circuit, parameter_values or BindingsArray(), noise)
    bits = mps_batch.sample(compiled, SHOTS, seed, bond_dimension=4, threads=threads)
    weights = 1 << np.arange(circuit.num_clbits)
    indices = (bits * weights).sum(axis=2)
    return np.array([np.bincount(row, minlength=2**circuit.num_clbits) for row in indices])


def assert_matches(counts: NDArray[np.int64], exact: NDArray[np.float64]) -> None:
    p_value = chi_square_p_value(counts, exact)
    assert p_value > P_VALUE_FLOOR, p_value


# --- fidelity -----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2])
def test_device_noise_brickwork_matches_the_density_matrix(seed: int) -> None:
    """fake_manila's own noise (depolarizing and thermal relaxation, a Kraus channel where
    T2 > T1, a mixture with resets elsewhere; readout errors) on 5 qubits, depth 6."""
    circuit = on_manila(brickwork(5, 6, seed))
    circuit.measure_all()
    noise = manila_noise(circuit)
    assert_matches(batched_counts(circuit, noise, seed)[0], exact_distribution(circuit, noise))


def test_partial_and_repeated_measurements_into_shuffled_clbits() -> None:
    """Qubit 2 unmeasured (traced out), qubit 0 read twice (independent readout errors),
    clbits in another order than the qubits."""
    body = on_manila(brickwork(5, 5, 7))
    circuit = QuantumCircuit(body.num_qubits, 5)
    circuit.compose(body, inplace=True)
    for qubit, clbit in [(4, 0), (0, 1), (3, 2), (1, 3), (0, 4)]:
        circuit.measure(qubit, clbit)
    noise = manila_noise(circuit)
    assert_matches(batched_counts(circuit, noise, 3)[0], exact_distribution(circuit, noise))


def test_each_parameter_set_matches_its_own_reference() -> None:
    theta = Parameter("theta")
    circuit = QuantumCircuit(3)
    circuit.ry(theta, 0)
    circuit.cx(0, 1)
    circuit.rx(theta / 2, 2)
    circuit.cx(2, 1)
    circuit.measure_all()
    circuit = on_manila(circuit)
    noise = manila_noise(circuit)
    values = [0.3, 2.2]
    counts = batched_counts(circuit, noise, 5, BindingsArray({theta: np.array(values)}))
    for row, value in zip(counts, values, strict=True):
        assert_matches(row, exact_distribution(circuit.assign_parameters([value]), noise))


def general_noise() -> NoiseModel:
    """Errors of every form the batch samples: a two-qubit error that is not a product (a
    random unitary, and a two-qubit Kraus channel), one made of one-qubit instructions,
    relaxation as a reset mixture (T2 < T1)
    and as Kraus operators (T2 > T1), defaults for all qubits, an asymmetric readout."""
    noise = NoiseModel(basis_gates=["cx", "sx", "rz", "x"])
    mixed = QuantumError([(random_unitary(4, seed=3), 0.1), (Operator(np.eye(4)), 0.9)])
    mixed = mixed.compose(depolarizing_error(0.05, 2))
    amplitude = Kraus([np.diag([1, np.sqrt(0.9)]), np.array([[0, np.sqrt(0.1)], [0, 0]])])
    correlated = QuantumError(amplitude.tensor(amplitude).compose(Kraus(random_unitary(4, seed=4))))
    noise.add_quantum_error(mixed, "cx", [0, 1])
    noise.add_quantum_error(correlated, "cx", [2, 1])
    # One-qubit instructions in a two-qubit error: damping on the gate's first qubit, a flip on
    # its second (the sites must not be swapped).
    one_sided = QuantumError(amplitude).expand(pauli_error([("X", 0.3), ("I", 0.7)]))
    noise.add_quantum_error(one_sided, "cx", [3, 2])
    noise.add_quantum_error(one_sided, "cx", [3, 0])
    noise.add_all_qubit_quantum_error(depolarizing_error(0.03, 2), "cx")
    noise.add_quantum_error(thermal_relaxation_error(50, 30, 5), "sx", [0])
    noise.add_quantum_error(thermal_relaxation_error(30, 50, 5), "sx", [1])
    noise.add_all_qubit_quantum_error(depolarizing_error(0.02, 1), ["sx", "x"])
    noise.add_readout_error(ReadoutError([[0.9, 0.1], [0.25, 0.75]]), [1])
    noise.add_all_qubit_readout_error(ReadoutError([[0.97, 0.03], [0.05, 0.95]]))
    return noise


def test_every_error_form_matches_the_density_matrix() -> None:
    circuit = QuantumCircuit(4)
    for layer in range(4):
        for qubit in range(4):
            circuit.sx(qubit)
            circuit.rz(0.4 + layer + qubit, qubit)
        circuit.cx(0, 1)
        circuit.cx(2, 1)
        circuit.cx(3, 2)
        circuit.x(layer % 4)
    circuit.measure_all()
    noise = general_noise()
    assert_matches(batched_counts(circuit, noise, 11)[0], exact_distribution(circuit, noise))


def test_gates_between_distant_sites_match_the_density_matrix() -> None:
    """Two-qubit gates across one, two and three sites, in both directions, with their errors
    (a one-sided one on (3, 0)): the qubit is swapped next to its partner and back."""
    circuit = QuantumCircuit(5)
    for layer in range(3):
        for qubit in range(5):
            circuit.sx(qubit)
            circuit.rz(0.7 * layer + 0.3 * qubit, qubit)
        circuit.cx(3, 0)
        circuit.cx(1, 4)
        circuit.cx(2, 0)
        circuit.cx(0, 1)
    circuit.measure_all()
    noise = general_noise()
    assert_matches(batched_counts(circuit, noise, 13)[0], exact_distribution(circuit, noise))


def test_noise_raises_the_bond_dimension_beyond_the_noiseless_one() -> None:
    """A mirror circuit's noiseless state is a product state (bond dimension 1, what the
    planner's probe would report); noise events between the halves entangle the trajectories,
    and the batches grow their bonds as needed."""
    half = on_manila(brickwork(5, 4, 9))
    circuit = half.compose(half.inverse())
    circuit.measure_all()
    noise = manila_noise(circuit)
    compiled = mps_batch.compile_pub(circuit, BindingsArray(), noise)
    bits = mps_batch.sample(compiled, SHOTS, 2, bond_dimension=1, threads=1)
    counts = np.bincount((bits[0] * (1 << np.arange(5))).sum(axis=1), minlength=32)
    assert counts[0] < SHOTS * 0.95  # the noise shows
    assert_matches(counts, exact_distribution(circuit, noise))


# --- seeds --------------------------------------------------------------------------------------


def test_a_seed_gives_the_same_shots_on_any_number_of_threads() -> None:
    circuit = on_manila(brickwork(5, 3, 4))
    circuit.measure_all()
    noise = manila_noise(circuit)
    compiled = mps_batch.compile_pub(circuit, BindingsArray(), noise)
    one = mps_batch.sample(compiled, 1200, 8, threads=1)
    two = mps_batch.sample(compiled, 1200, 8, threads=2)
    other = mps_batch.sample(compiled, 1200, 9, threads=2)
    assert np.array_equal(one, two)
    assert not np.array_equal(one, other)


# --- what does not run here -------------------------------------------------------------------


def unsupported(circuit: QuantumCircuit, noise: NoiseModel) -> str:
    with pytest.raises(mps_batch.Unsupported) as raised:
        mps_batch.compile_pub(circuit, BindingsArray(), noise)
    return str(raised.value)


def test_circuits_outside_the_batch_say_why() -> None:
    noise = general_noise()
    middle = QuantumCircuit(2, 2)
    middle.measure(0, 0)
    middle.x(0)
    middle.measure(0, 1)
    assert "not final" in unsupported(middle, noise)
    delayed = QuantumCircuit(2)
    delayed.delay(100, 0)
    assert "delay" in unsupported(delayed, noise)
    wide_gate = QuantumCircuit(3)
    wide_gate.ccx(0, 1, 2)
    assert "3 qubits" in unsupported(wide_gate, noise)


def test_correlated_readout_errors_are_not_sampled_here() -> None:
    noise = NoiseModel()
    noise.add_readout_error(ReadoutError(np.eye(4) * 0.9 + 0.025), [0, 1])
    assert "correlated readout" in unsupported(QuantumCircuit(2), noise)


# --- through the executor ---------------------------------------------------------------------


def sampler_task(circuit: QuantumCircuit, log: list[str], device: Any = MANILA) -> SamplerTask:
    return SamplerTask(
        job_id="batched",
        executor="aer",
        backend_name=f"{device.name}@aer",
        backend=device,
        options=TaskOptions(seed_simulator=21, raw={}),
        pubs=(SamplerPub.coerce((circuit, None, EXECUTOR_SHOTS)),),
        log=log.append,
    )


#: Shots of the executor tests: fewer than 2^13, so that 13 qubits are not a density matrix.
EXECUTOR_SHOTS = 1000


def test_the_executor_runs_wide_noisy_mps_plans_batched(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a statevector limit of 4 qubits, a noisy GHZ-13 along a path of fake_kolkata is a
    wide MPS plan: its trajectories run batched, the metadata and the log say so, and the
    distribution of the shots' Hamming weights agrees with Aer's own MPS trajectories of the
    same renumbered circuit (two-sample chi-square)."""
    monkeypatch.setattr(capacity, "statevector_qubit_limit", lambda: 4)
    circuit = kolkata_ghz(mid_circuit_measurement=False)
    log: list[str] = []
    result = AerPrimitives().run(sampler_task(circuit, log, KOLKATA))
    metadata = result[0].metadata["simulator"]
    assert metadata["method"] == "matrix_product_state"
    assert metadata["trajectories"] == BATCHED_TRAJECTORIES
    assert any(line.startswith("INFO PUB 0: estimated") for line in log), log
    batched = hamming_weights(result[0].join_data().get_counts())
    mapping = {physical: site for site, physical in enumerate(metadata["qubit_order"])}
    sites = QuantumCircuit(len(mapping), circuit.num_clbits)
    for instruction in circuit.data:
        qubits = [mapping[circuit.find_bit(q).index] for q in instruction.qubits]
        clbits = [circuit.find_bit(c).index for c in instruction.clbits]
        sites.append(instruction.operation, qubits, clbits)
    noise = NoiseModelCache().for_circuits(KOLKATA, [circuit], mapping=mapping)
    simulator = AerSimulator(method="matrix_product_state", noise_model=noise)
    counts = simulator.run(sites, shots=EXECUTOR_SHOTS, seed_simulator=5).result().get_counts()
    table = np.array([batched, hamming_weights(counts)])
    table = table[:, table.sum(axis=0) > 0]
    assert chi2_contingency(table).pvalue > P_VALUE_FLOOR


KOLKATA = fake_device("fake_kolkata")


def kolkata_ghz(mid_circuit_measurement: bool) -> QuantumCircuit:
    """GHZ-13 along a path of fake_kolkata's couplings, transpiled for it; optionally with
    qubit 0 measured (into an extra clbit) and flipped before the final measurements."""
    path = [0, 1, 4, 7, 10, 12, 15, 18, 21, 23, 24, 25, 22]
    ghz = QuantumCircuit(13, 14 if mid_circuit_measurement else 13)
    ghz.h(0)
    for qubit in range(12):
        ghz.cx(qubit, qubit + 1)
    if mid_circuit_measurement:
        ghz.measure(0, 13)
        ghz.x(0)
    ghz.measure(range(13), range(13))
    manager = generate_preset_pass_manager(
        optimization_level=1, backend=KOLKATA.backend(), initial_layout=path, seed_transpiler=1
    )
    return for_aer(manager.run(ghz))


def hamming_weights(counts: dict[str, int]) -> NDArray[np.int64]:
    out = np.zeros(14, dtype=np.int64)
    for key, count in counts.items():
        out[key.count("1")] += count
    return out


def test_a_circuit_outside_the_batch_runs_on_aer_and_the_log_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(capacity, "statevector_qubit_limit", lambda: 4)
    log: list[str] = []
    circuit = kolkata_ghz(mid_circuit_measurement=True)
    result = AerPrimitives().run(sampler_task(circuit, log, KOLKATA))
    metadata = result[0].metadata["simulator"]
    assert metadata["method"] == "matrix_product_state"
    assert "trajectories" not in metadata
    assert "INFO PUB 0: Aer's MPS trajectories, not batched ones: the circuit has a reset, " in (
        "\n".join(log)
    )


def test_the_noisy_estimator_runs_its_measurement_circuits_batched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The estimator's Pauli-basis measurement circuits of a wide noisy MPS plan run batched
    (mps_backend.py); the values agree with the same job on Aer's MPS trajectories within 5
    combined standard errors."""
    monkeypatch.setattr(capacity, "statevector_qubit_limit", lambda: 4)
    circuit = kolkata_ghz(mid_circuit_measurement=False).remove_final_measurements(inplace=False)
    width = circuit.num_qubits
    path = [0, 1, 4, 7, 10, 12, 15, 18, 21, 23, 24, 25, 22]
    circuit.x(path[1])  # Z0Z1 near -1, Z5Z12 near +1: bits read in the wrong order would swap them
    observables = [
        SparsePauliOp.from_sparse_list([("ZZ", [path[0], path[1]], 1.0)], width),
        SparsePauliOp.from_sparse_list([("ZZ", [path[5], path[12]], 1.0)], width),
        SparsePauliOp.from_sparse_list([("X" * 13, path, 1.0)], width),
    ]

    def run() -> Any:
        task = EstimatorTask(
            job_id="batched",
            executor="aer",
            backend_name="fake_kolkata@aer",
            backend=KOLKATA,
            options=TaskOptions(seed_estimator=3),
            pubs=(EstimatorPub.coerce((circuit, observables), precision=0.03),),
        )
        return AerPrimitives().run(task)[0]

    batched = run()
    assert batched.metadata["simulator"]["trajectories"] == BATCHED_TRAJECTORIES

    def refuse(*_args: object) -> None:
        raise mps_batch.Unsupported("disabled by the test")

    monkeypatch.setattr(mps_batch, "compile_pub", refuse)
    on_aer = run()
    assert "trajectories" not in on_aer.metadata["simulator"]
    difference = np.abs(batched.data.evs - on_aer.data.evs)
    combined = np.hypot(batched.data.stds, on_aer.data.stds)
    assert np.all(difference <= 5 * combined), (batched.data.evs, on_aer.data.evs, combined)
    assert batched.data.evs[0] < -0.5 < 0.5 < batched.data.evs[1]  # the noise leaves them apart


def test_batched_trajectories_make_mps_the_cheaper_plan_up_to_a_larger_bond() -> None:
    """A 16-qubit brickwork of depth 6 along a path of fake_kolkata has bond dimension 8: more
    than an MPS trajectory on Aer is worth there (a statevector trajectory is cheaper), less
    than a batched one is."""
    from qiskit_runtime_server_aer.method import plan_noisy

    path = [0, 1, 4, 7, 10, 12, 15, 18, 21, 23, 24, 25, 22, 19, 16, 14]
    manager = generate_preset_pass_manager(
        optimization_level=1, backend=KOLKATA.backend(), initial_layout=path, seed_transpiler=1
    )
    circuit = for_aer(manager.run(brickwork(16, 6, 3).measure_all(inplace=False)))
    on_aer = plan_noisy(circuit, BindingsArray(), 100)
    batched = plan_noisy(circuit, BindingsArray(), 100, batched=True)
    assert on_aer.method == "statevector", on_aer.reason
    assert batched.method == "matrix_product_state", batched.reason
    assert batched.bond_dimension == 8
