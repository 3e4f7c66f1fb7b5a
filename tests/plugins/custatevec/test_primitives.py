"""The statevector primitives on the NumPy reference kernel against exact references.

Statevectors against ``qiskit.quantum_info.Statevector`` (random circuits up to 14 qubits, with
and without fusion), sweeps against per-binding statevectors, expectation values against
``StatevectorEstimator`` with precision 0, sampling against exact probabilities (chi-square),
and mid-circuit measurement and reset against Aer (two-sample chi-square). Statistical tests use
fixed seeds; the chi-square p-value threshold is 1e-4.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from qiskit import QuantumCircuit, transpile
from qiskit.circuit import Parameter
from qiskit.circuit.library import efficient_su2
from qiskit.circuit.random import random_circuit
from qiskit.primitives import StatevectorEstimator
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit.quantum_info import SparsePauliOp, Statevector
from qiskit_runtime_server_custatevec.numpy_kernel import NumpyKernel
from qiskit_runtime_server_custatevec.primitives import StatevectorPrimitives
from qiskit_runtime_server_custatevec.program import UnsupportedCircuit, compile_circuit
from qiskit_runtime_server_custatevec.settings import Settings
from scipy.stats import chi2_contingency, chisquare

P_MIN = 1e-4


def primitives(
    fusion: int = 5, threshold: int = 0, precision: str = "double"
) -> StatevectorPrimitives:
    dtype = np.complex128 if precision == "double" else np.complex64
    settings = Settings(
        kernel="numpy", precision=precision,  # type: ignore[arg-type]
        fusion_max_qubits=fusion, fusion_threshold=threshold,
    )  # fmt: skip
    return StatevectorPrimitives(NumpyKernel(dtype), settings)


def statevector(
    prims: StatevectorPrimitives, circuit: QuantumCircuit, values: np.ndarray | None = None
) -> np.ndarray:
    values = np.zeros((1, 0)) if values is None else values
    return prims.simulation.statevectors(prims.program(circuit, values))


@pytest.mark.parametrize(("num_qubits", "seed"), [(1, 1), (2, 2), (5, 3), (9, 4), (14, 5)])
def test_random_circuits_match_statevector_with_and_without_fusion(
    num_qubits: int, seed: int
) -> None:
    circuit = random_circuit(num_qubits, 8, max_operands=3, seed=seed)
    exact = Statevector(circuit).data
    for fusion in (0, 2, 3, 5):
        state = statevector(primitives(fusion=fusion), circuit)[0]
        np.testing.assert_allclose(state, exact, atol=1e-10, err_msg=f"fusion {fusion}")


def test_fusion_reduces_the_number_of_gates_and_keeps_the_state() -> None:
    circuit = transpile(
        efficient_su2(12, reps=3), basis_gates=["rz", "sx", "cx"], optimization_level=0
    )
    values = np.random.default_rng(1).uniform(-3, 3, (4, circuit.num_parameters))
    unfused = primitives(fusion=0).program(circuit, values)
    fused = primitives(fusion=5).program(circuit, values)
    assert fused.gate_count < unfused.gate_count / 3, (fused.gate_count, unfused.gate_count)
    a = primitives(fusion=0).simulation.statevectors(unfused)
    b = primitives(fusion=5).simulation.statevectors(fused)
    np.testing.assert_allclose(a, b, atol=1e-10)


def test_fusion_threshold_leaves_small_circuits_alone() -> None:
    circuit = random_circuit(4, 5, max_operands=2, seed=3)
    program = primitives(fusion=5, threshold=14).program(circuit, np.zeros((1, 0)))
    assert program.gate_count == len(circuit.data)


def test_parameter_sweep_matches_each_bound_circuit() -> None:
    theta, phi = Parameter("θ"), Parameter("φ")
    circuit = QuantumCircuit(6)
    circuit.h(range(6))
    for q in range(5):
        circuit.rzz(theta, q, q + 1)
        circuit.crx(2 * phi - theta, q + 1, q)
        circuit.cu(theta, phi, 0.3, phi / 2, q, q + 1)  # not vectorised: bound per set
    circuit.global_phase = theta
    values = np.random.default_rng(2).uniform(-3, 3, (7, 2))
    for fusion in (0, 4):
        states = statevector(primitives(fusion=fusion), circuit, values)
        for b, row in enumerate(values):
            bound = circuit.assign_parameters(dict(zip(circuit.parameters, row, strict=True)))
            np.testing.assert_allclose(states[b], Statevector(bound).data, atol=1e-10)


def test_single_precision_is_close() -> None:
    circuit = random_circuit(10, 8, max_operands=2, seed=8)
    state = statevector(primitives(precision="single"), circuit)[0]
    np.testing.assert_allclose(state, Statevector(circuit).data, atol=2e-5)


def test_estimator_matches_the_reference_estimator_exactly() -> None:
    theta = Parameter("θ")
    circuit = random_circuit(7, 6, max_operands=2, seed=4)
    circuit.ry(theta, 3)
    circuit.cx(3, 6)
    observables = [
        [SparsePauliOp(["ZIIIIIZ", "IXYIIII"], [0.5, -2.0])],
        [SparsePauliOp("IIIZIII")],
        [SparsePauliOp(["XXXXXXX", "IIIIIII"], [1.0, 0.25])],
    ]
    values = np.linspace(0, np.pi, 4)
    pub = EstimatorPub.coerce((circuit, observables, values, 0.0))
    result = primitives(fusion=3).estimate(pub, np.random.default_rng(0))
    reference = StatevectorEstimator().run([(circuit, observables, values)]).result()[0]
    assert result.data.evs.shape == (3, 4)
    np.testing.assert_allclose(result.data.evs, reference.data.evs, atol=1e-10)
    np.testing.assert_array_equal(result.data.stds, 0.0)


def test_estimator_precision_adds_seeded_gaussian_noise() -> None:
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    pub = EstimatorPub.coerce((circuit, [[SparsePauliOp("ZZ")]] * 2000, None, 0.05))
    first = primitives().estimate(pub, np.random.default_rng(5))
    again = primitives().estimate(pub, np.random.default_rng(5))
    np.testing.assert_array_equal(first.data.evs, again.data.evs)
    deviations = first.data.evs.ravel() - 1.0
    assert abs(deviations.mean()) < 5 * 0.05 / math.sqrt(2000)
    assert abs(deviations.std() - 0.05) < 0.005
    np.testing.assert_array_equal(first.data.stds, 0.05)


def test_sets_of_a_circuit_without_parameters_are_independent() -> None:
    """Parameter values of shape (k, 0): k sets of shots (or k estimates), each its own, with
    final measurements and with a mid-circuit one; empty sweeps give empty results."""
    final = QuantumCircuit(3)
    final.h(range(3))
    final.measure_all()
    dynamic = QuantumCircuit(3, 3)
    dynamic.h(range(3))
    dynamic.measure(0, 0)
    dynamic.cx(0, 1)
    dynamic.measure([1, 2], [1, 2])
    shots = 2000
    for circuit in (final, dynamic):
        pub = SamplerPub.coerce((circuit, np.zeros((3, 0)), shots))
        bits = primitives().sample(pub, np.random.default_rng(4)).data[circuit.cregs[0].name]
        assert bits.shape == (3,)
        outcomes = bits.array[..., 0]
        for first, second in ((0, 1), (0, 2), (1, 2)):
            # Two independent sets agree on a shot with probability 1/8 (copies: always).
            agreement = float(np.mean(outcomes[first] == outcomes[second]))
            assert abs(agreement - 1 / 8) <= 5 * math.sqrt(1 / 8 * 7 / 8 / shots), agreement
        empty = SamplerPub.coerce((circuit, np.zeros((2, 0, 0)), shots))
        none = primitives().sample(empty, np.random.default_rng(4)).data[circuit.cregs[0].name]
        assert (none.shape, none.num_shots) == ((2, 0), shots)
    bell = QuantumCircuit(2)
    bell.h(0)
    bell.cx(0, 1)
    pub = EstimatorPub.coerce((bell, [[SparsePauliOp("ZZ")], [SparsePauliOp("XI")]],
                               np.zeros((500, 0)), 0.05))  # fmt: skip
    evs = primitives().estimate(pub, np.random.default_rng(5)).data.evs
    assert evs.shape == (2, 500)
    for row, exact in enumerate((1.0, 0.0)):
        assert abs(evs[row].mean() - exact) < 5 * 0.05 / math.sqrt(500)
        assert abs(evs[row].std(ddof=1) / 0.05 - 1) < 5 / math.sqrt(2 * 499)


def test_estimator_refuses_measurements() -> None:
    circuit = QuantumCircuit(1, 1)
    circuit.measure(0, 0)
    pub = EstimatorPub.coerce((circuit, SparsePauliOp("Z"), None, 0.0))
    with pytest.raises(UnsupportedCircuit, match="must not contain measurements"):
        primitives().estimate(pub, np.random.default_rng(0))


def _counts_vector(counts: dict[str, int], width: int) -> np.ndarray:
    return np.array([counts.get(format(i, f"0{width}b"), 0) for i in range(2**width)])


def test_sampling_matches_exact_probabilities() -> None:
    circuit = random_circuit(5, 6, max_operands=2, seed=21)
    probabilities = Statevector(circuit).probabilities()
    measured = circuit.copy()
    measured.measure_all()
    shots = 20000
    result = primitives().sample(
        SamplerPub.coerce((measured, None, shots)), np.random.default_rng(1)
    )
    observed = _counts_vector(result.data.meas.get_counts(), 5)
    support = probabilities > 1e-12
    assert observed[~support].sum() == 0
    assert chisquare(observed[support], probabilities[support] * shots).pvalue > P_MIN


def test_sampler_seed_reproduces_and_registers_follow_clbits() -> None:
    circuit = QuantumCircuit(3)
    circuit.h(range(3))
    circuit.measure_all()
    pub = SamplerPub.coerce((circuit, None, 100))
    one = primitives().sample(pub, np.random.default_rng(3)).data.meas
    two = primitives().sample(pub, np.random.default_rng(3)).data.meas
    assert one.get_bitstrings() == two.get_bitstrings()


def test_idle_qubits_of_a_large_isa_circuit_are_not_simulated() -> None:
    circuit = QuantumCircuit(127, 2)
    circuit.x(100)
    circuit.cx(100, 3)
    circuit.measure([3, 100], [0, 1])
    result = primitives().sample(SamplerPub.coerce((circuit, None, 10)), np.random.default_rng(0))
    assert result.data.c.get_counts() == {"11": 10}
    assert result.metadata["simulator"]["num_qubits_simulated"] == 2


def _aer_counts(circuit: QuantumCircuit, shots: int) -> dict[str, int]:
    from qiskit_aer import AerSimulator

    counts: dict[str, int] = (
        AerSimulator(seed_simulator=5).run(circuit, shots=shots).result().get_counts()
    )
    return {key.replace(" ", ""): value for key, value in counts.items()}


def _mid_circuit_circuits() -> list[QuantumCircuit]:
    teleport_like = QuantumCircuit(3, 4)
    teleport_like.ry(1.1, 0)
    teleport_like.h(1)
    teleport_like.cx(1, 2)
    teleport_like.cx(0, 1)
    teleport_like.h(0)
    teleport_like.measure(0, 0)
    teleport_like.measure(1, 1)
    teleport_like.cz(0, 2)  # acts on a measured qubit: its measurement is mid-circuit
    teleport_like.cx(1, 2)
    teleport_like.ry(0.4, 2)
    teleport_like.measure(2, 2)
    teleport_like.measure(0, 3)

    with_reset = QuantumCircuit(2, 3)
    with_reset.rx(2.2, 0)
    with_reset.cx(0, 1)
    with_reset.measure(0, 0)
    with_reset.reset(0)
    with_reset.h(0)
    with_reset.cx(0, 1)
    with_reset.measure(0, 1)
    with_reset.measure(1, 2)

    overwrite = QuantumCircuit(2, 1)  # the same clbit written twice: the later write wins
    overwrite.h(0)
    overwrite.measure(0, 0)
    overwrite.x(1)
    overwrite.measure(1, 0)
    overwrite.h(0)
    return [teleport_like, with_reset, overwrite]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_mid_circuit_measurement_and_reset_match_aer(index: int) -> None:
    circuit = _mid_circuit_circuits()[index]
    shots = 20000
    result = primitives().sample(
        SamplerPub.coerce((circuit, None, shots)), np.random.default_rng(9)
    )
    ours = result.data.c.get_counts()
    theirs = _aer_counts(circuit, shots)
    assert sum(ours.values()) == shots
    keys = sorted(set(ours) | set(theirs))
    if len(keys) == 1:
        assert ours == theirs
        return
    table = np.array([[ours.get(k, 0) for k in keys], [theirs.get(k, 0) for k in keys]])
    assert chi2_contingency(table).pvalue > P_MIN, (ours, theirs)


def test_control_flow_is_refused_with_a_clear_reason() -> None:
    circuit = QuantumCircuit(1, 1)
    circuit.measure(0, 0)
    with circuit.if_test((circuit.clbits[0], 1)):
        circuit.x(0)
    with pytest.raises(UnsupportedCircuit, match="control flow"):
        compile_circuit(circuit, np.zeros((1, 0)))


def test_initialize_is_lowered_through_its_definition() -> None:
    circuit = QuantumCircuit(2)
    circuit.initialize([0.6, 0, 0, 0.8], [0, 1])
    circuit.measure_all()
    result = primitives().sample(SamplerPub.coerce((circuit, None, 4000)), np.random.default_rng(2))
    counts = result.data.meas.get_counts()
    assert set(counts) == {"00", "11"}
    assert abs(counts["11"] / 4000 - 0.64) < 5 * math.sqrt(0.64 * 0.36 / 4000)


def test_a_final_looking_measurement_overwritten_later_is_not_deferred() -> None:
    circuit = QuantumCircuit(2, 1)
    circuit.x(0)
    circuit.measure(0, 0)  # nothing touches qubit 0 afterwards, but clbit 0 is written again
    circuit.measure(1, 0)
    circuit.x(1)
    result = primitives().sample(SamplerPub.coerce((circuit, None, 20)), np.random.default_rng(0))
    assert result.data.c.get_counts() == {"0": 20}


def test_registers_and_loose_clbits_like_the_reference_sampler() -> None:
    from qiskit import ClassicalRegister, QuantumRegister
    from qiskit.circuit import Clbit

    qreg = QuantumRegister(4)
    alpha, beta = ClassicalRegister(2, "alpha"), ClassicalRegister(3, "beta")
    circuit = QuantumCircuit(qreg, alpha, [Clbit()], beta)
    circuit.x([0, 3])
    circuit.measure([0, 1], alpha)
    circuit.measure(2, 2)  # the loose clbit: not reported
    circuit.measure([3, 0, 2], beta)
    result = primitives().sample(SamplerPub.coerce((circuit, None, 10)), np.random.default_rng(0))
    assert result.data.alpha.get_counts() == {"01": 10}
    assert result.data.beta.get_counts() == {"011": 10}
    assert set(result.data.keys()) == {"alpha", "beta"}


def test_wide_gates_parametric_custom_gates_and_global_phase_gates() -> None:
    from qiskit.circuit.library import GlobalPhaseGate, MCXGate

    t = Parameter("t")
    sub = QuantumCircuit(2, global_phase=t / 3)
    sub.rx(t, 0)
    sub.cry(2 * t, 0, 1)
    circuit = QuantumCircuit(10)
    circuit.h(range(9))
    circuit.append(MCXGate(9), range(10))  # lowered through its definition, not 1024 x 1024
    circuit.append(sub.to_gate(), [3, 9])
    circuit.append(GlobalPhaseGate(t), [])
    values = np.array([[0.4], [2.2]])
    prims = primitives(fusion=0)
    program = prims.program(circuit, values)
    assert all(len(op.targets) <= 6 for op in program.operations)  # type: ignore[union-attr]
    states = prims.simulation.statevectors(program)
    for row, state in zip(values, states, strict=True):
        bound = circuit.assign_parameters({t: row[0]})
        np.testing.assert_allclose(state, Statevector(bound).data, atol=1e-9)


def test_a_barrier_across_idle_qubits_of_a_large_circuit() -> None:
    circuit = QuantumCircuit(27, 1)
    circuit.x(5)
    circuit.barrier()
    circuit.measure(5, 0)
    result = primitives().sample(SamplerPub.coerce((circuit, None, 5)), np.random.default_rng(0))
    assert result.data.c.get_counts() == {"1": 5}
    assert result.metadata["simulator"]["num_qubits_simulated"] == 1


def test_thousands_of_mid_circuit_measurements() -> None:
    circuit = QuantumCircuit(1, 1)
    for _ in range(1500):
        circuit.h(0)
        circuit.measure(0, 0)
    result = primitives().sample(SamplerPub.coerce((circuit, None, 8)), np.random.default_rng(0))
    assert sum(result.data.c.get_counts().values()) == 8
