"""Making circuits runnable by Aer without changing their meaning.

The ideal device is a ``simulator: true`` backend, so the client sends circuits untranspiled:
they may hold gates Aer has no native kernel for (``ch``, custom composite gates). Those
circuits are unrolled to Aer's own basis at optimization level 0, which keeps qubit indices (and
so observables) unchanged; circuits that Aer runs as they are pass through untouched.

Barriers are removed: they order nothing in a simulation (no noise attaches to them), and Aer
slows down at each one. Measured on qiskit-aer 0.18: a twirled 20-qubit efficient_su2 template
from the client-side Sampler (66 labelled barriers) took 60.7 s for 64 noisy shots with the
matrix-product-state method, and 18.5 s without its barriers.
"""

from __future__ import annotations

from functools import cache

from qiskit import QuantumCircuit, transpile
from qiskit.circuit import ControlFlowOp
from qiskit.circuit.library import get_standard_gate_name_mapping
from qiskit.transpiler.passes import RemoveBarriers
from qiskit_aer import AerSimulator


@cache
def aer_instructions() -> frozenset[str]:
    return frozenset(AerSimulator().target.operation_names) | {"barrier"}


def _runs_natively(circuit: QuantumCircuit, supported: frozenset[str]) -> bool:
    for instruction in circuit.data:
        operation = instruction.operation
        if operation.name not in supported:
            return False
        if isinstance(operation, ControlFlowOp) and not all(
            _runs_natively(block, supported) for block in operation.blocks
        ):
            return False
    return True


def for_aer(circuit: QuantumCircuit) -> QuantumCircuit:
    """``circuit`` itself if Aer runs it natively and has no barriers, else unrolled to Aer's
    instructions and without barriers."""
    if any(instruction.operation.name == "barrier" for instruction in circuit.data):
        stripped = RemoveBarriers()(circuit)
        stripped.metadata = circuit.metadata
        circuit = stripped
    return _unrolled(circuit, aer_instructions())


def _unrolled(circuit: QuantumCircuit, supported: frozenset[str]) -> QuantumCircuit:
    """``circuit`` itself if it holds only ``supported`` instructions, else unrolled to the
    standard gates among them (optimization level 0: the same qubits, the same operation)."""
    if _runs_natively(circuit, supported):
        return circuit
    basis = sorted(supported & set(get_standard_gate_name_mapping()))
    translated = transpile(circuit, basis_gates=basis, optimization_level=0)
    translated.metadata = circuit.metadata
    return translated


@cache
def method_instructions(method: str) -> frozenset[str]:
    """What Aer's ``method`` runs: fewer gates than the automatic method's (no ``cu3`` for
    an MPS, for one)."""
    return frozenset(AerSimulator(method=method).configuration().basis_gates) | {
        "barrier",
        "measure",
    }


def for_method(circuit: QuantumCircuit, method: str) -> QuantumCircuit:
    """``circuit`` itself if Aer's ``method`` runs it, else unrolled to that method's gates."""
    return _unrolled(circuit, method_instructions(method))
