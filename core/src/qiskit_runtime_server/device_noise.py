"""What the core asks an executor about its device noise, and what the executor answers.

The ``noise-learner`` program does not run learning experiments: it reports the Pauli-Lindblad
rates that the executor's own noise would show (``programs/noise_learner.py``). The core holds
no simulator code, so the noise itself comes from the executor plugin through the
``qiskit_runtime_device_noise`` hook, in these small, simulator-neutral types: each gate's error
as a :mod:`qiskit.quantum_info` channel and each qubit's readout error as two probabilities.
The core does the rest (Pauli twirling, the Lindblad fit), the same way for every executor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from qiskit.quantum_info.operators.channel.quantum_channel import QuantumChannel

from .backend_description import BackendDescription


@dataclass(frozen=True)
class GateRef:
    """One gate on physical qubits: ``name`` as in the device's basis (``cx``, ``sx``, ``rz``),
    ``qubits`` in the gate's argument order, ``params`` its numeric parameters (empty when the
    noise cannot depend on them, e.g. for the single-qubit gates of a twirling dressing, whose
    angles change with every randomization)."""

    name: str
    qubits: tuple[int, ...]
    params: tuple[float, ...] = ()


@dataclass(frozen=True)
class NoiseQuery:
    """One job's question to its executor: the errors of ``gates`` and the readout errors of
    ``measured_qubits`` on ``backend``, asked once for all the layers of the job.

    ``noise_model`` is the job's ``options.simulator.noise_model`` as the client sent it (a
    decoded object or its dict form), or None: an executor that honours that option answers
    with the user's model instead of the device's.
    """

    executor: str
    backend_name: str
    backend: BackendDescription
    gates: tuple[GateRef, ...]
    measured_qubits: tuple[int, ...] = ()
    noise_model: Any | None = None


@dataclass(frozen=True)
class DeviceNoise:
    """An executor's answer to a :class:`NoiseQuery`.

    ``gate_errors`` has an entry for every gate of the query: the channel the executor applies
    right after the ideal gate (any :class:`~qiskit.quantum_info.operators.channel.
    quantum_channel.QuantumChannel`: ``Kraus``, ``SuperOp``, ...), on the gate's qubits in the
    gate's argument order (channel qubit k is ``gate.qubits[k]``), or None where the gate is
    noiseless. ``readout_errors`` maps every measured qubit to ``(P(1|0), P(0|1))``, the
    probabilities of reading the wrong bit after preparing 0 and 1; a qubit left out reads
    perfectly. ``source`` says in one line where the noise comes from ("qiskit-aer noise model
    of fake_kolkata's calibration properties"); it is shown to the user in the result metadata.
    """

    gate_errors: Mapping[GateRef, QuantumChannel | None]
    readout_errors: Mapping[int, tuple[float, float]] = field(default_factory=dict)
    source: str = ""
