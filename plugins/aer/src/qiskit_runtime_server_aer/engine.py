"""Running sampler and estimator tasks on Qiskit Aer.

* Sampler: Aer's SamplerV2 on an AerSimulator carrying the noise model: fake devices get the
  device's noise (built once per backend), the ideal device none, and a user's
  ``simulator.noise_model`` replaces either.
* Estimator with noise: measured in Pauli bases with ceil(1/precision^2) shots per PUB, as
  qiskit-ibm-runtime's local testing mode does (``BackendEstimatorV2``), so readout error
  is included and ``stds`` are the real standard errors.
* Estimator without noise: exact expectation values from the statevector, to which Gaussian
  noise of standard deviation ``precision`` is added, as Qiskit's reference estimator does
  (seeded by ``seed_estimator``, else ``simulator.seed_simulator``); ``stds`` is ``precision``.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any

import qiskit_aer
from qiskit.primitives import BackendEstimatorV2, PrimitiveResult
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel
from qiskit_aer.primitives import EstimatorV2 as AerEstimatorV2
from qiskit_aer.primitives import SamplerV2 as AerSamplerV2
from qiskit_runtime_server import (
    Availability,
    EstimatorTask,
    ExecutionTask,
    ExecutorInfo,
    SamplerTask,
)

from . import __version__
from .constraints import check_circuit
from .noise import NoiseModelCache, user_noise_model
from .translation import for_aer

EXECUTOR_NAME = "aer"

HONOURED_OPTIONS = frozenset(
    {
        "simulator.seed_simulator",
        "simulator.noise_model",
        "simulator.coupling_map",
        "simulator.basis_gates",
        "seed_estimator",
    }
)


def statevector_qubit_limit() -> int:
    """Qubits whose complex128 statevector fits in half of this host's memory (Aer's default
    memory cap)."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return max(1, int(math.log2(memory / 2 / 16)))


def describe() -> ExecutorInfo:
    return ExecutorInfo(
        name=EXECUTOR_NAME,
        version=__version__,
        device="CPU",
        programs=frozenset({"sampler", "estimator"}),
        simulates_noise=True,
        max_qubits=statevector_qubit_limit(),
        availability=Availability.ok(),
        honoured_options=HONOURED_OPTIONS,
        description=f"Qiskit Aer {qiskit_aer.__version__} on CPU, with device noise models",
    )


class AerEngine:
    """One per process. Holds the noise-model cache."""

    def __init__(self) -> None:
        self.noise_models = NoiseModelCache()

    def run(self, task: ExecutionTask) -> PrimitiveResult:
        options = task.options
        for index, pub in enumerate(task.pubs):
            if options.coupling_map is not None or options.basis_gates is not None:
                check_circuit(
                    pub.circuit,
                    coupling_map=options.coupling_map,
                    basis_gates=options.basis_gates,
                    label=f"PUB {index}",
                )
        task = _translated(task)
        noise, noise_label = self._noise(task)
        simulator = AerSimulator(noise_model=noise) if noise is not None else AerSimulator()
        task.log(f"INFO aer {qiskit_aer.__version__}: noise {noise_label}")
        result: PrimitiveResult
        if isinstance(task, SamplerTask):
            result = self._sample(task, simulator)
            method = "aer SamplerV2"
        elif noise is not None:
            result = self._estimate_sampled(task, simulator)
            method = "Pauli-basis measurements (BackendEstimatorV2)"
        else:
            result = self._estimate_exact(task, simulator)
            method = "exact statevector expectation values"
        result.metadata["simulator"] = {
            "executor": EXECUTOR_NAME,
            "aer_version": qiskit_aer.__version__,
            "noise": noise_label,
            "method": method,
            "seed_simulator": options.seed_simulator,
        }
        return result

    def _noise(self, task: ExecutionTask) -> tuple[NoiseModel | None, str]:
        if task.options.noise_model is not None:
            return user_noise_model(task.options.noise_model), "user noise model"
        device = self.noise_models.device_noise(task.backend)
        if device is None:
            return None, "none (ideal device)"
        return device, f"{task.backend.name} device noise model"

    def _sample(self, task: SamplerTask, simulator: AerSimulator) -> PrimitiveResult:
        sampler = AerSamplerV2.from_backend(simulator, seed=task.options.seed_simulator)
        return sampler.run(list(task.pubs)).result()

    def _estimate_sampled(self, task: EstimatorTask, simulator: AerSimulator) -> PrimitiveResult:
        options: dict[str, Any] = {}
        seed = _estimator_seed(task)
        if seed is not None:
            options["seed_simulator"] = seed
        estimator = BackendEstimatorV2(backend=simulator, options=options)
        return estimator.run(list(task.pubs)).result()

    def _estimate_exact(self, task: EstimatorTask, simulator: AerSimulator) -> PrimitiveResult:
        run_options: dict[str, Any] = {}
        seed = _estimator_seed(task)
        if seed is not None:
            run_options["seed_simulator"] = seed
        estimator = AerEstimatorV2.from_backend(simulator, options={"run_options": run_options})
        return estimator.run(list(task.pubs)).result()


def _translated(task: ExecutionTask) -> ExecutionTask:
    """The task with every circuit in a form Aer runs natively (see translation.py)."""
    if isinstance(task, SamplerTask):
        sampler_pubs = tuple(
            SamplerPub(for_aer(pub.circuit), pub.parameter_values, pub.shots, validate=False)
            for pub in task.pubs
        )
        return dataclasses.replace(task, pubs=sampler_pubs)
    estimator_pubs = tuple(
        EstimatorPub(
            for_aer(pub.circuit), pub.observables, pub.parameter_values, pub.precision,
            validate=False,
        )
        for pub in task.pubs
    )  # fmt: skip
    return dataclasses.replace(task, pubs=estimator_pubs)


def _estimator_seed(task: EstimatorTask) -> int | None:
    if task.options.seed_estimator is not None:
        return task.options.seed_estimator
    return task.options.seed_simulator
