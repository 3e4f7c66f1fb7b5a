"""``options.simulator.coupling_map`` and ``basis_gates``: the device a user asks the simulator
to stand for. V2 primitives never transpile, so honouring them means refusing circuits that the
described device could not run, with the offending instruction named."""

from __future__ import annotations

from collections.abc import Iterable

from qiskit import QuantumCircuit
from qiskit.circuit import ControlFlowOp

#: Instructions that every device accepts whatever its basis gates.
ALWAYS_SUPPORTED = frozenset(
    {"measure", "reset", "barrier", "delay", "store", "if_else", "while_loop", "for_loop",
     "switch_case", "box"}
)  # fmt: skip


def check_circuit(
    circuit: QuantumCircuit,
    *,
    coupling_map: Iterable[tuple[int, int]] | None,
    basis_gates: Iterable[str] | None,
    label: str,
) -> None:
    """Raise ValueError naming the first instruction the described device could not run."""
    edges = set(coupling_map) if coupling_map is not None else None
    basis = set(basis_gates) | ALWAYS_SUPPORTED if basis_gates is not None else None
    _check(circuit, circuit, edges, basis, label)


def _check(
    root: QuantumCircuit,
    circuit: QuantumCircuit,
    edges: set[tuple[int, int]] | None,
    basis: set[str] | None,
    label: str,
) -> None:
    for instruction in circuit.data:
        operation = instruction.operation
        name = operation.name
        if basis is not None and name not in basis:
            raise ValueError(
                f"{label}: instruction {name!r} is not in options.simulator.basis_gates "
                f"{sorted(basis - ALWAYS_SUPPORTED)}; transpile the circuit to those gates"
            )
        if isinstance(operation, ControlFlowOp):
            for block in operation.blocks:
                _check(root, block, edges, basis, label)
            continue
        if edges is None or name in ("barrier", "measure", "reset", "delay"):
            continue
        qubits = tuple(root.find_bit(q).index for q in instruction.qubits)
        if len(qubits) > 2 or (len(qubits) == 2 and qubits not in edges):
            raise ValueError(
                f"{label}: {name!r} on qubits {list(qubits)} is not an edge of "
                "options.simulator.coupling_map; transpile the circuit to that coupling map"
            )
