"""Recognising Clifford circuits, for Aer's stabilizer method.

A Clifford circuit (Clifford gates, measurements, resets, classical control) is simulated
exactly by a stabilizer tableau in time polynomial in its width: thousands of qubits take
seconds. Aer's ``automatic`` method picks the stabilizer method only for circuits written in its
own Clifford instructions, and only for ``rz`` angles it is given as such; device circuits
are ``rz``/``sx``/``ecr``, and a user's circuit may use ``iswap`` or ``rx(pi/2)``. Here every
instruction is checked (``rz``, ``p``, ``rx``, ... at multiples of pi/2 are Clifford), and a
Clifford circuit that uses instructions the stabilizer method lacks is translated into its
instruction set, gate by gate (the same operation).
"""

from __future__ import annotations

import math
from functools import cache

from qiskit import QuantumCircuit, transpile
from qiskit.circuit import ControlFlowOp, Gate, Instruction, ParameterExpression
from qiskit.primitives.containers.bindings_array import BindingsArray
from qiskit.quantum_info import Clifford
from qiskit_aer import AerSimulator

#: Instructions with no effect on the state, or none beyond what the tableau represents.
_ALWAYS = frozenset({"measure", "reset", "barrier", "delay", "id", "store"})
#: Parameter sets checked one by one; a larger sweep is not planned on the stabilizer method.
MAX_CHECKED_BINDINGS = 1024
#: Tolerance on an angle being a multiple of pi/2.
ANGLE_TOLERANCE = 1e-9


@cache
def stabilizer_instructions() -> frozenset[str]:
    return frozenset(AerSimulator(method="stabilizer").configuration().basis_gates)


def _quarter_turns(angle: float) -> bool:
    turns = angle / (math.pi / 2)
    return abs(turns - round(turns)) < ANGLE_TOLERANCE


def non_clifford_instruction(
    circuit: QuantumCircuit, skip_parameterized: bool = False
) -> str | None:
    """The first instruction that is not Clifford (as ``name(params)``), or None when every
    one is; an instruction with unbound parameters is not, unless ``skip_parameterized``."""
    for instruction in circuit.data:
        operation = instruction.operation
        if isinstance(operation, ControlFlowOp):
            for block in operation.blocks:
                found = non_clifford_instruction(block, skip_parameterized)
                if found is not None:
                    return found
            continue
        if operation.name in _ALWAYS:
            continue
        if skip_parameterized and operation.is_parameterized():
            continue
        if not _clifford(operation):
            return _describe(operation)
    return None


def _describe(operation: Instruction) -> str:
    if not operation.params:
        return str(operation.name)
    values = ", ".join(
        str(p) if isinstance(p, ParameterExpression) else f"{float(p):.4g}"
        for p in operation.params
    )
    return f"{operation.name}({values})"


_verdicts: dict[tuple[str, tuple[float, ...]], bool] = {}


def _clifford(operation: Instruction) -> bool:
    if any(isinstance(p, ParameterExpression) for p in operation.params):
        return False
    if operation.name in ("rz", "p", "rx", "ry", "u1", "rzz", "rxx", "ryy", "rzx", "cp"):
        # Rotations: Clifford exactly at quarter turns (cp at half turns, checked below).
        if operation.name == "cp":
            return _quarter_turns(float(operation.params[0]) / 2)
        return _quarter_turns(float(operation.params[0]))
    if operation.name in stabilizer_instructions():
        return True
    if not isinstance(operation, Gate) or operation.num_qubits > 3:
        return False
    try:
        key = (operation.name, tuple(float(p) for p in operation.params))
    except (TypeError, ValueError):
        return False
    verdict = _verdicts.get(key)
    if verdict is None:
        try:
            Clifford(operation)
            verdict = True
        except Exception:  # Qiskit raises QiskitError or others: not Clifford
            verdict = False
        _verdicts[key] = verdict
    return verdict


def clifford_bindings(circuit: QuantumCircuit, parameter_values: BindingsArray) -> tuple[bool, str]:
    """Whether every parameter set makes ``circuit`` Clifford, and if not, why."""
    found = non_clifford_instruction(circuit, skip_parameterized=True)
    if found is not None:
        return False, f"it applies {found}"
    if not circuit.num_parameters:
        return True, ""
    if parameter_values.size > MAX_CHECKED_BINDINGS:
        return False, f"its sweep has over {MAX_CHECKED_BINDINGS} parameter sets to check"
    for bound in parameter_values.bind_all(circuit).ravel():
        found = non_clifford_instruction(bound)
        if found is not None:
            return False, f"it applies {found}"
    return True, ""


def for_stabilizer(circuit: QuantumCircuit) -> QuantumCircuit:
    """A Clifford ``circuit`` in the stabilizer method's instructions: itself when it is,
    else translated (optimization level 0: the same qubits, the same operation)."""
    supported = stabilizer_instructions() | _ALWAYS
    if _native(circuit, supported):
        return circuit
    basis = sorted(
        {"h", "s", "sdg", "x", "y", "z", "sx", "sxdg", "cx", "cy", "cz", "swap", "ecr", "rz"}
    )
    translated = transpile(circuit, basis_gates=basis, optimization_level=0)
    translated.metadata = circuit.metadata
    return translated


def _native(circuit: QuantumCircuit, supported: frozenset[str]) -> bool:
    for instruction in circuit.data:
        operation = instruction.operation
        if operation.name not in supported:
            return False
        if operation.name == "rz" and not _clifford(operation):
            return False
        if isinstance(operation, ControlFlowOp) and not all(
            _native(block, supported) for block in operation.blocks
        ):
            return False
    return True
