"""The noise the aer executor applies to gates and measurements, for the ``noise-learner``
program (``qiskit_runtime_device_noise``).

The answer comes from the same models the executor simulates with: the device's model on the
queried qubits (``NoiseModelCache.on_qubits``, local testing mode's model built from the
device's calibration properties), or the job's ``options.simulator.noise_model``. Aer applies a
gate's QuantumError right after the gate; its readout errors are classical assignment
matrices on the measured bits.
"""

from __future__ import annotations

from qiskit.quantum_info.operators.channel.quantum_channel import QuantumChannel
from qiskit_aer.noise import NoiseModel, QuantumError
from qiskit_runtime_server import DeviceNoise, GateRef, NoiseQuery

from .noise import NoiseModelCache, user_noise_model


def device_noise(query: NoiseQuery, cache: NoiseModelCache) -> DeviceNoise:
    """Every queried gate's error and measured qubit's readout error under the model the
    executor would simulate the job's backend with."""
    if query.noise_model is not None:
        model = user_noise_model(query.noise_model)
        source = "the job's options.simulator.noise_model (qiskit-aer NoiseModel)"
    elif NoiseModelCache.has_device_noise(query.backend):
        qubits = {q for gate in query.gates for q in gate.qubits} | set(query.measured_qubits)
        model = cache.on_qubits(query.backend, qubits)
        source = (
            f"qiskit-aer noise model of {query.backend.name}'s calibration properties (the "
            "model local testing mode and this executor simulate the device with)"
        )
    else:
        model = NoiseModel()
        source = f"none: {query.backend.name} has no calibration properties"
    gate_errors: dict[GateRef, QuantumChannel | None] = {
        gate: _channel(_gate_error(model, gate)) for gate in query.gates
    }
    readout: dict[int, tuple[float, float]] = {}
    for qubit in query.measured_qubits:
        flips = _readout(model, qubit)
        if flips is not None:
            readout[qubit] = flips
    return DeviceNoise(gate_errors=gate_errors, readout_errors=readout, source=source)


def _gate_error(model: NoiseModel, gate: GateRef) -> QuantumError | None:
    """The error Aer attaches to ``gate``: the local one on its qubits, else the all-qubit one
    of its name (Aer's own precedence)."""
    local = model._local_quantum_errors.get(gate.name, {})
    error = local.get(tuple(gate.qubits))
    if error is None:
        error = model._default_quantum_errors.get(gate.name)
    if error is not None and error.num_qubits != len(gate.qubits):
        return None
    return error


def _channel(error: QuantumError | None) -> QuantumChannel | None:
    if error is None:
        return None
    return error.to_quantumchannel()


def _readout(model: NoiseModel, qubit: int) -> tuple[float, float] | None:
    error = model._local_readout_errors.get((qubit,)) or model._default_readout_error
    if error is None:
        return None
    probabilities = error.probabilities
    return float(probabilities[0][1]), float(probabilities[1][0])
