"""Device noise as quantum trajectories: the channels of the device's noise model, compiled
into what the trajectory simulation applies (simulation.py).

The model is the one the aer executor simulates the device with, built by its code from the
device's calibration properties (``qiskit_runtime_server_aer.noise.NoiseModelCache``: gate
errors are depolarizing composed with thermal relaxation, readout errors are the asymmetric
``prob_meas1_prep0`` / ``prob_meas0_prep1``, delays relax through a noise pass), and read
through qiskit-aer's public ``NoiseModel`` objects. Each error is a mixture of circuits with
probabilities; each circuit is compiled into steps:

* a circuit of unitary gates only is one matrix: choosing it needs no norm (a *mixed-unitary*
  branch, drawn with a host random number per trajectory from the mixture's probabilities);
* a circuit with a ``reset`` or a ``kraus`` instruction (thermal relaxation with T2 > T1) keeps
  those as *general* steps: a Kraus channel whose operator ``K_k`` is drawn with probability
  ``<psi|K_k^dagger K_k|psi>``, computed on the device from the Pauli expectation values of the
  step's qubits (a reset is the channel ``{|0><0|, |0><1|}``), then ``K_k / sqrt(p_k)`` applied.

Errors on ``measure`` act before the measurement and every other error after its instruction,
as in Aer (measured there). Readout errors flip recorded bits, mid-circuit ones included.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray
from qiskit import QuantumCircuit
from qiskit.quantum_info import Operator, Pauli

from .kernel import Matrices

#: Said in ``metadata["simulator"]["noise"]`` of a job with device noise.
DEVICE_NOISE_STATEMENT = (
    "device noise of {device} by quantum trajectories ({trajectories}): gate, reset and "
    "measurement errors (depolarizing with thermal relaxation), thermal relaxation during "
    "delays, readout errors on the recorded bits; the same noise model as the aer executor's"
)
#: ``{trajectories}`` of :data:`DEVICE_NOISE_STATEMENT`, without ``experimental.trajectories``.
ONE_PER_SHOT = "one per shot"
ESTIMATOR_READOUT = "readout errors are not applied to expectation values (as Aer's estimator)"


@dataclass(frozen=True)
class UnitaryStep:
    targets: tuple[int, ...]
    matrix: Matrices  # (1, d, d)

    @cached_property
    def identity(self) -> bool:
        """The identity up to a phase (the I of a depolarizing error): nothing to apply."""
        return _is_identity(self.matrix[0])


def _is_identity(matrix: Matrices) -> bool:
    phase = matrix[0, 0] if abs(matrix[0, 0]) > 0 else 1
    return bool(np.allclose(matrix, phase * np.eye(matrix.shape[0]), atol=1e-12))


@dataclass(frozen=True)
class KrausStep:
    """A general channel: ``matrices`` (K, d, d) on ``targets``. ``weights[k, j]`` is
    ``Tr(K_k^dagger K_k P_j) / d`` for the Pauli terms ``terms`` of the targets (the first is
    the identity: the squared norm), so that the probability of ``K_k`` is
    ``weights[k] @ <P> / <I>``.

    ``sure`` is the smallest eigenvalue of ``K_0^dagger K_0`` (the operators are ordered so that
    it is the largest such bound): ``K_0``'s probability is at least ``sure`` in every state,
    so a trajectory whose random number is below it takes ``K_0`` without a norm being
    computed, and stays unnormalised (every later probability divides by the squared norm)."""

    targets: tuple[int, ...]
    matrices: Matrices
    terms: tuple[tuple[str, tuple[int, ...]], ...]
    weights: NDArray[np.float64]
    sure: float = 0.0


Step = UnitaryStep | KrausStep


@dataclass(frozen=True)
class Branch:
    steps: tuple[Step, ...]
    #: A single unitary step (no norm needed) that is the identity up to a phase.
    identity: bool

    @property
    def unitary(self) -> bool:
        return all(isinstance(step, UnitaryStep) for step in self.steps)


@dataclass(frozen=True)
class NoiseOp:
    """One error: its branches and their cumulative probabilities (last is 1)."""

    qubits: tuple[int, ...]
    cumulative: NDArray[np.float64]
    branches: tuple[Branch, ...]
    #: The instruction it follows (or precedes, for ``measure``), for logs.
    label: str = ""


def _pauli_basis(targets: Sequence[int]) -> tuple[list[tuple[str, tuple[int, ...]]], list[Any]]:
    """Every Pauli product on ``targets``: kernel terms (letters, qubits without identities)
    and the matching dense matrices (bit i of the index is targets[i])."""
    terms: list[tuple[str, tuple[int, ...]]] = []
    matrices: list[Any] = []
    for letters in itertools.product("IXYZ", repeat=len(targets)):
        # Pauli labels are little-endian: the last letter acts on qubit 0 (targets[0]).
        matrices.append(Pauli("".join(reversed(letters))).to_matrix())
        kept = [(p, q) for p, q in zip(letters, targets, strict=True) if p != "I"]
        terms.append(("".join(p for p, _ in kept), tuple(q for _, q in kept)))
    return terms, matrices


def kraus_step(targets: Sequence[int], matrices: Sequence[Any]) -> KrausStep:
    stack = np.asarray(np.stack([np.asarray(m, dtype=np.complex128) for m in matrices]))
    effects = np.einsum("kji,kjl->kil", stack.conj(), stack)  # K^dagger K
    bounds = np.array([np.linalg.eigvalsh(effect)[0] for effect in effects])
    order = np.argsort(-bounds, kind="stable")
    stack, effects = stack[order], effects[order]
    terms, paulis = _pauli_basis(targets)
    d = stack.shape[1]
    weights = np.array(
        [[np.trace(effect @ pauli).real / d for pauli in paulis] for effect in effects]
    )
    sure = float(max(0.0, bounds[order[0]] - 1e-12))
    return KrausStep(tuple(targets), stack, tuple(terms), weights, sure)


RESET_KRAUS = (
    np.array([[1, 0], [0, 0]], dtype=np.complex128),
    np.array([[0, 1], [0, 0]], dtype=np.complex128),
)


def _branch(circuit: QuantumCircuit, qubits: Sequence[int]) -> Branch:
    """The steps of one circuit of an error's mixture, on program qubits ``qubits``."""
    names = {instruction.operation.name for instruction in circuit.data}
    if not names & {"reset", "kraus"}:
        matrix = Operator(circuit).data
        return Branch((UnitaryStep(tuple(qubits), matrix[None]),), _is_identity(matrix))
    steps: list[Step] = []
    for instruction in circuit.data:
        operation = instruction.operation
        targets = tuple(qubits[circuit.find_bit(q).index] for q in instruction.qubits)
        if operation.name == "reset":
            steps.append(kraus_step(targets, RESET_KRAUS))
        elif operation.name == "kraus":
            steps.append(kraus_step(targets, operation.params))
        elif operation.name in ("id", "barrier"):
            continue
        else:
            steps.append(UnitaryStep(targets, Operator(operation).data[None]))
    return Branch(tuple(steps), identity=not steps)


