"""Compiling a circuit and its parameter sweep into a program the primitives run on a kernel.

A program is the circuit's operations in order, with every gate already a stack of matrices over
the sweep, plus the final measurements. A measurement is *final* when no later gate or reset
touches its qubit and no later mid-circuit measurement writes its clbit: final measurements
commute with everything after them, so they are all done at the end by sampling the final
statevector, while mid-circuit measurements and resets split the shots (see primitives.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from qiskit import QuantumCircuit
from qiskit.circuit import ControlFlowOp, Gate, Parameter, ParameterExpression

from .gates import gate_matrices, is_vectorised, parameter_values
from .kernel import Matrices
from .noise import Branch, DeviceNoise, NoiseOp, compile_error, kraus_step

#: Instructions that do nothing to a noiseless statevector.
_NO_OPS = frozenset({"barrier", "delay"})


class UnsupportedCircuit(ValueError):
    """The circuit holds something this executor cannot simulate; the message says what."""


@dataclass(frozen=True)
class GateOp:
    targets: tuple[int, ...]
    #: Shape ``(1, d, d)`` when the same for the whole sweep, else ``(B, d, d)``.
    matrices: Matrices

    def for_members(self, start: int, stop: int) -> Matrices:
        """The matrices of parameter sets ``start:stop``."""
        return self.matrices if self.matrices.shape[0] == 1 else self.matrices[start:stop]


@dataclass(frozen=True)
class MeasureOp:
    qubit: int
    clbit: int


@dataclass(frozen=True)
class ResetOp:
    qubit: int


Operation = GateOp | MeasureOp | ResetOp | NoiseOp


@dataclass(frozen=True)
class Program:
    num_qubits: int
    num_clbits: int
    #: Number of parameter sets (1 without a sweep).
    size: int
    operations: tuple[Operation, ...]
    #: ``(qubit, clbit)`` of the final measurements, in circuit order.
    final_measurements: tuple[tuple[int, int], ...] = ()
    #: The circuit's global phase per parameter set (only statevectors show it).
    global_phase: NDArray[np.float64] = field(default_factory=lambda: np.zeros(1))
    #: ``{qubit: (P(1|0), P(0|1))}``: readout errors of the device noise, on recorded bits.
    readout: dict[int, tuple[float, float]] = field(default_factory=dict)

    @property
    def dynamic(self) -> bool:
        """Whether shots must be split by mid-circuit measurements or resets."""
        return any(isinstance(op, MeasureOp | ResetOp) for op in self.operations)

    @property
    def noisy(self) -> bool:
        """Whether it runs as trajectories (device noise)."""
        return bool(self.readout) or any(isinstance(op, NoiseOp) for op in self.operations)

    @property
    def noise_channels(self) -> int:
        return sum(isinstance(op, NoiseOp) for op in self.operations)

    @property
    def gate_count(self) -> int:
        return sum(isinstance(op, GateOp) for op in self.operations)


def sweep_values(circuit: QuantumCircuit, bindings: object) -> NDArray[np.float64]:
    """The PUB's parameter values as a ``(B, P)`` array, columns in ``circuit.parameters``
    order, sets in the PUB's (C-ordered) broadcast shape."""
    parameters = list(circuit.parameters)
    shape: tuple[int, ...] = getattr(bindings, "shape", ())
    size = int(np.prod(shape)) if shape else 1
    if not parameters:
        return np.zeros((size, 0))
    array = bindings.as_array(parameters)  # type: ignore[attr-defined]
    return np.asarray(array, dtype=np.float64).reshape(size, len(parameters))


def compile_circuit(
    circuit: QuantumCircuit, values: NDArray[np.float64], noise: DeviceNoise | None = None
) -> Program:
    """The program of ``circuit`` for the parameter sets ``values`` (shape ``(B, P)``); with
    ``noise``, the device's errors as noise channels and its readout errors."""
    if noise is not None:
        circuit = noise.with_idle_noise(circuit)
    lowering = _Lowering({p: column for column, p in enumerate(circuit.parameters)}, values, noise)
    lowering.lower(
        circuit,
        list(range(circuit.num_qubits)),
        [circuit.find_bit(c).index for c in circuit.clbits],
    )
    body, finals = _split_final_measurements(lowering.out)
    return Program(
        num_qubits=circuit.num_qubits,
        num_clbits=circuit.num_clbits,
        size=values.shape[0],
        operations=tuple(body),
        final_measurements=tuple(finals),
        global_phase=np.atleast_1d(np.asarray(lowering.phase, dtype=np.float64)),
        readout=noise.readout() if noise is not None else {},
    )


#: Gates wider than this are lowered through their definitions rather than made dense (a dense
#: 2^k x 2^k matrix of a 12-qubit MCX takes minutes to build and cuStateVec takes at most 15).
DENSE_MAX_QUBITS = 6


