"""Renumbering qubits for MPS: the order follows the couplings and changes nothing else."""

from __future__ import annotations

import itertools

from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit.library import efficient_su2
from qiskit.quantum_info import Statevector
from qiskit_runtime_server_aer.layout import bandwidth, chain_order, interaction_edges, reordered


def test_a_scrambled_chain_is_put_in_path_order() -> None:
    chain = [4, 0, 3, 1, 5, 2]
    edges = {(min(a, b), max(a, b)) for a, b in itertools.pairwise(chain)}
    order = chain_order(6, edges)
    assert order in (chain, chain[::-1])
    assert bandwidth(order, edges) == 1
    assert bandwidth(list(range(6)), edges) > 1


def test_cycles_and_trees_get_a_bandwidth_reducing_order() -> None:
    ring = {(i, (i + 1) % 8) for i in range(8)}
    ring = {(min(a, b), max(a, b)) for a, b in ring}
    order = chain_order(8, ring)
    assert sorted(order) == list(range(8))
    assert bandwidth(order, ring) <= 2
    star = {(0, q) for q in range(1, 6)}
    assert sorted(chain_order(6, star)) == list(range(6))


def test_idle_and_isolated_qubits_are_kept() -> None:
    order = chain_order(4, {(1, 2)})
    assert sorted(order) == [0, 1, 2, 3]


def test_reordering_permutes_qubits_and_keeps_bits_parameters_and_registers() -> None:
    circuit = efficient_su2(4, reps=1)
    circuit.measure_all()
    extra = ClassicalRegister(2, "extra")
    circuit.add_register(extra)
    circuit.measure(0, extra[1])
    order = [2, 0, 3, 1]
    result = reordered(circuit, order)
    assert result.parameters == circuit.parameters
    assert [r.name for r in result.cregs] == ["meas", "extra"]
    assert result.clbits == circuit.clbits
    assert interaction_edges(result) == {
        (min(order.index(a), order.index(b)), max(order.index(a), order.index(b)))
        for a, b in interaction_edges(circuit)
    }
    # The state is the same up to the qubit permutation: new qubit `site` is old `order[site]`
    # (numpy axis k holds qubit 3 - k in Qiskit's little-endian order).
    unitary = circuit.remove_final_measurements(inplace=False)
    values = [0.1 * k for k in range(circuit.num_parameters)]
    original = Statevector(unitary.assign_parameters(values)).data.reshape([2] * 4)
    renumbered = Statevector(reordered(unitary, order).assign_parameters(values))
    axes = [3 - order[3 - axis] for axis in range(4)]
    assert renumbered.equiv(Statevector(original.transpose(axes).reshape(-1)))


def test_control_flow_couplings_count() -> None:
    qr, cr = QuantumRegister(3), ClassicalRegister(1)
    circuit = QuantumCircuit(qr, cr)
    circuit.measure(0, 0)
    with circuit.if_test((cr[0], 1)):
        circuit.cx(0, 2)
    assert interaction_edges(circuit) == {(0, 2)}
