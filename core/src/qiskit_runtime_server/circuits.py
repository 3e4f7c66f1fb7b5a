"""Circuit helpers for executors and for the server's own checks.

ISA circuits of a 127-qubit device have 127 qubits even when three are used. Simulators that
cannot drop idle qubits themselves (a statevector of the full width would never fit) use
:func:`compact_sampler_pub` / :func:`compact_estimator_pub`: idle qubits start in ``|0>`` and
stay there, so removing them changes nothing, provided observables are restricted accordingly
(a Z or I on an idle qubit contributes a factor 1; qubits where an observable has an X or Y
are kept, so that such terms still evaluate to zero).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import ControlFlowOp, Measure, Qubit, Reset
from qiskit.converters import circuit_to_dag, dag_to_circuit
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.observables_array import ObservablesArray
from qiskit.primitives.containers.sampler_pub import SamplerPub

_NO_EFFECT = frozenset({"barrier"})
#: IBM's variants of standard instructions, as their devices' targets name them, and what they
#: do: ``measure_2`` (``MidCircuitMeasure``) is a shorter measurement, ``reset_2`` a shorter
#: reset. A simulator gives them their standard meaning (and noise: the qubit's readout error).
IBM_VARIANTS = {"measure_2": Measure(), "reset_2": Reset()}


def active_qubits(circuit: QuantumCircuit) -> list[int]:
    """Indices of the qubits that any instruction (other than a barrier) touches."""
    used: set[int] = set()
    _collect(circuit, circuit, [circuit.find_bit(q).index for q in circuit.qubits], used)
    return sorted(used)


def _collect(
    root: QuantumCircuit, circuit: QuantumCircuit, mapping: Sequence[int], used: set[int]
) -> None:
    positions = {q: mapping[i] for i, q in enumerate(circuit.qubits)}
    for instruction in circuit.data:
        operation = instruction.operation
        if operation.name in _NO_EFFECT:
            continue
        qubits = [positions[q] for q in instruction.qubits]
        used.update(qubits)
        if isinstance(operation, ControlFlowOp):
            for block in operation.blocks:
                _collect(root, block, qubits, used)


def with_standard_instructions(circuit: QuantumCircuit) -> QuantumCircuit:
    """``circuit`` with IBM's instruction variants (:data:`IBM_VARIANTS`) replaced by the
    standard instructions they are; ``circuit`` itself when it has none (the common case costs
    one scan)."""
    if not instruction_names(circuit) & IBM_VARIANTS.keys():
        return circuit
    replaced = circuit.copy_empty_like()
    for instruction in circuit.data:
        operation = instruction.operation
        variant = IBM_VARIANTS.get(operation.name)
        if variant is not None and (operation.num_qubits, operation.num_clbits) == (
            variant.num_qubits,
            variant.num_clbits,
        ):
            instruction = instruction.replace(operation=variant)
        elif isinstance(operation, ControlFlowOp):
            blocks = [with_standard_instructions(block) for block in operation.blocks]
            instruction = instruction.replace(operation=operation.replace_blocks(blocks))
        replaced.append(instruction)
    return replaced


def instruction_names(circuit: QuantumCircuit) -> set[str]:
    """The names of the instructions ``circuit`` uses, inside control flow too."""
    names: set[str] = set()
    for instruction in circuit.data:
        operation = instruction.operation
        names.add(operation.name)
        if isinstance(operation, ControlFlowOp):
            for block in operation.blocks:
                names |= instruction_names(block)
    return names


#: Instructions that are not gates and have no definition, which every executor must know.
_PRIMITIVE_INSTRUCTIONS = frozenset(
    {"measure", "reset", "barrier", "delay", "store", "box"}
    | {"if_else", "while_loop", "for_loop", "switch_case", "break_loop", "continue_loop"}
    | set(IBM_VARIANTS)
)


def undefined_instructions(circuit: QuantumCircuit) -> set[str]:
    """Names of the instructions of ``circuit`` (inside control flow too) that no executor can
    run: neither a standard gate nor a known instruction, and without a definition to unroll
    (an opaque ``Gate("mine", 1, [])``, a simulator's own ``save_statevector``)."""
    from qiskit.circuit.library import get_standard_gate_name_mapping

    standard = get_standard_gate_name_mapping()
    undefined: set[str] = set()
    for instruction in circuit.data:
        operation = instruction.operation
        if isinstance(operation, ControlFlowOp):
            for block in operation.blocks:
                undefined |= undefined_instructions(block)
        elif (
            operation.name not in standard
            and operation.name not in _PRIMITIVE_INSTRUCTIONS
            and getattr(operation, "definition", None) is None
        ):
            undefined.add(operation.name)
    return undefined


def without_idle_qubits(
    circuit: QuantumCircuit, also_keep: Iterable[int] = ()
) -> tuple[QuantumCircuit, list[int]]:
    """The circuit without its idle qubits (except ``also_keep``), and the original indices of
    the kept ones. At least one qubit is kept, so that the result still has a state."""
    keep = sorted(set(active_qubits(circuit)) | set(also_keep))
    keep = keep or list(range(min(1, circuit.num_qubits)))
    if len(keep) == circuit.num_qubits:
        return circuit, keep
    dag = circuit_to_dag(circuit)
    kept = {circuit.qubits[index] for index in keep}
    # A barrier has no effect on a simulation, but one across dropped qubits keeps them "in use".
    for node in dag.op_nodes():
        if node.op.name == "barrier" and any(q not in kept for q in node.qargs):
            dag.remove_op_node(node)
    dag.remove_qubits(*[q for q in circuit.qubits if q not in kept and isinstance(q, Qubit)])
    compact = dag_to_circuit(dag)
    compact.metadata = circuit.metadata
    return compact, keep


def _flipping_qubits(observable: dict[str, float], num_qubits: int) -> set[int]:
    """Qubits on which some term has an X or Y (labels are little-endian)."""
    return {
        num_qubits - 1 - position
        for label in observable
        for position, pauli in enumerate(label)
        if pauli in "XY"
    }


def restrict_observable(
    observable: dict[str, float], keep: Sequence[int], num_qubits: int
) -> dict[str, float]:
    """An observable on ``num_qubits`` qubits, restricted to ``keep``. The dropped qubits must be
    in |0> and carry only I or Z in every term, which then contribute a factor 1."""
    restricted: dict[str, float] = {}
    for label, coeff in observable.items():
        new_label = "".join(label[num_qubits - 1 - q] for q in reversed(keep))
        restricted[new_label] = restricted.get(new_label, 0.0) + coeff
    return restricted


def compact_sampler_pub(pub: SamplerPub) -> SamplerPub:
    circuit, _ = without_idle_qubits(pub.circuit)
    if circuit is pub.circuit:
        return pub
    return SamplerPub(circuit, pub.parameter_values, pub.shots, validate=False)


def compact_estimator_pub(pub: EstimatorPub) -> EstimatorPub:
    width = pub.circuit.num_qubits
    observables = pub.observables
    flipping: set[int] = set()
    for observable in observables.ravel():
        flipping |= _flipping_qubits(observable, width)
    circuit, keep = without_idle_qubits(pub.circuit, flipping)
    if circuit is pub.circuit:
        return pub
    flat = [restrict_observable(obs, keep, width) for obs in observables.ravel()]
    array = np.empty(len(flat), dtype=object)
    array[:] = flat
    restricted = ObservablesArray(array.reshape(observables.shape), num_qubits=len(keep))
    return EstimatorPub(circuit, restricted, pub.parameter_values, pub.precision, validate=False)