class _Lowering:
    """Flattens a circuit (and the definitions it must open) into operations."""

    def __init__(
        self,
        names: Mapping[Parameter, int],
        values: NDArray[np.float64],
        noise: DeviceNoise | None = None,
    ) -> None:
        self.names = names
        self.values = values
        self.noise = noise
        self.out: list[Operation] = []
        self.phase: NDArray[np.float64] | float = 0.0

    def _add_phase(self, angle: object) -> None:
        self.phase = self.phase + parameter_values(angle, self.names, self.values)

    def lower(
        self, circuit: QuantumCircuit, qubit_map: Sequence[int], clbit_map: Sequence[int]
    ) -> None:
        self._add_phase(circuit.global_phase)
        qubit_index = {q: qubit_map[i] for i, q in enumerate(circuit.qubits)}
        clbit_index = {c: clbit_map[i] for i, c in enumerate(circuit.clbits)}
        for instruction in circuit.data:
            operation = instruction.operation
            qubits = [qubit_index[q] for q in instruction.qubits]
            clbits = [clbit_index[c] for c in instruction.clbits]
            name = operation.name
            if name in _NO_OPS:
                continue
            if isinstance(operation, ControlFlowOp):
                raise UnsupportedCircuit(
                    f"classical control flow ({name}) is not supported by the custatevec "
                    "executor yet; run this circuit on an @aer backend"
                )
            if name == "measure":
                self._noise(name, qubits)  # a measurement's error acts before it, as in Aer
                self.out.append(MeasureOp(qubits[0], clbits[0]))
            elif name == "reset":
                self.out.append(ResetOp(qubits[0]))
                self._noise(name, qubits)
            elif name == "quantum_channel":  # an error a noise pass inserted (after delays)
                self.out.append(_channel(getattr(operation, "_quantum_error", None), qubits))
            elif isinstance(operation, Gate) and not self._opens(operation):
                matrices = gate_matrices(operation, self.names, self.values)
                if qubits:
                    self.out.append(GateOp(tuple(qubits), matrices))
                else:  # a global phase gate: a 1x1 matrix
                    self.phase = self.phase + np.angle(matrices[:, 0, 0])
                self._noise(name, qubits)
            elif getattr(operation, "definition", None) is not None:
                self.lower(operation.definition, qubits, clbits)
            else:
                raise UnsupportedCircuit(
                    f"instruction {name!r} is not supported by the custatevec executor"
                )

    def _noise(self, name: str, qubits: Sequence[int]) -> None:
        if self.noise is not None and qubits:
            error = self.noise.error(name, qubits)
            if error is not None:
                self.out.append(error)

    def _opens(self, gate: Gate) -> bool:
        """Whether to lower ``gate`` through its definition instead of making it a matrix:
        when it is too wide for a dense matrix, or parametric without a matrix formula (its
        definition refers to the sweep's parameters, its matrix cannot be built unbound)."""
        if gate.definition is None:
            return False
        if gate.num_qubits > DENSE_MAX_QUBITS:
            return True
        swept = any(isinstance(p, ParameterExpression) and p.parameters for p in gate.params)
        return swept and not is_vectorised(gate)


def _split_final_measurements(
    operations: Sequence[Operation],
) -> tuple[list[Operation], list[tuple[int, int]]]:
    touched: set[int] = set()  # qubits a later gate, reset or mid-circuit measurement acts on
    written: set[int] = set()  # clbits a later mid-circuit measurement writes
    body: list[Operation] = []
    finals: list[tuple[int, int]] = []
    for op in reversed(operations):
        if isinstance(op, MeasureOp) and op.qubit not in touched and op.clbit not in written:
            finals.append((op.qubit, op.clbit))
            continue
        body.append(op)
        if isinstance(op, GateOp):
            touched.update(op.targets)
        elif isinstance(op, NoiseOp):
            touched.update(op.qubits)
        elif isinstance(op, ResetOp):
            touched.add(op.qubit)
        else:
            touched.add(op.qubit)
            written.add(op.clbit)
    body.reverse()
    finals.reverse()
    return body, finals


def _channel(error: object, qubits: Sequence[int]) -> NoiseOp:
    """A ``quantum_channel`` instruction's error: an Aer QuantumError (a mixture), or any
    quantum channel (one Kraus step)."""
    if error is None:
        raise UnsupportedCircuit("a quantum_channel instruction without its channel")
    if hasattr(error, "circuits"):
        return compile_error(error, qubits, "quantum_channel")
    from qiskit.quantum_info import Kraus

    step = kraus_step(qubits, Kraus(error).data)
    return NoiseOp(tuple(qubits), np.ones(1), (Branch((step,), identity=False),), "channel")
