"""Sampler and estimator jobs on a statevector kernel.

* Idle qubits are dropped first (an ISA circuit of a 127-qubit device that uses three qubits
  simulates three), then the circuit and its sweep compile to a program (program.py), which is
  fused when wide enough (fusion.py) and run in batches (simulation.py).
* Sampler: the clbits of every shot, per classical register, as ``BitArray`` fields of the
  ``DataBin``, like Aer's and Qiskit's samplers.
* Estimator: exact expectation values of the observables' Pauli terms; with ``precision > 0``
  Gaussian noise of that standard deviation is added from the seeded generator and ``stds`` is
  ``precision``, as the aer executor and Qiskit's reference estimator do without noise.
* Noise is not simulated: results say so in their metadata and the job log says so when the
  backend's device has noise.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from qiskit.primitives import PrimitiveResult, PubResult, SamplerPubResult
from qiskit.primitives.containers import DataBin
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit_runtime_server import EstimatorTask, ExecutionTask, SamplerTask
from qiskit_runtime_server.circuits import compact_estimator_pub, compact_sampler_pub
from qiskit_runtime_server.results import sampler_pub_result

from . import __version__
from .fusion import fuse
from .kernel import Kernel
from .program import Program, UnsupportedCircuit, compile_circuit, sweep_values
from .settings import Settings
from .simulation import Simulation, Sweep

EXECUTOR_NAME = "custatevec"
NOISE_STATEMENT = "none: the custatevec executor simulates ideal (noiseless) circuits"


class StatevectorPrimitives:
    """Runs tasks on one kernel; one per process."""

    def __init__(self, kernel: Kernel, settings: Settings) -> None:
        self.kernel = kernel
        self.settings = settings
        self.simulation = Simulation(kernel, settings.max_batch)

    def program(self, circuit: Any, values: NDArray[np.float64]) -> Program:
        """The compiled (and, when wide enough, fused) program of a circuit and sweep."""
        program = compile_circuit(circuit, values)
        if program.num_qubits >= self.settings.fusion_threshold:
            program = fuse(program, self.settings.fusion_max_qubits)
        return program

    def run(self, task: ExecutionTask) -> PrimitiveResult:
        if task.backend.has_noise:
            task.log(
                f"WARNING {task.backend.name} has device noise, which the custatevec executor "
                "does not simulate: the results are those of an ideal device"
            )
        seed = task.options.seed_simulator
        if isinstance(task, EstimatorTask) and task.options.seed_estimator is not None:
            seed = task.options.seed_estimator
        rng = np.random.default_rng(seed)
        started = time.perf_counter()
        results: list[Any] = []
        try:
            for index, pub in enumerate(task.pubs):
                if task.cancelled():
                    raise RuntimeError("the job was cancelled")
                if isinstance(pub, SamplerPub):
                    results.append(self.sample(pub, rng))
                else:
                    results.append(self.estimate(pub, rng))
                task.log(f"INFO PUB {index}: {results[-1].metadata['simulator']}")
        finally:
            # An idle worker must not hold the device's memory (nothing else could use it).
            self.kernel.give_back_memory()
        metadata: dict[str, Any] = {
            "version": 2,
            "simulator": {
                "executor": EXECUTOR_NAME,
                "executor_version": __version__,
                "kernel": self.kernel.name,
                "device": self.kernel.location,
                "precision": self.settings.precision,
                "noise": NOISE_STATEMENT,
                "fusion_max_qubits": self.settings.fusion_max_qubits,
                "fusion_threshold": self.settings.fusion_threshold,
                "seed": seed,
                "time_taken": time.perf_counter() - started,
            },
        }
        if isinstance(task, SamplerTask):
            metadata["simulator"]["seed_simulator"] = task.options.seed_simulator
        else:
            metadata["simulator"]["seed_estimator"] = seed
        return PrimitiveResult(results, metadata=metadata)

    def sample(self, pub: SamplerPub, rng: np.random.Generator) -> SamplerPubResult:
        original = pub.circuit
        compact = compact_sampler_pub(pub)
        circuit = compact.circuit
        program = self.program(circuit, sweep_values(circuit, compact.parameter_values))
        shots = int(pub.shots or 0)
        sweep = Sweep()
        bits = self.simulation.sample(program, shots, rng, sweep)
        return sampler_pub_result(
            original,
            bits,
            pub.parameter_values.shape,
            {
                "shots": shots,
                "circuit_metadata": original.metadata,
                "simulator": _program_metadata(program, sweep),
            },
        )

    def estimate(self, pub: EstimatorPub, rng: np.random.Generator) -> PubResult:
        compact = compact_estimator_pub(pub)
        circuit = compact.circuit
        program = self.program(circuit, sweep_values(circuit, compact.parameter_values))
        _check_estimator_program(program)
        observables = compact.observables
        labels = list(dict.fromkeys(label for obs in observables.ravel() for label in obs))
        column = {label: t for t, label in enumerate(labels)}
        sweep = Sweep()
        values = self.simulation.expectations(
            program, [_pauli_term(label) for label in labels], sweep
        )
        param_shape = compact.parameter_values.shape
        members = np.arange(program.size).reshape(param_shape)
        flat_observables = np.empty(observables.size, dtype=object)
        flat_observables[:] = list(observables.ravel())
        member_of, observable_of = np.broadcast_arrays(
            members, flat_observables.reshape(observables.shape)
        )
        evs = np.zeros(member_of.shape, dtype=np.float64)
        for index in np.ndindex(member_of.shape):
            observable: dict[str, complex] = observable_of[index]  # type: ignore[assignment]
            row = values[member_of[index]]
            evs[index] = sum(
                float(np.real(coeff)) * row[column[label]] for label, coeff in observable.items()
            )
        precision = float(pub.precision or 0.0)
        if precision > 0:
            evs = np.asarray(rng.normal(evs, precision), dtype=np.float64)
        stds = np.full(evs.shape, precision)
        return PubResult(
            DataBin(evs=evs, stds=stds, shape=evs.shape),
            metadata={
                "target_precision": precision,
                "circuit_metadata": pub.circuit.metadata,
                "simulator": _program_metadata(program, sweep),
            },
        )


def check_runnable(pub: SamplerPub | EstimatorPub) -> None:
    """Raise UnsupportedCircuit for a PUB the primitives would refuse when they run: the circuit is
    compiled as the primitives compile it, with its first parameter set only, and an estimator's
    observables are read. The plugin calls this at submit, so that such a job gets a 400."""
    if isinstance(pub, SamplerPub):
        circuit = compact_sampler_pub(pub).circuit
        compile_circuit(circuit, _first_set(circuit, pub.parameter_values))
        return
    compact = compact_estimator_pub(pub)
    circuit = compact.circuit
    _check_estimator_program(
        compile_circuit(circuit, _first_set(circuit, compact.parameter_values))
    )
    for observable in compact.observables.ravel():
        for label in observable:
            _pauli_term(label)


def _first_set(circuit: Any, bindings: object) -> NDArray[np.float64]:
    """The first parameter set of a sweep (zeros for an empty sweep: the check is about the
    circuit's instructions, not its values)."""
    values = sweep_values(circuit, bindings)[:1]
    return values if values.shape[0] else np.zeros((1, values.shape[1]))


def _check_estimator_program(program: Program) -> None:
    if program.dynamic or program.final_measurements:
        raise UnsupportedCircuit(
            "an estimator circuit must not contain measurements or resets: the observables "
            "are measured by the estimator itself"
        )


def _pauli_term(label: str) -> tuple[str, Sequence[int]]:
    """A little-endian Pauli label as (letters, qubits) without the identities."""
    if set(label) - set("IXYZ"):
        raise UnsupportedCircuit(
            f"observable term {label!r}: only Pauli labels (I, X, Y, Z) are supported"
        )
    width = len(label)
    pairs = [(label[width - 1 - q], q) for q in range(width) if label[width - 1 - q] != "I"]
    return "".join(p for p, _ in pairs), [q for _, q in pairs]


def _program_metadata(program: Program, sweep: Sweep) -> dict[str, Any]:
    return {
        "num_qubits_simulated": program.num_qubits,
        "gates_applied": program.gate_count,
        "parameter_sets": program.size,
        "batches": sweep.batches,
        "largest_batch": sweep.largest,
        "mid_circuit_operations": sum(
            op.__class__.__name__ != "GateOp" for op in program.operations
        ),
    }
