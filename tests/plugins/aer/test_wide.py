"""Fidelity of the aer executor's methods for wide PUBs (issue 16, item 3): the stabilizer
method and the MPS along the circuit's couplings give the right distributions and expectation
values, device noise shows on a wide noisy circuit, PUBs no method fits are refused at submit
with each method's reason, and a long plan says so in the job's log.

References are computed independently of the executor: ``qiskit.quantum_info.Statevector``
(no Aer), closed forms, and Aer's density-matrix method with local testing mode's noise
model (``NoiseModel.from_backend_properties``) on a circuit small enough for it.

Statistical claims, every run seeded (so the tests are deterministic):

* counts against exact probabilities: Pearson's chi-square, bins with an expected count
  below 5 pooled, must have a p-value above ``P_VALUE_FLOOR`` (1e-5, about a 4.4-sigma
  fluke); outcomes of exact probability below 1e-12 must never occur;
* parities and expectation values: ``|measured - exact| < SIGMAS (4.5) * sigma``, with sigma
  the binomial standard error sqrt((1 - <P>^2) / shots) for sampled parities and ``precision``
  for the noiseless estimator (it adds Gaussian noise of that standard deviation to exact
  values); a parity that is exactly +-1 must hold in every shot.

Circuits narrower than this host's statevector limit are made "wide" by lowering that limit
(``capacity.statevector_qubit_limit``, which method.py and primitives.py both call through the
module), so that they take the wide paths while a statevector can still check them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import cache
from itertools import pairwise
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.circuit.random import random_circuit, random_clifford_circuit
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit.quantum_info import Clifford, Pauli, SparsePauliOp, Statevector, random_pauli_list
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel
from qiskit_runtime_server import EstimatorTask, SamplerTask, TaskOptions
from qiskit_runtime_server.backend_description import BackendDescription
from qiskit_runtime_server.builtin.ideal_simulator import IDEAL_SIMULATOR_NAME, ideal_configuration
from qiskit_runtime_server.document_backend import DocumentDescription
from qiskit_runtime_server_aer import capacity, method, mps_batch, primitives
from qiskit_runtime_server_aer.primitives import AerPrimitives, validate_options
from qrs_test_plugins.circuits import fake_device, ghz
from qrs_test_plugins.statistics import IMPOSSIBLE, chi_square_p_value

SIGMAS = 4.5
P_VALUE_FLOOR = 1e-5
#: The statevector limit the forced-wide tests pretend this host has.
FORCED_STATEVECTOR_LIMIT = 4
#: The noiseless estimator's precision (the std of the Gaussian noise it adds).
PRECISION = 1e-3
SHOTS = 4000

IDEAL = DocumentDescription(IDEAL_SIMULATOR_NAME, ideal_configuration())
PAULI_TWIRL = {"experimental": {"noise_approximation": "pauli_twirl"}}


# --- tasks ------------------------------------------------------------------------------------


def sampler_task(
    backend: BackendDescription,
    circuit: QuantumCircuit,
    shots: int,
    seed: int,
    raw: dict[str, Any] | None = None,
    log: Callable[[str], None] | None = None,
) -> SamplerTask:
    return SamplerTask(
        job_id="wide",
        executor="aer",
        backend_name=f"{backend.name}@aer",
        backend=backend,
        options=TaskOptions(seed_simulator=seed, raw=raw or {}),
        pubs=(SamplerPub.coerce((circuit, None, shots)),),
        log=log or (lambda _line: None),
    )


def estimator_task(
    circuit: QuantumCircuit,
    observables: Sequence[SparsePauliOp],
    seed: int,
    backend: BackendDescription = IDEAL,
    precision: float = PRECISION,
) -> EstimatorTask:
    return EstimatorTask(
        job_id="wide",
        executor="aer",
        backend_name=f"{backend.name}@aer",
        backend=backend,
        options=TaskOptions(seed_estimator=seed),
        pubs=(EstimatorPub.coerce((circuit, list(observables)), precision=precision),),
    )


@pytest.fixture
def forced_wide(monkeypatch: pytest.MonkeyPatch) -> None:
    """The planner treats every circuit wider than FORCED_STATEVECTOR_LIMIT as wide."""
    monkeypatch.setattr(capacity, "statevector_qubit_limit", lambda: FORCED_STATEVECTOR_LIMIT)


@pytest.fixture(scope="module")
def aer() -> AerPrimitives:
    """One executor for the module, as in a worker (its device noise models are cached)."""
    return AerPrimitives()


# --- statistics -------------------------------------------------------------------------------


def outcome_counts(counts: dict[str, int]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Outcomes as integers (bit i: clbit i, as Statevector's index has qubit i) and counts."""
    outcomes = np.array([int(key.replace(" ", ""), 2) for key in counts], dtype=np.int64)
    return outcomes, np.array(list(counts.values()), dtype=np.int64)


def window_marginal(probabilities: NDArray[Any], qubits: Sequence[int]) -> NDArray[Any]:
    """The exact marginal distribution of ``qubits`` (index bit j: qubits[j])."""
    index = np.arange(len(probabilities))
    window = np.zeros(len(probabilities), dtype=np.int64)
    for position, qubit in enumerate(qubits):
        window |= ((index >> qubit) & 1) << position
    return np.bincount(window, weights=probabilities, minlength=2 ** len(qubits))


def observed_window(
    outcomes: NDArray[np.int64], counts: NDArray[np.int64], qubits: Sequence[int]
) -> NDArray[np.int64]:
    window = np.zeros(len(outcomes), dtype=np.int64)
    for position, qubit in enumerate(qubits):
        window |= ((outcomes >> qubit) & 1) << position
    return np.bincount(window, weights=counts, minlength=2 ** len(qubits)).astype(np.int64)


