"""Estimator PUBs from exact expectation values per noisy trajectory: opt-in.

A job asks for it with ``options.experimental = {"trajectory_expectations": True}``. Each of
K = ceil(1 / precision^2) trajectories is one full noisy simulation of the circuit (the exact
device noise model); Aer saves the exact expectation value of every observable in the
trajectory's final state. ``evs`` is the mean over trajectories and ``stds`` their standard
error (sample standard deviation / sqrt(K)): the real statistical error, which is at most
``precision`` for observables of norm 1 because one trajectory's value varies less than one
measured shot. A PUB planned on the density matrix is exact (``stds`` 0).

Not a measurement, so readout errors are not in the values: they estimate the noisy state's
expectation values, what IBM's estimator returns after readout-error mitigation (its default
``resilience_level`` 1), not what local testing mode measures. Circuits with measurements
(other than final ones, which are dropped), resets or control flow are refused with the reason.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import ControlFlowOp
from qiskit.primitives.containers import DataBin, PubResult
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.quantum_info import SparsePauliOp
from qiskit_aer import AerSimulator

OPTION = "experimental.trajectory_expectations"
NOTE = (
    "exact expectation values per noisy trajectory: no readout error, stds are the standard "
    "error over trajectories (docs/simulation.md)"
)


def requested_trajectory_expectations(raw_options: object) -> bool:
    """Whether a job asks for them; ValueError when the option is not a boolean."""
    experimental = raw_options.get("experimental") if isinstance(raw_options, dict) else None
    if not isinstance(experimental, dict):
        return False
    value = experimental.get("trajectory_expectations")
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ValueError(f"options.{OPTION} must be true or false, got {value!r}")
    return value


def trajectory_count(precision: float) -> int:
    return math.ceil(1 / precision**2)


def unitary_part(circuit: QuantumCircuit) -> QuantumCircuit:
    """The circuit without final measurements; anything else non-unitary is refused."""
    stripped = circuit.remove_final_measurements(inplace=False)
    for instruction in stripped.data:
        operation = instruction.operation
        if isinstance(operation, ControlFlowOp) or operation.name in ("measure", "reset"):
            raise ValueError(
                f"options.{OPTION} needs circuits without mid-circuit measurements, resets or "
                f"control flow; this one has a {operation.name}"
            )
    return stripped


def estimate(
    pub: EstimatorPub, simulator: AerSimulator, trajectories: int, seed: int | None
) -> tuple[PubResult, int]:
    """The PUB's result, and the trajectories run (1 for an exact density-matrix run).
    ``simulator`` comes from ``sweeps.simulator_class``, whose ``run`` keeps the parameter
    sets' trajectories independent."""
    circuit = unitary_part(pub.circuit)
    shape = pub.shape
    parameters = pub.parameter_values
    observables = list(pub.observables.ravel())
    parameter_index = np.broadcast_to(
        np.arange(max(1, parameters.size)).reshape(parameters.shape), shape
    )
    observable_index = np.broadcast_to(
        np.arange(len(observables)).reshape(pub.observables.shape), shape
    )
    bound = np.asarray(parameters.bind_all(circuit), dtype=object).ravel()
    needed: dict[int, set[int]] = {}
    for position in np.ndindex(shape):
        needed.setdefault(int(parameter_index[position]), set()).add(
            int(observable_index[position])
        )
    exact = simulator.options.method == "density_matrix"
    runs = 1 if exact else trajectories
    circuits = []
    for index in range(len(bound)):
        run = bound[index].copy()
        for observable in sorted(needed.get(index, ())):
            operator = SparsePauliOp.from_list(list(observables[observable].items()))
            run.save_expectation_value(operator, run.qubits, pershot=True, label=f"o{observable}")
        circuits.append(run)
    options: dict[str, Any] = {"shots": runs}
    if seed is not None:
        options["seed_simulator"] = seed
    result = simulator.run(circuits, **options).result()
    values: dict[tuple[int, int], np.ndarray] = {}
    for index in range(len(bound)):
        data = result.data(index)
        for observable in needed.get(index, ()):
            saved = np.asarray(data[f"o{observable}"], dtype=complex)
            values[index, observable] = np.real(np.atleast_1d(saved))
    evs = np.zeros(shape)
    stds = np.zeros(shape)
    for position in np.ndindex(shape):
        samples = values[int(parameter_index[position]), int(observable_index[position])]
        evs[position] = samples.mean()
        # Aer returns a single value where no noise applies (nothing is sampled): exact.
        if len(samples) > 1:
            stds[position] = samples.std(ddof=1) / math.sqrt(len(samples))
    metadata = {
        "target_precision": pub.precision,
        "shots": runs,
        "circuit_metadata": pub.circuit.metadata,
    }
    return PubResult(DataBin(evs=evs, stds=stds, shape=shape), metadata=metadata), runs
