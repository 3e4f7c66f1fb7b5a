"""Circuits as Aer runs them: native ones untouched, others unrolled, barriers gone."""

from __future__ import annotations

from qiskit import QuantumCircuit
from qiskit_runtime_server_aer.translation import for_aer


def test_a_native_circuit_without_barriers_is_passed_as_it_is() -> None:
    stripped = QuantumCircuit(2, 2)
    stripped.h(0)
    stripped.cx(0, 1)
    stripped.measure([0, 1], [0, 1])
    assert for_aer(stripped) is stripped


def test_barriers_are_removed_and_metadata_kept() -> None:
    # The client-side primitives' templates carry a labelled barrier around every twirled box;
    # Aer slows down at each (see translation.py), and a barrier changes nothing simulated.
    circuit = QuantumCircuit(2, 2, metadata={"kept": True})
    circuit.barrier(label="L0@tag=t1")
    circuit.sx(0)
    circuit.cx(0, 1)
    circuit.barrier(label="R0@tag=t1")
    circuit.measure([0, 1], [0, 1])
    ran = for_aer(circuit)
    assert "barrier" not in ran.count_ops()
    assert dict(ran.count_ops()) == {"sx": 1, "cx": 1, "measure": 2}
    assert ran.metadata == {"kept": True}
    assert "barrier" in circuit.count_ops()  # the caller's circuit is not changed


def test_gates_aer_lacks_are_unrolled_without_barriers() -> None:
    circuit = QuantumCircuit(2)
    circuit.ch(0, 1)
    circuit.barrier()
    ran = for_aer(circuit)
    assert "ch" not in ran.count_ops()
    assert "barrier" not in ran.count_ops()
