"""K noisy trajectories for a sampler PUB: an opt-in approximation for expensive circuits.

A job asks for it with ``options.experimental = {"trajectories": K}``. Instead of one noisy
trajectory per shot, Aer runs K trajectories (each a full noisy simulation of the circuit up to
its final measurements, with the exact device noise model), keeps the measured qubits' outcome
probabilities of each, and draws ``shots / K`` outcomes from each, then applies the device's
readout errors to every drawn bit. The cost drops from ``shots`` trajectories to K.

Bias: none on any expectation value (each trajectory is an exact sample of the noise, and the
outcome distribution given a trajectory is its exact final distribution), but shots of one
trajectory share its noise events, so counts are more spread than independent shots: the
effective number of shots is between K and ``shots``. tests/plugins/aer/test_trajectories.py
measures both (docs/simulation.md quotes it). Only circuits whose measurements are all final
qualify; mid-circuit measurements, resets and control flow fail the job with the reason. The
option's parsing, shot split and metadata are trajectory_count.py's, shared with the custatevec
executor.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from qiskit import QuantumCircuit
from qiskit.circuit import ControlFlowOp
from qiskit.primitives.containers.bindings_array import BindingsArray
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel

from .trajectory_count import OPTION, pub_metadata, shots_per_trajectory

#: Largest number of measured qubits: each trajectory keeps 2**m outcome probabilities.
MAX_MEASURED_QUBITS = 24


def split_final_measurements(
    circuit: QuantumCircuit,
) -> tuple[QuantumCircuit, list[tuple[int, int]]]:
    """The circuit without its measurements, and ``(qubit, clbit)`` of each measurement, which
    must all be final (nothing but measurements and barriers after one on the same qubit)."""
    unitary = circuit.copy_empty_like()
    measurements: list[tuple[int, int]] = []
    measured: set[int] = set()
    for instruction in circuit.data:
        operation = instruction.operation
        qubits = [circuit.find_bit(q).index for q in instruction.qubits]
        if isinstance(operation, ControlFlowOp) or operation.name == "reset":
            raise ValueError(
                f"options.{OPTION} needs circuits whose only measurements are final; this one "
                f"has a {operation.name}"
            )
        if operation.name == "measure":
            measurements.append((qubits[0], circuit.find_bit(instruction.clbits[0]).index))
            measured.add(qubits[0])
            continue
        if operation.name != "barrier" and measured & set(qubits):
            raise ValueError(
                f"options.{OPTION} needs circuits whose only measurements are final; a "
                f"{operation.name} acts on qubit(s) {sorted(measured & set(qubits))} after "
                "they were measured"
            )
        unitary._append(instruction)
    return unitary, measurements


def readout_flips(noise: NoiseModel, qubits: Sequence[int]) -> NDArray[np.float64]:
    """For each qubit, the probabilities of reading the wrong bit given 0 and given 1."""
    flips = np.zeros((len(qubits), 2))
    for k, qubit in enumerate(qubits):
        error = noise._local_readout_errors.get((qubit,), noise._default_readout_error)
        if error is not None:
            matrix = np.asarray(error.probabilities)
            flips[k] = (matrix[0, 1], matrix[1, 0])
    return flips


def sample_trajectories(
    simulator: AerSimulator,
    noise: NoiseModel,
    circuit: QuantumCircuit,
    parameter_values: BindingsArray,
    shots: int,
    trajectories: int,
    seed: int | None,
) -> tuple[NDArray[np.bool_], dict[str, Any]]:
    """Clbit values of every shot, shape ``(parameter sets, shots, num_clbits)``, and the PUB's
    metadata about its trajectories. The simulator must keep every trajectory (Aer's shot
    branching would merge them)."""
    unitary, measurements = split_final_measurements(circuit)
    measured = list(dict.fromkeys(qubit for qubit, _ in measurements))
    if len(measured) > MAX_MEASURED_QUBITS:
        raise ValueError(
            f"options.{OPTION} keeps 2^m outcome probabilities per trajectory; {len(measured)} "
            f"measured qubits is more than {MAX_MEASURED_QUBITS}"
        )
    position = {qubit: k for k, qubit in enumerate(measured)}
    if measured:
        unitary.save_probabilities(measured, pershot=True)
    # One circuit per parameter set, also for a circuit without parameters swept k times.
    bound = [unitary] * parameter_values.size
    if unitary.num_parameters:
        bound = list(parameter_values.bind_all(unitary).ravel())
    per_trajectory = shots_per_trajectory(shots, trajectories)
    k = per_trajectory.size
    if not bound or not k:
        return np.zeros((len(bound), shots, circuit.num_clbits), dtype=np.bool_), pub_metadata(
            per_trajectory[:0]
        )
    result = simulator.run(bound, shots=k, seed_simulator=seed).result()
    rng = np.random.default_rng(seed)
    flips = readout_flips(noise, measured)
    out = np.zeros((len(bound), shots, circuit.num_clbits), dtype=np.bool_)
    for index in range(len(bound)):
        if not measured:
            continue
        distributions = result.data(index)["probabilities"]
        if len(distributions) == 1 and k > 1:  # Aer ran once: the circuit has no noise event
            distributions = list(distributions) * k
        if len(distributions) != k:
            raise RuntimeError(f"Aer returned {len(distributions)} trajectories, not {k}")
        drawn = []
        for distribution, count in zip(distributions, per_trajectory, strict=True):
            p = np.clip(np.asarray(distribution, dtype=np.float64), 0, None)
            drawn.append(rng.choice(p.size, size=int(count), p=p / p.sum()))
        outcomes = np.concatenate(drawn)[rng.permutation(shots)]
        bits = (outcomes[:, None] >> np.arange(len(measured))) & 1
        wrong = rng.random(bits.shape) < np.where(bits == 1, flips[:, 1], flips[:, 0])
        bits = bits ^ wrong
        for qubit, clbit in measurements:
            out[index, :, clbit] = bits[:, position[qubit]]
    return out, pub_metadata(per_trajectory)