def walsh_hadamard(probabilities: NDArray[Any]) -> NDArray[Any]:
    """Every Z-parity's exact expectation: entry r is sum_x p(x) (-1)^popcount(x & r)."""
    width = int(np.log2(len(probabilities)))
    values = probabilities.astype(float).reshape((2,) * width)
    for axis in range(width):
        zero = np.take(values, 0, axis=axis)
        one = np.take(values, 1, axis=axis)
        values = np.stack([zero + one, zero - one], axis=axis)
    return values.reshape(-1)


def parity_masks(width: int, seed: int) -> list[int]:
    """Every single qubit, every neighbouring pair, and 64 random subsets (all subsets when
    there are fewer)."""
    if 2**width - 1 <= 64 + 2 * width:
        return list(range(1, 2**width))
    rng = np.random.default_rng(seed)
    masks = {1 << q for q in range(width)} | {3 << q for q in range(width - 1)}
    while len(masks) < 2 * width - 1 + 64:
        masks.add(int(rng.integers(1, 2**width)))
    return sorted(masks)


def assert_counts_match(counts: dict[str, int], probabilities: NDArray[Any], seed: int) -> None:
    """Counts of a ``width``-qubit circuit against its exact distribution: no impossible
    outcome; a chi-square on the whole distribution (at most 8 qubits) or on windows of 8
    consecutive qubits; z-scores of Z-parities of single qubits, neighbouring pairs and
    random subsets (global correlations the windows miss)."""
    width = int(np.log2(len(probabilities)))
    outcomes, values = outcome_counts(counts)
    shots = int(values.sum())
    impossible = outcomes[probabilities[outcomes] < IMPOSSIBLE]
    assert len(impossible) == 0, f"impossible outcomes sampled: {impossible[:5]}"
    size = min(width, 8)
    for start in sorted({*range(0, width - size + 1, size), width - size}):
        qubits = list(range(start, start + size))
        p_value = chi_square_p_value(
            observed_window(outcomes, values, qubits), window_marginal(probabilities, qubits)
        )
        assert p_value > P_VALUE_FLOOR, (qubits, p_value)
    exact = walsh_hadamard(probabilities)
    for mask in parity_masks(width, seed):
        signs = 1 - 2 * (np.bitwise_count(outcomes & mask).astype(np.int64) % 2)
        measured = float(np.sum(signs * values)) / shots
        if abs(abs(exact[mask]) - 1) < 1e-9:
            assert measured == round(exact[mask]), (bin(mask), measured, exact[mask])
            continue
        sigma = np.sqrt((1 - exact[mask] ** 2) / shots)
        assert abs(measured - exact[mask]) < SIGMAS * sigma, (bin(mask), measured, exact[mask])


def assert_expectations_match(result: Any, exact: Sequence[float]) -> None:
    evs = np.asarray(result.data.evs)
    assert np.allclose(result.data.stds, PRECISION)
    z = np.abs(evs - np.asarray(exact)) / PRECISION
    assert np.all(z < SIGMAS), np.round(evs - np.asarray(exact), 5)


# --- 1. stabilizer against statevector ----------------------------------------------------------

#: Seeds whose random Clifford circuits (6 gates per qubit, every Clifford gate of Qiskit's
#: standard library) include iswap, which Aer lacks (translation.py unrolls it).
CLIFFORD_SEEDS = {5: 0, 12: 12, 20: 20}


def with_clifford_rotations(circuit: QuantumCircuit, seed: int) -> QuantumCircuit:
    """``circuit`` with a rotation at a Clifford angle after about half of its gates: rx, ry,
    p, rz, u at quarter turns, rzz, rxx, ryy, rzx at quarter turns, cp at half turns. Aer runs
    them natively, its stabilizer method only rz: clifford.py must translate the others."""
    rng = np.random.default_rng(seed)
    out = circuit.copy_empty_like()
    width = circuit.num_qubits
    for instruction in circuit.data:
        out.append(instruction)
        if rng.random() < 0.5:
            continue
        quarter = np.pi / 2 * int(rng.integers(1, 4))
        if rng.random() < 0.5:
            qubit = int(rng.integers(width))
            name = str(rng.choice(["rx", "ry", "p", "rz", "u"]))
            if name == "u":
                out.u(quarter, np.pi / 2 * int(rng.integers(4)), np.pi, qubit)
            else:
                getattr(out, name)(quarter, qubit)
        else:
            a, b = (int(q) for q in rng.choice(width, 2, replace=False))
            name = str(rng.choice(["rzz", "rxx", "ryy", "rzx", "cp"]))
            getattr(out, name)(2 * quarter if name == "cp" else quarter, a, b)
    return out


@cache
def clifford_case(width: int) -> tuple[QuantumCircuit, Statevector]:
    circuit = random_clifford_circuit(width, 6 * width, seed=CLIFFORD_SEEDS[width])
    circuit = with_clifford_rotations(circuit, seed=width)
    return circuit, Statevector(circuit)


@pytest.mark.parametrize("width", sorted(CLIFFORD_SEEDS))
def test_random_clifford_counts_on_the_stabilizer_path_match_the_statevector(
    width: int, forced_wide: None
) -> None:
    circuit, state = clifford_case(width)
    assert {"iswap", "rxx", "u"} <= set(circuit.count_ops())
    result = AerPrimitives().run(
        sampler_task(IDEAL, circuit.measure_all(inplace=False), SHOTS, seed=width)
    )
    assert result[0].metadata["simulator"]["method"] == "stabilizer"
    assert result.metadata["simulator"]["method"] == "stabilizer"
    assert_counts_match(result[0].join_data().get_counts(), state.probabilities(), seed=width)


