"""Idle-qubit compaction keeps sampler distributions and expectation values exact."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit.random import random_circuit
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit.quantum_info import SparsePauliOp, Statevector
from qiskit_ibm_runtime.circuit import MidCircuitMeasure
from qiskit_runtime_server.circuits import (
    active_qubits,
    compact_estimator_pub,
    compact_sampler_pub,
    with_standard_instructions,
    without_idle_qubits,
)


def embedded(seed: int) -> tuple[QuantumCircuit, list[int]]:
    """A random 3-qubit circuit placed on qubits of a 7-qubit register."""
    inner = random_circuit(3, 4, seed=seed)
    placement = [6, 1, 4]
    outer = QuantumCircuit(7)
    outer.compose(inner, qubits=placement, inplace=True)
    return outer, sorted(placement)


def test_active_qubits_ignore_barriers_and_see_control_flow() -> None:
    circuit = QuantumCircuit(5, 1)
    circuit.barrier()
    circuit.h(3)
    circuit.measure(3, 0)
    with circuit.if_test((circuit.clbits[0], 1)):
        circuit.x(1)
    assert active_qubits(circuit) == [1, 3]


@pytest.mark.parametrize("seed", range(5))
def test_compact_estimator_pub_keeps_expectation_values(seed: int) -> None:
    circuit, used = embedded(seed)
    rng = np.random.default_rng(seed)
    labels = []
    for _ in range(6):  # random Paulis on the used qubits, I or Z on the idle ones
        label = ["IXYZ"[rng.integers(4)] if q in used else "IZ"[rng.integers(2)] for q in range(7)]
        labels.append("".join(reversed(label)))
    labels += ["IIIIIIZ", "ZIIIIII", "IIIXIII"]  # the X on idle qubit 3 keeps that qubit
    observables = [SparsePauliOp(label) for label in labels]
    pub = EstimatorPub.coerce((circuit, observables), 0.01)
    compact = compact_estimator_pub(pub)
    assert compact.circuit.num_qubits == len(used) + 1
    state, small = Statevector(circuit), Statevector(compact.circuit)
    for index, observable in enumerate(observables):
        expected = state.expectation_value(observable).real
        restricted = SparsePauliOp.from_list(list(compact.observables.ravel()[index].items()))
        assert small.expectation_value(restricted).real == pytest.approx(expected, abs=1e-9)


def test_compact_sampler_pub_keeps_classical_bits() -> None:
    circuit = QuantumCircuit(6, 2)
    circuit.x(4)
    circuit.measure(4, 1)
    compact = compact_sampler_pub(SamplerPub.coerce(circuit, 10))
    assert compact.circuit.num_qubits == 1
    assert compact.circuit.num_clbits == 2
    assert compact.shots == 10


def test_a_circuit_without_gates_keeps_one_qubit() -> None:
    circuit = QuantumCircuit(4)
    compact, kept = without_idle_qubits(circuit)
    assert compact.num_qubits == 1
    assert kept == [0]


def test_a_barrier_across_idle_qubits_does_not_keep_them() -> None:
    circuit = QuantumCircuit(5, 1)
    circuit.h(0)
    circuit.barrier()
    circuit.cx(0, 2)
    circuit.barrier([0, 2])
    circuit.measure(2, 0)
    compact, keep = without_idle_qubits(circuit)
    assert keep == [0, 2]
    assert compact.num_qubits == 2
    assert [i.operation.name for i in compact.data] == ["h", "cx", "barrier", "measure"]


def test_measure_2_reaches_executors_as_a_measurement() -> None:
    circuit = QuantumCircuit(1, 2)
    circuit.append(MidCircuitMeasure(), [0], [0])
    with circuit.if_test((circuit.clbits[0], 1)):
        circuit.append(MidCircuitMeasure(), [0], [1])
    standard = with_standard_instructions(circuit)
    assert standard.count_ops()["measure"] == 1
    assert "measure_2" not in standard.count_ops()
    inner = standard.data[1].operation.blocks[0]
    assert [i.operation.name for i in inner.data] == ["measure"]
    plain = QuantumCircuit(1, 1)
    plain.measure(0, 0)
    assert with_standard_instructions(plain) is plain


def test_undefined_instructions_are_found_inside_control_flow_too() -> None:
    from qiskit.circuit import Gate
    from qiskit.circuit.library import UnitaryGate
    from qiskit_runtime_server.circuits import undefined_instructions

    defined = QuantumCircuit(2)
    defined.h(0)
    defined.append(UnitaryGate(np.eye(2)), [1])  # synthesised on demand: it has a definition
    mine = QuantumCircuit(1, name="mine")
    mine.x(0)
    defined.append(mine.to_gate(), [0])
    defined.measure_all()
    assert undefined_instructions(defined) == set()

    opaque = QuantumCircuit(1, 1)
    opaque.measure(0, 0)
    with opaque.if_test((opaque.clbits[0], 1)):
        opaque.append(Gate("opaque_thing", 1, []), [0])
    assert undefined_instructions(opaque) == {"opaque_thing"}
