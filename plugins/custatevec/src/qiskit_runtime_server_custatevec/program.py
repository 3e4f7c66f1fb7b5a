"""Compiling a circuit and its parameter sweep into a program the engine runs on a kernel.

A program is the circuit's operations in order, with every gate already a stack of matrices over
the sweep, plus the final measurements. A measurement is *final* when no later gate or reset
touches its qubit and no later mid-circuit measurement writes its clbit: final measurements
commute with everything after them, so they are all done at the end by sampling the final
statevector, while mid-circuit measurements and resets split the shots (see engine.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from qiskit import QuantumCircuit
from qiskit.circuit import ControlFlowOp, Gate, Parameter

from .gates import gate_matrices, parameter_values
from .kernel import Matrices

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


Operation = GateOp | MeasureOp | ResetOp


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

    @property
    def dynamic(self) -> bool:
        """Whether shots must be split by mid-circuit measurements or resets."""
        return any(not isinstance(op, GateOp) for op in self.operations)

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


def compile_circuit(circuit: QuantumCircuit, values: NDArray[np.float64]) -> Program:
    """The program of ``circuit`` for the parameter sets ``values`` (shape ``(B, P)``)."""
    names = {parameter: column for column, parameter in enumerate(circuit.parameters)}
    operations: list[Operation] = []
    _lower(
        circuit,
        list(range(circuit.num_qubits)),
        [circuit.find_bit(c).index for c in circuit.clbits],
        names,
        values,
        operations,
    )
    phase = parameter_values(circuit.global_phase, names, values)
    body, finals = _split_final_measurements(operations)
    return Program(
        num_qubits=circuit.num_qubits,
        num_clbits=circuit.num_clbits,
        size=values.shape[0],
        operations=tuple(body),
        final_measurements=tuple(finals),
        global_phase=np.atleast_1d(np.asarray(phase, dtype=np.float64)),
    )


def _lower(
    circuit: QuantumCircuit,
    qubit_map: Sequence[int],
    clbit_map: Sequence[int],
    names: Mapping[Parameter, int],
    values: NDArray[np.float64],
    out: list[Operation],
) -> None:
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
                f"classical control flow ({name}) is not supported by the custatevec executor "
                "yet; run this circuit on an @aer backend"
            )
        if name == "measure":
            out.append(MeasureOp(qubits[0], clbits[0]))
        elif name == "reset":
            out.append(ResetOp(qubits[0]))
        elif isinstance(operation, Gate):
            out.append(GateOp(tuple(qubits), gate_matrices(operation, names, values)))
        elif operation.definition is not None:
            _lower(operation.definition, qubits, clbits, names, values, out)
        else:
            raise UnsupportedCircuit(
                f"instruction {name!r} is not supported by the custatevec executor"
            )


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
        elif isinstance(op, ResetOp):
            touched.add(op.qubit)
        else:
            touched.add(op.qubit)
            written.add(op.clbit)
    body.reverse()
    finals.reverse()
    return body, finals
