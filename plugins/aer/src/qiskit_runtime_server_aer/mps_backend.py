"""An AerSimulator whose noisy runs take batched MPS trajectories (mps_batch.py) where they can.

Qiskit's ``BackendEstimatorV2`` (the estimator with device noise, as local testing mode runs
it) hands its measurement circuits to a backend's ``run`` and reads counts back. For a noisy
MPS plan this backend samples each circuit with :mod:`mps_batch` and returns the counts as
Aer would; a run it cannot take (a circuit or noise model outside the batch, parameter binds)
goes to Aer's own ``run`` unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.primitives.containers.bindings_array import BindingsArray
from qiskit.result import Result

from . import mps_batch
from .sweeps import IndependentShotsSimulator, _Finished


class BatchedMpsSimulator(IndependentShotsSimulator):
    """``bond_dimension`` (the planner's probe) and ``threads`` size the batches."""

    def __init__(self, *, bond_dimension: int, threads: int, **options: Any) -> None:
        super().__init__(**options)
        self._bond_dimension = bond_dimension
        self._threads = threads

    def run(self, circuits: Any, **options: Any) -> Any:
        listed: list[QuantumCircuit] = circuits if isinstance(circuits, list) else [circuits]
        shots = int(options.get("shots") or self.options.shots or 0)
        if options.get("parameter_binds") or any(c.num_parameters for c in listed):
            return super().run(circuits, **options)
        try:
            compiled = [
                mps_batch.compile_pub(circuit, BindingsArray(), self.options.noise_model)
                for circuit in listed
            ]
        except mps_batch.Unsupported:
            return super().run(circuits, **options)
        seeds = np.random.SeedSequence(options.get("seed_simulator")).spawn(len(listed))
        experiments = []
        for circuit, program, seed in zip(listed, compiled, seeds, strict=True):
            bits = mps_batch.sample(program, shots, seed, self._bond_dimension, self._threads)[0]
            experiments.append(_experiment(circuit, bits, shots))
        return _Finished(
            Result.from_dict(
                {
                    "backend_name": self.name,
                    "backend_version": "mps_batch",
                    "qobj_id": "",
                    "job_id": "",
                    "success": True,
                    "results": experiments,
                }
            )
        )


def _experiment(circuit: QuantumCircuit, bits: Any, shots: int) -> dict[str, Any]:
    """One experiment's result as Aer reports it: counts keyed by the clbits' value in hex."""
    counts: dict[str, int] = {}
    outcomes, repeats = np.unique(bits, axis=0, return_counts=True)
    for outcome, count in zip(outcomes, repeats, strict=True):
        value = int("".join("1" if bit else "0" for bit in outcome[::-1]) or "0", 2)
        counts[hex(value)] = int(count)
    return {
        "shots": shots,
        "success": True,
        "data": {"counts": counts},
        "header": {
            "name": circuit.name,
            "creg_sizes": [[register.name, register.size] for register in circuit.cregs],
            "memory_slots": circuit.num_clbits,
        },
    }
