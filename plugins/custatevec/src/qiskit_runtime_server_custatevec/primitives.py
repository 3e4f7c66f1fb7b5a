"""Sampler and estimator jobs on a statevector kernel.

* Idle qubits are dropped first (an ISA circuit of a 127-qubit device that uses three qubits
  simulates three), then the circuit and its sweep compile to a program (program.py), which is
  fused when wide enough (fusion.py) and run in batches (simulation.py).
* Sampler: the clbits of every shot, per classical register, as ``BitArray`` fields of the
  ``DataBin``, like Aer's and Qiskit's samplers.
* Estimator: exact expectation values of the observables' Pauli terms; with ``precision > 0``
  Gaussian noise of that standard deviation is added from the seeded generator and ``stds`` is
  ``precision``, as the aer executor and Qiskit's reference estimator do without noise.
* Device noise: a fake device's backend simulates the device's noise model (the aer
  executor's) by quantum trajectories, one per shot (noise.py, simulation.Trajectories); an
  estimator averages the exact expectation values of ``ceil(1 / precision**2)`` trajectories
  per parameter set and reports their standard error as ``stds``. ``ideal_simulator`` and
  devices without calibration data stay noiseless. ``metadata["simulator"]["noise"]`` says
  which.
* ``options.experimental.trajectories = K`` (the aer executor's option, trajectory_count.py):
  a noisy sampler PUB runs K trajectories per parameter set, each sampled shots/K times, and
  the job's noise statement says APPROXIMATED. Estimator jobs are refused at submit (their
  precision already sets their trajectories); noiseless runs are exact and unchanged.
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
from qiskit_runtime_server import BackendDescription, EstimatorTask, ExecutionTask, SamplerTask
from qiskit_runtime_server.circuits import (
    compact_estimator_pub,
    compact_sampler_pub,
    without_idle_qubits,
)
from qiskit_runtime_server.results import sampler_pub_result
from qiskit_runtime_server_aer.trajectory_count import (
    approximation_label,
    pub_metadata,
    requested_trajectories,
    shots_per_trajectory,
)

from . import __version__
from .fusion import fuse
from .kernel import Kernel
from .noise import DEVICE_NOISE_STATEMENT, ESTIMATOR_READOUT, ONE_PER_SHOT, DeviceNoise
from .program import Program, UnsupportedCircuit, compile_circuit, sweep_values
from .settings import Settings
from .simulation import Simulation, Sweep, Trajectories

EXECUTOR_NAME = "custatevec"
NOISE_STATEMENT = "none: the custatevec executor simulates ideal (noiseless) circuits"
NOISELESS_DEVICE = "none: {device} has no calibration data to build a noise model from"
#: Trajectories per parameter set of a noisy estimator PUB whose precision is 0.
EXACT_ESTIMATOR_TRAJECTORIES = 4096
#: At most this many trajectories per parameter set (precision 0.004).
MAX_ESTIMATOR_TRAJECTORIES = 65536
#: Why an estimator job with ``options.experimental.trajectories`` is refused at submit.
ESTIMATOR_TRAJECTORIES = (
    "the estimator's precision sets its trajectories (ceil(1/precision^2) per parameter set, "
    "so precision = 1/sqrt(K) runs K of them, with stds that say so)"
)


class StatevectorPrimitives:
    """Runs tasks on one kernel; one per process."""

    def __init__(self, kernel: Kernel, settings: Settings) -> None:
        self.kernel = kernel
        self.settings = settings
        self.simulation = Simulation(kernel, settings.max_batch)
        self.trajectories = Trajectories(self.simulation)
        self._noise_models: Any = None

    def device_noise(self, backend: BackendDescription, physical: list[int]) -> DeviceNoise | None:
        """The device's noise on the qubits ``physical`` (program qubit q is ``physical[q]``),
        or None for a device without calibration data (``ideal_simulator``)."""
        from qiskit_runtime_server_aer.noise import NoiseModelCache

        if self._noise_models is None:
            self._noise_models = NoiseModelCache()
        if not NoiseModelCache.has_device_noise(backend):
            return None
        return DeviceNoise(self._noise_models.on_qubits(backend, physical), physical)

    def program(
        self, circuit: Any, values: NDArray[np.float64], noise: DeviceNoise | None = None
    ) -> Program:
        """The compiled (and, when wide enough, fused) program of a circuit and sweep."""
        program = compile_circuit(circuit, values, noise)
        if program.num_qubits >= self.settings.fusion_threshold:
            program = fuse(program, self.settings.fusion_max_qubits)
        return program

    def run(self, task: ExecutionTask) -> PrimitiveResult:
        from qiskit_runtime_server_aer.noise import NoiseModelCache

        noisy = NoiseModelCache.has_device_noise(task.backend)
        # Sampler only: estimator jobs with it are refused at submit (plugin.py).
        trajectories = None
        if noisy and isinstance(task, SamplerTask):
            trajectories = requested_trajectories(task.options.raw)
        if noisy:
            per = ONE_PER_SHOT
            if trajectories is not None:
                per = f"{trajectories} per parameter set, each sampled shots/{trajectories} times"
            noise_statement = DEVICE_NOISE_STATEMENT.format(
                device=task.backend.name, trajectories=per
            )
            if isinstance(task, EstimatorTask):
                noise_statement += f"; {ESTIMATOR_READOUT}"
            if trajectories is not None:
                noise_statement += f", APPROXIMATED: {approximation_label(trajectories)}"
        elif task.backend.has_noise:
            noise_statement = NOISELESS_DEVICE.format(device=task.backend.name)
        else:
            noise_statement = NOISE_STATEMENT
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
                backend = task.backend if noisy else None
                if isinstance(pub, SamplerPub):
                    results.append(self.sample(pub, rng, backend, trajectories))
                else:
                    results.append(self.estimate(pub, rng, backend))
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
                "noise": noise_statement,
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

    def sample(
        self,
        pub: SamplerPub,
        rng: np.random.Generator,
        backend: BackendDescription | None = None,
        trajectories: int | None = None,
    ) -> SamplerPubResult:
        """``backend``: simulate its device noise (None: noiseless); ``trajectories``: K of
        ``options.experimental.trajectories`` (None: one trajectory per shot)."""
        original = pub.circuit
        compact = compact_sampler_pub(pub)
        circuit = compact.circuit
        noise = None
        if backend is not None:
            noise = self.device_noise(backend, without_idle_qubits(original)[1])
        program = self.program(circuit, sweep_values(circuit, compact.parameter_values), noise)
        shots = int(pub.shots or 0)
        sweep = Sweep()
        if program.noisy:
            bits = self.trajectories.sample(program, shots, rng, sweep, trajectories)
        else:
            bits = self.simulation.sample(program, shots, rng, sweep)
        metadata = _program_metadata(program, sweep)
        if trajectories is not None and program.noisy:  # every device qubit has readout errors
            # An empty sweep runs no trajectory (as the aer executor says).
            per_set = trajectories if program.size else 0
            metadata.update(pub_metadata(shots_per_trajectory(shots, per_set)))
        return sampler_pub_result(
            original,
            bits,
            pub.parameter_values.shape,
            {"shots": shots, "circuit_metadata": original.metadata, "simulator": metadata},
        )

    def estimate(
        self,
        pub: EstimatorPub,
        rng: np.random.Generator,
        backend: BackendDescription | None = None,
    ) -> PubResult:
        """``backend``: simulate its device noise (None: noiseless)."""
        compact = compact_estimator_pub(pub)
        circuit = compact.circuit
        noise = None
        if backend is not None:
            noise = self.device_noise(backend, _estimator_qubits(pub))
        program = self.program(circuit, sweep_values(circuit, compact.parameter_values), noise)
        _check_estimator_program(program)
        observables = compact.observables
        labels = list(dict.fromkeys(label for obs in observables.ravel() for label in obs))
        column = {label: t for t, label in enumerate(labels)}
        sweep = Sweep()
        precision = float(pub.precision or 0.0)
        terms = [_pauli_term(label) for label in labels]
        errors: NDArray[np.float64] | None = None
        if program.noisy:
            count = _trajectories_for(precision)
            values, errors = self.trajectories.expectations(program, terms, count, rng, sweep)
            sweep.trajectories = count
        else:
            values = self.simulation.expectations(program, terms, sweep)
        param_shape = compact.parameter_values.shape
        members = np.arange(program.size).reshape(param_shape)
        flat_observables = np.empty(observables.size, dtype=object)
        flat_observables[:] = list(observables.ravel())
        member_of, observable_of = np.broadcast_arrays(
            members, flat_observables.reshape(observables.shape)
        )
        evs = np.zeros(member_of.shape, dtype=np.float64)
        stds = np.full(member_of.shape, precision)
        for index in np.ndindex(member_of.shape):
            observable: dict[str, complex] = observable_of[index]  # type: ignore[assignment]
            row = values[member_of[index]]
            evs[index] = sum(
                float(np.real(coeff)) * row[column[label]] for label, coeff in observable.items()
            )
            if errors is not None:
                # Terms' errors added in quadrature (their covariances are not estimated).
                spread = errors[member_of[index]]
                stds[index] = float(
                    np.sqrt(
                        sum(
                            (float(np.real(coeff)) * spread[column[label]]) ** 2
                            for label, coeff in observable.items()
                        )
                    )
                )
        if precision > 0 and errors is None:
            evs = np.asarray(rng.normal(evs, precision), dtype=np.float64)
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


def _trajectories_for(precision: float) -> int:
    """Trajectories per parameter set for an estimator ``precision``: a trajectory's exact
    expectation value lies in [-1, 1], so its variance is at most 1."""
    if precision <= 0:
        return EXACT_ESTIMATOR_TRAJECTORIES
    return int(min(MAX_ESTIMATOR_TRAJECTORIES, max(2, np.ceil(1 / precision**2))))


def _estimator_qubits(pub: EstimatorPub) -> list[int]:
    """The original indices of the qubits compact_estimator_pub keeps: the active ones and
    those an observable flips."""
    width = pub.circuit.num_qubits
    flipping = {
        width - 1 - position
        for observable in pub.observables.ravel()
        for label in observable
        for position, pauli in enumerate(label)
        if pauli in "XY"
    }
    return without_idle_qubits(pub.circuit, flipping)[1]


def _program_metadata(program: Program, sweep: Sweep) -> dict[str, Any]:
    noise = {}
    if program.noisy:
        noise = {
            "noise_channels": program.noise_channels,
            "readout_errors": len(program.readout),
            "trajectories_per_parameter_set": sweep.trajectories,
        }
    return {
        **noise,
        "num_qubits_simulated": program.num_qubits,
        "gates_applied": program.gate_count,
        "parameter_sets": program.size,
        "batches": sweep.batches,
        "largest_batch": sweep.largest,
        "mid_circuit_operations": sum(
            op.__class__.__name__ in ("MeasureOp", "ResetOp") for op in program.operations
        ),
    }
