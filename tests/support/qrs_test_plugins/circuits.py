"""Circuits and fake devices the executor tests share."""

from __future__ import annotations

from qiskit import QuantumCircuit
from qiskit_runtime_server.builtin.fake_devices import FakeDeviceDescription, fake_device_classes


def fake_device(name: str) -> FakeDeviceDescription:
    """The description of a fake device by backend name (``"fake_kolkata"``)."""
    return FakeDeviceDescription(next(c for c in fake_device_classes() if c.backend_name == name))


def ghz(n: int, *, measure: bool) -> QuantumCircuit:
    """A GHZ chain on ``n`` qubits (H, then CX along the line), measured or not."""
    circuit = QuantumCircuit(n)
    circuit.h(0)
    for qubit in range(n - 1):
        circuit.cx(qubit, qubit + 1)
    if measure:
        circuit.measure_all()
    return circuit