def compile_error(error: Any, qubits: Sequence[int], label: str = "") -> NoiseOp:
    """An Aer ``QuantumError`` on program qubits ``qubits`` (its circuits' qubit i is
    ``qubits[i]``)."""
    probabilities = np.asarray(error.probabilities, dtype=np.float64)
    branches = tuple(_branch(circuit, qubits) for circuit in error.circuits)
    cumulative = np.cumsum(probabilities / probabilities.sum())
    cumulative[-1] = 1.0
    return NoiseOp(tuple(qubits), cumulative, branches, label)


class DeviceNoise:
    """The errors of a device noise model for one compacted circuit: program qubit ``q`` is
    the device's qubit ``physical[q]``."""

    def __init__(self, model: Any, physical: Sequence[int]) -> None:
        self.model = model
        self.physical = list(physical)
        self._cache: dict[tuple[str, tuple[int, ...]], NoiseOp | None] = {}

    def error(self, name: str, qubits: Sequence[int]) -> NoiseOp | None:
        """The error of instruction ``name`` on program qubits ``qubits``, if any."""
        key = (name, tuple(qubits))
        if key not in self._cache:
            device = tuple(self.physical[q] for q in qubits)
            local: Mapping[tuple[int, ...], Any] = self.model._local_quantum_errors.get(name, {})
            error = local.get(device)
            if error is None:
                error = self.model._default_quantum_errors.get(name)
                if error is not None and error.num_qubits != len(qubits):
                    error = None
            self._cache[key] = None if error is None else compile_error(error, qubits, name)
        return self._cache[key]

    def readout(self) -> dict[int, tuple[float, float]]:
        """``{program qubit: (P(1|0), P(0|1))}`` for the qubits with a readout error."""
        out: dict[int, tuple[float, float]] = {}
        for q, device in enumerate(self.physical):
            error = self.model._local_readout_errors.get((device,))
            if error is None:
                error = self.model._default_readout_error
            if error is not None:
                table = np.asarray(error.probabilities, dtype=np.float64)
                out[q] = (float(table[0][1]), float(table[1][0]))
        return out

    def with_idle_noise(self, circuit: QuantumCircuit) -> QuantumCircuit:
        """``circuit`` with the model's noise passes run on it: thermal relaxation inserted
        after delays, as Aer does (its errors become instructions, lowered as noise)."""
        passes = list(self.model._custom_noise_passes)
        if not passes or not any(i.operation.name == "delay" for i in circuit.data):
            return circuit
        from qiskit.transpiler import PassManager

        # The passes read T1/T2 by the circuit's qubit index: run them on device indices.
        wide = QuantumCircuit(max(self.physical) + 1, circuit.num_clbits)
        wide.compose(circuit, qubits=self.physical, inplace=True)
        noisy = PassManager(passes).run(wide)
        narrow = QuantumCircuit(circuit.num_qubits, circuit.num_clbits)
        position = {p: q for q, p in enumerate(self.physical)}
        for instruction in noisy.data:
            qubits = [narrow.qubits[position[noisy.find_bit(q).index]] for q in instruction.qubits]
            clbits = [narrow.clbits[noisy.find_bit(c).index] for c in instruction.clbits]
            narrow.append(instruction.operation, qubits, clbits)
        narrow.global_phase = circuit.global_phase
        return narrow