@pytest.mark.parametrize("width", sorted(CLIFFORD_SEEDS))
def test_random_clifford_expectations_on_the_stabilizer_path_match_the_statevector(
    width: int, forced_wide: None
) -> None:
    """The state's stabilizer generators and products of two (<P> = +-1), random Paulis
    (mostly 0), and a weighted sum of both kinds."""
    circuit, state = clifford_case(width)
    generators = [Pauli(label) for label in Clifford(circuit).to_labels(mode="S")]
    stabilizers = generators[:4] + [generators[i].dot(generators[-1 - i]) for i in range(3)]
    # Signed stabilizers: SparsePauliOp takes a Pauli's sign as its coefficient.
    paulis = stabilizers + list(random_pauli_list(width, 4, seed=width, phase=False))
    observables = [SparsePauliOp(p) for p in paulis]
    observables.append(
        SparsePauliOp([stabilizers[0], stabilizers[1], paulis[-1]], [0.5, -0.25, 0.125])
    )
    exact = [float(state.expectation_value(op).real) for op in observables]
    assert sum(abs(abs(value) - 1) < 1e-9 for value in exact) >= len(stabilizers)
    result = AerPrimitives().run(estimator_task(circuit, observables, seed=width))[0]
    assert result.metadata["simulator"]["method"] == "stabilizer"
    assert_expectations_match(result, exact)


def test_a_clifford_sweep_on_the_stabilizer_path_matches_the_statevector_per_binding(
    forced_wide: None,
) -> None:
    """A parametrised 12-qubit circuit whose every parameter set is Clifford (quarter turns of
    ry, rx, rzz, p): the stabilizer method, each parameter set's counts against its own
    Statevector."""
    theta = Parameter("theta")
    circuit = QuantumCircuit(12)
    circuit.h(range(12))
    for qubit in range(11):
        circuit.cx(qubit, qubit + 1)
    circuit.ry(theta, 3)
    circuit.rx(theta, 5)
    circuit.rzz(theta, 2, 9)
    circuit.p(theta, 0)
    circuit.h(range(12))
    values = [[np.pi / 2 * k] for k in range(4)]
    pub = SamplerPub.coerce((circuit.measure_all(inplace=False), values, SHOTS))
    result = AerPrimitives().run(
        SamplerTask(
            job_id="wide", executor="aer", backend_name=f"{IDEAL_SIMULATOR_NAME}@aer",
            backend=IDEAL, options=TaskOptions(seed_simulator=11), pubs=(pub,),
        )
    )[0]  # fmt: skip
    assert result.metadata["simulator"]["method"] == "stabilizer"
    for index, (value,) in enumerate(values):
        state = Statevector(circuit.assign_parameters([value]))
        assert_counts_match(result.data.meas[index].get_counts(), state.probabilities(), seed=index)


# --- 2a. MPS on small widths, forced wide -------------------------------------------------------


@cache
def non_clifford_case(width: int) -> tuple[QuantumCircuit, Statevector]:
    circuit = random_circuit(width, 5, max_operands=2, seed=width)
    return circuit, Statevector(circuit)


