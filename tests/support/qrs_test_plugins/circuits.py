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


def bell() -> QuantumCircuit:
    """A measured Bell pair (register ``meas``)."""
    return ghz(2, measure=True)


def bell_for_testkit(behaviour: str | None = None) -> QuantumCircuit:
    """A measured Bell pair; ``behaviour`` is what the testkit executor does first (testkit.py:
    ``"gate"``, ``"sleep:<seconds>"``, ``"segfault"``, ``"exit"``)."""
    circuit = bell()
    circuit.metadata = {"testkit": behaviour} if behaviour else {}
    return circuit