@pytest.mark.parametrize("width", [8, 12])
def test_forced_wide_non_clifford_counts_on_the_mps_path_match_the_statevector(
    width: int, forced_wide: None
) -> None:
    circuit, state = non_clifford_case(width)
    result = AerPrimitives().run(
        sampler_task(IDEAL, circuit.measure_all(inplace=False), 10_000, seed=width)
    )
    metadata = result[0].metadata["simulator"]
    assert metadata["method"] == "matrix_product_state"
    # The circuit's couplings are not a line: its qubits are renumbered for the MPS.
    assert sorted(metadata["qubit_order"]) == list(range(width))
    assert metadata["qubit_order"] != list(range(width))
    assert 2 <= metadata["bond_dimension"] <= 2 ** (width // 2)
    assert_counts_match(result[0].join_data().get_counts(), state.probabilities(), seed=width)


def test_forced_wide_non_clifford_expectations_on_the_mps_path_match_the_statevector(
    forced_wide: None,
) -> None:
    """Single-qubit Paulis on every qubit, two-qubit Paulis on distant pairs (renumbered with
    the circuit), and a weighted sum: the observables follow the MPS's qubit order."""
    width = 12
    circuit, state = non_clifford_case(width)
    rng = np.random.default_rng(3)
    labels: list[list[tuple[str, list[int], float]]] = [
        [(pauli, [q], 1.0)] for q in range(width) for pauli in "XYZ"
    ]
    for _ in range(12):
        a, b = (int(q) for q in rng.choice(width, 2, replace=False))
        labels.append([("".join(rng.choice(list("XYZ"), 2)), [a, b], 1.0)])
    labels.append([("ZZ", [0, 11], 0.5), ("X", [5], -0.75), ("YX", [2, 9], 0.25)])
    observables = [SparsePauliOp.from_sparse_list(terms, width) for terms in labels]
    exact = [float(state.expectation_value(op).real) for op in observables]
    result = AerPrimitives().run(estimator_task(circuit, observables, seed=4))[0]
    assert result.metadata["simulator"]["method"] == "matrix_product_state"
    assert result.metadata["simulator"]["qubit_order"] != list(range(width))
    assert_expectations_match(result, exact)


# --- 2b. MPS on 50 qubits, exact answers on subsets ---------------------------------------------

WIDE = 50
THETA = 1.2


def scrambled_ghz(theta: float | Parameter, measure: bool) -> tuple[QuantumCircuit, list[int]]:
    """cos(theta/2)|0...0> + sin(theta/2)|1...1> on 50 qubits, the CX chain visiting them in a
    random order (so the MPS must renumber them), and that order."""
    chain = [int(q) for q in np.random.default_rng(50).permutation(WIDE)]
    circuit = QuantumCircuit(WIDE)
    circuit.ry(theta, chain[0])
    for a, b in pairwise(chain):
        circuit.cx(a, b)
    if measure:
        circuit.measure_all()
    return circuit, chain


def assert_chain_is_adjacent(order: list[int], chain: list[int]) -> None:
    site = {qubit: index for index, qubit in enumerate(order)}
    assert sorted(order) == list(range(WIDE))
    assert all(abs(site[a] - site[b]) == 1 for a, b in pairwise(chain))


def test_wide_rotated_ghz_counts_on_the_mps_path() -> None:
    """Every shot is all 0s or all 1s (exactly), and P(all 0s) = cos^2(theta/2) (binomial
    z-score)."""
    circuit, chain = scrambled_ghz(THETA, measure=True)
    result = AerPrimitives().run(sampler_task(IDEAL, circuit, SHOTS, seed=7))
    metadata = result[0].metadata["simulator"]
    assert metadata["method"] == "matrix_product_state"
    assert metadata["bond_dimension"] == 2
    assert_chain_is_adjacent(metadata["qubit_order"], chain)
    counts = result[0].join_data().get_counts()
    assert set(counts) <= {"0" * WIDE, "1" * WIDE}, sorted(counts)[:3]
    p = np.cos(THETA / 2) ** 2
    zeros = counts.get("0" * WIDE, 0) / SHOTS
    assert abs(zeros - p) < SIGMAS * np.sqrt(p * (1 - p) / SHOTS), (zeros, p)


def test_wide_rotated_ghz_expectations_on_the_mps_path() -> None:
    """<Z_i> = cos(theta), <Z_i Z_j> = 1, <X...X> = sin(theta), <Y Y X...X> = -sin(theta)
    (50-qubit observables on the renumbered MPS)."""
    circuit, chain = scrambled_ghz(THETA, measure=False)
    all_x = SparsePauliOp("X" * WIDE)
    two_y = SparsePauliOp.from_sparse_list(
        [("YY" + "X" * (WIDE - 2), [chain[10], chain[40], *chain[:10], *chain[11:40], *chain[41:]],
          1.0)],
        WIDE,
    )  # fmt: skip
    observables = [
        SparsePauliOp.from_sparse_list([("Z", [chain[0]], 1.0)], WIDE),
        SparsePauliOp.from_sparse_list([("Z", [chain[-1]], 1.0)], WIDE),
        SparsePauliOp.from_sparse_list([("ZZ", [chain[3], chain[33]], 1.0)], WIDE),
        all_x,
        two_y,
        0.5 * all_x - 0.25 * SparsePauliOp.from_sparse_list([("Z", [chain[20]], 1.0)], WIDE),
    ]
    c, s = np.cos(THETA), np.sin(THETA)
    exact = [c, c, 1.0, s, -s, 0.5 * s - 0.25 * c]
    result = AerPrimitives().run(estimator_task(circuit, observables, seed=8))[0]
    assert result.metadata["simulator"]["method"] == "matrix_product_state"
    assert result.metadata["simulator"]["bond_dimension"] == 2
    assert_expectations_match(result, exact)


def test_a_wide_sweep_on_the_mps_path_follows_each_binding() -> None:
    """GHZ-50 with ry(theta) first, three values of theta in one PUB (the planner probes the
    first): each parameter set's P(all 0s) = cos^2(theta/2) (binomial z-score), and no shot
    is anything but all 0s or all 1s."""
    circuit, _chain = scrambled_ghz(Parameter("theta"), measure=True)
    values = [[0.3], [1.2], [2.5]]
    pub = SamplerPub.coerce((circuit, values, SHOTS))
    result = AerPrimitives().run(
        SamplerTask(
            job_id="wide", executor="aer", backend_name=f"{IDEAL_SIMULATOR_NAME}@aer",
            backend=IDEAL, options=TaskOptions(seed_simulator=12), pubs=(pub,),
        )
    )[0]  # fmt: skip
    assert result.metadata["simulator"]["method"] == "matrix_product_state"
    for index, (value,) in enumerate(values):
        counts = result.data.meas[index].get_counts()
        assert set(counts) <= {"0" * WIDE, "1" * WIDE}, sorted(counts)[:3]
        p = np.cos(value / 2) ** 2
        zeros = counts.get("0" * WIDE, 0) / SHOTS
        assert abs(zeros - p) < SIGMAS * np.sqrt(p * (1 - p) / SHOTS), (value, zeros, p)


def two_qubit_block(rng: np.random.Generator) -> QuantumCircuit:
    block = QuantumCircuit(2)
    block.ry(rng.uniform(0.3, 2.8), 0)
    block.ry(rng.uniform(0.3, 2.8), 1)
    block.cx(0, 1)
    block.rx(rng.uniform(0.3, 2.8), 0)
    block.rzz(rng.uniform(0.3, 2.8), 0, 1)
    block.ry(rng.uniform(0.3, 2.8), 1)
    return block


@cache
def wide_blocks() -> tuple[QuantumCircuit, list[tuple[int, int]], list[Statevector]]:
    """25 different entangling non-Clifford two-qubit blocks on scattered pairs of 50 qubits,
    the pairs, and each block's 2-qubit Statevector (bit 0: the pair's first qubit)."""
    rng = np.random.default_rng(25)
    qubits = [int(q) for q in rng.permutation(WIDE)]
    pairs = [(qubits[2 * b], qubits[2 * b + 1]) for b in range(WIDE // 2)]
    circuit = QuantumCircuit(WIDE)
    states = []
    for pair in pairs:
        block = two_qubit_block(rng)
        states.append(Statevector(block))
        circuit.compose(block, qubits=list(pair), inplace=True)
    return circuit, pairs, states


def test_wide_independent_blocks_counts_on_the_mps_path_match_two_qubit_statevectors() -> None:
    """Each pair's distribution is its block's, and two pairs are independent (their joint
    distribution is the product): chi-square tests."""
    circuit, pairs, states = wide_blocks()
    result = AerPrimitives().run(
        sampler_task(IDEAL, circuit.measure_all(inplace=False), SHOTS, seed=9)
    )
    metadata = result[0].metadata["simulator"]
    assert metadata["method"] == "matrix_product_state"
    assert metadata["bond_dimension"] == 2
    outcomes, values = outcome_counts(result[0].join_data().get_counts())
    blocks = [state.probabilities() for state in states]
    for pair, probabilities in zip(pairs, blocks, strict=True):
        observed = observed_window(outcomes, values, list(pair))
        assert chi_square_p_value(observed, probabilities) > P_VALUE_FLOOR, pair
    joint = observed_window(outcomes, values, [*pairs[0], *pairs[1]])
    product = np.kron(blocks[1], blocks[0])  # bits 0-1: pair 0, bits 2-3: pair 1
    assert chi_square_p_value(joint, product) > P_VALUE_FLOOR


def test_wide_independent_blocks_expectations_on_the_mps_path() -> None:
    """Two-qubit Paulis on each pair (its block's Statevector), and products across pairs
    (the product of the blocks' values): observables on 50 scattered qubits, renumbered."""
    circuit, pairs, states = wide_blocks()
    observables, exact = [], []
    for index, ((a, b), state) in enumerate(zip(pairs, states, strict=True)):
        label = ["ZZ", "XZ", "ZX", "YY", "XI", "IZ"][index % 6]
        observables.append(SparsePauliOp.from_sparse_list([(label, [b, a], 1.0)], WIDE))
        exact.append(float(state.expectation_value(SparsePauliOp(label)).real))
    for first, second in [(0, 1), (3, 17), (24, 5)]:
        (a, b), (c, d) = pairs[first], pairs[second]
        observables.append(SparsePauliOp.from_sparse_list([("ZXXZ", [d, c, b, a], 1.0)], WIDE))
        exact.append(
            float(states[first].expectation_value(SparsePauliOp("XZ")).real)
            * float(states[second].expectation_value(SparsePauliOp("ZX")).real)
        )
    result = AerPrimitives().run(estimator_task(circuit, observables, seed=10))[0]
    assert result.metadata["simulator"]["method"] == "matrix_product_state"
    assert_expectations_match(result, exact)


# --- 3. noisy wide GHZ on fake_kyiv -------------------------------------------------------------

KYIV_GHZ = 40
#: Qubits at the start of the chain whose marginal the reference checks.
PREFIX = 8
#: Enough for the prefix check to see noise on the wrong qubits. Measured with the product
#: patched: noise left in the circuit's numbering instead of the MPS sites', its sites shifted
#: by one or reversed, readout errors dropped: chi-square p-values from 1e-21 to 1e-126 (at 400
#: shots the first gave only 4e-4); unpatched, 0.11 to 0.62 over three seeds.
NOISY_SHOTS = 1200


@cache
def kyiv_ghz() -> QuantumCircuit:
    """GHZ-40 transpiled for fake_kyiv: a perfect layout on a path of its couplings (no
    swaps), in ecr/sx/rz/x."""
    backend = fake_device("fake_kyiv").backend()
    pass_manager = generate_preset_pass_manager(1, backend=backend, seed_transpiler=11)
    circuit: QuantumCircuit = pass_manager.run(ghz(KYIV_GHZ, measure=True))
    assert circuit.count_ops()["ecr"] == KYIV_GHZ - 1
    return circuit


def past_light_cone(
    circuit: QuantumCircuit, clbits: Sequence[int]
) -> tuple[QuantumCircuit, list[int], int]:
    """The unitary part of ``circuit`` that can act on the qubits measured into ``clbits``:
    every instruction in their past light cone, without the measurements; the qubit measured
    into each of ``clbits``; how many qubits the cone has."""
    measured: dict[int, int] = {}
    kept = []
    cone: set[Any] = set()
    for instruction in reversed(circuit.data):
        name = instruction.operation.name
        if name == "barrier":
            continue
        if name == "measure":
            clbit = circuit.find_bit(instruction.clbits[0]).index
            if clbit in clbits:
                measured[clbit] = circuit.find_bit(instruction.qubits[0]).index
                cone |= set(instruction.qubits)
            continue
        if cone & set(instruction.qubits):
            kept.append(instruction)
            cone |= set(instruction.qubits)
    sub = QuantumCircuit(circuit.num_qubits)
    for instruction in reversed(kept):
        sub.append(instruction.operation, [circuit.find_bit(q).index for q in instruction.qubits])
    return sub, [measured[clbit] for clbit in clbits], len(cone)


@cache
def prefix_reference() -> NDArray[Any]:
    """The exact distribution of the chain's first PREFIX measured bits under local testing
    mode's noise model: a density-matrix run of their past light cone alone (Aer, with
    ``NoiseModel.from_backend_properties``: gate errors), then each qubit's readout error
    from the device's calibration (prob_meas1_prep0, prob_meas0_prep1).

    Exact, not an approximation: a qubit's errors act only with its gates and its measurement
    (the circuit has no delays, and Aer adds no idle noise without them), so the instructions
    outside the light cone are channels on other qubits applied after those qubits last touch
    the prefix, which leave the prefix's marginal unchanged. The cone is the prefix and the next
    chain qubit (the CX from the last prefix qubit)."""
    circuit = kyiv_ghz()
    assert "delay" not in circuit.count_ops()
    sub, qubits, cone = past_light_cone(circuit, list(range(PREFIX)))
    assert cone == PREFIX + 1
    sub.save_probabilities(qubits)
    backend = fake_device("fake_kyiv").backend()
    model = NoiseModel.from_backend_properties(backend.properties(), dt=backend.dt)
    simulator = AerSimulator(method="density_matrix", noise_model=model)
    before_readout = simulator.run(sub).result().data(0)["probabilities"]
    # Axis a of the (2,)*PREFIX tensor is bit PREFIX-1-a (index bit j: qubits[j]).
    tensor = np.asarray(before_readout).reshape((2,) * PREFIX)
    properties = backend.properties()
    for bit, qubit in enumerate(qubits):
        flip_up = properties.qubit_property(qubit, "prob_meas1_prep0")[0]
        flip_down = properties.qubit_property(qubit, "prob_meas0_prep1")[0]
        confusion = np.array([[1 - flip_up, flip_up], [flip_down, 1 - flip_down]])
        axis = PREFIX - 1 - bit
        tensor = np.moveaxis(np.tensordot(tensor, confusion, axes=([axis], [0])), -1, axis)
    probabilities: NDArray[Any] = tensor.reshape(-1)
    total = float(probabilities.sum())
    assert abs(total - 1) < 1e-6  # Aer's noisy density matrix sums to 1 - 1.5e-9
    normalised: NDArray[Any] = probabilities / total
    return normalised


def test_noisy_wide_ghz_on_kyiv_shows_the_device_noise(aer: AerPrimitives) -> None:
    """The exact device noise on GHZ-40 (an MPS of bond dimension 2, trajectories): noise shows
    (many shots are not all-equal), the GHZ part dominates, and the first 8 qubits' marginal
    matches the exact reference of their light cone (chi-square). The reference has, among
    others, qubit 1's high readout error (physical qubit 4: 10%): noise on the wrong physical
    qubits fails it."""
    result = aer.run(sampler_task(fake_device("fake_kyiv"), kyiv_ghz(), NOISY_SHOTS, seed=3))
    metadata = result[0].metadata["simulator"]
    assert metadata["method"] == "matrix_product_state"
    assert metadata["bond_dimension"] == 2
    assert metadata["noise_approximation"] is None
    assert result.metadata["simulator"]["noise"] == "fake_kyiv device noise model (exact, full)"
    counts = result[0].join_data().get_counts()
    equal = sum(value for key, value in counts.items() if len(set(key)) == 1) / NOISY_SHOTS
    sigma = np.sqrt(equal * (1 - equal) / NOISY_SHOTS)
    reference = prefix_reference()
    prefix_equal = reference[0] + reference[-1]
    # Noise shows: the all-equal fraction is many standard errors below 1 (0.36 measured), and
    # at most the prefix's all-equal probability (a sub-event; 0.81 exactly).
    assert equal + SIGMAS * sigma < 1
    assert equal < prefix_equal + SIGMAS * sigma
    # The ideal part dominates: 2 of the 2^40 outcomes hold over a fifth of the shots, each
    # over a tenth.
    assert equal > 0.2
    assert counts.get("0" * KYIV_GHZ, 0) > 0.1 * NOISY_SHOTS
    assert counts.get("1" * KYIV_GHZ, 0) > 0.1 * NOISY_SHOTS
    outcomes, values = outcome_counts(counts)
    observed = observed_window(outcomes, values, list(range(PREFIX)))
    assert chi_square_p_value(observed, reference) > P_VALUE_FLOOR


def test_noisy_wide_ghz_estimator_on_kyiv_matches_the_light_cone_reference(
    aer: AerPrimitives,
) -> None:
    """The estimator with the exact device noise (Pauli-basis measurements, 400 shots at
    precision 0.05, readout error included) on GHZ-40: <Z_0 Z_j> and <Z_j> on the chain's
    first 8 qubits against the same exact light-cone reference (binomial z-scores); an idle
    qubit's <Z> (measured: its readout error only) against its calibration."""
    circuit = kyiv_ghz().remove_final_measurements(inplace=False)
    path = kyiv_ghz().layout.final_index_layout()
    reference = prefix_reference()
    index = np.arange(2**PREFIX)
    observables, exact = [], []

    def z_parity(bits: list[int]) -> float:
        signs = np.prod([1 - 2 * ((index >> bit) & 1) for bit in bits], axis=0)
        return float(np.sum(reference * signs))

    for j in range(1, PREFIX):
        observables.append(
            SparsePauliOp.from_sparse_list([("ZZ", [path[0], path[j]], 1.0)], circuit.num_qubits)
        )
        exact.append(z_parity([0, j]))
    for j in (0, 1, 4):
        observables.append(
            SparsePauliOp.from_sparse_list([("Z", [path[j]], 1.0)], circuit.num_qubits)
        )
        exact.append(z_parity([j]))
    properties = fake_device("fake_kyiv").backend().properties()
    idle = next(q for q in range(circuit.num_qubits) if q not in path[:KYIV_GHZ])
    observables.append(SparsePauliOp.from_sparse_list([("Z", [idle], 1.0)], circuit.num_qubits))
    exact.append(1 - 2 * properties.qubit_property(idle, "prob_meas1_prep0")[0])
    task = estimator_task(circuit, observables, 6, fake_device("fake_kyiv"), precision=0.05)
    result = aer.run(task)[0]
    assert result.metadata["simulator"]["method"] == "matrix_product_state"
    evs = np.asarray(result.data.evs)
    sigma = np.sqrt((1 - np.square(exact)) / 400)
    assert np.all(np.abs(evs - exact) < SIGMAS * sigma), np.round(evs - exact, 3)


# --- 4. refusals and noisy Clifford plans ------------------------------------------------------


def brickwork(width: int, layers: int, seed: int) -> QuantumCircuit:
    """Random ry rotations and CZs on alternating neighbouring pairs of a line (non-Clifford,
    and its bond dimension doubles every layer)."""
    rng = np.random.default_rng(seed)
    circuit = QuantumCircuit(width)
    for layer in range(layers):
        for qubit in range(width):
            circuit.ry(rng.uniform(0.3, 2.8), qubit)
        for qubit in range(layer % 2, width - 1, 2):
            circuit.cz(qubit, qubit + 1)
    circuit.measure_all()
    return circuit


def refusal(task: SamplerTask) -> str:
    with pytest.raises(ValueError) as error:
        validate_options(task)
    return str(error.value)


def reason(message: str, name: str, following: str) -> str:
    found = re.search(rf"{name}: (.*?); {following}:", message)
    assert found is not None, message
    return found.group(1)


def test_an_entangling_40_qubit_circuit_is_refused_at_submit_with_every_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With at most bond dimension 8 planned, a 40-qubit non-Clifford brickwork of depth 12
    (bond dimension up to 2^6) fits no method; of depth 2 (bond dimension 4) it is accepted."""
    monkeypatch.setattr(capacity, "MPS_MAX_BOND", 8)
    message = refusal(sampler_task(IDEAL, brickwork(40, 12, seed=1), 100, seed=1))
    assert message.startswith("PUB 0: no simulation method fits 40 active qubits"), message
    assert "statevector: 40 qubits need" in message
    assert reason(message, "stabilizer", "matrix_product_state").startswith("it applies ry(")
    assert re.search(r"matrix_product_state: the bond dimension reaches 9 after \d+ of", message)
    validate_options(sampler_task(IDEAL, brickwork(40, 2, seed=1), 100, seed=1))


def test_a_noisy_wide_clifford_circuit_runs_on_the_stabilizer_method_only_when_twirled(
    aer: AerPrimitives,
) -> None:
    """GHZ-40 on fake_kyiv is Clifford: with the exact device noise (thermal relaxation) it is
    an MPS (test above), with options.experimental.noise_approximation='pauli_twirl' stabilizer
    trajectories, which say so."""
    plan = method.plan_noisy(kyiv_ghz(), SamplerPub.coerce(kyiv_ghz()).parameter_values, 100)
    assert plan.method == "matrix_product_state"
    result = aer.run(
        sampler_task(fake_device("fake_kyiv"), kyiv_ghz(), 400, seed=3, raw=PAULI_TWIRL)
    )
    metadata = result[0].metadata["simulator"]
    assert metadata["method"] == "stabilizer"
    assert metadata["noise_approximation"] == "pauli_twirl"
    assert "Pauli noise only" in metadata["reason"]
    assert "APPROXIMATED: pauli_twirl" in result.metadata["simulator"]["noise"]
    counts = result[0].join_data().get_counts()
    equal = sum(value for key, value in counts.items() if len(set(key)) == 1) / 400
    assert 0.2 < equal < 0.9  # the twirled noise shows too (about 0.36 with the exact noise)


def kyiv_clifford_brickwork(layers: int) -> QuantumCircuit:
    """Random single-qubit Cliffords (rz by quarter turns around sx) on every qubit, then ECRs
    (in the device's direction) on alternating neighbouring pairs of the 40-qubit path that
    kyiv_ghz() lies on, measured: an ISA Clifford circuit whose bond dimension grows with
    every layer."""
    ghz_circuit = kyiv_ghz()
    path = ghz_circuit.layout.final_index_layout()[:KYIV_GHZ]
    target = fake_device("fake_kyiv").backend().target
    rng = np.random.default_rng(40)
    circuit = QuantumCircuit(ghz_circuit.num_qubits, KYIV_GHZ)
    for layer in range(layers):
        for qubit in path:
            circuit.rz(np.pi / 2 * int(rng.integers(4)), qubit)
            circuit.sx(qubit)
            circuit.rz(np.pi / 2 * int(rng.integers(4)), qubit)
        for index in range(layer % 2, KYIV_GHZ - 1, 2):
            a, b = path[index], path[index + 1]
            circuit.ecr(*((a, b) if (a, b) in target["ecr"] else (b, a)))
    circuit.measure(path, range(KYIV_GHZ))
    return circuit


def test_a_noisy_entangling_wide_clifford_circuit_is_refused_unless_twirled(
    monkeypatch: pytest.MonkeyPatch, aer: AerPrimitives
) -> None:
    """With at most bond dimension 8 planned, an ISA Clifford brickwork on 40 qubits of
    fake_kyiv is refused under the exact device noise, the stabilizer reason naming the
    pauli_twirl approximation; with that approximation it is accepted and runs on the
    stabilizer method."""
    monkeypatch.setattr(capacity, "MPS_MAX_BOND", 8)
    kyiv = fake_device("fake_kyiv")
    circuit = kyiv_clifford_brickwork(10)
    message = refusal(sampler_task(kyiv, circuit, 100, seed=2))
    assert message.startswith("PUB 0: no simulation method fits 40 active qubits"), message
    stabilizer = reason(message, "stabilizer", "matrix_product_state")
    assert "thermal relaxation" in stabilizer
    assert "noise_approximation='pauli_twirl'" in stabilizer
    assert "matrix_product_state: the bond dimension reaches 9" in message
    twirled = sampler_task(kyiv, circuit, 100, seed=2, raw=PAULI_TWIRL)
    validate_options(twirled)
    assert aer.run(twirled)[0].metadata["simulator"]["method"] == "stabilizer"


# --- 5. the long-plan warning -----------------------------------------------------------------


class Stopped(Exception):
    """Raised instead of sampling: the plan and its log lines are all these tests need."""


def plan_log(aer: AerPrimitives, shots: int, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    lines: list[str] = []

    def stop(*_args: object, **_kwargs: object) -> None:
        raise Stopped

    monkeypatch.setattr(primitives, "sample", stop)
    monkeypatch.setattr(mps_batch, "sample", stop)
    task = sampler_task(fake_device("fake_kyiv"), kyiv_ghz(), shots, seed=1, log=lines.append)
    with pytest.raises(Stopped):
        aer.run(task)
    return lines


def estimate(lines: list[str], pattern: str) -> float:
    found = [re.fullmatch(pattern, line) for line in lines]
    matches = [match for match in found if match is not None]
    assert len(matches) == 1, lines
    return float(matches[0].group(1))


def test_a_long_plan_logs_a_warning_with_its_estimate(
    aer: AerPrimitives, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Noisy GHZ-40 trajectories (batched) on one thread: 4000 shots are estimated at about a
    second (an INFO line); 200 times as many shots at 200 times as long (the estimate is linear
    in the shots, within the short line's rounding to 0.1 s), beyond LONG_PLAN_SECONDS: a
    WARNING."""
    short = plan_log(aer, 4000, monkeypatch)
    assert any(line.startswith("INFO PUB 0: matrix_product_state: ") for line in short), short
    assert not any(line.startswith("WARNING") for line in short), short
    seconds = estimate(short, r"INFO PUB 0: estimated ([0-9.]+) s")
    assert 0 < seconds < method.LONG_PLAN_SECONDS
    long = plan_log(aer, 200 * 4000, monkeypatch)
    warned = estimate(
        long, r"WARNING PUB 0: this plan will take long: about ([0-9]+) s \(estimated on 1 thread\)"
    )
    assert warned > method.LONG_PLAN_SECONDS
    assert abs(warned - 200 * seconds) <= 200 * 0.05 + 0.5, (warned, seconds)
    assert not any(line.startswith("INFO PUB 0: estimated") for line in long), long


# --- a user's noise model -----------------------------------------------------------------------


def test_only_pauli_gate_errors_make_a_users_model_pauli_noise() -> None:
    from qiskit_aer.noise import (
        ReadoutError,
        depolarizing_error,
        pauli_error,
        thermal_relaxation_error,
    )
    from qiskit_runtime_server_aer.noise import is_pauli_noise

    pauli = NoiseModel()
    pauli.add_all_qubit_quantum_error(depolarizing_error(0.01, 1), ["sx", "h"])
    pauli.add_all_qubit_quantum_error(depolarizing_error(0.02, 2), ["cx"])
    pauli.add_quantum_error(pauli_error([("X", 0.1), ("I", 0.9)]), ["x"], [0])
    pauli.add_readout_error(ReadoutError([[0.9, 0.1], [0.2, 0.8]]), [0])
    assert is_pauli_noise(pauli)
    for t2 in (150.0, 80.0):  # T2 > T1: a Kraus channel; T2 <= T1: a mixture with a reset
        relaxing = NoiseModel()
        relaxing.add_all_qubit_quantum_error(thermal_relaxation_error(100.0, t2, 10.0), ["h"])
        assert not is_pauli_noise(relaxing)


def test_a_wide_clifford_circuit_with_a_users_pauli_model_runs_on_the_stabilizer_method() -> None:
    """40 qubits (wider than a statevector fits, unpatched): with depolarizing errors on cx, the
    stabilizer method; with thermal relaxation on h (not Pauli), an MPS. Both show their noise."""
    from qiskit_aer.noise import depolarizing_error, thermal_relaxation_error

    circuit = ghz(40, measure=True)
    pauli = NoiseModel()
    pauli.add_all_qubit_quantum_error(depolarizing_error(0.05, 2), ["cx"])
    relaxing = NoiseModel()
    relaxing.add_all_qubit_quantum_error(thermal_relaxation_error(100.0, 150.0, 30.0), ["h"])
    for model, expected in ((pauli, "stabilizer"), (relaxing, "matrix_product_state")):
        task = SamplerTask(
            job_id="wide",
            executor="aer",
            backend_name=f"{IDEAL.name}@aer",
            backend=IDEAL,
            options=TaskOptions(seed_simulator=5, noise_model=model),
            pubs=(SamplerPub.coerce((circuit, None, 400)),),
        )
        validate_options(task)
        result = AerPrimitives().run(task)
        assert result[0].metadata["simulator"]["method"] == expected
        counts = result[0].join_data().get_counts()
        intact = counts.get("0" * 40, 0) + counts.get("1" * 40, 0)
        if expected == "stabilizer":
            # A CX error is one of 16 two-qubit Paulis with probability 0.05/16 each; the 12
            # with an X or Y flip bits of the chain (a Z only changes a phase): a shot stays
            # intact with probability about (1 - 0.05 * 12/16)^39 = 0.226 (two flips that
            # cancel are far rarer). Binomial, 4.5 sigma.
            p_intact = (1 - 0.05 * 12 / 16) ** 39
            sigma = np.sqrt(400 * p_intact * (1 - p_intact))
            assert abs(intact - 400 * p_intact) < 4.5 * sigma, intact
        else:
            # Relaxation of qubit 0 after its H, before the CX chain: P(all 1) falls below 1/2.
            assert counts.get("0" * 40, 0) > counts.get("1" * 40, 0), counts
            assert intact == 400
